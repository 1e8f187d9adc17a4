package measure

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestWaitLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, text string
		seen       bool
		lines      int
	}{
		{"first line", "Watching 3 forwards\n", true, 1},
		{"after others", "Plan: 3 to start\nstarted f000\nWatching 3 forwards (Ctrl-C stops)\nmore\n", true, 4},
		{"twice", "Watching a\nWatching b\n", true, 2},
		{"no newline at the end", "x\nWatching 2", true, 2},
		{"the word alone", "Watching\n", false, 1},
		{"not at the start of a line", "x Watching 3\n", false, 1},
		{"no such line", "Plan: 3 to start\n", false, 1},
		{"nothing", "", false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []string
			r, w := io.Pipe()
			seen := waitLine(r, "Watching ", func(l string) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, l)
			})
			go func() { _, _ = io.WriteString(w, tt.text); w.Close() }()
			select {
			case <-seen:
				if !tt.seen {
					t.Errorf("saw a watching line in %q", tt.text)
				}
			case <-time.After(200 * time.Millisecond):
				if tt.seen {
					t.Errorf("saw no watching line in %q", tt.text)
				}
			}
			// Every line reaches each, the ones after the watching line too.
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n >= tt.lines || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != tt.lines {
				t.Errorf("each got %q, want %d lines", got, tt.lines)
			}
		})
	}
}

// fakeWatch is a shell playing `kpf apply --watch`: script runs with a
// trap that ends it with status 0 on SIGINT, as kpf does.
func fakeWatch(t *testing.T, script string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, "sh", "-c", "trap 'exit 0' INT\n"+script), cancel
}

// logger is an hclog logger into a buffer.
func logger() (hclog.Logger, *SyncBuffer) {
	var b SyncBuffer
	return hclog.New(&hclog.LoggerOptions{Output: &b, Level: hclog.Info}), &b
}

func TestStartWatch(t *testing.T) {
	t.Parallel()
	const loop = "while :; do sleep 0.05; done"
	for _, tt := range []struct {
		name    string
		script  string
		within  time.Duration
		cancel  bool // the caller's context ends (after 300 ms: the trap is set) before the watching line
		wantErr string
		wantLog string // logged by Stop, "" for nothing
	}{
		{name: "watches, then ends on the interrupt",
			script: "echo 'Plan: 2 to start'; echo 'log line' >&2; echo 'Watching 2 forwards'\n" + loop},
		{name: "watches, then fails on its own",
			script: "echo 'Watching 2 forwards'; echo 'lost the cluster' >&2; sleep 0.2; exit 3", wantLog: "lost the cluster"},
		{name: "never watches", script: "echo 'no kubeconfig' >&2\n" + loop, within: 300 * time.Millisecond,
			wantErr: "kpf apply --watch did not start watching:\nno kubeconfig"},
		{name: "exits before watching", script: "echo 'bad spec' >&2; exit 1", within: 2 * time.Second,
			wantErr: "did not start watching:\nbad spec", wantLog: "exit status 1"},
		{name: "the caller gives up", script: loop, cancel: true, wantErr: context.Canceled.Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, cancel := fakeWatch(t, tt.script)
			log, logs := logger()
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			if tt.cancel {
				go func() { time.Sleep(300 * time.Millisecond); stop() }()
			}
			within := tt.within
			if within == 0 {
				within = 30 * time.Second
			}
			w, err := StartWatch(ctx, cmd, cancel, within, log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("StartWatch = %v, want an error with %q", err, tt.wantErr)
				}
				if cmd.ProcessState == nil {
					t.Error("the failed watch was not waited for")
				}
			} else {
				if err != nil {
					t.Fatalf("StartWatch: %v", err)
				}
				if w.PID() != cmd.Process.Pid {
					t.Errorf("PID = %d, want %d", w.PID(), cmd.Process.Pid)
				}
				if !strings.HasSuffix(w.Stdout(), "Watching 2 forwards") {
					t.Errorf("Stdout = %q", w.Stdout())
				}
				if strings.Contains(tt.script, "exit 3") {
					time.Sleep(500 * time.Millisecond) // let it fail first
				}
				t0 := time.Now()
				w.Stop()
				w.Stop() // a second Stop does nothing
				if d := time.Since(t0); d > 5*time.Second {
					t.Errorf("Stop took %s: the interrupt did not end it", d)
				}
				if strings.Contains(tt.script, "log line") && w.Stderr() != "log line\n" {
					t.Errorf("Stderr = %q", w.Stderr())
				}
			}
			if got := logs.String(); tt.wantLog == "" && got != "" || !strings.Contains(got, tt.wantLog) {
				t.Errorf("logged %q, want %q", got, tt.wantLog)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("HOME", "/home/h")
	t.Setenv("PATH", "/bin:/usr/bin")
	got := Env("/k/config", "/s", "A=1", "B=2")
	want := []string{"PATH=/bin:/usr/bin", "HOME=/home/h", "KUBECONFIG=/k/config", "KPF_STATE_DIR=/s", "NO_COLOR=1", "A=1", "B=2"}
	if !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
}

func TestBuildKpfGivenBinary(t *testing.T) {
	t.Parallel()
	got, err := BuildKpf(context.Background(), "bin/kpf", t.TempDir())
	want, _ := filepath.Abs("bin/kpf")
	if err != nil || got != want {
		t.Errorf("BuildKpf = %q, %v; want %q", got, err, want)
	}
}

func TestBuildKpfFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := BuildKpf(ctx, "", t.TempDir())
	if err == nil || !strings.HasPrefix(err.Error(), "building kpf: ") {
		t.Errorf("BuildKpf with a cancelled context = %v, want a build error", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) && !errors.Is(err, context.Canceled) {
		t.Errorf("the error does not wrap the command's: %v", err)
	}
}
