//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/names"
)

// namedSpec is two services on the same port, each reached by its names.
const namedSpec = `defaults {
  context   = "kpf-local"
  namespace = "%NS%"
  hostnames = "service"
}

forward "front" {
  target      = "service/front"
  remote_port = 80
}

forward "back" {
  target      = "service/back"
  remote_port = 80
  hostnames   = ["back", "%NS%-back.example"]
}
`

// TestNamesTwoServicesOnOnePort: two named services on port 80 each get a
// loopback address of their own, both bind 80 and serve their own pods; the
// names are in the hosts file (KPF_HOSTS_FILE) with foreign lines kept;
// plan shows the addresses and is stable; destroy removes the block.
func TestNamesTwoServicesOnOnePort(t *testing.T) {
	t.Parallel()
	ns := newEmptyNamespace(t)
	for _, n := range []string{"front", "back"} {
		if err := testCluster.DeployEcho(testContext(t), ns, n, 1); err != nil {
			t.Fatal(err)
		}
	}
	w := nativeWorkspace(t, ns)
	hosts := filepath.Join(t.TempDir(), "hosts")
	foreign := "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
	if err := os.WriteFile(hosts, []byte(foreign), 0o644); err != nil {
		t.Fatal(err)
	}
	w.extraEnv = []string{"KPF_HOSTS_FILE=" + hosts}
	w.writeSpec("kpf.hcl", namedSpec)

	plan := w.mustKpf("plan")
	w.mustKpf("apply")
	front, back := w.forward("front"), w.forward("back")
	if !names.InRange(front.Address) || !names.InRange(back.Address) || front.Address == back.Address {
		t.Fatalf("addresses front %s, back %s: want two distinct addresses of %s", front.Address, back.Address, names.Range)
	}
	if front.LocalPort != 80 || back.LocalPort != 80 {
		t.Fatalf("ports front %d, back %d: want both on the service's port 80", front.LocalPort, back.LocalPort)
	}
	for _, a := range []string{front.Address, back.Address} {
		if !strings.Contains(plan, a) {
			t.Errorf("the plan does not show the address %s:\n%s", a, plan)
		}
	}
	for name, addr := range map[string]string{"front": front.Address, "back": back.Address} {
		if pod := getAddr(t, addr+":80", 30*time.Second); !strings.HasPrefix(pod, name+"-") {
			t.Errorf("GET %s:80 reached %q, want a %s pod", addr, pod, name)
		}
	}
	text, err := os.ReadFile(hosts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		foreign,
		front.Address + "\tfront front." + ns + " front." + ns + ".svc front." + ns + ".svc.cluster.local\n",
		back.Address + "\tback " + ns + "-back.example\n",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("hosts file lacks %q:\n%s", want, text)
		}
	}
	w.expectNoChanges("after apply")

	// The views and kpf open, env use the name.
	if table := w.mustKpf("status"); !strings.Contains(table, "front:80") || !strings.Contains(table, "back:80") {
		t.Errorf("kpf status does not show front:80 and back:80:\n%s", table)
	}
	if js := w.mustKpf("status", "--json"); !strings.Contains(js, `"hostname": "front"`) {
		t.Errorf("kpf status --json has no hostname front:\n%s", js)
	}
	if url := strings.TrimSpace(w.mustKpf("open", "--print", "front")); url != "http://front:80/" {
		t.Errorf("kpf open --print front = %q, want http://front:80/", url)
	}
	if env := w.mustKpf("env", "--format", "dotenv"); !strings.Contains(env, "KPF_BACK_URL=") || !strings.Contains(env, "http://back:80/") {
		t.Errorf("kpf env lacks KPF_BACK_URL http://back:80/:\n%s", env)
	}

	w.mustKpf("destroy")
	text, _ = os.ReadFile(hosts)
	if string(text) != foreign {
		t.Errorf("after destroy the hosts file is\n%q\nwant the foreign lines alone %q", text, foreign)
	}
}

