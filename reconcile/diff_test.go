package reconcile

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// dbusyPorts is a PortChecker: the listed "address:port" keys are in use.
type dbusyPorts map[string]bool

func (b dbusyPorts) Free(address string, port int) bool {
	return !b[address+":"+strconv.Itoa(port)]
}

func dfwd(name string, port int, mods ...func(*model.Forward)) model.Forward {
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

func ddisabled(f *model.Forward) { f.Enabled = false }

// running is the observed state of f started on port.
func drunning(f model.Forward, port int, mods ...func(*Observed)) Observed {
	o := Observed{
		State: state.Forward{
			Name:       f.Name,
			Handle:     fakeHandle(1000+port, 1),
			SpecHash:   SpecHash(f),
			Target:     f.Target.String(),
			Selector:   f.Selector,
			Context:    f.Context,
			Namespace:  f.Namespace,
			Address:    f.Address,
			RemotePort: f.RemotePort,
			LocalPort:  port,
			WantedPort: f.LocalPort,
			Health:     FormatHealth(f.Health),
			StartedAt:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),

			MaxConnections: f.MaxConnections,
		},
		Runtime: runtime.Unknown(),
		Alive:   true,
		Health:  HealthHealthy,
	}
	for _, m := range mods {
		m(&o)
	}
	return o
}

func ddead(lastErr string) func(*Observed) {
	return func(o *Observed) { o.Alive, o.LastError, o.Health = false, lastErr, HealthUnknown }
}

type dwantChange struct {
	Name   string
	Action Action
	Reason string
	Port   int
	Move   *PortMove
	Fields []string // "field: before -> after"
}

func dproject(p Plan) []dwantChange {
	out := make([]dwantChange, 0, len(p.Changes))
	for _, c := range p.Changes {
		w := dwantChange{Name: c.Name, Action: c.Action, Reason: c.Reason, Port: c.Port, Move: c.PortMove}
		for _, fc := range c.Fields {
			if !fc.ForcesReplace {
				w.Fields = append(w.Fields, "no-replace "+fc.Field)
				continue
			}
			w.Fields = append(w.Fields, fmt.Sprintf("%s: %s -> %s", fc.Field, fc.Before, fc.After))
		}
		out = append(out, w)
	}
	return out
}

