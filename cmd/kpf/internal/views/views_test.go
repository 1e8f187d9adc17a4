package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec/model"
)

var at = time.Date(2026, 12, 5, 11, 40, 0, 0, time.UTC)

// hostile is what a name or an error text could hold to act on a terminal.
const hostile = "x\x1b]0;pwned\x07\x1b[2J\u009b1m\u202ey"

// events feeds v one of each event reconcile reports, in the order of an
// apply and then a watch.
func events(v Apply) {
	api := model.Forward{Name: "api", Target: model.Target{Kind: "service", Name: "api"}, Context: "kind-dev",
		Namespace: "shop", Address: "127.0.0.1", LocalPort: 8080, RemotePort: "http", Enabled: true}
	p := reconcile.Plan{Workspace: "shop", Created: at, Changes: []reconcile.Change{
		{Name: "api", Action: reconcile.Start, Port: 8080, Desired: &api},
	}}
	_ = v.Plan(p.Redact())
	v.ActionStarted(reconcile.ActionStarted{At: at, Forward: "api", Action: reconcile.Start})
	v.ActionRetried(reconcile.ActionRetried{At: at, Forward: "api", Action: reconcile.Start, Attempt: 1,
		Error: "port 8080 in use", RetryIn: 500 * time.Millisecond})
	v.ActionSucceeded(reconcile.ActionSucceeded{At: at, Forward: "api", Action: reconcile.Start, Address: "127.0.0.1",
		Port: 8081, MovedFrom: 8080, Attempts: 2})
	v.ActionFailed(reconcile.ActionFailed{At: at, Forward: "db", Action: reconcile.Start, Attempts: 4,
		Error: `services "db" not found`})
	v.ActionFailed(reconcile.ActionFailed{At: at, Forward: "web", Action: reconcile.Start, Error: "cluster gone",
		Permanent: true, NotReached: true})
	v.ClusterUnreachable(reconcile.ClusterUnreachable{At: at, Context: "prod", Forwards: []string{"web"}, Error: "cluster gone"})
	v.ActionSucceeded(reconcile.ActionSucceeded{At: at, Forward: "old", Action: reconcile.Stop, Address: "127.0.0.1", Port: 9000, Attempts: 1})
	v.Summary(Summary{Started: 1, Stopped: 1, Failed: 2})
	v.WatchStarted(3)
	v.ForwardExited(reconcile.ForwardExited{At: at, Forward: "api", Error: "lost connection to pod"})
	v.ActionSucceeded(reconcile.ActionSucceeded{At: at, Forward: "api", Action: reconcile.Restart, Address: "127.0.0.1",
		Port: 8081, Attempts: 1, Reason: "process exited: lost connection to pod"})
	v.HealthChanged(reconcile.HealthChanged{At: at, Forward: "api", From: reconcile.HealthHealthy, To: reconcile.HealthUnhealthy,
		Error: "connection refused"})
	v.SpecBroken(reconcile.SpecBroken{At: at, Error: "the spec has errors; running forwards are left as they are",
		Diagnostics: []reconcile.Diagnostic{{Severity: reconcile.SeverityError, Summary: "Unsupported argument",
			Detail: `An argument named "x" is not expected here.`,
			Range:  &reconcile.SourceRange{Filename: "kpf.hcl", Start: reconcile.SourcePos{Line: 3, Column: 5, Byte: 40}, End: reconcile.SourcePos{Line: 3, Column: 6, Byte: 41}}}}})
	v.SpecReloaded(reconcile.SpecReloaded{At: at, Forwards: 3, Recovered: true})
	v.SpecReloaded(reconcile.SpecReloaded{At: at, Forwards: 4})
	v.SpecBroken(reconcile.SpecBroken{At: at, Error: `context "prod" is not in the kubeconfig`, Unplannable: []string{"web"}})
	v.WatchStopped()
}

