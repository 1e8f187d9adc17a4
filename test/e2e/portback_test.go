//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/test/term"
)

// TestPortAskedForWinsAndMovesBack: with port P held by another program,
// api (asks for P) must not push web2 off P+1, which web2 asks for: web2
// gets P+1 and api the next free one. Status shows api's wanted port beside
// the one it got (table and JSON). Once the program lets P go, `kpf plan`
// restarts api on P, saying why, and after apply nothing is left to do.
func TestPortAskedForWinsAndMovesBack(t *testing.T) {
	t.Parallel()
	w := nativeWorkspace(t, newNamespace(t))
	p := consecutiveFreePorts(t, 3)
	other, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	w.writeSpec("kpf.hcl", oneForward("api", fmt.Sprintf("  target = \"deployment/api\"\n  local_port = %d\n  remote_port = 8080\n", p))+
		oneForward("web2", fmt.Sprintf("  target = \"service/web\"\n  local_port = %d\n  remote_port = \"http\"\n", p+1)))

	w.mustKpf("apply")
	if api, web2 := w.forward("api").LocalPort, w.forward("web2").LocalPort; api != p+2 || web2 != p+1 {
		t.Fatalf("with %d held: api on %d, web2 on %d; want api on %d (moved), web2 on %d (its own)", p, api, web2, p+2, p+1)
	}
	rows := w.statusWanted()
	if r := rows["api"]; r.Local != "127.0.0.1:"+strconv.Itoa(p+2) || r.WantedPort != p {
		t.Errorf("status --json api: local %q, wanted_port %d; want 127.0.0.1:%d, %d", r.Local, r.WantedPort, p+2, p)
	}
	if r := rows["web2"]; r.WantedPort != p+1 {
		t.Errorf("status --json web2: wanted_port %d, want %d", r.WantedPort, p+1)
	}
	table := w.mustKpf("status")
	if want := fmt.Sprintf("127.0.0.1:%d (wants %d)", p+2, p); !strings.Contains(table, want) {
		t.Errorf("kpf status does not show %q:\n%s", want, table)
	}
	w.expectNoChanges(fmt.Sprintf("while %d is held", p))

	// The live view shows it the same way, on api's row only.
	s := w.inTerminal(120, 20, "apply", "--watch")
	wants := fmt.Sprintf("127.0.0.1:%d (wants %d)", p+2, p)
	scr := s.WaitFor("api's row with the port it wants", func(scr string) bool {
		return strings.Contains(row(scr, "api"), wants) && row(scr, "web2") != ""
	})
	if strings.Contains(row(scr, "web2"), "(wants") {
		t.Errorf("web2, on the port it asked for, shows a wanted port: %q", row(scr, "web2"))
	}
	s.Keys("q")
	s.WaitFor("the watch quit", term.Contains("Stopped watching; forwards keep running.", "EXITED 0"))

	other.Close()
	code, out, errOut := w.kpf("plan", "--detailed-exitcode")
	for _, want := range []string{"forward.api will be restarted", fmt.Sprintf("port %d is free again: moving back from %d", p, p+2),
		"Plan: 0 to start, 0 to replace, 1 to restart, 0 to stop."} {
		if code != 2 || !strings.Contains(out, want) {
			t.Fatalf("kpf plan once %d is free: exit %d, want 2 and %q:\n%s%s", p, code, want, out, errOut)
		}
	}
	w.mustKpf("apply")
	if api := w.forward("api").LocalPort; api != p {
		t.Fatalf("api on %d after apply, want %d", api, p)
	}
	if r := w.statusWanted()["api"]; r.Local != "127.0.0.1:"+strconv.Itoa(p) {
		t.Errorf("status --json api: local %q, want 127.0.0.1:%d", r.Local, p)
	}
	if pod := httpGetRetry(t, p, "/", 30*time.Second); !strings.HasPrefix(pod, "api-") {
		t.Errorf("GET through api's port %d reached %q, want an api pod", p, pod)
	}
	w.expectNoChanges("after api moved back")
}

// wantedRow is a row of `kpf status --json` with its wanted port.
type wantedRow struct {
	Name       string `json:"name"`
	Local      string `json:"local"`
	WantedPort int    `json:"wanted_port"`
}

// statusWanted is `kpf status --json` by name, with each row's wanted port.
func (w *workspace) statusWanted() map[string]wantedRow {
	w.t.Helper()
	out := w.mustKpf("status", "--json")
	var status struct {
		Forwards []wantedRow `json:"forwards"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		w.t.Fatalf("kpf status --json: %v\n%s", err, out)
	}
	m := make(map[string]wantedRow, len(status.Forwards))
	for _, r := range status.Forwards {
		m[r.Name] = r
	}
	return m
}

// consecutiveFreePorts returns the first of n consecutive ports that are
// free on 127.0.0.1 now.
func consecutiveFreePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		first := testutil.FreePort(t)
		ok := first+n-1 <= 65535
		for p := first + 1; ok && p < first+n; p++ {
			ok = portFree(p)
		}
		if ok {
			return first
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

// TestPortAskedForTakesARunningFallback: api runs on P+1 because another
// program holds P. A new forward web2 that asks for P+1 by number gets it:
// the plan restarts api on the next free port, saying why, and apply hands
// P+1 over (api's old listener is closed before web2's opens). Each port
// then reaches its own forward's pods.
func TestPortAskedForTakesARunningFallback(t *testing.T) {
	t.Parallel()
	w := nativeWorkspace(t, newNamespace(t))
	p := consecutiveFreePorts(t, 3)
	other, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	api := oneForward("api", fmt.Sprintf("  target = \"deployment/api\"\n  local_port = %d\n  remote_port = 8080\n", p))
	w.writeSpec("kpf.hcl", api)
	w.mustKpf("apply")
	if got := w.forward("api").LocalPort; got != p+1 {
		t.Fatalf("api on %d with %d held, want %d", got, p, p+1)
	}

	w.writeSpec("kpf.hcl", api+oneForward("web2", fmt.Sprintf("  target = \"service/web\"\n  local_port = %d\n  remote_port = \"http\"\n", p+1)))
	code, out, errOut := w.kpf("plan", "--detailed-exitcode")
	for _, want := range []string{"forward.api will be restarted", fmt.Sprintf("(port %d is asked for by forward.web2)", p+1),
		fmt.Sprintf("local port %d instead of %d: port %d is in use by another program", p+2, p, p), "forward.web2 will be started",
		"Plan: 1 to start, 0 to replace, 1 to restart, 0 to stop."} {
		if code != 2 || !strings.Contains(out, want) {
			t.Fatalf("kpf plan: exit %d, want 2 and %q:\n%s%s", code, want, out, errOut)
		}
	}
	out = w.mustKpf("apply")
	if a, b := w.forward("api").LocalPort, w.forward("web2").LocalPort; a != p+2 || b != p+1 {
		t.Fatalf("after apply: api on %d, web2 on %d; want %d and %d\n%s", a, b, p+2, p+1, out)
	}
	if pod := httpGetRetry(t, p+1, "/", 30*time.Second); !strings.HasPrefix(pod, "web-") {
		t.Errorf("port %d (web2's) reached %q, want a web pod", p+1, pod)
	}
	if pod := httpGetRetry(t, p+2, "/", 30*time.Second); !strings.HasPrefix(pod, "api-") {
		t.Errorf("port %d (api's) reached %q, want an api pod", p+2, pod)
	}
	w.expectNoChanges(fmt.Sprintf("while %d is held", p))
}
