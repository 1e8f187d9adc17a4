package native

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

var (
	wireTime = time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)
	// wireSpec, wireEngineStatus and wireEngineEvent set every field.
	wireSpec = runtime.Spec{
		Name: "api", Runtime: Name, Target: kinds.Target{Kind: kinds.Service, Name: "api"}, Selector: map[string]string{"app": "api"},
		Context: "kind-dev", Namespace: "shop", Address: "127.0.0.1", LocalPort: 8080, RemotePort: "http",
		Kubeconfig: "/home/dev/.kube/config",
		Health: runtime.Health{Kind: "http", HTTPPath: "/healthz", Interval: 5 * time.Second, Timeout: 2 * time.Second,
			FailureThreshold: 3, WhileIdle: true},
		ReadyTimeout: 30 * time.Second, MaxConnections: 100, Sensitive: []string{"Namespace"},
	}
	wireEngineStatus = engine.Status{
		Listening: true, Addr: "127.0.0.1:8080", Pod: "api-7d9f", Active: 2, Total: 10, BytesIn: 1000, BytesOut: 200,
		Reconnects: 1, Refused: 3, Stalled: 2, Health: engine.HealthHealthy, HealthError: "none yet", LastCheck: wireTime,
		LastError: "dial: refused", Since: wireTime.Add(-time.Hour), Restarts: 4,
	}
	wireEngineEvent = engine.Event{Seq: 7, Time: wireTime, Kind: engine.EventConnClosed, Pod: "api-7d9f",
		Message: "closed", BytesIn: 100, BytesOut: 20}
)

// TestProtocolGolden: protocol 1 as it is on the wire, one message of each
// shape. A change here changes what agents and CLIs of other builds read:
// it needs a new Protocol.
func TestProtocolGolden(t *testing.T) {
	src := kubeconfig.Source{Explicit: "/k/config", Env: "/a:/b", Home: "/home/dev"}
	spec := wireSpec
	for _, tt := range []struct {
		name string
		msg  any
	}{
		{"request-start", request{Protocol: Protocol, Op: opStart, Version: "v1.2.3", Forward: forwardToWire(spec), Kubeconfig: kubeconfigToWire(src), StateDir: "/state"}},
		{"request-status", request{Protocol: Protocol, Op: opStatus, IDs: []string{"api-1", "db-2"}, StateDir: "/state"}},
		{"request-events", request{Protocol: Protocol, Op: opEvents, ID: "api-1", Since: 3, Follow: true}},
		{"request-sweep", request{Protocol: Protocol, Op: opSweep, Keep: []string{"api-1"}}},
		{"response-hello", response{Hello: &hello{Version: "v1.2.3", Protocol: Protocol, PID: 42, Instance: "abc", Started: wireTime,
			Forwards: 2, Supervisor: 41, Restarts: 1, RestartCause: "killed", StateDir: "/state"}}},
		{"response-error", response{Error: "no pod", Permanent: true, PortInUse: true, NoPod: true}},
		{"response-start", response{ID: "api-1"}},
		{"response-status", statusResponse(map[string]engine.Status{"api-1": wireEngineStatus})},
		{"response-event", eventResponses([]engine.Event{wireEngineEvent})[0]},
		{"response-sweep", response{Stopped: []string{"db-2"}}},
		{"response-exited", response{Exited: "api-1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tt.msg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if !testutil.Golden(t, filepath.Join("protocol", tt.name+".json"), got) {
				t.Errorf("protocol %d changed on the wire", Protocol)
			}
		})
	}
}

// TestWireMapsEveryField: the engine's and the runtime's types go through
// the wire and back unchanged, every field set: a field added there and
// not to the wire types (wire.go) fails here, not silently on the wire.
func TestWireMapsEveryField(t *testing.T) {
	src := kubeconfig.Source{Explicit: "/k/config", Env: "/a:/b", Home: "/home/dev"}
	spec, err := forwardToWire(wireSpec).spec()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		in, round any
	}{
		{"runtime.Spec", wireSpec, spec},
		{"kubeconfig.Source", src, kubeconfigToWire(src).source()},
		{"engine.Status", wireEngineStatus, statusToWire(wireEngineStatus).engine()},
		{"engine.Event", wireEngineEvent, eventToWire(wireEngineEvent).engine()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := reflect.ValueOf(tt.in)
			for i := range v.NumField() {
				if v.Field(i).IsZero() {
					t.Errorf("the test value leaves %s.%s unset: set it so that the wire is checked to carry it", tt.name, v.Type().Field(i).Name)
				}
			}
			if !reflect.DeepEqual(tt.in, tt.round) {
				t.Errorf("through the wire:\n%+v\nwant\n%+v", tt.round, tt.in)
			}
		})
	}
}
