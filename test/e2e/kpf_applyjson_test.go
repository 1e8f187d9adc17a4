//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// applyLine is what every line of `kpf apply --json` has, and the payloads
// the tests look into (docs/apply-json.md).
type applyLine struct {
	Level     string    `json:"@level"`
	Message   string    `json:"@message"`
	Timestamp time.Time `json:"@timestamp"`
	Type      string    `json:"type"`
	UI        string    `json:"ui"`
	Action    *struct {
		Forward  string `json:"forward"`
		Action   string `json:"action"`
		Address  string `json:"address"`
		Port     int    `json:"port"`
		Error    string `json:"error"`
		Attempts int    `json:"attempts"`
	} `json:"action"`
	Forward *struct {
		Name string `json:"name"`
	} `json:"forward"`
	Spec *struct {
		Recovered   bool `json:"recovered"`
		Forwards    int  `json:"forwards"`
		Diagnostics []struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Range    *struct {
				Filename string `json:"filename"`
				Start    struct{ Line int }
			} `json:"range"`
		} `json:"diagnostics"`
	} `json:"spec"`
	Summary *struct {
		Started, Failed int
	} `json:"summary"`
}

// decodeApplyJSON decodes every line of out, failing on one that is not
// a JSON object with the common fields.
func decodeApplyJSON(t *testing.T, out string) []applyLine {
	t.Helper()
	var lines []applyLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l applyLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("a line of kpf apply --json is not JSON: %v\n%s", err, sc.Text())
		}
		if l.Type == "" || l.Level == "" || l.Message == "" || l.Timestamp.IsZero() {
			t.Errorf("a line lacks type, @level, @message or @timestamp: %s", sc.Text())
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 || lines[0].Type != "version" || lines[0].UI == "" {
		t.Fatalf("kpf apply --json does not begin with its version:\n%s", out)
	}
	return lines
}

func findLine(lines []applyLine, match func(l applyLine) bool) *applyLine {
	for i := range lines {
		if match(lines[i]) {
			return &lines[i]
		}
	}
	return nil
}

// TestApplyJSON: `kpf apply --json` on the local control plane streams one
// JSON object per line (plan, each action, the summary), a forward that
// fails included; `kpf apply --watch --json` reports a forward killed
// behind its back and restarted, a broken spec with its diagnostic as
// data and the spec loading again, and ends with watch_stopped on Ctrl-C.
// stdout holds nothing else.
func TestApplyJSON(t *testing.T) {
	ns := newNamespace(t)
	w := newWorkspace(t, ns) // kubectl: a forward can be killed by pid
	web, gone := testutil.FreePort(t), testutil.FreePort(t)
	spec := fmt.Sprintf(`
defaults {
  context   = "kpf-local"
  namespace = "%%NS%%"
}
forward "web" {
  target      = "svc/web"
  local_port  = %d
  remote_port = "http"
}
forward "gone" {
  target      = "svc/gone"
  local_port  = %d
  remote_port = 80
}
`, web, gone)
	w.writeSpec("kpf.hcl", spec)

	code, out, errOut := w.kpf("apply", "--json")
	if code != 1 {
		t.Errorf("kpf apply --json: exit %d, want 1 (gone fails)\n%s%s", code, out, errOut)
	}
	lines := decodeApplyJSON(t, out)
	types := []string{}
	for _, l := range lines {
		types = append(types, l.Type)
	}
	if findLine(lines, func(l applyLine) bool { return l.Type == "plan" }) == nil {
		t.Errorf("no plan line: %v", types)
	}
	ok := findLine(lines, func(l applyLine) bool {
		return l.Type == "action_succeeded" && l.Action != nil && l.Action.Forward == "web" && l.Action.Port == web
	})
	if ok == nil {
		t.Errorf("no action_succeeded for web on %d:\n%s", web, out)
	}
	failed := findLine(lines, func(l applyLine) bool {
		return l.Type == "action_failed" && l.Action != nil && l.Action.Forward == "gone" && strings.Contains(l.Action.Error, "not found")
	})
	if failed == nil {
		t.Errorf("no action_failed for gone naming why:\n%s", out)
	}
	if last := lines[len(lines)-1]; last.Type != "apply_summary" || last.Summary == nil || last.Summary.Started != 1 || last.Summary.Failed != 1 {
		t.Errorf("last line %+v, want the summary: 1 started, 1 failed", last)
	}
	httpGetRetry(t, web, "/", 10*time.Second)

	// The watch, without gone.
	only := fmt.Sprintf(`
defaults {
  context   = "kpf-local"
  namespace = "%%NS%%"
}
forward "web" {
  target      = "svc/web"
  local_port  = %d
  remote_port = "http"
}
`, web)
	w.writeSpec("kpf.hcl", only)
	bin, err := kpfBinary()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	cmd := exec.Command(bin, "-C", w.dir, "apply", "--watch", "--json")
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env(), stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("kpf apply --watch --json stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	waitFor := func(what string, match func(l applyLine) bool) {
		t.Helper()
		waitUntil(t, 30*time.Second, what, func() bool {
			var ls []applyLine
			sc := bufio.NewScanner(strings.NewReader(stdout.String()))
			for sc.Scan() {
				var l applyLine
				if json.Unmarshal(sc.Bytes(), &l) == nil {
					ls = append(ls, l)
				}
			}
			return findLine(ls, match) != nil
		})
	}
	waitFor("watch_started", func(l applyLine) bool { return l.Type == "watch_started" })
	waitFor("gone stopped", func(l applyLine) bool {
		return l.Type == "action_succeeded" && l.Action.Forward == "gone" && l.Action.Action == "stop"
	})
	time.Sleep(3 * time.Second) // a pass sees web alive (check_interval 2 s)
	killForward(t, w.forward("web"))
	waitFor("forward_exited web", func(l applyLine) bool { return l.Type == "forward_exited" && l.Forward.Name == "web" })
	waitFor("web restarted", func(l applyLine) bool {
		return l.Type == "action_succeeded" && l.Action.Forward == "web" && l.Action.Action == "restart"
	})
	w.writeSpec("kpf.hcl", only+"forward \"broken\" {\n  target = \n")
	waitFor("spec_broken with its diagnostic", func(l applyLine) bool {
		return l.Type == "spec_broken" && len(l.Spec.Diagnostics) > 0 && l.Spec.Diagnostics[0].Severity == "error" &&
			l.Spec.Diagnostics[0].Range != nil && strings.HasSuffix(l.Spec.Diagnostics[0].Range.Filename, "kpf.hcl")
	})
	w.writeSpec("kpf.hcl", only)
	waitFor("spec_reloaded, recovered", func(l applyLine) bool { return l.Type == "spec_reloaded" && l.Spec.Recovered })

	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("kpf apply --watch --json after SIGINT: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("kpf apply --watch --json did not stop within 20 s of SIGINT")
	}
	lines = decodeApplyJSON(t, stdout.String())
	if last := lines[len(lines)-1]; last.Type != "watch_stopped" {
		t.Errorf("last line %+v, want watch_stopped", last)
	}
	if n := strings.Count(stdout.String(), `"type":"spec_broken"`); n != 1 {
		t.Errorf("%d spec_broken lines, want 1 (told once per distinct error)", n)
	}
}
