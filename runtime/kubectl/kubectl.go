package kubectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl/handle"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// Defaults.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultStopGrace    = 3 * time.Second
	// TailSize is how much of a log's end Inspect reads.
	TailSize = 16 << 10
	// MaxLogSize is the size past which a forward's log is rotated: by
	// Start (renamed to NAME.log.1 before the new process starts) and,
	// while the forward runs, by Inspect (copied and truncated, see
	// rotateRunning).
	MaxLogSize = 1 << 20
	// StartMarker begins the line Start writes to the log before each start;
	// Inspect only reports errors logged after the last one.
	StartMarker = "--- kpf: starting "

	pollInterval = 20 * time.Millisecond
	readyLine    = "Forwarding from"
	maxOutput    = 64 << 10
)

// Runtime runs forwards as detached `kubectl port-forward` processes. The
// zero value is usable. It holds no mutable state and is safe for
// concurrent use once configured.
type Runtime struct {
	// Kubectl is the kubectl binary; default "kubectl" from PATH.
	Kubectl string
	// Log receives debug logs; nil discards them.
	Log hclog.Logger
	// Env is added to the inherited environment of every kubectl run.
	Env []string
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL
	// (default DefaultStopGrace).
	StopGrace time.Duration
	// LogPath gives the log file of forward name; it is required. Paths are
	// always derived from the name, never read from a handle.
	LogPath func(name string) string
	// Workspace names the workspace (its state directory): every kubectl
	// Start runs carries it in its environment (EnvWorkspace), so that
	// Sweep finds the forwards of this workspace that no state names.
	// Empty: processes are not marked and Sweep finds nothing.
	Workspace string
	// Filter is the argv of the log filter (ScrubLog; the log's path is
	// appended) that kubectl's output goes through when a forward has
	// sensitive values. Empty: kubectl writes to the log itself, whatever
	// the values (package tests only).
	Filter []string

	exits exitBroker // exits of the processes this Runtime started
}

// Name is the runtime's name in handles and specs.
const Name = handle.Runtime

// The environment entries that mark a kubectl process kpf started: the
// workspace (Runtime.Workspace) and the forward's name. A process's
// initial environment can be read by its user alone (Linux
// /proc/PID/environ, macOS kern.procargs2).
const (
	EnvWorkspace = "KPF_WORKSPACE"
	EnvForward   = "KPF_FORWARD"
)

var (
	_ runtime.Runtime = (*Runtime)(nil)
	_ runtime.Events  = (*Runtime)(nil)
	_ runtime.Sweeper = (*Runtime)(nil)
)

// handleData is what a kubectl handle remembers (package handle).
type handleData = handle.Data

// NewHandle makes the handle of process id running forward name, with no
// record of what the process runs (as a handle upgraded from state version
// 1): see handle.NewV1.
func NewHandle(id proc.ID, name string) (runtime.Handle, error) {
	return handle.NewV1(id, name)
}

func newHandle(d handleData) (runtime.Handle, error) { return handle.New(d) }

func identify(d handleData) handleData { return handle.Identify(d) }

func argsDigest(args []string) string { return handle.ArgsDigest(args) }

func decodeHandle(h runtime.Handle) (handleData, error) { return handle.Decode(h) }

// Error is a failure kubectl reported. errors.Is finds the sentinels it
// carries: ErrExited or ErrTimeout for a forward that never became ready,
// and runtime.ErrPermanent, ErrPortInUse or ErrNoPod from kubectl's message.
type Error struct {
	// Msg is the whole message.
	Msg string
	// Line is kubectl's own line explaining the failure ("" if none).
	Line string
	errs []error
}

func (e *Error) Error() string   { return e.Msg }
func (e *Error) Unwrap() []error { return e.errs }

func newError(msg, line string, errs ...error) *Error {
	e := &Error{Msg: msg, Line: line}
	for _, err := range errs {
		if err != nil {
			e.errs = append(e.errs, err)
		}
	}
	return e
}

func (r *Runtime) binary() string {
	if r.Kubectl != "" {
		return r.Kubectl
	}
	return "kubectl"
}

func (r *Runtime) log() hclog.Logger {
	if r.Log == nil {
		return hclog.NewNullLogger()
	}
	return r.Log
}

