//go:build unix

package engine

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/internal/testutil"
)

const emfileChild = "KPF_ENGINE_TEST_EMFILE_CHILD"

// TestAcceptSurvivesRunningOutOfFiles runs itself again in a child process
// whose file descriptor limit it lowers (the limit is the whole process's),
// takes every descriptor, and connects: Accept fails with EMFILE while the
// client's connection waits in the backlog. The forward must keep
// accepting, backing off, and serve that connection once descriptors are
// free again.
func TestAcceptSurvivesRunningOutOfFiles(t *testing.T) {
	if os.Getenv(emfileChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptSurvivesRunningOutOfFiles$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), emfileChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("child test: %v\n%s", err, out)
		}
		return
	}
	var logs testutil.SyncBuffer
	env := newTestEnv(t, Options{Log: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})}, webPod("web-a"))
	f := env.start(Config{Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	mustBanner(t, f)

	lim := syscall.Rlimit{Cur: 128, Max: 128}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Max < lim.Max {
		lim.Max = old.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var fillers []*os.File
	for {
		fl, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("filling the descriptor table: %v", err)
			}
			break
		}
		fillers = append(fillers, fl)
	}
	if len(fillers) == 0 {
		t.Fatal("no descriptor could be taken")
	}
	fillers[0].Close() // one for the client's socket; none for Accept
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	defer c.Close()
	eventually(t, "accept to fail and back off", func() bool {
		return strings.Count(logs.String(), "accept failed") >= 3
	})
	if log := logs.String(); !strings.Contains(log, "too many open files") || !strings.Contains(log, "retry_in=5ms") || !strings.Contains(log, "retry_in=10ms") {
		t.Errorf("logs: want EMFILE with a growing pause:\n%s", log)
	}
	for _, fl := range fillers[1:] {
		fl.Close()
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "web-a\n" {
		t.Fatalf("the waiting connection read %q, %v: want it served once descriptors are free", line, err)
	}
	if !f.Status().Listening {
		t.Errorf("status %+v: want listening", f.Status())
	}
}