// TestNamesHostsSyncCleansStaleBlocks: a block whose workspace's state is
// gone (a killed kpf, a removed state directory) is removed by the next
// `kpf hosts sync`; the blocks of live workspaces are written.
func TestNamesHostsSyncCleansStaleBlocks(t *testing.T) {
	t.Parallel()
	ns := newEmptyNamespace(t)
	if err := testCluster.DeployEcho(testContext(t), ns, "front", 1); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	stale := names.Edit([]byte("10.1.1.1 keep\n"), "/gone (state "+filepath.Join(t.TempDir(), "gone")+")", []names.Entry{{Address: "127.77.9.9", Names: []string{"old"}}})
	if err := os.WriteFile(hosts, stale, 0o644); err != nil {
		t.Fatal(err)
	}
	w := nativeWorkspace(t, ns)
	w.extraEnv = []string{"KPF_HOSTS_FILE=" + hosts}
	w.writeSpec("kpf.hcl", oneForward("front", "  target = \"service/front\"\n  remote_port = 80\n  hostnames = [\"front-"+ns+"\"]\n"))
	w.mustKpf("apply")
	// apply already cleans stale blocks; put one back for hosts sync.
	if err := os.WriteFile(hosts, names.Edit(mustRead(t, hosts), "/gone (state /nonexistent/gone)", []names.Entry{{Address: "127.77.9.8", Names: []string{"old2"}}}), 0o644); err != nil {
		t.Fatal(err)
	}
	out := w.mustKpf("hosts", "sync")
	text := string(mustRead(t, hosts))
	if strings.Contains(text, "old") || !strings.Contains(text, "10.1.1.1 keep\n") || !strings.Contains(text, "\tfront-"+ns+"\n") {
		t.Errorf("after hosts sync (%s) the file is:\n%s", strings.TrimSpace(out), text)
	}
}

// TestNamesResolveThroughTheSystem resolves a forward's name through the
// system resolver (getent, then Go's resolver with cgo off) with the real
// /etc/hosts: root only (CI runs as root on a disposable machine); the
// file is restored afterwards.
func TestNamesResolveThroughTheSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes the real /etc/hosts: runs as root only (CI)")
	}
	if fi, err := os.Lstat("/etc/hosts"); err != nil || !fi.Mode().IsRegular() {
		t.Skipf("/etc/hosts is not a regular file (%v): kpf refuses it", err)
	}
	orig, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile("/etc/hosts", orig, 0o644); err != nil {
			t.Errorf("restoring /etc/hosts: %v", err)
		}
		os.Remove("/etc/hosts" + names.BackupSuffix)
	})
	ns := newEmptyNamespace(t)
	if err := testCluster.DeployEcho(testContext(t), ns, "front", 1); err != nil {
		t.Fatal(err)
	}
	w := nativeWorkspace(t, ns)
	w.extraEnv = []string{"KPF_HOSTS_FILE=/etc/hosts"}
	name := "front-" + ns + ".kpf-e2e.test"
	w.writeSpec("kpf.hcl", oneForward("front", "  target = \"service/front\"\n  remote_port = 80\n  hostnames = [\""+name+"\"]\n"))
	w.mustKpf("apply")
	addr := w.forward("front").Address
	if getent, err := exec.LookPath("getent"); err == nil {
		out, err := exec.Command(getent, "hosts", name).Output()
		if err != nil || !strings.HasPrefix(string(out), addr+" ") {
			t.Errorf("getent hosts %s: %q (%v), want %s", name, out, err, addr)
		}
	}
	if pod := getAddr(t, name+":80", 30*time.Second); !strings.HasPrefix(pod, "front-") {
		t.Errorf("GET http://%s/ reached %q, want a front pod", name, pod)
	}
	w.mustKpf("destroy")
	if strings.Contains(string(mustRead(t, "/etc/hosts")), name) {
		t.Error("destroy left the name in /etc/hosts")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// getAddr GETs http://hostport/ (a name goes through the system's
// resolver) until it answers 200, and returns the trimmed body.
func getAddr(t *testing.T, hostport string, within time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), within)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{}).DialContext}}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostport+"/", nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return strings.TrimSpace(string(body))
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s did not succeed within %s: %v", hostport, within, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
