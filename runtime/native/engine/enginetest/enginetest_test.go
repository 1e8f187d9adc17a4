package enginetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kpf-dev/kpf/runtime"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: one
  context: {cluster: c, user: u, namespace: shop}
- name: two
  context: {cluster: c, user: u}
current-context: two
`

func TestLoadClients(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ context, ns string }{{"one", "shop"}, {"two", "default"}, {"", "default"}} {
		c, ns, err := LoadClients(path, tt.context)
		if err != nil {
			t.Fatalf("%q: %v", tt.context, err)
		}
		if ns != tt.ns {
			t.Errorf("%q: namespace %q, want %q", tt.context, ns, tt.ns)
		}
		if c.Config.QPS >= 0 || c.Config.RateLimiter != nil {
			t.Errorf("%q: client-side rate limit left on (QPS %v)", tt.context, c.Config.QPS)
		}
	}
	if _, _, err := LoadClients(path, "three"); !runtime.IsPermanent(err) {
		t.Errorf("unknown context: %v, want permanent", err)
	}
}
