package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a strings.Builder safe for follow writing and the test reading.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFollow: follow prints what is appended, starts over when the log is
// truncated (a new start of the forward), and returns when ctx ends.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(0, 2); err != nil { // as after the first copy
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- follow(ctx, f, &out, 5*time.Millisecond) }()

	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("follow output %q lacks %q", out.String(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	appendLine := func(s string) {
		t.Helper()
		w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString(s); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	appendLine("Forwarding from 127.0.0.1:8080 -> 80\n")
	waitFor("Forwarding from")
	if err := os.WriteFile(path, []byte("new\n"), 0o600); err != nil { // truncated
		t.Fatal(err)
	}
	waitFor("new\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return after cancel")
	}
	if strings.Contains(out.String(), "old") {
		t.Errorf("follow printed what was there before it started: %q", out.String())
	}
}