func TestDiff(t *testing.T) {
	t.Parallel()
	api := dfwd("api", 8080)
	db := dfwd("db", 5432)
	tests := []struct {
		name    string
		desired []model.Forward
		actual  Actual
		busy    dbusyPorts
		want    []dwantChange
	}{
		{name: "nothing at all", want: []dwantChange{}},
		{name: "new forward starts on its port",
			desired: []model.Forward{api},
			want:    []dwantChange{{Name: "api", Action: Start, Port: 8080}}},
		{name: "port held by another program moves up",
			desired: []model.Forward{api},
			busy:    dbusyPorts{"127.0.0.1:8080": true, "127.0.0.1:8081": true},
			want: []dwantChange{{Name: "api", Action: Start, Port: 8082,
				Move: &PortMove{Wanted: 8080, Got: 8082, Reason: "port 8080 is in use by another program"}}}},
		{name: "two forwards asking for one port",
			desired: []model.Forward{api, dfwd("web", 8080)},
			want: []dwantChange{
				{Name: "api", Action: Start, Port: 8080},
				{Name: "web", Action: Start, Port: 8081,
					Move: &PortMove{Wanted: 8080, Got: 8081, Reason: "port 8080 is used by forward.api"}}}},
		{name: "running forward keeps its port against a newcomer sorted before it",
			desired: []model.Forward{dfwd("aaa", 8080), api},
			actual:  Actual{"api": drunning(api, 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{
				{Name: "aaa", Action: Start, Port: 8081,
					Move: &PortMove{Wanted: 8080, Got: 8081, Reason: "port 8080 is used by forward.api"}},
				{Name: "api", Action: NoOp, Port: 8080}}},
		{name: "dead forward keeps its port against a newcomer sorted before it",
			desired: []model.Forward{dfwd("aaa", 8080), api},
			actual:  Actual{"api": drunning(api, 8080, ddead("error: lost connection to pod"))},
			want: []dwantChange{
				{Name: "aaa", Action: Start, Port: 8081,
					Move: &PortMove{Wanted: 8080, Got: 8081, Reason: "port 8080 is used by forward.api"}},
				{Name: "api", Action: Restart, Port: 8080, Reason: "forward exited: lost connection to pod"}}},
		{name: "healthy running forward is left alone",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want:    []dwantChange{{Name: "api", Action: NoOp, Port: 8080}}},
		{name: "removed from spec stops",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8080), "old": drunning(dfwd("old", 9000), 9000)},
			want: []dwantChange{
				{Name: "api", Action: NoOp, Port: 8080},
				{Name: "old", Action: Stop, Reason: ReasonRemoved, Port: 9000}}},
		{name: "ddisabled running stops, ddisabled idle is a no-op",
			desired: []model.Forward{dfwd("api", 8080, ddisabled), dfwd("db", 5432, ddisabled)},
			actual:  Actual{"api": drunning(api, 8080)},
			want: []dwantChange{
				{Name: "api", Action: Stop, Reason: ReasonDisabled, Port: 8080},
				{Name: "db", Action: NoOp, Reason: ReasonDisabled}}},
		{name: "namespace change replaces and keeps its own port",
			desired: []model.Forward{dfwd("api", 8080, func(f *model.Forward) { f.Namespace = "shop2" })},
			actual:  Actual{"api": drunning(api, 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Replace, Reason: "spec changed: namespace", Port: 8080,
				Fields: []string{"namespace: shop -> shop2"}}}},
		{name: "local_port change replaces onto the new port",
			desired: []model.Forward{dfwd("api", 9090)},
			actual:  Actual{"api": drunning(api, 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Replace, Reason: "spec changed: local_port", Port: 9090,
				Fields: []string{"local_port: 8080 -> 9090"}}}},
		{name: "a new max_connections replaces",
			desired: []model.Forward{dfwd("api", 8080, capped(100))},
			actual:  Actual{"api": drunning(api, 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Replace, Reason: "spec changed: max_connections", Port: 8080,
				Fields: []string{"max_connections: default -> 100"}}}},
		{name: "max_connections back to the default replaces",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(dfwd("api", 8080, capped(100)), 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Replace, Reason: "spec changed: max_connections", Port: 8080,
				Fields: []string{"max_connections: 100 -> default"}}}},
		{name: "the same max_connections is a no-op",
			desired: []model.Forward{dfwd("api", 8080, capped(100))},
			actual:  Actual{"api": drunning(dfwd("api", 8080, capped(100)), 8080)},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want:    []dwantChange{{Name: "api", Action: NoOp, Port: 8080}}},
		{name: "selector replaces target",
			desired: []model.Forward{dfwd("db", 5432, func(f *model.Forward) {
				f.Target = model.Target{}
				f.Selector = map[string]string{"app": "postgres", "tier": "data"}
			})},
			actual: Actual{"db": drunning(db, 5432)},
			want: []dwantChange{{Name: "db", Action: Replace, Reason: "spec changed: target, selector", Port: 5432,
				Fields: []string{"target: service/db -> ", "selector:  -> app=postgres,tier=data"}}}},
		{name: "an open change does nothing",
			desired: []model.Forward{dfwd("api", 8080, func(f *model.Forward) { f.Open = "/swagger/" })},
			actual:  Actual{"api": drunning(api, 8080)},
			want:    []dwantChange{{Name: "api", Action: NoOp, Port: 8080}}},
		{name: "an added health block replaces",
			desired: []model.Forward{dfwd("api", 8080, checked(model.HealthHTTP, "/healthz"))},
			actual:  Actual{"api": drunning(api, 8080)},
			want: []dwantChange{{Name: "api", Action: Replace, Port: 8080, Reason: "spec changed: health",
				Fields: []string{`health:  -> { http = "/healthz" }`}}}},
		{name: "a health check turned off replaces",
			desired: []model.Forward{dfwd("api", 8080, checked(model.HealthNone, ""))},
			actual:  Actual{"api": drunning(dfwd("api", 8080, checked(model.HealthHTTP, "/")), 8080)},
			want: []dwantChange{{Name: "api", Action: Replace, Port: 8080, Reason: "spec changed: health",
				Fields: []string{`health: { http = "/" } -> { none = true }`}}}},
		{name: "a removed health block replaces",
			desired: []model.Forward{api},
			actual: Actual{"api": drunning(dfwd("api", 8080, checked(model.HealthTCP, ""), func(f *model.Forward) {
				f.Health.Interval = 7 * time.Second
			}), 8080)},
			want: []dwantChange{{Name: "api", Action: Replace, Port: 8080, Reason: "spec changed: health",
				Fields: []string{`health: { tcp = true, interval = "7s" } -> `}}}},
		{name: "the same health block does nothing",
			desired: []model.Forward{dfwd("api", 8080, checked(model.HealthHTTP, "/healthz"))},
			actual:  Actual{"api": drunning(dfwd("api", 8080, checked(model.HealthHTTP, "/healthz")), 8080)},
			want:    []dwantChange{{Name: "api", Action: NoOp, Port: 8080}}},
		{name: "dead process restarts with the log's last error",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8080, ddead("lost connection to pod"))},
			want: []dwantChange{{Name: "api", Action: Restart, Port: 8080,
				Reason: "forward exited: lost connection to pod"}}},
		{name: "dead process without error",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8080, ddead(""))},
			want:    []dwantChange{{Name: "api", Action: Restart, Port: 8080, Reason: "forward exited"}}},
		{name: "dead process whose port was taken meanwhile moves",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8080, ddead(""))},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Restart, Port: 8081, Reason: "forward exited",
				Move: &PortMove{Wanted: 8080, Got: 8081, Reason: "port 8080 is in use by another program"}}}},
		{name: "unhealthy restarts",
			desired: []model.Forward{api},
			actual: Actual{"api": drunning(api, 8080, func(o *Observed) {
				o.Health, o.HealthError = HealthUnhealthy, "connection refused"
			})},
			busy: dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Restart, Port: 8080,
				Reason: "health check failing: connection refused"}}},
		{name: "sticky port kept while the wanted one is busy",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8081, ddead(""))},
			busy:    dbusyPorts{"127.0.0.1:8080": true},
			want: []dwantChange{{Name: "api", Action: Restart, Port: 8081, Reason: "forward exited",
				Move: &PortMove{Wanted: 8080, Got: 8081, Reason: "keeping port 8081 chosen earlier"}}}},
		{name: "a restart goes back to the wanted port once free",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8081, ddead(""))},
			want:    []dwantChange{{Name: "api", Action: Restart, Port: 8080, Reason: "forward exited"}}},
		{name: "a running forward off its port moves back once it is free",
			desired: []model.Forward{dfwd("api", 38080), dfwd("web2", 38081)},
			actual: Actual{
				"api":  drunning(dfwd("api", 38080), 38081),
				"web2": drunning(dfwd("web2", 38081), 38082),
			},
			busy: dbusyPorts{"127.0.0.1:38081": true, "127.0.0.1:38082": true},
			want: []dwantChange{
				{Name: "api", Action: Restart, Port: 38080, Reason: "port 38080 is free again: moving back from 38081"},
				// 38081 is api's until it has moved: web2 follows in the next plan.
				{Name: "web2", Action: NoOp, Port: 38082}}},
		{name: "a port asked for wins over a running forward's fallback",
			desired: []model.Forward{dfwd("api", 38080), dfwd("web2", 38081)},
			actual:  Actual{"api": drunning(dfwd("api", 38080), 38081)},
			busy:    dbusyPorts{"127.0.0.1:38080": true, "127.0.0.1:38081": true},
			want: []dwantChange{
				{Name: "api", Action: Restart, Port: 38082, Reason: "port 38081 is asked for by forward.web2",
					Move: &PortMove{Wanted: 38080, Got: 38082, Reason: "port 38080 is in use by another program"}},
				{Name: "web2", Action: Start, Port: 38081}}},
		{name: "a forward moving back hands the port it leaves to one that asks for it",
			desired: []model.Forward{dfwd("api", 38080), dfwd("web2", 38081)},
			actual:  Actual{"api": drunning(dfwd("api", 38080), 38081)},
			busy:    dbusyPorts{"127.0.0.1:38081": true},
			want: []dwantChange{
				{Name: "api", Action: Restart, Port: 38080, Reason: "port 38080 is free again: moving back from 38081"},
				{Name: "web2", Action: Start, Port: 38081}}},
		{name: "a running forward off its port stays while it is busy",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8081)},
			busy:    dbusyPorts{"127.0.0.1:8080": true, "127.0.0.1:8081": true},
			want:    []dwantChange{{Name: "api", Action: NoOp, Port: 8081}}},
		{name: "a running forward off its port stays while another forward holds it",
			desired: []model.Forward{dfwd("aaa", 8080), api},
			actual:  Actual{"aaa": drunning(dfwd("aaa", 8080), 8080), "api": drunning(api, 8081)},
			busy:    dbusyPorts{"127.0.0.1:8080": true, "127.0.0.1:8081": true},
			want:    []dwantChange{{Name: "aaa", Action: NoOp, Port: 8080}, {Name: "api", Action: NoOp, Port: 8081}}},
		{name: "a port asked for wins over another forward's fallback",
			desired: []model.Forward{dfwd("api", 38080), dfwd("web2", 38081)},
			busy:    dbusyPorts{"127.0.0.1:38080": true},
			want: []dwantChange{
				{Name: "api", Action: Start, Port: 38082,
					Move: &PortMove{Wanted: 38080, Got: 38082, Reason: "port 38080 is in use by another program"}},
				{Name: "web2", Action: Start, Port: 38081}}},
		{name: "an auto port stays sticky",
			desired: []model.Forward{dfwd("a", 0)},
			actual:  Actual{"a": drunning(dfwd("a", 0), 42007)},
			busy:    dbusyPorts{"127.0.0.1:42007": true},
			want:    []dwantChange{{Name: "a", Action: NoOp, Port: 42007}}},
		{name: "sticky port taken falls back to the wanted port",
			desired: []model.Forward{api},
			actual:  Actual{"api": drunning(api, 8081, ddead(""))},
			busy:    dbusyPorts{"127.0.0.1:8081": true},
			want:    []dwantChange{{Name: "api", Action: Restart, Port: 8080, Reason: "forward exited"}}},
		{name: "auto port scans from 42000",
			desired: []model.Forward{dfwd("a", 0), dfwd("b", 0)},
			busy:    dbusyPorts{"127.0.0.1:42000": true},
			want: []dwantChange{
				{Name: "a", Action: Start, Port: 42001},
				{Name: "b", Action: Start, Port: 42002}}},
		{name: "auto port is sticky",
			desired: []model.Forward{dfwd("a", 0)},
			actual:  Actual{"a": drunning(dfwd("a", 0), 42007, ddead(""))},
			want:    []dwantChange{{Name: "a", Action: Restart, Port: 42007, Reason: "forward exited"}}},
		{name: "failed start is started again on its old port",
			desired: []model.Forward{api},
			actual: Actual{"api": drunning(api, 8080, func(o *Observed) {
				o.State.Handle, o.Alive, o.State.LastError = runtime.Handle{}, false, "context not found"
			})},
			want: []dwantChange{{Name: "api", Action: Start, Port: 8080,
				Reason: "previous start failed: context not found"}}},
		{name: "no free port at all",
			desired: []model.Forward{dfwd("top", 65535)},
			busy:    dbusyPorts{"127.0.0.1:65535": true},
			want: []dwantChange{{Name: "top", Action: Start,
				Move: &PortMove{Wanted: 65535, Reason: "no free port at or above 65535"}}}},
		{name: "wildcard address conflicts with loopback",
			desired: []model.Forward{api, dfwd("pub", 8080, func(f *model.Forward) { f.Address = "0.0.0.0" })},
			want: []dwantChange{
				{Name: "api", Action: Start, Port: 8080},
				{Name: "pub", Action: Start, Port: 8081,
					Move: &PortMove{Wanted: 8080, Got: 8081, Reason: "port 8080 is used by forward.api"}}}},
		{name: "a forward moves to the runtime the spec asks for",
			desired: []model.Forward{dfwd("api", 8080, func(f *model.Forward) { f.Runtime = "native" })},
			actual:  Actual{"api": drunning(api, 8080)}, // a "fake" runtime's forward
			want: []dwantChange{{Name: "api", Action: Replace, Port: 8080,
				Reason: "spec changed: runtime", Fields: []string{"runtime: fake -> native"}}}},
		{name: "same runtime, or none named: no change",
			desired: []model.Forward{dfwd("api", 8080, func(f *model.Forward) { f.Runtime = "fake" }), db},
			actual:  Actual{"api": drunning(api, 8080), "db": drunning(db, 5432)},
			want:    []dwantChange{{Name: "api", Action: NoOp, Port: 8080}, {Name: "db", Action: NoOp, Port: 5432}}},
		{name: "unsorted input, output sorted by name",
			desired: []model.Forward{dfwd("zeta", 7000), dfwd("alpha", 7001)},
			actual:  Actual{"mid": drunning(dfwd("mid", 7002), 7002)},
			want: []dwantChange{
				{Name: "alpha", Action: Start, Port: 7001},
				{Name: "mid", Action: Stop, Reason: ReasonRemoved, Port: 7002},
				{Name: "zeta", Action: Start, Port: 7000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Diff(tt.desired, tt.actual, tt.busy)
			if got := dproject(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff:\n got %+v\nwant %+v", got, tt.want)
			}
			for _, c := range p.Changes {
				if (c.Action == Stop) != (c.Desired == nil) {
					t.Errorf("%s: action %q with Desired %v", c.Name, c.Action, c.Desired)
				}
				if c.Action == Start && c.Reason == "" && c.Prior != nil {
					t.Errorf("%s: fresh start has a Prior", c.Name)
				}
			}
		})
	}
}

