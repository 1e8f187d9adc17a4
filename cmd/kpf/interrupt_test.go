package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/redact"
)

// TestInterruptHandling: every command but `kpf version` runs with kpf's
// interrupt handling (a first SIGINT cancels its context); version, which
// waits on nothing, starts none (noInterrupt).
func TestInterruptHandling(t *testing.T) {
	var paths []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths = append(paths, c.CommandPath())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newTestApp().rootCommand())
	if len(paths) < 10 {
		t.Fatalf("the command tree has %d commands: %q", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			a := newTestApp()
			cmd, _, err := a.rootCommand().Find(strings.Fields(path)[1:])
			if err != nil || cmd.CommandPath() != path {
				t.Fatalf("Find(%q) = %v, %v", path, cmd, err)
			}
			base := context.Background()
			cmd.SetContext(base)
			if err := a.setup(cmd, nil); err != nil {
				t.Fatal(err)
			}
			handled := cmd.Context() != base
			if a.stopInterrupt != nil {
				a.stopInterrupt()
			}
			if want := path != "kpf version"; handled != want || (a.stopInterrupt != nil) != want {
				t.Errorf("interrupt handling: %v (stop set: %v), want %v", handled, a.stopInterrupt != nil, want)
			}
		})
	}
}

func newTestApp() *app {
	var out, errb bytes.Buffer
	return &app{
		io:     streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		getenv: func(string) string { return "" },
		scrub:  redact.New(),
	}
}
