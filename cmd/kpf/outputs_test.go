package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// quotingValues are values every format must carry through unchanged.
var quotingValues = []string{
	"plain",
	"",
	"with spaces  and\ttab",
	`single ' quote`,
	`double " quote`,
	`dollar $HOME ${HOME} $(echo no) ` + "`echo no`",
	"new\nline\n",
	`back\slash\\ \n \$`,
	"pwsh ’typographic‘ quotes ‚‛",
	"glob * ? [a] ~ # ; & | < > ( ) { } !",
	"unicode é ✓",
	`ends with a backslash\`,
}

// TestEnvQuotingInRealShells evaluates kpf env's output in each installed
// shell and reads every variable back: the value must arrive unchanged.
func TestEnvQuotingInRealShells(t *testing.T) {
	t.Parallel()
	vars := make([]envVar, len(quotingValues))
	for i, v := range quotingValues {
		vars[i] = envVar{Name: "KPF_Q" + string(rune('A'+i)), Value: v}
	}
	dir := t.TempDir()
	tests := []struct {
		shell, format string
		// argv runs script (the path of the formatted output) and prints
		// each variable's value followed by a NUL.
		argv func(script string) []string
	}{
		{"bash", "sh", func(s string) []string {
			return []string{"bash", "-c", `eval "$(cat "$1")"; for n in ` + names(vars) + `; do printf '%s\0' "${!n}"; done`, "bash", s}
		}},
		{"sh", "sh", func(s string) []string {
			return []string{"sh", "-c", `eval "$(cat "$1")"` + printEach(vars), "sh", s}
		}},
		{"zsh", "sh", func(s string) []string {
			return []string{"zsh", "-c", `eval "$(cat "$1")"; for n in ` + names(vars) + `; do printf '%s\0' "${(P)n}"; done`, "zsh", s}
		}},
		{"fish", "fish", func(s string) []string {
			return []string{"fish", "-c", `cat $argv[1] | source; for n in ` + names(vars) + `; printf '%s\0' $$n; end`, s}
		}},
		{"pwsh", "powershell", func(s string) []string {
			return []string{"pwsh", "-NoProfile", "-Command", `Get-Content -Raw $args[0] | Invoke-Expression; foreach ($n in '` + strings.ReplaceAll(names(vars), " ", "','") + `') { [Console]::Out.Write([Environment]::GetEnvironmentVariable($n) + [char]0) }`, s}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			if _, err := exec.LookPath(tt.shell); err != nil {
				t.Skipf("%s is not installed: its quoting is not checked here (apt-get install %s)", tt.shell, tt.shell)
			}
			text, err := formatEnv(vars, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			script := filepath.Join(dir, tt.shell+".env")
			if err := os.WriteFile(script, text, 0o600); err != nil {
				t.Fatal(err)
			}
			argv := tt.argv(script)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s\nscript:\n%s", tt.shell, err, stderr.String(), text)
			}
			got := strings.Split(string(out), "\x00")
			got = got[:len(got)-1]
			if len(got) != len(vars) {
				t.Fatalf("%s printed %d values, want %d: %q\nscript:\n%s", tt.shell, len(got), len(vars), got, text)
			}
			for i, v := range vars {
				if got[i] != v.Value {
					t.Errorf("%s: %s = %q, want %q (line %q)", tt.shell, v.Name, got[i], v.Value, lineOf(text, v.Name))
				}
			}
		})
	}
}

// TestDotenvQuoting parses the dotenv format by the rules docker compose
// and direnv share: single quotes are literal, double quotes take \\, \",
// \$ and \n.
func TestDotenvQuoting(t *testing.T) {
	t.Parallel()
	for _, v := range quotingValues {
		text, err := formatEnv([]envVar{{Name: "V", Value: v}}, "dotenv")
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSuffix(string(text), "\n")
		if strings.Count(line, "\n") != 0 {
			t.Errorf("%q: a value spans lines: %q", v, line)
		}
		raw := strings.TrimPrefix(line, "V=")
		var got string
		switch raw[0] {
		case '\'':
			got = strings.TrimSuffix(raw[1:], "'")
			if strings.Contains(got, "'") || strings.HasSuffix(got, `\`) {
				t.Errorf("%q: a single quote, or a backslash before the closing one, inside single quotes: %q", v, raw)
			}
		case '"':
			body := strings.TrimSuffix(raw[1:], `"`)
			var b strings.Builder
			for i := 0; i < len(body); i++ {
				c := body[i]
				if c == '"' || c == '$' {
					t.Errorf("%q: unescaped %c in double quotes: %q", v, c, raw)
				}
				if c == '\\' && i+1 < len(body) {
					i++
					switch body[i] {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(body[i])
					}
					continue
				}
				b.WriteByte(c)
			}
			got = b.String()
		default:
			t.Fatalf("%q: unquoted: %q", v, raw)
		}
		if got != v {
			t.Errorf("dotenv %q reads back as %q", raw, got)
		}
	}
}

