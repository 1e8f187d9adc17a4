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

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// Defaults.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultStopGrace    = 3 * time.Second
	// TailSize is how much of a log's end Inspect reads.
	TailSize = 16 << 10
	// MaxLogSize is the size past which Start rotates a forward's log.
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

	exits exitBroker // exits of the processes this Runtime started
}

// Name is the runtime's name in handles and specs.
const Name = "kubectl"

var (
	_ runtime.Runtime = (*Runtime)(nil)
	_ runtime.Events  = (*Runtime)(nil)
)

// handleData is what a kubectl handle remembers: the process (pid and start
// time, so a reused pid is never taken for it) and the forward's name, from
// which its log path is derived.
type handleData struct {
	proc.ID
	Name string `json:"name"`
}

// NewHandle makes the handle of process id running forward name.
func NewHandle(id proc.ID, name string) (runtime.Handle, error) {
	d, err := runtime.NewData(handleData{ID: id, Name: name})
	if err != nil {
		return runtime.Handle{}, err
	}
	return runtime.Handle{Runtime: Name, ID: strconv.Itoa(id.PID), Data: d}, nil
}

// decodeHandle returns the process and forward name h names.
func decodeHandle(h runtime.Handle) (handleData, error) {
	var d handleData
	if h.Runtime != Name {
		return d, fmt.Errorf("handle %s is not a kubectl forward: %w", h, runtime.ErrPermanent)
	}
	if err := h.Data.Decode(&d); err != nil {
		return d, fmt.Errorf("handle %s: %w", h, err)
	}
	return d, nil
}

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

func (r *Runtime) env() []string {
	return append(os.Environ(), r.Env...)
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
	if s.Target == "" && len(s.Selector) == 0 {
		missing = append(missing, "target or selector")
	}
	if s.LocalPort <= 0 || s.LocalPort > 65535 {
		missing = append(missing, "local port")
	}
	if len(missing) > 0 {
		return fmt.Errorf("forward %q: invalid spec, missing %s: %w", s.Name, strings.Join(missing, ", "), runtime.ErrPermanent)
	}
	return nil
}

// Start starts `kubectl port-forward` for s, detached, and returns once
// kubectl logged "Forwarding from", or with an *Error wrapping ErrExited
// (kubectl's message included) or ErrTimeout (the process is then stopped).
// Cancelling ctx before readiness stops the process; after Start returned,
// the process no longer depends on ctx or on kpf.
func (r *Runtime) Start(ctx context.Context, s runtime.Spec) (runtime.Handle, error) {
	if err := validate(s); err != nil {
		return runtime.Handle{}, err
	}
	if r.LogPath == nil {
		return runtime.Handle{}, fmt.Errorf("kubectl runtime has no log directory: %w", runtime.ErrPermanent)
	}
	logPath := r.LogPath(s.Name)
	if err := ctx.Err(); err != nil {
		return runtime.Handle{}, fmt.Errorf("starting kubectl port-forward: %w", err)
	}
	log := r.log().With("forward", s.Name)
	target := s.Target
	if target == "" {
		pod, err := r.resolvePod(ctx, s)
		if err != nil {
			return runtime.Handle{}, err
		}
		target = "pod/" + pod
		log.Debug("resolved selector", "target", target)
	}
	argv := PortForwardArgs(s, target)

	logf, err := openLog(logPath)
	if err != nil {
		return runtime.Handle{}, err
	}
	_, err = fmt.Fprintf(logf, "%s%s: kubectl %s\n", StartMarker, time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	var offset int64
	if err == nil {
		offset, err = logf.Seek(0, io.SeekEnd)
	}
	if err != nil {
		_ = logf.Close()
		return runtime.Handle{}, fmt.Errorf("writing %s: %w", logPath, err)
	}

	cmd := exec.Command(r.binary(), argv...) // not CommandContext: it must outlive ctx
	cmd.Env = r.env()
	// Stdin stays nil: os/exec connects it to the null device.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = proc.Detached()
	err = cmd.Start()
	_ = logf.Close() // the child holds its own descriptor
	if err != nil {
		var kind error
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			kind = runtime.ErrPermanent
		}
		return runtime.Handle{}, newError(fmt.Sprintf("starting kubectl: %v", err), "", err, kind)
	}
	st, err := proc.StartTime(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return runtime.Handle{}, fmt.Errorf("identifying kubectl process %d: %w", cmd.Process.Pid, err)
	}
	id := proc.ID{PID: cmd.Process.Pid, StartTime: st}
	h, err := NewHandle(id, s.Name)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return runtime.Handle{}, err
	}
	log.Debug("started kubectl", "pid", id.PID, "args", argv)

	// Reap the child while kpf lives so no zombie remains; the Handle stays
	// verifiable by start time after kpf exits.
	exited := make(chan struct{})
	var waitErr error
	var ready atomic.Bool
	go func() {
		waitErr = cmd.Wait()
		close(exited)
		if ready.Load() {
			log.Debug("kubectl exited", "pid", id.PID, "status", waitErr)
		}
		r.exits.exited(id)
	}()

	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	out := &outputReader{path: logPath, offset: offset}

	for {
		select {
		case <-exited:
			_ = out.read()
			line := failureLine(out.String())
			if line == "" {
				line = "no output"
			}
			status := "exited"
			if waitErr != nil {
				status = waitErr.Error()
			}
			log.Debug("kubectl exited before ready", "pid", id.PID, "status", status, "line", line)
			return runtime.Handle{}, newError(
				fmt.Sprintf("kubectl port-forward exited before ready (%s): %s", status, line),
				line, ErrExited, Classify(line))
		case <-tick.C:
			if err := out.read(); err != nil {
				log.Warn("reading forward log", "path", logPath, "error", err)
			}
			if out.ready {
				ready.Store(true)
				select {
				case <-exited: // it died between the line and now: not ready
					ready.Store(false)
					continue
				default:
				}
				log.Debug("kubectl ready", "pid", id.PID)
				return h, nil
			}
		case <-timer.C:
			r.stopQuietly(ctx, id, log)
			_ = out.read()
			line := lastErrorLine(out.String())
			msg := fmt.Sprintf("timed out after %s waiting for kubectl port-forward to be ready", timeout)
			if line != "" {
				msg += "; last error: " + line
			}
			return runtime.Handle{}, newError(msg, line, ErrTimeout, Classify(line))
		case <-ctx.Done():
			r.stopQuietly(ctx, id, log)
			return runtime.Handle{}, fmt.Errorf("starting kubectl port-forward: %w", ctx.Err())
		}
	}
}

