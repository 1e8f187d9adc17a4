package live

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/internal/testwait"
)

// eventually polls cond; the deadline only turns a hang into a failure.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, 5*time.Millisecond, what, cond)
}

// TestProgram runs the real bubbletea program: snapshots sent from another
// goroutine are drawn, keys typed on the input reach Actions, q ends Run
// with nil and leaves the log reader closed.
func TestProgram(t *testing.T) {
	inR, inW := io.Pipe()
	defer inW.Close()
	var out testutil.SyncBuffer
	fa := &fakeActions{logs: map[string][]string{"cart": {"connection 1 from 127.0.0.1:50000\n"}}}
	ctx := context.Background()
	m := New(ctx, Options{Actions: fa, Width: 120, Height: 30})
	p := NewProgram(ctx, m, Terminal{In: inR, Out: &out, Env: []string{"TERM=xterm-256color"}, Width: 120, Height: 30})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p) }()

	p.Send(workspace(t0, 0))
	eventually(t, "the table is drawn", func() bool { return strings.Contains(ansi.Strip(out.String()), "postgres") })
	calls := func() []string {
		fa.mu.Lock()
		defer fa.mu.Unlock()
		return slices.Clone(fa.calls)
	}
	for _, k := range []string{"j", "r", "l"} {
		if _, err := io.WriteString(inW, k); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "restart and log of cart", func() bool {
		return slices.Equal(calls(), []string{"restart cart", "log cart follow=true"})
	})
	eventually(t, "the log is drawn", func() bool {
		return strings.Contains(ansi.Strip(out.String()), "connection 1 from 127.0.0.1:50000")
	})
	p.Send(Event{At: t0, Name: "cart", Text: "pod switched"})
	eventually(t, "the event is drawn", func() bool { return strings.Contains(ansi.Strip(out.String()), "cart: pod switched") })
	if _, err := io.WriteString(inW, "q"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after q: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the program")
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if fa.closed != 1 {
		t.Errorf("log reader closed %d times after q, want 1", fa.closed)
	}
}

// TestProgramContextCancelled: cancelling the context (the caller's Ctrl-C
// or its watch ending) ends Run with nil.
func TestProgramContextCancelled(t *testing.T) {
	inR, inW := io.Pipe()
	defer inW.Close()
	var out testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	m := New(ctx, Options{})
	p := NewProgram(ctx, m, Terminal{In: inR, Out: &out, Width: 80, Height: 24})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p) }()
	p.Send(workspace(t0, 0))
	eventually(t, "the table is drawn", func() bool { return strings.Contains(ansi.Strip(out.String()), "postgres") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not end the program")
	}
}

// TestProgramColour: the program colours a colour terminal, and writes no
// colour with NO_COLOR (any value) or --no-color.
func TestProgramColour(t *testing.T) {
	colourTerm := []string{"TERM=xterm-256color", "CLICOLOR_FORCE=1"}
	tests := []struct {
		name       string
		env        []string
		noColor    bool
		wantColour bool
	}{
		{"colour terminal", colourTerm, false, true},
		{"NO_COLOR=yes", append(slices.Clone(colourTerm), "NO_COLOR=yes"), false, false},
		{"--no-color", colourTerm, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inR, inW := io.Pipe()
			defer inW.Close()
			var out testutil.SyncBuffer
			ctx := context.Background()
			m := New(ctx, Options{Width: 100, Height: 20})
			p := NewProgram(ctx, m, Terminal{In: inR, Out: &out, Env: tt.env, NoColor: tt.noColor, Width: 100, Height: 20})
			done := make(chan error, 1)
			go func() { done <- Run(ctx, p) }()
			p.Send(workspace(t0, 0))
			eventually(t, "the table is drawn", func() bool { return strings.Contains(ansi.Strip(out.String()), "postgres") })
			if _, err := io.WriteString(inW, "q"); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			s := out.String()
			// Green (running) in any of the profiles' encodings.
			hasColour := strings.Contains(s, "[32m") || strings.Contains(s, ";32m") || strings.Contains(s, "38;5;2m") || strings.Contains(s, "38;2;")
			if hasColour != tt.wantColour {
				t.Errorf("colour in output: %v, want %v", hasColour, tt.wantColour)
			}
		})
	}
}
