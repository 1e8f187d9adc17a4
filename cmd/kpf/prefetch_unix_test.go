//go:build unix

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/spec"
)

// TestContextPreloadBlocked: ctx ends a wait for a preloaded read that
// blocks (--kubeconfig names a FIFO nobody writes).
func TestContextPreloadBlocked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := []spec.Forward{{Name: "a", Enabled: true}}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	t.Cleanup(func() { // let the blocked read end
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	a := &app{opts: globalOptions{Kubeconfig: fifo}, getenv: func(string) string { return "" }, log: hclog.NewNullLogger()}
	r := a.newContextResolver()
	r.preload()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := r.resolve(cctx, fs); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a read that blocks: %v; want the context's error", err)
	}
}
