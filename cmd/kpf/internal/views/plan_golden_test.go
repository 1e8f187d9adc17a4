package views

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// busyPorts are the address:port pairs a plan finds taken.
type busyPorts map[string]bool

func (b busyPorts) Free(address string, port int) bool {
	return !b[address+":"+strconv.Itoa(port)]
}

// fwd is forward name of the spec on port, as the plan scenarios start
// from it, changed by mods.
func fwd(name string, port int, mods ...func(*model.Forward)) model.Forward {
	f := model.Forward{
		Name:       name,
		Target:     model.Target{Kind: "service", Name: name},
		Context:    "kind-dev",
		Namespace:  "shop",
		Address:    "127.0.0.1",
		LocalPort:  port,
		RemotePort: "http",
		Enabled:    true,
		Health:     model.Health{Kind: model.HealthTCP},
	}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func disabled(f *model.Forward) { f.Enabled = false }

func checked(kind model.HealthKind, path string) func(*model.Forward) {
	return func(f *model.Forward) { f.Health = model.Health{Kind: kind, HTTPPath: path, Declared: true} }
}

func capped(n int) func(*model.Forward) {
	return func(f *model.Forward) { f.MaxConnections = n }
}

// running is the observed state of f started on port.
func running(f model.Forward, port int, mods ...func(*reconcile.Observed)) reconcile.Observed {
	o := reconcile.Observed{
		State: state.Forward{
			Name:       f.Name,
			Handle:     runtime.Handle{Runtime: "fake", ID: strconv.Itoa(1000 + port), Data: runtime.Data(`{"start_time":1}`)},
			SpecHash:   reconcile.SpecHash(f),
			Target:     f.Target.String(),
			Selector:   f.Selector,
			Context:    f.Context,
			Namespace:  f.Namespace,
			Address:    f.Address,
			RemotePort: f.RemotePort,
			LocalPort:  port,
			WantedPort: f.LocalPort,
			Health:     reconcile.FormatHealth(f.Health),
			StartedAt:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),

			MaxConnections: f.MaxConnections,
		},
		Runtime: runtime.Unknown(),
		Alive:   true,
		Health:  reconcile.HealthHealthy,
	}
	for _, m := range mods {
		m(&o)
	}
	return o
}

func dead(lastErr string) func(*reconcile.Observed) {
	return func(o *reconcile.Observed) { o.Alive, o.LastError, o.Health = false, lastErr, reconcile.HealthUnknown }
}