// env is the environment of every kubectl run: kpf's own and Env, without
// the forward markers (only Start sets those, on port-forward).
func (r *Runtime) env() []string {
	var out []string
	for _, kv := range append(os.Environ(), r.Env...) {
		k, _, _ := strings.Cut(kv, "=")
		if k != EnvWorkspace && k != EnvForward {
			out = append(out, kv)
		}
	}
	return out
}

func (r *Runtime) grace() time.Duration {
	if r.StopGrace > 0 {
		return r.StopGrace
	}
	return DefaultStopGrace
}

// PortForwardArgs is the argv (after the binary) Start runs for s and a
// resolved target ("service/api", "pod/api-0").
func PortForwardArgs(s runtime.Spec, target string) []string {
	args := []string{
		"port-forward", target,
		strconv.Itoa(s.LocalPort) + ":" + s.RemotePort,
		"--context", s.Context,
		"--namespace", s.Namespace,
		"--address", s.Address,
	}
	if s.Kubeconfig != "" {
		args = append(args, "--kubeconfig", s.Kubeconfig)
	}
	return args
}

func validate(s runtime.Spec) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"context", s.Context}, {"namespace", s.Namespace}, {"address", s.Address},
		{"remote port", s.RemotePort},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if s.Target.IsZero() && len(s.Selector) == 0 {
		missing = append(missing, "target or selector")
	}
	if s.LocalPort <= 0 || s.LocalPort > 65535 {
		missing = append(missing, "local port")
	}
	if len(missing) > 0 {
		return runtime.Permanent(fmt.Errorf("forward %q: invalid spec, missing %s", s.Name, strings.Join(missing, ", ")))
	}
	return nil
}

// Start starts `kubectl port-forward` for s, detached, and returns once
// kubectl logged "Forwarding from", or with an *Error wrapping ErrExited
// (kubectl's message included) or ErrTimeout (the process is then stopped).
// Cancelling ctx before readiness stops the process; after Start returned,
// the process no longer depends on ctx or on kpf.
//
// Values of s's sensitive fields are scrubbed from the errors and from the
// line kpf writes to the log; kubectl's own output goes through the log
// filter (Filter, see ScrubLog) when s has any.
func (r *Runtime) Start(ctx context.Context, s runtime.Spec) (runtime.Handle, error) {
	scrub := redact.New(s.SensitiveValues()...)
	h, err := r.start(ctx, s, scrub)
	return h, scrubError(scrub, err)
}

func (r *Runtime) start(ctx context.Context, s runtime.Spec, scrub *redact.Scrubber) (runtime.Handle, error) {
	if err := validate(s); err != nil {
		return runtime.Handle{}, err
	}
	if r.LogPath == nil {
		return runtime.Handle{}, runtime.Permanent(fmt.Errorf("kubectl runtime has no log directory"))
	}
	logPath := r.LogPath(s.Name)
	if err := ctx.Err(); err != nil {
		return runtime.Handle{}, fmt.Errorf("starting kubectl port-forward: %w", err)
	}
	log := r.log().With("forward", s.Name)
	target := s.Target.String() // kubectl's TYPE/NAME
	if target == "" {
		pod, err := r.resolvePod(ctx, s)
		if err != nil {
			return runtime.Handle{}, err
		}
		target = "pod/" + pod
		log.Debug("resolved selector", "target", target)
	}
	argv := PortForwardArgs(s, target)
	logf, offset, err := openStartLog(logPath, argv, scrub)
	if err != nil {
		return runtime.Handle{}, err
	}
	var filterDone <-chan struct{}
	if values := s.SensitiveValues(); len(values) > 0 && len(r.Filter) > 0 {
		_ = logf.Close()
		if logf, filterDone, err = r.filtered(logPath, values); err != nil {
			return runtime.Handle{}, err
		}
	}
	c, err := r.spawn(s.Name, argv, logf, log)
	if err != nil {
		return runtime.Handle{}, err
	}
	c.filterDone = filterDone
	return r.awaitReady(ctx, s, c, &outputReader{path: logPath, offset: offset}, log)
}