func names(vars []envVar) string {
	n := make([]string, len(vars))
	for i, v := range vars {
		n[i] = v.Name
	}
	return strings.Join(n, " ")
}

func printEach(vars []envVar) string {
	var b strings.Builder
	for _, v := range vars {
		b.WriteString(" printf '%s\\0' \"$" + v.Name + "\";")
	}
	return ";" + b.String()
}

func lineOf(text []byte, name string) string {
	for _, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, name) {
			return l
		}
	}
	return ""
}

func TestForwardEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"db": "DB", "web-ui": "WEB_UI", "a_b2": "A_B2", "x.y": "X_Y"} {
		if got := forwardEnvName(in); got != want {
			t.Errorf("forwardEnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOutputEnvAndEnvFile applies a workspace (kubectl runtime, fake
// kubectl) and reads its outputs back through kpf output, kpf env and the
// env file; destroy removes the file.
func TestOutputEnvAndEnvFile(t *testing.T) {
	dir := t.TempDir()
	p1 := testutil.FreePort(t)
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
kpf {
  runtime  = "kubectl"
  env_file = ".env.kpf"
}
variable "password" {
  type      = string
  default   = "hunter2 'x' $y"
  sensitive = true
}
defaults {
  context   = "kind-dev"
  namespace = "shop"
}
forward "api-v2" {
  target      = "service/api"
  local_port  = %d
  remote_port = "http"
  open        = "/docs"
  health {
    none = true
  }
}
output "API" {
  value       = forward.api-v2.url
  description = "the API's docs"
}
output "DB_URL" {
  value = "postgres://app:${var.password}@${forward.api-v2.address}/app"
}
output "api-ports" {
  value = [forward.api-v2.port]
}
`, p1))
	c := newCLI(t)
	code, out, errOut := c.run("-C", dir, "output")
	if code != exitOK || !strings.Contains(out, "(not available: forward.api-v2 is not running)") {
		t.Fatalf("output before apply: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = c.run("-C", dir, "plan")
	if code != exitOK || !strings.Contains(out, "Changes to Outputs:") || !strings.Contains(out, fmt.Sprintf(`+ API       = "http://127.0.0.1:%d/docs"`, p1)) ||
		!strings.Contains(out, "+ DB_URL    = (sensitive value)") || strings.Contains(out, "hunter2") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })

	// From here on there is no kubeconfig: output and env read files only.
	c.env["KUBECONFIG"] = filepath.Join(t.TempDir(), "no-such-kubeconfig")
	c.env["HOME"] = t.TempDir()
	if code, _, _ := c.run("-C", dir, "plan"); code == exitOK {
		t.Fatal("plan works without a kubeconfig: the check below proves nothing")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", p1)
	tests := []struct {
		args []string
		want string
		not  string
	}{
		{[]string{"output"}, fmt.Sprintf("API       = \"http://%s/docs\"\nDB_URL    = <sensitive>\napi-ports = [%d]\n", addr, p1), "hunter2"},
		{[]string{"output", "API"}, fmt.Sprintf("\"http://%s/docs\"\n", addr), ""},
		{[]string{"output", "DB_URL"}, "<sensitive> (kpf output --raw DB_URL shows it)\n", "hunter2"},
		{[]string{"output", "--raw", "DB_URL"}, "postgres://app:hunter2 'x' $y@" + addr + "/app", ""},
		{[]string{"output", "--json", "api-ports"}, fmt.Sprintf("[%d]\n", p1), ""},
		{[]string{"env", "api-v2"}, fmt.Sprintf("export KPF_API_V2_ADDRESS='%s'\nexport KPF_API_V2_HOST='127.0.0.1'\nexport KPF_API_V2_PORT='%d'\nexport KPF_API_V2_URL='http://%s/docs'\n", addr, p1, addr), ""},
		{[]string{"env", "--format", "json", "API"}, fmt.Sprintf("{\n  \"API\": \"http://%s/docs\"\n}\n", addr), ""},
	}
	for _, tt := range tests {
		code, out, errOut := c.run(append([]string{"-C", dir}, tt.args...)...)
		if code != exitOK || out != tt.want || (tt.not != "" && strings.Contains(out+errOut, tt.not)) {
			t.Errorf("kpf %s: exit %d\n got: %q\nwant: %q\n%s", strings.Join(tt.args, " "), code, out, tt.want, errOut)
		}
	}
	code, out, _ = c.run("-C", dir, "output", "--json")
	var js map[string]struct {
		Sensitive bool   `json:"sensitive"`
		Type      string `json:"type"`
		Value     any    `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != exitOK || err != nil || !js["DB_URL"].Sensitive || js["DB_URL"].Value != "postgres://app:hunter2 'x' $y@"+addr+"/app" || js["api-ports"].Type != "list" {
		t.Errorf("output --json: exit %d, %v\n%s", code, err, out)
	}

	envFile := filepath.Join(dir, ".env.kpf")
	fi, err := os.Stat(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(envFile)
	for _, want := range []string{"API='http://" + addr + "/docs'\n", `DB_URL="postgres://app:hunter2 'x' \$y@` + addr + "/app\"\n", fmt.Sprintf("KPF_API_V2_PORT='%d'\n", p1)} {
		if !strings.Contains(string(b), want) {
			t.Errorf("env file lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "api-ports=") {
		t.Errorf("env file has an output whose name is no environment variable name:\n%s", b)
	}
	if code, out, errOut = c.run("-C", dir, "destroy"); code != exitOK {
		t.Fatalf("destroy: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("env file after destroy: %v", err)
	}
}

func TestEnvNameClash(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
kpf {
  runtime = "kubectl"
}
forward "a-b" {
  target      = "service/a"
  context     = "kind-dev"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
forward "a_b" {
  target      = "service/a"
  context     = "kind-dev"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
`, testutil.FreePort(t), testutil.FreePort(t)))
	c := newCLI(t)
	if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	code, _, errOut := c.run("-C", dir, "env")
	if code != exitError || !strings.Contains(errOut, `environment variable KPF_A_B_HOST would come from both forward "a-b" (kpf.hcl:5:1) and forward "a_b" (kpf.hcl:14:1)`) {
		t.Errorf("env: exit %d\n%s", code, errOut)
	}
}

// TestRunStopsOnlyWhatItStarted: kpf run brings up what is missing, runs
// the command with kpf env's variables, exits with its status and stops
// only the forward it started.
func TestRunStopsOnlyWhatItStarted(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
kpf {
  runtime = "kubectl"
}
defaults {
  context = "kind-dev"
  health {
    none = true
  }
}
forward "pre" {
  target      = "service/a"
  local_port  = %d
  remote_port = 80
}
forward "mine" {
  target      = "service/b"
  local_port  = %d
  remote_port = 80
}
output "MINE_URL" {
  value = "${forward.mine.url}x"
}
`, testutil.FreePort(t), testutil.FreePort(t)))
	c := newCLI(t)
	if code, out, errOut := c.run("-C", dir, "apply", "--only", "pre"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	before := stateHandles(t, c, dir)

	code, out, errOut := c.run("-C", dir, "run", "--", "sh", "-c", `echo "$KPF_MINE_PORT $KPF_PRE_PORT $MINE_URL"; exit 3`)
	if code != 3 {
		t.Fatalf("run: exit %d, want the command's 3\n%s%s", code, out, errOut)
	}
	fields := strings.Fields(out)
	if len(fields) != 3 || fields[0] == "" || !strings.HasSuffix(fields[2], "/x") {
		t.Errorf("the command saw %q", out)
	}
	after := stateHandles(t, c, dir)
	if _, ok := after["mine"]; ok {
		t.Errorf("forward mine, started by run, still runs: %v", after)
	}
	if after["pre"] != before["pre"] {
		t.Errorf("forward pre, running before, changed: %v -> %v", before["pre"], after["pre"])
	}
	if code, out, errOut = c.run("-C", dir, "run", "--keep", "--", "true"); code != exitOK {
		t.Fatalf("run --keep: exit %d\n%s%s", code, out, errOut)
	}
	if _, ok := stateHandles(t, c, dir)["mine"]; !ok {
		t.Error("run --keep stopped the forward it started")
	}
}

// TestApplyOnlyShowsItsOutputChanges: apply --only plans some forwards;
// the outputs over the others keep their values (no change shown).
func TestApplyOnlyShowsItsOutputChanges(t *testing.T) {
	dir := t.TempDir()
	pa, pb := testutil.FreePort(t), testutil.FreePort(t)
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
kpf {
  runtime = "kubectl"
}
defaults {
  context = "kind-dev"
  health {
    none = true
  }
}
forward "a" {
  target      = "service/a"
  local_port  = %d
  remote_port = 80
}
forward "b" {
  target      = "service/b"
  local_port  = %d
  remote_port = 80
}
output "A" {
  value = forward.a.port
}
output "B" {
  value = forward.b.port
}
`, pa, pb))
	c := newCLI(t)
	if code, out, errOut := c.run("-C", dir, "apply", "--only", "a"); code != exitOK || !strings.Contains(out, fmt.Sprintf("+ A = %d\n", pa)) || strings.Contains(out, "B =") {
		t.Fatalf("apply --only a: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", dir, "destroy") })
	code, out, errOut := c.run("-C", dir, "apply", "--only", "b")
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("+ B = %d\n", pb)) || strings.Contains(out, "A =") {
		t.Errorf("apply --only b: exit %d\n%s%s", code, out, errOut)
	}
}