func TestDiffDoesNotMutateInput(t *testing.T) {
	t.Parallel()
	in := []model.Forward{dfwd("b", 1), dfwd("a", 2)}
	Diff(in, nil, dbusyPorts{})
	if in[0].Name != "b" || in[1].Name != "a" {
		t.Errorf("Diff reordered its input: %v, %v", in[0].Name, in[1].Name)
	}
}

func TestSpecHash(t *testing.T) {
	t.Parallel()
	base := dfwd("api", 8080, func(f *model.Forward) { f.Selector = map[string]string{"a": "1", "b": "2"} })
	same := []func(*model.Forward){
		func(f *model.Forward) { f.Enabled = false },
		func(f *model.Forward) { f.Open = "/x" },
		func(f *model.Forward) { f.Health = model.Health{} },
		func(f *model.Forward) { f.Decl = model.Pos{File: "kpf.hcl", Line: 3} },
		func(f *model.Forward) { f.Selector = map[string]string{"b": "2", "a": "1"} },
	}
	differ := map[string]func(*model.Forward){
		"target":      func(f *model.Forward) { f.Target.Name = "api2" },
		"kind":        func(f *model.Forward) { f.Target.Kind = "pod" },
		"selector":    func(f *model.Forward) { f.Selector = map[string]string{"a": "1", "b": "3"} },
		"selector kv": func(f *model.Forward) { f.Selector = map[string]string{"a": "1=b", "": "2"} },
		"context":     func(f *model.Forward) { f.Context = "prod" },
		"namespace":   func(f *model.Forward) { f.Namespace = "other" },
		"address":     func(f *model.Forward) { f.Address = "0.0.0.0" },
		"remote_port": func(f *model.Forward) { f.RemotePort = "8080" },
		"local_port":  func(f *model.Forward) { f.LocalPort = 0 },
		"field shift": func(f *model.Forward) { f.Context, f.Namespace = "kind-devshop", "" },
		"max_conns":   capped(100),
		"health":      checked(model.HealthTCP, ""),
		"health none": checked(model.HealthNone, ""),
	}
	h := SpecHash(base)
	if len(h) != 32 {
		t.Errorf("SpecHash length %d, want 32", len(h))
	}
	for i, m := range same {
		f := base
		m(&f)
		if got := SpecHash(f); got != h {
			t.Errorf("same[%d]: hash changed", i)
		}
	}
	for name, m := range differ {
		f := base
		m(&f)
		if got := SpecHash(f); got == h {
			t.Errorf("%s: hash did not change", name)
		}
	}
}