// TestViewsGolden: the human lines and the JSON stream of the same events.
func TestViewsGolden(t *testing.T) {
	tests := []struct {
		golden string
		view   func(*bytes.Buffer) Apply
	}{
		{"apply.txt", func(b *bytes.Buffer) Apply { return NewApplyHuman(b, false) }},
		{"apply.jsonl", func(b *bytes.Buffer) Apply {
			j := NewJSON(b, func() time.Time { return at })
			j.Version("v1.2.3")
			return j
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			events(tt.view(&b))
			testutil.Golden(t, tt.golden, b.Bytes())
		})
	}
}

// TestJSONStream: every line of the stream is one JSON object with the
// common fields, a type and the one payload of its type.
func TestJSONStream(t *testing.T) {
	var b bytes.Buffer
	j := NewJSON(&b, func() time.Time { return at })
	j.Version("dev")
	events(j)
	j.Diagnostics(FromHCL(hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Deprecated attribute",
		Subject: &hcl.Range{Filename: "kpf.hcl", Start: hcl.Pos{Line: 2, Column: 3}, End: hcl.Pos{Line: 2, Column: 9}}}}, nil))
	payload := map[string]string{
		"version": "ui", "plan": "plan", "action_started": "action", "action_retried": "action",
		"action_succeeded": "action", "action_failed": "action", "cluster_unreachable": "cluster",
		"apply_summary": "summary", "watch_started": "watch", "watch_stopped": "", "forward_exited": "forward",
		"health_changed": "forward", "spec_broken": "spec", "spec_reloaded": "spec", "diagnostic": "diagnostic",
	}
	types := map[string]int{}
	sc := bufio.NewScanner(&b)
	for n := 1; sc.Scan(); n++ {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Bytes())
		}
		var typ string
		_ = json.Unmarshal(m["type"], &typ)
		types[typ]++
		want, known := payload[typ]
		if !known {
			t.Errorf("line %d: unknown type %q", n, typ)
		}
		for _, k := range []string{"@level", "@message", "@timestamp"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d (%s) lacks %s", n, typ, k)
			}
		}
		if want != "" {
			if _, ok := m[want]; !ok {
				t.Errorf("line %d (%s) lacks its payload %q: %s", n, typ, want, sc.Bytes())
			}
		}
		if n == 1 && (typ != "version" || string(m["ui"]) != `"`+JSONVersion+`"`) {
			t.Errorf("first line %s, want the version", sc.Bytes())
		}
	}
	for typ := range payload {
		if types[typ] == 0 {
			t.Errorf("no %s line", typ)
		}
	}
}

// TestProgressEscapes: whatever a name or an error holds, a progress line
// is one line without terminal controls.
func TestProgressEscapes(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b)
	p.ActionFailed(reconcile.ActionFailed{Forward: hostile, Action: reconcile.Start, Attempts: 1, Error: "error: " + hostile + "\nsecond line"})
	p.ClusterUnreachable(reconcile.ClusterUnreachable{Forwards: []string{hostile}, Error: hostile})
	if n := strings.Count(b.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want 2: %q", n, b.String())
	}
	for _, r := range strings.TrimSuffix(strings.ReplaceAll(b.String(), "\n", ""), "\n") {
		if unicode.IsControl(r) || r == '\u202e' {
			t.Fatalf("progress holds %U: %q", r, b.String())
		}
	}
}

func TestForwardList(t *testing.T) {
	names := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("forward.f%d", i))
		}
		return out
	}
	tests := []struct {
		n    int
		want string
	}{
		{1, "forward.f0"},
		{6, "forward.f0, forward.f1, forward.f2, forward.f3, forward.f4, forward.f5"},
		{100, "forward.f0, forward.f1, forward.f2, forward.f3, forward.f4 and 95 more"},
	}
	for _, tt := range tests {
		if got := forwardList(names(tt.n)); got != tt.want {
			t.Errorf("forwardList(%d names) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestJSONWriteError: the first write error is kept and ends the stream.
func TestJSONWriteError(t *testing.T) {
	j := NewJSON(failWriter{}, nil)
	j.WatchStarted(1)
	j.WatchStopped()
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Err() = %v, want the write error", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
