package kpfstate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/state"
)

func TestDir(t *testing.T) {
	t.Parallel()
	st, ws := t.TempDir(), t.TempDir()
	got, err := Dir(st, ws)
	if err != nil {
		t.Fatal(err)
	}
	want, err := state.Dir(func(k string) string {
		if k == "KPF_STATE_DIR" {
			return st
		}
		return "/elsewhere"
	}, ws)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || filepath.Dir(got) != st {
		t.Errorf("Dir = %q, want %q, in %q", got, want, st)
	}
	other, err := Dir(st, t.TempDir())
	if err != nil || other == got {
		t.Errorf("another workspace's Dir = %q, %v; the first's %q", other, err, got)
	}
}

func TestAgentPIDWithoutAgent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if pid := AgentPID(ctx, t.TempDir(), t.TempDir()); pid != 0 {
		t.Errorf("AgentPID of a workspace without an agent = %d, want 0", pid)
	}
}