// openStartLog opens the forward's log and writes the line that starts a
// run (argv scrubbed); offset is where kubectl's output will begin.
func openStartLog(logPath string, argv []string, scrub *redact.Scrubber) (logf *os.File, offset int64, err error) {
	logf, err = openLog(logPath)
	if err != nil {
		return nil, 0, err
	}
	_, err = fmt.Fprintf(logf, "%s%s: kubectl %s\n", StartMarker, time.Now().UTC().Format(time.RFC3339), scrub.Scrub(strings.Join(argv, " ")))
	if err == nil {
		offset, err = logf.Seek(0, io.SeekEnd)
	}
	if err != nil {
		_ = logf.Close()
		return nil, 0, fmt.Errorf("writing %s: %w", logPath, err)
	}
	return logf, offset, nil
}

// child is a kubectl process Start spawned. A goroutine reaps it while
// kpf lives so that no zombie remains; the Handle stays verifiable by
// start time after kpf exits.
type child struct {
	id     proc.ID
	exited chan struct{} // closed once it exited; err is set then
	err    error
	ready  atomic.Bool // it became ready: its exit is logged
	// filterDone is closed when the log filter kubectl writes through
	// (if any) has ended.
	filterDone <-chan struct{}
}

// spawn starts kubectl argv detached, with its output going to logf (the
// log, or the log filter's pipe; closed here: the child holds its own
// descriptor).
func (r *Runtime) spawn(name string, argv []string, logf *os.File, log hclog.Logger) (*child, error) {
	cmd := exec.Command(r.binary(), argv...) // not CommandContext: it must outlive ctx
	cmd.Env = r.env()
	if r.Workspace != "" {
		cmd.Env = append(cmd.Env, EnvWorkspace+"="+r.Workspace, EnvForward+"="+name)
	}
	// Stdin stays nil: os/exec connects it to the null device.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = proc.Detached()
	err := cmd.Start()
	_ = logf.Close()
	if err != nil {
		var kind error
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			kind = runtime.ErrPermanent
		}
		return nil, newError(fmt.Sprintf("starting kubectl: %v", err), "", err, kind)
	}
	st, err := proc.StartTime(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("identifying kubectl process %d: %w", cmd.Process.Pid, err)
	}
	c := &child{id: proc.ID{PID: cmd.Process.Pid, StartTime: st}, exited: make(chan struct{})}
	log.Debug("started kubectl", "pid", c.id.PID, "args", argv)
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
		if c.ready.Load() {
			log.Debug("kubectl exited", "pid", c.id.PID, "status", c.err)
		}
		r.exits.exited(c.id)
	}()
	return c, nil
}

// awaitReady tails kubectl's output in out until it says it forwards (the
// forward's Handle), kubectl exits (*Error wrapping ErrExited), the ready
// timeout passes or ctx ends (the process is then stopped).
func (r *Runtime) awaitReady(ctx context.Context, s runtime.Spec, c *child, out *outputReader, log hclog.Logger) (runtime.Handle, error) {
	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.exited:
			if c.filterDone != nil { // kubectl's last words pass through the filter
				select {
				case <-c.filterDone:
				case <-time.After(time.Second):
				}
			}
			_ = out.read()
			line := failureLine(out.String())
			if line == "" {
				line = "no output"
			}
			status := "exited"
			if c.err != nil {
				status = c.err.Error()
			}
			log.Debug("kubectl exited before ready", "pid", c.id.PID, "status", status, "line", line)
			return runtime.Handle{}, newError(
				fmt.Sprintf("kubectl port-forward exited before ready (%s): %s", status, line),
				line, ErrExited, Classify(line))
		case <-tick.C:
			if err := out.read(); err != nil {
				log.Warn("reading forward log", "path", out.path, "error", err)
			}
			if !out.ready {
				continue
			}
			c.ready.Store(true)
			select {
			case <-c.exited: // it died between the line and now: not ready
				c.ready.Store(false)
				continue
			default:
			}
			log.Debug("kubectl ready", "pid", c.id.PID)
			h, err := newHandle(identify(handleData{ID: c.id, Name: s.Name}))
			if err != nil {
				r.stopQuietly(ctx, c.id, log)
				return runtime.Handle{}, err
			}
			return h, nil
		case <-timer.C:
			r.stopQuietly(ctx, c.id, log)
			_ = out.read()
			line := lastErrorLine(out.String())
			msg := fmt.Sprintf("timed out after %s waiting for kubectl port-forward to be ready", timeout)
			if line != "" {
				msg += "; last error: " + line
			}
			return runtime.Handle{}, newError(msg, line, ErrTimeout, Classify(line))
		case <-ctx.Done():
			r.stopQuietly(ctx, c.id, log)
			return runtime.Handle{}, fmt.Errorf("starting kubectl port-forward: %w", ctx.Err())
		}
	}
}

