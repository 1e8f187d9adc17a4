package kubeconfig

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const first = `apiVersion: v1
kind: Config
clusters: [{name: c1, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u1, user: {token: not-a-secret}}]
contexts:
- {name: dev, context: {cluster: c1, user: u1, namespace: shop}}
- {name: both, context: {cluster: c1, user: u1, namespace: from-first}}
current-context: dev
`

const second = `apiVersion: v1
kind: Config
clusters: [{name: c2, cluster: {server: "https://127.0.0.2:6443"}}]
users: [{name: u2, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /nonexistent/plugin, interactiveMode: Never}}}]
contexts:
- {name: prod, context: {cluster: c2, user: u2}}
- {name: both, context: {cluster: c2, user: u2, namespace: from-second}}
current-context: prod
`

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoad: the files are found and merged the way kubectl does — the
// first file that sets a value wins (current-context, a context of the same
// name), missing files of a $KUBECONFIG list are skipped.
func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := write(t, dir, "a", first), write(t, dir, "b", second)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(home, ".kube"), "config", second)
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name       string
		src        Source
		current    string
		namespaces map[string]string
	}{
		{"explicit only", Source{Explicit: a, Env: b, Home: home}, "dev", map[string]string{"dev": "shop", "both": "from-first"}},
		{"env list merged, first wins", Source{Env: a + string(os.PathListSeparator) + b}, "dev",
			map[string]string{"dev": "shop", "both": "from-first", "prod": ""}},
		{"env list order", Source{Env: b + string(os.PathListSeparator) + missing + string(os.PathListSeparator) + a}, "prod",
			map[string]string{"dev": "shop", "both": "from-second", "prod": ""}},
		{"home default", Source{Home: home}, "prod", map[string]string{"prod": "", "both": "from-second"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CurrentContext(); got != tc.current {
				t.Errorf("current = %q, want %q", got, tc.current)
			}
			if got := c.Namespaces(); !reflect.DeepEqual(got, tc.namespaces) {
				t.Errorf("namespaces = %v, want %v", got, tc.namespaces)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Load(Source{Explicit: filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing --kubeconfig loaded")
	}
	bad := write(t, dir, "bad", "clusters: [unclosed")
	if _, err := Load(Source{Explicit: bad}); err == nil {
		t.Error("a broken kubeconfig loaded")
	}
}

// TestRESTConfig: a context's server and credentials; an exec plugin is
// configured, not run, until a request needs credentials; an unknown
// context is ErrUnknownContext naming the known ones.
func TestRESTConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := Load(Source{Env: write(t, dir, "a", first) + string(os.PathListSeparator) + write(t, dir, "b", second)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.RESTConfig("dev")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://127.0.0.1:6443" || rc.BearerToken != "not-a-secret" {
		t.Errorf("dev: host %q token %q", rc.Host, rc.BearerToken)
	}
	rc, err = c.RESTConfig("prod")
	if err != nil {
		t.Fatal(err)
	}
	if rc.ExecProvider == nil || rc.ExecProvider.Command != "/nonexistent/plugin" {
		t.Errorf("prod: exec provider %+v", rc.ExecProvider)
	}
	_, err = c.RESTConfig("staging")
	if !errors.Is(err, ErrUnknownContext) || !strings.Contains(err.Error(), "both, dev, prod") {
		t.Errorf("unknown context: %v", err)
	}
}

// TestNoContexts: a kubeconfig without contexts says why, naming its
// files: a KUBECONFIG that names no existing file is "no such file".
func TestNoContexts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := write(t, dir, "empty", "apiVersion: v1\nkind: Config\n")
	gone := filepath.Join(dir, "nonexistent")
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"KUBECONFIG names no file", Source{Env: gone}, "no kubeconfig: no such file " + gone + " (from KUBECONFIG)"},
		{"no ~/.kube/config", Source{Home: dir}, "no kubeconfig: no such file " + filepath.Join(dir, ".kube", "config") + " (from the default)"},
		{"a file without contexts", Source{Env: empty}, "the kubeconfig has no contexts (read: " + empty + ")"},
		{"both", Source{Env: empty + string(os.PathListSeparator) + gone}, "the kubeconfig has no contexts (read: " + empty + "; no such file: " + gone + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Contexts()) != 0 {
				t.Fatalf("contexts %v, want none", c.Contexts())
			}
			if got := tt.src.NoContexts(); got != tt.want {
				t.Errorf("NoContexts() = %q, want %q", got, tt.want)
			}
		})
	}
}
