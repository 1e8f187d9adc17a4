package measure

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcdef", 3, "…def"},
		{"abcdef", 0, "…"},
		{"line 1\nline 2", 6, "…line 2"},
	} {
		if got := Tail(tt.s, tt.n); got != tt.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestIsInterrupted(t *testing.T) {
	t.Parallel()
	exit1 := exec.Command("sh", "-c", "exit 1").Run()
	var ee *exec.ExitError
	if !errors.As(exit1, &ee) {
		t.Fatalf("sh -c 'exit 1': %v, want an *exec.ExitError", exit1)
	}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"cancelled", context.Canceled, true},
		{"cancelled, wrapped", fmt.Errorf("waiting: %w", context.Canceled), true},
		{"deadline", context.DeadlineExceeded, false},
		{"exit status 1", exit1, false},
		{"another error", errors.New("broken pipe"), false},
	} {
		if got := IsInterrupted(tt.err); got != tt.want {
			t.Errorf("%s: IsInterrupted(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred, twenty []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	for i := 1; i <= 20; i++ {
		twenty = append(twenty, time.Duration(i)*time.Second)
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p1 of one", []time.Duration{ms(7)}, 1, ms(7)},
		{"p50 of 100", hundred, 50, ms(50)},
		{"p99 of 100", hundred, 99, ms(99)},
		{"p99 of 3", []time.Duration{ms(1), ms(2), ms(3)}, 99, ms(3)},
		{"p50 of 20", twenty, 50, 10 * time.Second},
		{"p95 of 20", twenty, 95, 19 * time.Second},
		{"p100 of 20", twenty, 100, 20 * time.Second},
		{"p1 of 20", twenty, 1, time.Second},
	} {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%d) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t0 := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep with a cancelled context = %v, want context.Canceled", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("Sleep with a cancelled context took %s", d)
	}
}

func TestSyncBuffer(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("ab"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); len(got) != 8*100*2 || strings.Count(got, "ab") != 800 {
		t.Errorf("%d bytes, %d \"ab\": want 1600 and 800", len(got), strings.Count(got, "ab"))
	}
}
