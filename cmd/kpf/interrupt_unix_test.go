//go:build unix

package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestInterruptCancels: the interrupt handling setup starts cancels the
// command's context on SIGINT.
func TestInterruptCancels(t *testing.T) {
	a := newTestApp()
	cmd, _, err := a.rootCommand().Find([]string{"plan"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.SetContext(context.Background())
	if err := a.setup(cmd, nil); err != nil {
		t.Fatal(err)
	}
	defer a.stopInterrupt()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cmd.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not cancel the command's context within 10 s")
	}
}
