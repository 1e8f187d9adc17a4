package kubectl

import (
	"errors"
	"strings"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/runtime"
)

// Errors a caller can branch on. Start wraps exactly one of ErrExited and
// ErrTimeout when the forward did not become ready, and may wrap
// runtime.ErrPermanent or ErrPortInUse as well, from kubectl's message.
var (
	// ErrExited: kubectl exited before it was ready.
	ErrExited = errors.New("kubectl exited before ready")
	// ErrTimeout: kubectl did not become ready within the ready timeout
	// (the process was stopped).
	ErrTimeout = errors.New("timed out waiting for kubectl to be ready")
	// ErrPortInUse: the local port could not be bound (runtime.ErrPortInUse).
	ErrPortInUse = runtime.ErrPortInUse
	// ErrNoPod: no running pod matches a selector (runtime.ErrNoPod).
	ErrNoPod = runtime.ErrNoPod
)

// Classify maps one kubectl error message to the sentinel that describes
// it: runtime.ErrPermanent when a retry cannot help (unknown context, RBAC
// denial, missing resource), ErrPortInUse, ErrNoPod (the pod is not
// running yet), or nil for another retryable error.
func Classify(msg string) error {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "unable to listen on any of the requested ports"),
		strings.Contains(m, "address already in use"):
		return ErrPortInUse
	case strings.Contains(m, "pod is not running"):
		// Its pod is being replaced (or still starting): the watch tries
		// again soon (reconcile.NoPodRetry).
		return ErrNoPod
	case strings.Contains(m, "context was not found"),
		strings.Contains(m, `context "`) && strings.Contains(m, "does not exist"),
		strings.Contains(m, "forbidden"),
		strings.Contains(m, "notfound"),
		strings.Contains(m, "not found"):
		return runtime.ErrPermanent
	}
	return nil
}

// errorMarks are what makes a log line an error line (matched lower-case).
var errorMarks = []string{
	"error:",
	"error from server",
	"lost connection to pod",
	"an error occurred forwarding",
	"unable to listen",
	"the connection to the server",
	"error in configuration",
}

// isErrorLine reports whether a line of kubectl output reports an error.
func isErrorLine(line string) bool {
	l := strings.ToLower(line)
	// klog: "E1128 12:04:50.024754   16008 file.go:265] ..." with an error.
	if len(line) > 5 && line[0] == 'E' && isDigits(line[1:5]) && strings.Contains(l, "error") {
		return true
	}
	for _, m := range errorMarks {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// lastErrorLine returns the last error line of out, or "".
func lastErrorLine(out string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && isErrorLine(l) {
			return l
		}
	}
	return ""
}

// failureLine picks the line that best explains why kubectl exited: the
// last error line, else the last non-empty line.
func failureLine(out string) string {
	if l := lastErrorLine(out); l != "" {
		return l
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// scrubError is err with the values scrub holds replaced: in an *Error its
// message and kubectl's line, in any other error its message (errors.Is
// still finds its sentinels).
func scrubError(scrub *redact.Scrubber, err error) error {
	if err == nil || scrub.Len() == 0 {
		return err
	}
	var ke *Error
	if errors.As(err, &ke) && ke == err {
		c := *ke
		c.Msg, c.Line = scrub.Scrub(c.Msg), scrub.Scrub(c.Line)
		return &c
	}
	return scrub.Error(err)
}