// stopQuietly stops the child Start just started (known to be kpf's).
func (r *Runtime) stopQuietly(ctx context.Context, id proc.ID, log hclog.Logger) {
	if err := r.stopProcess(context.WithoutCancel(ctx), handleData{ID: id}, true); err != nil {
		log.Warn("stopping kubectl that did not become ready", "pid", id.PID, "error", err)
	}
}

// openLog opens path for appending, creating it 0600 in a 0700 directory.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	// A forward restarted for weeks must not fill the disk: past
	// MaxLogSize the log moves to NAME.log.1 (replacing the one before)
	// and the new process starts a fresh one.
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxLogSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, fmt.Errorf("rotating forward log: %w", err)
		}
	}
	f, err := safefs.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening forward log: %w", err)
	}
	return f, nil
}

// outputReader follows what kubectl appended to its log after offset.
type outputReader struct {
	path   string
	offset int64
	buf    []byte // the last maxOutput bytes appended
	ready  bool
}

func (o *outputReader) read() error {
	f, err := safefs.OpenFile(o.path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(o.offset, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	o.offset += int64(len(b))
	o.buf = append(o.buf, b...)
	if !o.ready && bytes.Contains(o.buf, []byte(readyLine)) {
		o.ready = true
	}
	if len(o.buf) > maxOutput {
		o.buf = o.buf[len(o.buf)-maxOutput:]
	}
	return err
}

func (o *outputReader) String() string { return string(o.buf) }

// Stop stops the forward h names: SIGTERM to its process (and its process
// group, which it leads), up to StopGrace (bounded by ctx) for it to exit,
// then SIGKILL. The process is pinned first (a pidfd on Linux) and checked
// to be the one kpf started: same start time, user, boot, executable and
// arguments. A process that is gone, or a pid that now names another
// program, is left alone and Stop returns nil; so calling it twice is safe.
// A process kpf may not signal (pid 0 or 1, kpf itself, another user's,
// EPERM) is left alone with a permanent error wrapping proc.ErrNotOurs.
func (r *Runtime) Stop(ctx context.Context, h runtime.Handle) error {
	if h.IsZero() {
		return nil
	}
	d, err := decodeHandle(h)
	if err != nil {
		return err
	}
	return r.stopProcess(ctx, d, false)
}

// notOursError is the error of a forward whose process kpf may not
// signal: permanent, and errors.Is proc.ErrNotOurs.
type notOursError struct {
	msg string
	err error
}

func (e *notOursError) Error() string   { return e.msg }
func (e *notOursError) Unwrap() []error { return []error{e.err, runtime.ErrPermanent} }

func notOurs(d handleData, err error) error {
	what, forget := "forward", "NAME"
	if d.Name != "" {
		what, forget = fmt.Sprintf("forward %q", d.Name), d.Name
	}
	return &notOursError{
		msg: fmt.Sprintf("%s: process %d left alone, it is not kpf's to stop (%v); `kpf destroy --forget %s` drops the record", what, d.PID, err, forget),
		err: err,
	}
}

// stopProcess stops the process d names. trusted skips the check of what
// it runs: Start and Sweep know it is kpf's by other means (its own child,
// its environment markers).
func (r *Runtime) stopProcess(ctx context.Context, d handleData, trusted bool) error {
	t, err := proc.Pin(d.ID)
	switch {
	case errors.Is(err, proc.ErrGone):
		return nil
	case errors.Is(err, proc.ErrNotOurs):
		return notOurs(d, err)
	case err != nil:
		return fmt.Errorf("stopping process %d: %w", d.PID, err)
	}
	defer t.Close()
	log := r.log().With("pid", d.PID)
	if !trusted && !d.Owns(t.Process()) {
		p := t.Process()
		log.Debug("pid now names another program; left alone", "exe", p.Exe)
		return nil
	}
	signal := func(sig syscall.Signal) (bool, error) {
		log.Debug("stopping kubectl", "signal", sig)
		err := t.Signal(sig)
		switch {
		case errors.Is(err, proc.ErrGone):
			return true, nil
		case errors.Is(err, proc.ErrNotOurs):
			return false, notOurs(d, err)
		case err != nil:
			return false, fmt.Errorf("stopping process %d: %w", d.PID, err)
		}
		return false, nil
	}
	if gone, err := signal(syscall.SIGTERM); gone || err != nil {
		return err
	}
	gctx, cancel := context.WithTimeout(ctx, r.grace())
	defer cancel()
	if waitExited(gctx, t) {
		return nil
	}
	if gone, err := signal(syscall.SIGKILL); gone || err != nil {
		return err
	}
	// SIGKILL cannot be ignored; give the kernel a moment regardless of ctx.
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer kcancel()
	if !waitExited(kctx, t) {
		return fmt.Errorf("process %d still alive after SIGKILL", d.PID)
	}
	return nil
}

// waitExited polls until t has exited (true) or ctx ends (false).
func waitExited(ctx context.Context, t *proc.Target) bool {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if t.Exited() {
			return true
		}
		select {
		case <-ctx.Done():
			return t.Exited()
		case <-tick.C:
		}
	}
}

// Inspect reports whether h's process is alive (and still the one started)
// and the last error line logged since the last start. It reads only the
// log's last TailSize bytes and spawns nothing; the log of a live forward
// past MaxLogSize is rotated (see rotateRunning).
func (r *Runtime) Inspect(ctx context.Context, h runtime.Handle) (runtime.Status, error) {
	st := runtime.Unknown()
	if h.IsZero() {
		return st, nil
	}
	d, err := decodeHandle(h)
	if err != nil {
		return st, err
	}
	st.Alive = alive(d)
	if r.LogPath == nil || d.Name == "" {
		return st, nil
	}
	logPath := r.LogPath(d.Name)
	if st.Alive {
		// A forward that runs for weeks must not fill the disk.
		if rotated, err := rotateRunning(logPath); err != nil {
			r.log().Warn("rotating forward log", "path", logPath, "error", err)
		} else if rotated {
			r.log().Debug("rotated forward log", "path", logPath)
		}
	}
	tail, err := readTail(logPath, TailSize)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("inspecting forward log: %w", err)
	}
	if i := strings.LastIndex(tail, StartMarker); i >= 0 {
		tail = tail[i:]
	}
	st.LastError = lastErrorLine(tail)
	return st, nil
}

