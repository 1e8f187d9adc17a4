package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// startFollowing follows path from its current end, as `kpf logs -f` does
// after printing what was there; it returns the output and a stop function
// that fails the test if the follower failed or did not return.
func startFollowing(t *testing.T, path string) (*testutil.SyncBuffer, func()) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 2); err != nil {
		t.Fatal(err)
	}
	fl := &follower{path: path, f: f}
	ctx, cancel := context.WithCancel(context.Background())
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- fl.run(ctx, &out, 5*time.Millisecond) }()
	return &out, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("follow did not return after cancel")
		}
		fl.f.Close()
	}
}

func waitOutput(t *testing.T, out *testutil.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("follow output %q lacks %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendLine(t *testing.T, path, s string) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestFollowTruncation: a log copied and truncated in place (rotation while
// the forward runs) is read again from its beginning.
func TestFollowTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stop := startFollowing(t, path)
	appendLine(t, path, "Forwarding from 127.0.0.1:8080 -> 80\n")
	waitOutput(t, out, "Forwarding from")
	if err := os.Truncate(path, 0); err != nil { // as rotateRunning does
		t.Fatal(err)
	}
	appendLine(t, path, "new\n")
	waitOutput(t, out, "new\n")
	stop()
	if strings.Contains(out.String(), "old") {
		t.Errorf("follow printed what was there before it started: %q", out.String())
	}
}

// TestFollowRename: a log renamed to NAME.log.1 (rotation at a new start)
// is followed into the new NAME.log; lines that reached the old file
// before the switch are not lost.
func TestFollowRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stop := startFollowing(t, path)
	appendLine(t, path, "first\n")
	waitOutput(t, out, "first\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLine(t, path+".1", "late line of the old process\n")
	appendLine(t, path, "--- kpf: starting again\n")
	waitOutput(t, out, "starting again")
	appendLine(t, path, "second\n")
	waitOutput(t, out, "second\n")
	appendLine(t, path+".1", "not followed any more\n")
	time.Sleep(50 * time.Millisecond)
	stop()
	got := out.String()
	if want := "first\nlate line of the old process\n--- kpf: starting again\nsecond\n"; got != want {
		t.Errorf("follow across rename printed %q, want %q", got, want)
	}
}

// TestLogsNamesTheChoices: `kpf logs` without a name lists the workspace's
// forwards (spec and state); a name in neither is "no such forward", one
// of the spec that never ran "never started".
func TestLogsNamesTheChoices(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", `forward "api" {
  context    = "kind-dev"
  target     = "svc/api"
  remote_port = 80
}
forward "web" {
  context    = "kind-dev"
  target     = "svc/web"
  remote_port = 80
}
`)
	saveState(t, c, dir, "old")
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"-C", dir, "logs"}, "logs needs a forward's name, one of: api, old, web"},
		{"no name, no forwards", []string{"-C", empty, "logs"}, "logs needs a forward's name; this workspace has no forwards"},
		{"two names", []string{"-C", dir, "logs", "api", "web"}, "logs takes one forward's name, got 2 arguments"},
		{"no such forward", []string{"-C", dir, "logs", "apo"}, `no such forward "apo" in this workspace (its forwards: api, old, web)`},
		{"no such forward, no forwards", []string{"-C", empty, "logs", "api"}, `no such forward "api": this workspace has no forwards`},
		{"never started", []string{"-C", dir, "logs", "web"}, `forward "web" has no log yet: it has never been started in this workspace`},
		{"completion without a shell", []string{"completion"}, "completion needs one shell: bash, zsh, fish or powershell"},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, `invalid argument "tcsh": completion knows bash, zsh, fish and powershell`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := c.run(tt.args...)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Errorf("kpf %v: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
			}
		})
	}
}