// viewScenarios are plans computed by reconcile.Diff, so the golden files also pin
// reconcile.Diff's output shape.
func viewScenarios() map[string]reconcile.Plan {
	api := fwd("api", 8080)
	web := fwd("web", 3000)
	db := fwd("db", 5432, func(f *model.Forward) {
		f.Target = model.Target{}
		f.Selector = map[string]string{"app": "postgres", "tier": "data"}
		f.Namespace = "data"
		f.RemotePort = "5432"
	})
	mixed := reconcile.Diff(
		[]model.Forward{
			fwd("api", 8080, func(f *model.Forward) { f.Namespace = "shop-v2"; f.LocalPort = 8081 }),
			fwd("admin", 8080),
			db,
			fwd("grafana", 0),
			fwd("legacy", 7000, disabled),
			fwd("metrics", 9090),
			web,
		},
		reconcile.Actual{
			"api":     running(api, 8080),
			"legacy":  running(fwd("legacy", 7000), 7000),
			"metrics": running(fwd("metrics", 9090), 9090, dead("error: lost connection to pod")),
			"old":     running(fwd("old", 9999), 9999),
			"web":     running(web, 3000),
		},
		busyPorts{"127.0.0.1:8080": true, "127.0.0.1:3000": true, "127.0.0.1:9999": true, "127.0.0.1:7000": true},
	)
	mixed.Workspace = "shop"
	val := func(s string) reconcile.OutputValue {
		return reconcile.OutputValue{Present: true, Known: true, Text: s, JSON: json.RawMessage(strconv.Quote(s))}
	}
	mixed.Outputs = reconcile.DiffOutputs(
		[]string{"API_URL", "DB", "GONE", "NEW", "SAME", "TOKEN"},
		map[string]reconcile.OutputValue{
			"API_URL": val("http://127.0.0.1:8080/"), "GONE": val("127.0.0.1:9999"), "SAME": val("x"),
			"TOKEN": val("secret-8080"),
		},
		map[string]reconcile.OutputValue{
			"API_URL": val("http://127.0.0.1:8081/"), "DB": {Present: true}, "NEW": val("127.0.0.1:5432"), "SAME": val("x"),
			"TOKEN": val("secret-8081"),
		},
		map[string]bool{"TOKEN": true},
	)

	unhealthy := reconcile.Diff([]model.Forward{api, web}, reconcile.Actual{
		"api": running(api, 8080, func(o *reconcile.Observed) { o.Health, o.HealthError = reconcile.HealthUnhealthy, "GET /healthz: 503" }),
		"web": running(web, 3001),
	}, busyPorts{"127.0.0.1:8080": true, "127.0.0.1:3000": true, "127.0.0.1:3001": true})
	unhealthy.Workspace = "shop"

	// api ran on 38081 while another program held 38080, which is free
	// again; web2, which asks for 38081, ran on 38082 (as an older kpf
	// placed them) and moves back once api has left 38081.
	portback := reconcile.Diff([]model.Forward{fwd("api", 38080), fwd("web2", 38081)}, reconcile.Actual{
		"api":  running(fwd("api", 38080), 38081),
		"web2": running(fwd("web2", 38081), 38082),
	}, busyPorts{"127.0.0.1:38081": true, "127.0.0.1:38082": true})
	portback.Workspace = "shop"

	// prod's context is not in the kubeconfig: it runs (from an earlier
	// apply) and is left alone; web is planned as ever.
	unplannable := reconcile.Diff([]model.Forward{web}, reconcile.Actual{"prod": running(fwd("prod", 5433), 5433)}, busyPorts{})
	unplannable.Fail([]reconcile.ForwardError{{Name: "prod", Error: `kpf.hcl:9,3-20: forward "prod": context "prod" is not in the kubeconfig (did you mean "kind-dev"? contexts: kind-dev)`}})
	unplannable.Workspace = "shop"
	onlyErrors := reconcile.Diff(nil, reconcile.Actual{}, busyPorts{})
	onlyErrors.Fail([]reconcile.ForwardError{{Name: "b", Error: "context \"x\" is not in the kubeconfig"}, {Name: "a", Error: "context \"x\" is not in the kubeconfig"}})
	onlyErrors.Workspace = "shop"

	selector := reconcile.Diff([]model.Forward{fwd("db", 5432, func(f *model.Forward) {
		f.Target = model.Target{}
		f.Selector = map[string]string{"app": "postgres"}
	}), fwd("top", 65535)}, reconcile.Actual{"db": running(fwd("db", 5432), 5432)}, busyPorts{"127.0.0.1:65535": true})
	selector.Workspace = "data"

	// A forward of the kubectl runtime whose spec now asks for native.
	migration := reconcile.Diff([]model.Forward{fwd("api", 8080, func(f *model.Forward) { f.Runtime = "native" })},
		reconcile.Actual{"api": running(api, 8080, func(o *reconcile.Observed) { o.State.Handle.Runtime = "kubectl" })}, busyPorts{"127.0.0.1:8080": true})
	migration.Workspace = "shop"

	// Health blocks added, changed and removed, and a new cap.
	health := reconcile.Diff([]model.Forward{
		fwd("api", 8080, checked(model.HealthHTTP, "/healthz")),
		fwd("db", 5432, checked(model.HealthNone, ""), capped(100)),
		web,
	}, reconcile.Actual{
		"api": running(api, 8080),
		"db":  running(fwd("db", 5432, checked(model.HealthHTTP, "/")), 5432),
		"web": running(fwd("web", 3000, checked(model.HealthTCP, "")), 3000),
	}, busyPorts{"127.0.0.1:8080": true, "127.0.0.1:5432": true, "127.0.0.1:3000": true})
	health.Workspace = "shop"

	none := reconcile.Diff([]model.Forward{api, fwd("off", 1, disabled)}, reconcile.Actual{"api": running(api, 8080)}, busyPorts{})
	none.Workspace = "shop"

	return map[string]reconcile.Plan{
		"mixed":       mixed,
		"unhealthy":   unhealthy,
		"portback":    portback,
		"unplannable": unplannable,
		"onlyerrors":  onlyErrors,
		"selector":    selector,
		"migration":   migration,
		"health":      health,
		"nochanges":   none,
		"empty":       {Workspace: "empty", Changes: []reconcile.Change{}},
	}
}

