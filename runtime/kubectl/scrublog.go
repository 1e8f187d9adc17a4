package kubectl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// kubectl writes its own output, and it names what it was given: the
// address and ports it listens on ("Forwarding from ADDR:PORT -> PORT"),
// the target it could not find. A forward whose spec has sensitive values
// therefore has kubectl write into a pipe to a small filter process
// (Runtime.Filter, `kpf kubectl-log-filter`), which appends kubectl's
// output to the log scrubbed of those values, line by line, and exits when
// kubectl does (end of file). Forwards without sensitive values keep
// writing to the log directly: no extra process.
//
// The filter's input begins with one line, the values as a JSON array,
// written by kpf before kubectl starts; kubectl's output follows.

// ScrubLog is the filter: it reads the values line from in, then copies
// the rest of in to the log at path (opened for appending, as kubectl
// would), scrubbed, until in ends.
func ScrubLog(path string, in io.Reader) error {
	br := bufio.NewReader(in)
	first, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reading the values to scrub: %w", err)
	}
	var values []string
	if err := json.Unmarshal(first, &values); err != nil {
		return fmt.Errorf("reading the values to scrub: %w", err)
	}
	f, err := openLog(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := redact.New(values...).Writer(f)
	// Line by line, so that kpf sees "Forwarding from" as soon as kubectl
	// writes it (readiness is read from the log).
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return fmt.Errorf("writing %s: %w", path, werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return w.Flush()
		}
		if err != nil {
			return errors.Join(err, w.Flush())
		}
	}
}

// filtered starts the filter for the log at path with values, and returns
// the pipe kubectl writes its output to; the caller closes it once kubectl
// started (kubectl holds its own end). The filter is detached, as kubectl
// is: it outlives kpf and ends with kubectl's output; done is closed when
// it has (kubectl's last lines are then in the log).
func (r *Runtime) filtered(path string, values []string) (w *os.File, done <-chan struct{}, err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("starting the log filter: %w", err)
	}
	defer pr.Close() // the filter holds its own end
	first, err := json.Marshal(values)
	if err != nil {
		pw.Close()
		return nil, nil, err
	}
	// Written before the filter starts: a pipe buffers far more than one
	// line of values, and nothing else writes until kubectl starts.
	if _, err := pw.Write(append(first, '\n')); err != nil {
		pw.Close()
		return nil, nil, fmt.Errorf("starting the log filter: %w", err)
	}
	cmd := exec.Command(r.Filter[0], append(r.Filter[1:], path)...)
	cmd.Stdin = pr
	cmd.SysProcAttr = proc.Detached()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, nil, fmt.Errorf("starting the log filter: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reaped while kpf lives
	return pw, exited, nil
}
