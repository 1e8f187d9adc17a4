//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNamesScale measures 100 named forwards from `kpf apply` until every
// name serves: each name is looked up in the hosts file kpf wrote
// (KPF_HOSTS_FILE) and GET through its address. The figure is printed, not
// asserted. KPF_NAMES_SCALE=1 runs it (a sibling of make scale). The
// forwards all reach service web of the demo (one cluster service per
// forward would measure the test cluster's start of 100 deployments).
func TestNamesScale(t *testing.T) {
	if os.Getenv("KPF_NAMES_SCALE") == "" {
		t.Skip("set KPF_NAMES_SCALE=1 to measure 100 named forwards")
	}
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	hosts := filepath.Join(t.TempDir(), "hosts")
	w.extraEnv = []string{"KPF_HOSTS_FILE=" + hosts}
	const n = 100
	var spec strings.Builder
	spec.WriteString("kpf {\n  max_parallel = 100\n}\n")
	for i := range n {
		spec.WriteString(oneForward(fmt.Sprintf("s%03d", i), fmt.Sprintf("  target = \"service/web\"\n  remote_port = 80\n  hostnames = [\"s%03d-%s\"]\n", i, ns)))
	}
	w.writeSpec("kpf.hcl", spec.String())
	start := time.Now()
	w.mustKpf("apply")
	applied := time.Since(start)
	addrOf := map[string]string{}
	for _, l := range strings.Split(string(mustRead(t, hosts)), "\n") {
		if f := strings.Fields(l); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			addrOf[f[1]] = f[0]
		}
	}
	if len(addrOf) != n {
		t.Fatalf("%d names in the hosts file, want %d", len(addrOf), n)
	}
	var wg sync.WaitGroup
	for name, addr := range addrOf {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pod := getAddr(t, addr+":80", time.Minute); !strings.HasPrefix(pod, "web-") {
				t.Errorf("%s (%s) reached %q", name, addr, pod)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("names scale: %d named forwards: kpf apply returned after %s, every name served after %s\n", n, applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