func (r *Runtime) stopQuietly(ctx context.Context, id proc.ID, log hclog.Logger) {
	if err := r.stopProcess(context.WithoutCancel(ctx), id); err != nil {
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
	if fi, err := os.Stat(path); err == nil && fi.Size() > MaxLogSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, fmt.Errorf("rotating forward log: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
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
	f, err := os.Open(o.path)
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

// Stop stops the forward h names: SIGTERM to its process group, up to
// StopGrace (bounded by ctx) for it to exit, then SIGKILL. A process that is
// gone, or a pid that now names another process, is left alone and Stop
// returns nil; so calling it twice is safe.
func (r *Runtime) Stop(ctx context.Context, h runtime.Handle) error {
	if h.IsZero() {
		return nil
	}
	d, err := decodeHandle(h)
	if err != nil {
		return err
	}
	return r.stopProcess(ctx, d.ID)
}

func (r *Runtime) stopProcess(ctx context.Context, h proc.ID) error {
	if !proc.Alive(h) {
		return nil
	}
	log := r.log().With("pid", h.PID)
	log.Debug("stopping kubectl", "signal", "SIGTERM")
	if err := proc.SignalGroup(h, syscall.SIGTERM); err != nil {
		if errors.Is(err, proc.ErrGone) {
			return nil
		}
		return fmt.Errorf("stopping process %d: %w", h.PID, err)
	}
	gctx, cancel := context.WithTimeout(ctx, r.grace())
	defer cancel()
	if waitGone(gctx, h) {
		return nil
	}
	log.Debug("stopping kubectl", "signal", "SIGKILL")
	if err := proc.SignalGroup(h, syscall.SIGKILL); err != nil {
		if errors.Is(err, proc.ErrGone) {
			return nil
		}
		return fmt.Errorf("killing process %d: %w", h.PID, err)
	}
	// SIGKILL cannot be ignored; give the kernel a moment regardless of ctx.
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer kcancel()
	if !waitGone(kctx, h) {
		return fmt.Errorf("process %d still alive after SIGKILL", h.PID)
	}
	return nil
}

// waitGone polls until h is no longer alive (true) or ctx ends (false).
func waitGone(ctx context.Context, h proc.ID) bool {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if !proc.Alive(h) {
			return true
		}
		select {
		case <-ctx.Done():
			return !proc.Alive(h)
		case <-t.C:
		}
	}
}

// Inspect reports whether h's process is alive (and still the one started)
// and the last error line logged since the last start. It reads only the
// log's last TailSize bytes and spawns nothing.
func (r *Runtime) Inspect(ctx context.Context, h runtime.Handle) (runtime.Status, error) {
	st := runtime.Unknown()
	if h.IsZero() {
		return st, nil
	}
	d, err := decodeHandle(h)
	if err != nil {
		return st, err
	}
	st.Alive = proc.Alive(d.ID)
	if r.LogPath == nil || d.Name == "" {
		return st, nil
	}
	logPath := r.LogPath(d.Name)
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

func readTail(path string, n int64) (string, error) {
	f, err := os.Open(path)
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

// SelectorString renders labels as kubectl's -l value: k=v pairs sorted by
// key, comma separated.
func SelectorString(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}

// resolvePod returns the first (sorted) Running pod matching s.Selector.
func (r *Runtime) resolvePod(ctx context.Context, s runtime.Spec) (string, error) {
	sel := SelectorString(s.Selector)
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
