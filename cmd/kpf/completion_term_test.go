//go:build linux || darwin

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/test/term"
)

// TestBashCompletionWithoutPackage: kpf's bash completion in a real,
// interactive bash (tmux) that has no bash-completion package loaded
// (--norc --noprofile): TAB completes commands and forward names and
// prints no "_get_comp_words_by_ref: command not found".
func TestBashCompletionWithoutPackage(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin, err := kpfBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", `forward "api" {
  context     = "kind-dev"
  target      = "svc/api"
  remote_port = 80
}
forward "web" {
  context     = "kind-dev"
  target      = "svc/web"
  remote_port = 80
}
`)
	// HISTFILE: bash writes its history when the terminal closes, which
	// raced with the removal of HOME's temporary directory.
	line := fmt.Sprintf("cd %q && env -i HOME=%q KPF_STATE_DIR=%q PATH=%q TERM=xterm-256color HISTFILE=/dev/null PS1='PROMPT$ ' %q --norc --noprofile",
		dir, c.env["HOME"], c.env["KPF_STATE_DIR"], filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), bash)
	s := term.Start(t, 120, 30, line)
	s.WaitFor("the prompt", term.Contains("PROMPT$"))
	s.Keys("declare -F _get_comp_words_by_ref _init_completion || echo NO-BASH-COMPLETION", "Enter")
	s.WaitFor("no bash-completion package", term.Contains("NO-BASH-COMPLETION"))
	s.Keys("source <(kpf completion bash) && echo LOADED", "Enter")
	s.WaitFor("the script loaded", term.Contains("LOADED"))

	s.Keys("clear", "Enter")
	s.Keys("kpf lo", "Tab")
	s.WaitFor("a command completed", term.Contains("PROMPT$ kpf logs"))
	s.Keys("Tab", "Tab")
	s.WaitFor("the forwards offered", term.Contains("api", "web"))
	s.Keys("w", "Tab")
	scr := s.WaitFor("a forward completed", term.Contains("PROMPT$ kpf logs web"))
	if strings.Contains(scr, "command not found") {
		t.Errorf("completion printed an error:\n%s", scr)
	}
}
