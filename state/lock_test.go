//go:build linux || darwin

package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("KPF_TEST_LOCK_HOLDER"); dir != "" {
		holdLock(dir)
		return
	}
	os.Exit(m.Run())
}

// holdLock runs in a re-executed test binary: it takes the lock, says so on
// stdout, and holds it until stdin closes.
func holdLock(dir string) {
	s, err := Open(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	unlock, err := s.Lock(context.Background(), 5*time.Second)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = unlock()
}

func TestLockBetweenGoroutines(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	unlock, err := s.Lock(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock(t.Context(), 100*time.Millisecond)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Lock err = %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if want := fmt.Sprintf("workspace is locked by kpf (pid %d)", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}

	// A waiter gets the lock once the holder releases it.
	got := make(chan error, 1)
	go func() {
		u, err := s.Lock(t.Context(), 5*time.Second)
		if err == nil {
			err = u()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func TestLockContextCancelled(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	unlock, err := s.Lock(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Lock(ctx, time.Hour); !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked without waiting an hour", err)
	}
}

func TestLockBetweenProcesses(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KPF_TEST_LOCK_HOLDER="+s.Dir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder said %q, %v", line, err)
	}

	_, err = s.Lock(t.Context(), 150*time.Millisecond)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock err = %v, want ErrLocked naming holder pid %d", err, cmd.Process.Pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", cmd.Process.Pid)) {
		t.Errorf("message %q does not name the holder", err)
	}

	// Released when the holder lets go (here: it exits).
	_ = stdin.Close()
	unlock, err := s.Lock(t.Context(), 5*time.Second)
	if err != nil {
		t.Fatalf("after holder exit: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir(), LockFile)); strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid", b)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestLockHolder: a holder that says what it is is named in the error of
// the Lock that finds it; a watch's lock is not waited for (a Lock with a
// long wait returns before it, while the watch still holds the lock); a
// lock file of an older kpf (the pid alone) still names the pid.
func TestLockHolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, holder, want string
	}{
		{"a watch", HolderWatch, fmt.Sprintf("workspace is locked by kpf apply --watch (pid %d)", os.Getpid())},
		{"another holder", "destroy", fmt.Sprintf("workspace is locked by kpf destroy (pid %d)", os.Getpid())},
		{"none said", "", fmt.Sprintf("workspace is locked by kpf (pid %d)", os.Getpid())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			unlock, err := s.LockAs(t.Context(), 0, tt.holder)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			wait := 50 * time.Millisecond
			if tt.holder == HolderWatch {
				wait = time.Hour // returns at once, or the test times out
			}
			_, err = s.Lock(t.Context(), wait)
			var le *LockedError
			if !errors.As(err, &le) || le.Holder != tt.holder || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Lock beside %q: %v, want a LockedError saying %q", tt.holder, err, tt.want)
			}
		})
	}
	t.Run("an older kpf's lock file", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		path := filepath.Join(s.Dir(), LockFile)
		if err := os.WriteFile(path, []byte("4242\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if pid, holder := readHolder(path); pid != 4242 || holder != "" {
			t.Errorf("readHolder = %d, %q; want 4242, \"\"", pid, holder)
		}
	})
}
