package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/kpf-dev/kpf/spec/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; run `go test ./reconcile -run %s -update` if intended.\n--- got:\n%s\n--- want:\n%s",
			path, t.Name(), got, want)
	}
}

// viewScenarios are plans computed by Diff, so the golden files also pin
// Diff's output shape.
func viewScenarios() map[string]Plan {
	api := dfwd("api", 8080)
	web := dfwd("web", 3000)
	db := dfwd("db", 5432, func(f *model.Forward) {
		f.Target = model.Target{}
		f.Selector = map[string]string{"app": "postgres", "tier": "data"}
		f.Namespace = "data"
		f.RemotePort = "5432"
	})
	mixed := Diff(
		[]model.Forward{
			dfwd("api", 8080, func(f *model.Forward) { f.Namespace = "shop-v2"; f.LocalPort = 8081 }),
			dfwd("admin", 8080),
			db,
			dfwd("grafana", 0),
			dfwd("legacy", 7000, ddisabled),
			dfwd("metrics", 9090),
			web,
		},
		Actual{
			"api":     drunning(api, 8080),
			"legacy":  drunning(dfwd("legacy", 7000), 7000),
			"metrics": drunning(dfwd("metrics", 9090), 9090, ddead("error: lost connection to pod")),
			"old":     drunning(dfwd("old", 9999), 9999),
			"web":     drunning(web, 3000),
		},
		dbusyPorts{"127.0.0.1:8080": true, "127.0.0.1:3000": true, "127.0.0.1:9999": true, "127.0.0.1:7000": true},
	)
	mixed.Workspace = "shop"
	val := func(s string) OutputValue {
		return OutputValue{Present: true, Known: true, Text: s, JSON: json.RawMessage(strconv.Quote(s))}
	}
	mixed.Outputs = DiffOutputs(
		[]string{"API_URL", "DB", "GONE", "NEW", "SAME", "TOKEN"},
		map[string]OutputValue{
			"API_URL": val("http://127.0.0.1:8080/"), "GONE": val("127.0.0.1:9999"), "SAME": val("x"),
			"TOKEN": val("secret-8080"),
		},
		map[string]OutputValue{
			"API_URL": val("http://127.0.0.1:8081/"), "DB": {Present: true}, "NEW": val("127.0.0.1:5432"), "SAME": val("x"),
			"TOKEN": val("secret-8081"),
		},
		map[string]bool{"TOKEN": true},
	)

	unhealthy := Diff([]model.Forward{api, web}, Actual{
		"api": drunning(api, 8080, func(o *Observed) { o.Health, o.HealthError = HealthUnhealthy, "GET /healthz: 503" }),
		"web": drunning(web, 3001),
	}, dbusyPorts{"127.0.0.1:8080": true, "127.0.0.1:3000": true, "127.0.0.1:3001": true})
	unhealthy.Workspace = "shop"

	// api ran on 38081 while another program held 38080, which is free
	// again; web2, which asks for 38081, ran on 38082 (as an older kpf
	// placed them) and moves back once api has left 38081.
	portback := Diff([]model.Forward{dfwd("api", 38080), dfwd("web2", 38081)}, Actual{
		"api":  drunning(dfwd("api", 38080), 38081),
		"web2": drunning(dfwd("web2", 38081), 38082),
	}, dbusyPorts{"127.0.0.1:38081": true, "127.0.0.1:38082": true})
	portback.Workspace = "shop"

	// prod's context is not in the kubeconfig: it runs (from an earlier
	// apply) and is left alone; web is planned as ever.
	unplannable := Diff([]model.Forward{web}, Actual{"prod": drunning(dfwd("prod", 5433), 5433)}, dbusyPorts{})
	unplannable.Fail([]ForwardError{{Name: "prod", Error: `kpf.hcl:9,3-20: forward "prod": context "prod" is not in the kubeconfig (did you mean "kind-dev"? contexts: kind-dev)`}})
	unplannable.Workspace = "shop"
	onlyErrors := Diff(nil, Actual{}, dbusyPorts{})
	onlyErrors.Fail([]ForwardError{{Name: "b", Error: "context \"x\" is not in the kubeconfig"}, {Name: "a", Error: "context \"x\" is not in the kubeconfig"}})
	onlyErrors.Workspace = "shop"

	selector := Diff([]model.Forward{dfwd("db", 5432, func(f *model.Forward) {
		f.Target = model.Target{}
		f.Selector = map[string]string{"app": "postgres"}
	}), dfwd("top", 65535)}, Actual{"db": drunning(dfwd("db", 5432), 5432)}, dbusyPorts{"127.0.0.1:65535": true})
	selector.Workspace = "data"

	// A forward of the kubectl runtime whose spec now asks for native.
	migration := Diff([]model.Forward{dfwd("api", 8080, func(f *model.Forward) { f.Runtime = "native" })},
		Actual{"api": drunning(api, 8080, func(o *Observed) { o.State.Handle.Runtime = "kubectl" })}, dbusyPorts{"127.0.0.1:8080": true})
	migration.Workspace = "shop"

	// Health blocks added, changed and removed, and a new cap.
	health := Diff([]model.Forward{
		dfwd("api", 8080, checked(model.HealthHTTP, "/healthz")),
		dfwd("db", 5432, checked(model.HealthNone, ""), capped(100)),
		web,
	}, Actual{
		"api": drunning(api, 8080),
		"db":  drunning(dfwd("db", 5432, checked(model.HealthHTTP, "/")), 5432),
		"web": drunning(dfwd("web", 3000, checked(model.HealthTCP, "")), 3000),
	}, dbusyPorts{"127.0.0.1:8080": true, "127.0.0.1:5432": true, "127.0.0.1:3000": true})
	health.Workspace = "shop"

	none := Diff([]model.Forward{api, dfwd("off", 1, ddisabled)}, Actual{"api": drunning(api, 8080)}, dbusyPorts{})
	none.Workspace = "shop"

	return map[string]Plan{
		"mixed":       mixed,
		"unhealthy":   unhealthy,
		"portback":    portback,
		"unplannable": unplannable,
		"onlyerrors":  onlyErrors,
		"selector":    selector,
		"migration":   migration,
		"health":      health,
		"nochanges":   none,
		"empty":       {Workspace: "empty", Changes: []Change{}},
	}
}

