package main

import (
	"slices"
	"strings"
	"testing"
)

// TestCommandTable: commands names every command of the tree as the
// command calls itself, and the whole tree has them all.
func TestCommandTable(t *testing.T) {
	a := newTestApp()
	for _, c := range commands {
		if got := c.build(a).Name(); got != c.name {
			t.Errorf("commands: %q builds the command %q", c.name, got)
		}
	}
	var names []string
	for _, c := range newTestApp().rootCommand().Commands() {
		names = append(names, c.Name())
	}
	for _, c := range commands {
		if !slices.Contains(names, c.name) {
			t.Errorf("the whole tree has no %q: %q", c.name, names)
		}
	}
}

// TestRootCommandFor: a run naming one command first builds that command
// alone; anything else builds the whole tree.
func TestRootCommandFor(t *testing.T) {
	whole := len(newTestApp().rootCommand().Commands())
	for _, tc := range []struct {
		args []string
		only string // "" for the whole tree
	}{
		{[]string{"version"}, "version"},
		{[]string{"version", "--json"}, "version"},
		{[]string{"plan", "--detailed-exitcode"}, "plan"},
		{[]string{"kubectl-log-filter", "x.log"}, "kubectl-log-filter"},
		{[]string{"completion", "zsh"}, "completion"},
		{nil, ""},
		{[]string{"-C", "dir", "plan"}, ""},
		{[]string{"--log-level", "warn", "version"}, ""},
		{[]string{"version", "--help"}, ""},
		{[]string{"plan", "-h"}, ""},
		{[]string{"help", "plan"}, ""},
		{[]string{"__complete", "pl"}, ""},
		{[]string{"pln"}, ""},
		{[]string{"--version"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got []string
			for _, c := range newTestApp().rootCommandFor(tc.args).Commands() {
				got = append(got, c.Name())
			}
			switch {
			case tc.only != "" && !slices.Equal(got, []string{tc.only}):
				t.Errorf("commands %q, want %q alone", got, tc.only)
			case tc.only == "" && len(got) != whole:
				t.Errorf("commands %q, want the whole tree (%d)", got, whole)
			}
		})
	}
}

// TestOneCommandTreeSameOutput: what a command prints (its output, its
// usage errors, the completion scripts, which name the root) is the same
// whether the tree holds it alone or every command: the same run once as
// `kpf CMD ...` (CMD alone) and once as `kpf --log-level warn CMD ...`
// (the whole tree; warn is the default level).
func TestOneCommandTreeSameOutput(t *testing.T) {
	runs := [][]string{
		{"version"},
		{"version", "--json"},
		{"version", "extra"},
		{"completion", "bash"},
		{"completion", "zsh"},
		{"completion", "fish"},
		{"completion", "powershell"},
		{"completion"},
		{"validate"},
		{"fmt", "--check"},
	}
	for _, c := range commands {
		runs = append(runs, []string{c.name, "--no-such-flag"})
	}
	for _, args := range runs {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := newCLI(t)
			dir := t.TempDir()
			writeSpec(t, dir, "kpf.hcl", "forward \"api\" {\n  target     = \"service/api\"\n  local_port = 18080\n  port       = 80\n}\n")
			t.Chdir(dir)
			code, out, errOut := c.run(args...)
			wcode, wout, werrOut := c.run(append([]string{"--log-level", "warn"}, args...)...)
			if code != wcode || out != wout || errOut != werrOut {
				t.Errorf("kpf %s:\n  alone:      exit %d, stdout %q, stderr %q\n  whole tree: exit %d, stdout %q, stderr %q",
					strings.Join(args, " "), code, trim(out), trim(errOut), wcode, trim(wout), trim(werrOut))
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