// alive reports whether d names a live process that is the one kpf
// started (see owns); pids kpf never signals are never alive.
func alive(d handleData) bool {
	if d.PID <= 1 || d.PID == os.Getpid() {
		return false
	}
	p, err := proc.Describe(d.ID)
	return err == nil && d.Owns(p)
}

func readTail(path string, n int64) (string, error) {
	f, err := safefs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return string(b), nil
}

// resolvePod returns the first (sorted) Running pod matching s.Selector.
func (r *Runtime) resolvePod(ctx context.Context, s runtime.Spec) (string, error) {
	sel := runtime.FormatSelector(s.Selector)
	out, err := r.run(ctx, s.Kubeconfig, "get", "pods", "-l", sel,
		"--field-selector=status.phase=Running",
		"-o", "jsonpath={.items[*].metadata.name}",
		"--context", s.Context, "--namespace", s.Namespace)
	if err != nil {
		return "", err
	}
	names := strings.Fields(out)
	if len(names) == 0 {
		return "", newError(fmt.Sprintf("no running pod matches %s in namespace %q (context %q)", sel, s.Namespace, s.Context), "", ErrNoPod)
	}
	sort.Strings(names)
	return names[0], nil
}

// run runs a short kubectl command bounded by ctx and returns its stdout.
func (r *Runtime) run(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	if kubeconfig != "" {
		args = append(args, "--kubeconfig", kubeconfig)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.binary(), args...)
	cmd.Env = r.env()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	op := "kubectl " + strings.Join(args[:min(2, len(args))], " ")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: %w", op, ctx.Err())
		}
		line := failureLine(stderr.String())
		if line == "" {
			return "", newError(fmt.Sprintf("%s: %v", op, err), "", err)
		}
		return "", newError(fmt.Sprintf("%s: %s", op, line), line, Classify(line))
	}
	return stdout.String(), nil
}

// Process returns the process a kubectl handle names (for tools and tests
// that look at the process itself).
func Process(h runtime.Handle) (proc.ID, error) {
	d, err := decodeHandle(h)
	return d.ID, err
}
