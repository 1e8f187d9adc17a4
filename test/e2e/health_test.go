//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// healthRow is a forward's health in `kpf status --json`.
type healthRow struct {
	Name      string   `json:"name"`
	Health    string   `json:"health"`
	CheckAge  *float64 `json:"health_check_age_seconds"`
	LastError string   `json:"last_error"`
}

// healthOf runs `kpf status --json` and returns name's row.
func (w *workspace) healthOf(name string) healthRow {
	w.t.Helper()
	out := w.mustKpf("status", "--json")
	var st struct {
		Forwards []healthRow `json:"forwards"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		w.t.Fatalf("kpf status --json: %v\n%s", err, out)
	}
	for _, r := range st.Forwards {
		if r.Name == name {
			return r
		}
	}
	w.t.Fatalf("kpf status --json has no forward %s:\n%s", name, out)
	return healthRow{}
}

// The checked forward of the frozen-path tests: interval 2 s, and the
// defaults' timeout (2 s) and threshold (3).
const (
	frozenInterval  = 2 * time.Second
	frozenTimeout   = 2 * time.Second
	frozenThreshold = 3
)

// TestNativeHealthFrozenKubelet: the user's report. A forward with an
// HTTP health check every 2 s; then kwok, the kubelet, is frozen (SIGSTOP:
// its sockets stay open, nothing answers). `kpf status --json`, polled
// throughout, must never say healthy once a check could not have passed,
// must say unhealthy within interval × threshold + timeout (with slack
// for a loaded machine), and healthy again after the thaw. Not parallel:
// it freezes the shared kwok.
func TestNativeHealthFrozenKubelet(t *testing.T) {
	frozenPath(t, "kwok", testCluster.FreezeKwok, testCluster.ThawKwok)
}

// TestNativeHealthFrozenAPIServer: the same with the API server frozen
// (the tunnels go through it). Not parallel: it freezes the shared API
// server.
func TestNativeHealthFrozenAPIServer(t *testing.T) {
	frozenPath(t, "the API server", testCluster.FreezeAPIServer, testCluster.ThawAPIServer)
}

func frozenPath(t *testing.T, what string, freeze, thaw func() error) {
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port := testutil.FreePort(t)
	w.writeSpec("kpf.hcl", fmt.Sprintf(`
forward "web" {
  namespace   = "%%NS%%"
  target      = "service/web"
  local_port  = %d
  remote_port = "http"
  health {
    http     = "/healthz"
    interval = "%s"
  }
}
`, port, frozenInterval))
	w.mustKpf("apply")
	httpGetRetry(t, port, "/", 10*time.Second) // one request through it, as the user did
	waitUntil(t, 30*time.Second, "web healthy", func() bool { return w.healthOf("web").Health == "healthy" })

	if err := freeze(); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			_ = thaw()
		}
	})
	// A check that passed just before the freeze vouches for interval +
	// timeout; a status asked for later must not say healthy.
	stale := frozenInterval + frozenTimeout
	bound := frozenInterval*frozenThreshold + frozenTimeout
	var toUnhealthy time.Duration
	for toUnhealthy == 0 {
		asked := time.Since(frozen)
		r := w.healthOf("web")
		switch {
		case r.Health == "healthy" && asked > stale:
			t.Fatalf("healthy %s after %s froze (a check could not have passed after %s)", asked.Round(time.Millisecond), what, stale)
		case r.Health == "unhealthy":
			toUnhealthy = time.Since(frozen)
		case time.Since(frozen) > bound+30*time.Second:
			t.Fatalf("still %q %s after %s froze (bound %s)", r.Health, time.Since(frozen).Round(time.Second), what, bound)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("silent path (%s frozen) to unhealthy: %s (interval %s × threshold %d + timeout %s = %s)",
		what, toUnhealthy.Round(10*time.Millisecond), frozenInterval, frozenThreshold, frozenTimeout, bound)
	if logs := w.mustKpf("logs", "web"); !strings.Contains(logs, "health check failed") {
		t.Errorf("kpf logs web does not say why the tunnel closed:\n%s", logs)
	}

	if err := thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	thawedAt := time.Now()
	waitUntil(t, 90*time.Second, "web healthy after the thaw", func() bool { return w.healthOf("web").Health == "healthy" })
	t.Logf("%s thawed to healthy: %s", what, time.Since(thawedAt).Round(10*time.Millisecond))
	if body := httpGetRetry(t, port, "/", 30*time.Second); !strings.HasPrefix(body, "web-") {
		t.Errorf("through web after the thaw: %q", body)
	}
}

// TestNativeIdleForwardSaysIdle: a forward without a health block that
// nobody uses is not checked, and says so: idle, never healthy; a request
// through it gets it checked. A forward with a health block is checked
// though nobody uses it.
func TestNativeIdleForwardSaysIdle(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	port, checked := testutil.FreePort(t), testutil.FreePort(t)
	w.writeSpec("kpf.hcl", fmt.Sprintf(`
forward "api" {
  namespace   = "%%NS%%"
  target      = "service/api"
  local_port  = %d
  remote_port = 8080
}

forward "web" {
  namespace   = "%%NS%%"
  target      = "service/web"
  local_port  = %d
  remote_port = "http"
  health {
    http = "/healthz"
  }
}
`, port, checked))
	w.mustKpf("apply")
	waitUntil(t, 30*time.Second, "web, unused, checked and healthy", func() bool {
		r := w.healthOf("web")
		return r.Health == "healthy" && r.CheckAge != nil
	})
	for range 3 {
		if r := w.healthOf("api"); r.Health != "idle" || r.CheckAge != nil {
			t.Fatalf("unused forward without a health block: health %q, check age %v; want idle, none", r.Health, r.CheckAge)
		}
		time.Sleep(time.Second)
	}
	if out := w.mustKpf("status"); !strings.Contains(out, " idle ") {
		t.Errorf("the table does not say idle:\n%s", out)
	}
	httpGetRetry(t, port, "/", 10*time.Second)
	waitUntil(t, 30*time.Second, "a check after a request", func() bool {
		r := w.healthOf("api")
		return r.Health == "healthy" && r.CheckAge != nil
	})
}
