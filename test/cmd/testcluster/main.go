//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kpf-dev/kpf/test/cluster"
)

// DemoNamespace is the namespace `up` deploys the demo workloads into.
const DemoNamespace = "demo"

const (
	pidFile   = "supervisor.pid"
	readyFile = "ready"
	logFile   = "supervisor.log"
)

func main() { os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr)) }

func realMain(args []string, stdout, stderr io.Writer) int {
	log := hclog.New(&hclog.LoggerOptions{Name: "testcluster", Output: stderr, Level: hclog.Info})
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: testcluster build|up|status|down [--state DIR]")
		return 2
	}
	fs := flag.NewFlagSet("testcluster "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", defaultStateDir(), "state directory")
	bin := fs.String("bin", "", "directory with the control-plane binaries (serve only)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "build":
		var binDir string
		if binDir, err = cluster.EnsureBinaries(ctx, log); err == nil {
			fmt.Fprintln(stdout, binDir)
		}
	case "up":
		err = up(ctx, log, dir, stdout)
	case "serve":
		err = serve(ctx, log, dir, *bin)
	case "down":
		err = down(dir, stdout)
	case "status":
		err = status(ctx, dir, stdout)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

func defaultStateDir() string {
	tmp := os.Getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "kpf-testcluster")
}

// up starts `testcluster serve` in a new session and waits until it reports ready.
func up(ctx context.Context, log hclog.Logger, dir string, stdout io.Writer) error {
	if pid, err := supervisorPID(dir); err == nil {
		fmt.Fprintf(stdout, "already running (pid %d)\n", pid)
		return printReady(dir, stdout)
	}
	binDir, err := cluster.EnsureBinaries(ctx, log)
	if err != nil {
		return err
	}
	for _, name := range []string{"cluster", readyFile, pidFile, logFile} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("cleaning %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("opening the supervisor log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(self, "serve", "--state", dir, "--bin", binDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	log.Info("supervisor started, waiting for the cluster", "pid", cmd.Process.Pid, "log", logf.Name())
	deadline := time.NewTimer(5 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(filepath.Join(dir, readyFile)); err == nil {
			return printReady(dir, stdout)
		}
		select {
		case err := <-exited:
			data, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("the supervisor exited (%v):\n%s", err, lastLines(string(data), 40))
		case <-deadline.C:
			return fmt.Errorf("the cluster was not ready after 5 minutes; see %s and run testcluster down", logf.Name())
		case <-ctx.Done():
			return fmt.Errorf("interrupted; the supervisor (pid %d) keeps running, run testcluster down: %w", cmd.Process.Pid, ctx.Err())
		case <-tick.C:
		}
	}
}

func printReady(dir string, stdout io.Writer) error {
	data, err := os.ReadFile(filepath.Join(dir, readyFile))
	if err != nil {
		return fmt.Errorf("the cluster is not ready: %w", err)
	}
	kubeconfig := strings.TrimSpace(string(data))
	fmt.Fprintf(stdout, "kubeconfig: %s (contexts %s, %s; demo namespace %q)\n", kubeconfig, cluster.ContextName, cluster.LimitedContextName, DemoNamespace)
	fmt.Fprintf(stdout, "export KUBECONFIG=%s\n", kubeconfig)
	return nil
}

// serve runs the cluster and its backends until signalled.
func serve(ctx context.Context, log hclog.Logger, dir, binDir string) error {
	start, err := procStartTime(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), fmt.Appendf(nil, "%d %s\n", os.Getpid(), start), 0o600); err != nil {
		return fmt.Errorf("writing the pid file: %w", err)
	}
	defer os.Remove(filepath.Join(dir, pidFile))
	c, err := cluster.Start(ctx, cluster.Options{StateDir: filepath.Join(dir, "cluster"), BinDir: binDir, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		os.Remove(filepath.Join(dir, readyFile))
		if err := c.Stop(context.Background()); err != nil {
			log.Error("stopping the cluster", "error", err)
		}
	}()
	if err := c.DeployDemo(ctx, DemoNamespace); err != nil {
		return fmt.Errorf("deploying the demo: %w\n%s", err, c.LogTail(20))
	}
	if err := os.WriteFile(filepath.Join(dir, readyFile), []byte(c.Kubeconfig+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the ready file: %w", err)
	}
	log.Info("cluster ready", "kubeconfig", c.Kubeconfig, "startup", c.StartupTime.Round(time.Millisecond), "pids", fmt.Sprint(c.PIDs()))
	<-ctx.Done()
	log.Info("signalled, stopping")
	return nil
}

// supervisorPID returns the pid of the running supervisor of dir, verified
// by its start time and command line, so a reused pid is never signalled.
func supervisorPID(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, fmt.Errorf("no supervisor: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return 0, errors.New("malformed pid file")
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0, fmt.Errorf("malformed pid file: %w", err)
	}
	start, err := procStartTime(pid)
	if err != nil || start != fields[1] {
		return 0, fmt.Errorf("supervisor %d is gone", pid)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "serve\x00--state\x00"+dir+"\x00") {
		return 0, fmt.Errorf("pid %d is not this directory's supervisor", pid)
	}
	return pid, nil
}

// procStartTime is field 22 of /proc/PID/stat (start time in clock ticks).
func procStartTime(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", fmt.Errorf("reading the start time of %d: %w", pid, err)
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return f[19], nil
}

func down(dir string, stdout io.Writer) error {
	pid, err := supervisorPID(dir)
	if err != nil {
		fmt.Fprintln(stdout, "not running:", err)
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling the supervisor %d: %w", pid, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := supervisorPID(dir); err != nil {
			fmt.Fprintln(stdout, "stopped")
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the supervisor %d did not stop within 60 s; see %s", pid, filepath.Join(dir, logFile))
}

func status(ctx context.Context, dir string, stdout io.Writer) error {
	pid, err := supervisorPID(dir)
	if err != nil {
		return fmt.Errorf("not running: %w", err)
	}
	fmt.Fprintf(stdout, "supervisor: pid %d\n", pid)
	if err := printReady(dir, stdout); err != nil {
		return fmt.Errorf("starting (not ready yet): %w", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, readyFile))
	out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", strings.TrimSpace(string(data)), "--context", cluster.ContextName,
		"get", "nodes,pods", "-n", DemoNamespace, "-o", "wide").CombinedOutput()
	stdout.Write(out)
	if err != nil {
		return fmt.Errorf("kubectl get: %w", err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