// checked gives the forward a health block of kind (with path for http).
func checked(kind model.HealthKind, path string) func(*model.Forward) {
	return func(f *model.Forward) { f.Health = model.Health{Kind: kind, HTTPPath: path, Declared: true} }
}

func capped(n int) func(*model.Forward) {
	return func(f *model.Forward) { f.MaxConnections = n }
}

// TestSpecHashWithoutMaxConnectionsIsUnchanged: forwards that set no
// max_connections and have no health block keep the hash they had before the attribute existed, so
// upgrading kpf replaces none of them.
func TestSpecHashWithoutMaxConnectionsIsUnchanged(t *testing.T) {
	t.Parallel()
	for _, h := range []model.Health{{Kind: model.HealthTCP}, {}} {
		f := dfwd("api", 8080, func(f *model.Forward) { f.Health = h })
		if got, want := SpecHash(f), "67212142811dd6b6310261907393bb3d"; got != want {
			t.Errorf("health %+v: SpecHash = %s, want %s (the hash before max_connections and health)", h, got, want)
		}
	}
}

func TestResolveContexts(t *testing.T) {
	t.Parallel()
	in := []model.Forward{dfwd("a", 1, func(f *model.Forward) { f.Context = "" }), dfwd("b", 2)}
	out := ResolveContexts(in, "kind-x")
	if out[0].Context != "kind-x" || out[1].Context != "kind-dev" {
		t.Errorf("contexts = %q, %q; want kind-x, kind-dev", out[0].Context, out[1].Context)
	}
	if in[0].Context != "" {
		t.Errorf("input was modified")
	}
}

func TestPlanSummary(t *testing.T) {
	t.Parallel()
	p := Plan{Changes: []Change{{Action: Start}, {Action: Start}, {Action: Stop}, {Action: Replace}, {Action: Restart}, {Action: NoOp}}}
	if got, want := p.Summary(), (Summary{Start: 2, Stop: 1, Replace: 1, Restart: 1, NoOp: 1}); got != want {
		t.Errorf("Summary = %+v, want %+v", got, want)
	}
	if !p.HasChanges() {
		t.Error("HasChanges = false")
	}
	if (Plan{Changes: []Change{{Action: NoOp}}}).HasChanges() {
		t.Error("HasChanges = true for a no-op plan")
	}
}