func TestRenderHumanGolden(t *testing.T) {
	t.Parallel()
	for name, p := range viewScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := RenderHuman(&buf, p, HumanOptions{}); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(buf.Bytes(), []byte("\x1b[")) {
				t.Error("colour escapes without HumanOptions.Color")
			}
			golden(t, "plan_"+name+".golden", buf.Bytes())
		})
	}
}

func TestRenderJSONGolden(t *testing.T) {
	t.Parallel()
	for name, p := range viewScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := RenderJSON(&buf, p); err != nil {
				t.Fatal(err)
			}
			var decoded struct {
				FormatVersion string `json:"format_version"`
				Changes       []struct {
					Action string `json:"action"`
				} `json:"changes"`
				Summary Summary `json:"summary"`
			}
			if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if decoded.FormatVersion != JSONFormatVersion || decoded.Summary != p.Summary() || len(decoded.Changes) != len(p.Changes) {
				t.Errorf("decoded %+v does not match the plan", decoded)
			}
			golden(t, "plan_"+name+".json.golden", buf.Bytes())
		})
	}
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestRenderHumanColor(t *testing.T) {
	t.Parallel()
	for name, p := range viewScenarios() {
		var plain, colored bytes.Buffer
		if err := RenderHuman(&plain, p, HumanOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := RenderHuman(&colored, p, HumanOptions{Color: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(colored.Bytes(), []byte("\x1b[")) {
			t.Errorf("%s: no colour escapes with Color", name)
		}
		if stripped := ansiEscape.ReplaceAll(colored.Bytes(), nil); !bytes.Equal(stripped, plain.Bytes()) {
			t.Errorf("%s: coloured output minus escapes differs from plain:\n%s\n---\n%s", name, stripped, plain.Bytes())
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteErrors(t *testing.T) {
	t.Parallel()
	p := viewScenarios()["mixed"]
	for name, err := range map[string]error{
		"human": RenderHuman(failWriter{}, p, HumanOptions{}),
		"json":  RenderJSON(failWriter{}, p),
	} {
		if err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}
