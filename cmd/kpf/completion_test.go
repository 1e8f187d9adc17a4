package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/state"
)

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell  string
		marker string // what only that shell's script has
	}{
		{"bash", "complete -o default -F __start_kpf kpf"},
		{"zsh", "#compdef kpf"},
		{"fish", "complete -c kpf"},
		{"powershell", "Register-ArgumentCompleter"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			code, out, errOut := newCLI(t).run("completion", tt.shell)
			if code != exitOK || !strings.Contains(out, tt.marker) || !strings.Contains(out, "__complete") {
				t.Fatalf("exit %d, stderr %q, script lacks %q:\n%.400s", code, errOut, tt.marker, out)
			}
		})
	}
	code, _, errOut := newCLI(t).run("completion", "tcsh")
	if code != exitError || !strings.Contains(errOut, `invalid argument "tcsh"`) {
		t.Errorf("an unknown shell: exit %d, stderr %q", code, errOut)
	}
}

// TestCompletionScriptBash loads the bash script into a real bash (when
// there is one) and checks that it registers its completion function.
func TestCompletionScriptBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, script, _ := newCLI(t).run("completion", "bash")
	out, err := exec.Command(bash, "-c", script+"\ncomplete -p kpf").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "__start_kpf") {
		t.Fatalf("bash: %v\n%s", err, out)
	}
}

// TestCompleteForwardNames runs cobra's hidden __complete the way the shell
// scripts do, on a workspace with two forwards in the spec and one the
// state still runs.
func TestCompleteForwardNames(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", `forward "api" {
  context     = "kind-dev"
  target      = "svc/api"
  local_port  = 18080
  remote_port = 80
}
forward "db" {
  context     = "kind-dev"
  selector    = { app = "postgres" }
  local_port  = 15432
  remote_port = 5432
}
`)
	saveState(t, c, dir, "old")

	all := []string{"api\tservice/api", "db\tpod with app=postgres", "old\trunning, not in the spec"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"logs", []string{"logs", "-C", dir, ""}, all},
		{"logs by prefix", []string{"logs", "-C", dir, "d"}, all[1:2]},
		{"logs takes one name", []string{"logs", "-C", dir, "api", ""}, nil},
		{"open", []string{"open", "-C", dir, ""}, all},
		{"destroy", []string{"destroy", "-C", dir, ""}, all},
		{"destroy leaves out given names", []string{"destroy", "-C", dir, "api", ""}, all[1:]},
		{"apply --only", []string{"apply", "-C", dir, "--only", ""}, all},
		{"apply --only=", []string{"apply", "-C", dir, "--only=o"}, all[2:]},
		{"-C before the command", []string{"-C", dir, "logs", ""}, all},
		{"init --context", []string{"init", "--context", ""}, []string{"kind-dev", "other"}},
		{"init --context by prefix", []string{"init", "--context", "o"}, []string{"other"}},
		{"completion shells", []string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive := complete(t, c, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("completions %q, want %q", got, tt.want)
			}
			if directive != ":4" { // ShellCompDirectiveNoFileComp
				t.Errorf("directive %s, want :4 (no file completion)", directive)
			}
		})
	}
}

// TestCompleteBrokenSpec: with a spec that does not load, the state's
// forwards still complete (destroy works without a spec).
func TestCompleteBrokenSpec(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  target = \n")
	saveState(t, c, dir, "api")
	got, _ := complete(t, c, "destroy", "-C", dir, "")
	if want := []string{"api\trunning, not in the spec"}; !slices.Equal(got, want) {
		t.Errorf("completions %q, want %q", got, want)
	}
}

// complete runs `kpf __complete args...` and returns the completions and
// the directive line.
func complete(t *testing.T, c *cli, args ...string) ([]string, string) {
	t.Helper()
	code, out, errOut := c.run(append([]string{"__complete"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	directive := lines[len(lines)-1]
	if !strings.HasPrefix(directive, ":") {
		t.Fatalf("no directive line in %q", out)
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		if l != "" {
			got = append(got, l)
		}
	}
	return got, directive
}

// saveState records forwards by name in the workspace's state, as a kpf
// that started them would.
func saveState(t *testing.T, c *cli, dir string, names ...string) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	sdir, err := state.Dir(func(k string) string { return c.env[k] }, abs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(sdir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	f.Workspace = abs
	for _, n := range names {
		f.Forwards[n] = state.Forward{}
	}
	if err := st.Save(f); err != nil {
		t.Fatal(err)
	}
}

// TestCompleteOutputNames: kpf output completes output names (described),
// kpf env output and forward names, kpf run --only forward names.
func TestCompleteOutputNames(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", `forward "api" {
  context     = "kind-dev"
  target      = "svc/api"
  remote_port = 80
}
output "API_URL" {
  value       = forward.api.url
  description = "the API"
}
output "PORT" {
  value = forward.api.port
}
`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"output", []string{"output", "-C", dir, ""}, []string{"API_URL\tthe API", "PORT\toutput"}},
		{"output by prefix", []string{"output", "-C", dir, "P"}, []string{"PORT\toutput"}},
		{"output takes one name", []string{"output", "-C", dir, "PORT", ""}, nil},
		{"env", []string{"env", "-C", dir, ""}, []string{"API_URL\tthe API", "PORT\toutput", "api\tservice/api"}},
		{"env --format", []string{"env", "--format", ""}, []string{"sh", "fish", "powershell", "dotenv", "json"}},
		{"run --only", []string{"run", "-C", dir, "--only", ""}, []string{"api\tservice/api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := complete(t, c, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("completions %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStatusAllLabelsCopies: status --all labels each workspace by name,
// and by name and directory where two workspaces share a name (two copies
// of one spec).
func TestStatusAllLabelsCopies(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	a, b, other := filepath.Join(root, "a", "ws1"), filepath.Join(root, "b", "ws1"), filepath.Join(root, "shop")
	for _, d := range []string{a, b, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	saveNamedState(t, c, a, "ws1", "api")
	saveNamedState(t, c, b, "ws1", "api")
	saveNamedState(t, c, other, "shop", "web")
	code, out, errOut := c.run("status", "--all")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"ws1 (" + a + ")", "ws1 (" + b + ")", "shop "} {
		if !strings.Contains(out, want) {
			t.Errorf("status --all lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shop (") {
		t.Errorf("a workspace whose name is its own is labelled with its path:\n%s", out)
	}
}

// saveNamedState writes the state of workspace dir, named name, with
// forwards that never ran.
func saveNamedState(t *testing.T, c *cli, dir, name string, forwards ...string) {
	t.Helper()
	sdir, err := state.Dir(func(k string) string { return c.env[k] }, dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(sdir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	f.Workspace, f.Name = dir, name
	for _, n := range forwards {
		f.Forwards[n] = state.Forward{Name: n, Target: "svc/" + n}
	}
	if err := st.Save(f); err != nil {
		t.Fatal(err)
	}
}