// TestPlanHumanGolden: `kpf plan` of each scenario, without colour.
func TestPlanHumanGolden(t *testing.T) {
	t.Parallel()
	for name, p := range viewScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := NewPlan(&buf, false, false).Show(p.Redact()); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(buf.Bytes(), []byte("\x1b[")) {
				t.Error("colour escapes without color")
			}
			testutil.Golden(t, "plan_"+name+".golden", buf.Bytes())
		})
	}
}

// TestPlanJSONGolden: `kpf plan --json` of each scenario.
func TestPlanJSONGolden(t *testing.T) {
	t.Parallel()
	for name, p := range viewScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := NewPlan(&buf, true, false).Show(p.Redact()); err != nil {
				t.Fatal(err)
			}
			var decoded struct {
				FormatVersion string `json:"format_version"`
				Changes       []struct {
					Action string `json:"action"`
				} `json:"changes"`
				Summary reconcile.Summary `json:"summary"`
			}
			if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if decoded.FormatVersion != reconcile.JSONFormatVersion || decoded.Summary != p.Summary() || len(decoded.Changes) != len(p.Changes) {
				t.Errorf("decoded %+v does not match the plan", decoded)
			}
			testutil.Golden(t, "plan_"+name+".json.golden", buf.Bytes())
		})
	}
}

// TestPlanHumanColor: the coloured plan is the plain one plus escapes.
func TestPlanHumanColor(t *testing.T) {
	t.Parallel()
	for name, p := range viewScenarios() {
		var plain, colored bytes.Buffer
		if err := NewPlan(&plain, false, false).Show(p.Redact()); err != nil {
			t.Fatal(err)
		}
		if err := NewPlan(&colored, false, true).Show(p.Redact()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(colored.Bytes(), []byte("\x1b[")) {
			t.Errorf("%s: no colour escapes with color", name)
		}
		if stripped := ansiEscape.ReplaceAll(colored.Bytes(), nil); !bytes.Equal(stripped, plain.Bytes()) {
			t.Errorf("%s: coloured output minus escapes differs from plain:\n%s\n---\n%s", name, stripped, plain.Bytes())
		}
	}
}

func TestPlanWriteErrors(t *testing.T) {
	t.Parallel()
	p := viewScenarios()["mixed"]
	for _, json := range []bool{false, true} {
		if err := NewPlan(failWriter{}, json, false).Show(p.Redact()); err == nil {
			t.Errorf("json %v: no error from a failing writer", json)
		}
	}
}

// TestPlanViewEscapes: names, contexts, selectors and texts from a state
// file or the cluster reach the terminal escaped.
func TestPlanViewEscapes(t *testing.T) {
	t.Parallel()
	prior := state.Forward{Name: hostile, Target: "service/" + hostile, Context: hostile, Namespace: "ns",
		Address: "127.0.0.1", RemotePort: "80", LocalPort: 1, Selector: map[string]string{hostile: hostile}}
	p := reconcile.Plan{Changes: []reconcile.Change{
		{Name: hostile, Action: reconcile.Stop, Reason: "not in the spec " + hostile, Prior: &prior},
		{Name: "api", Action: reconcile.Start, Port: 2, Desired: &model.Forward{Name: "api", Context: hostile, Namespace: "ns",
			Address: "127.0.0.1", RemotePort: "80", Selector: map[string]string{hostile: "v"}},
			PortMove: &reconcile.PortMove{Wanted: 1, Got: 2, Reason: hostile}},
	}}
	var b bytes.Buffer
	if err := NewPlan(&b, false, false).Show(p.Redact()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b]", "\x1b[2J", "\x07", "\u009b", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("plan view lets %q through:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, `x\x1b]0;pwned\a\x1b[2J\u009b1m\u202ey`) {
		t.Errorf("plan view does not show the escaped text:\n%q", out)
	}
}
