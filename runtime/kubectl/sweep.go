package kubectl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// Sweep stops the kubectl processes of this workspace that keep does not
// name: forwards left by a kpf killed between starting kubectl and
// recording it in the state file. A process is this workspace's when its
// environment holds EnvWorkspace=Workspace exactly (Start marks every
// forward so), it runs port-forward, and it leads its own session as a
// forward does (a credential plugin kubectl spawned inherits the mark but
// not the session, and goes with its forward's group). Processes of other users are never looked at.
//
// Orphans are stopped rather than adopted: one carries no record of the
// spec it was started for (hash, wanted port), and the caller plans right
// after the sweep, so the forward is started again on the same port.
//
// Sweep finds nothing when Workspace is empty or the OS cannot list
// processes' environments (only Linux and macOS can).
func (r *Runtime) Sweep(ctx context.Context, keep []runtime.Handle) ([]string, error) {
	if r.Workspace == "" {
		return nil, nil
	}
	found, err := proc.Marked(EnvWorkspace + "=" + r.Workspace)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking for this workspace's kubectl processes: %w", err)
	}
	kept := make(map[proc.ID]bool, len(keep))
	for _, h := range keep {
		if d, err := decodeHandle(h); err == nil {
			kept[d.ID] = true
		}
	}
	var stopped []string
	var errs []error
	for _, p := range found {
		if kept[p.ID] || !p.LeadsSession() || !slices.Contains(p.Args, "port-forward") {
			continue
		}
		name := forwardName(p.PID)
		if err := r.stopProcess(ctx, handleData{ID: p.ID, Name: name}, true); err != nil {
			errs = append(errs, err)
			continue
		}
		line := fmt.Sprintf("kubectl pid %d", p.PID)
		if name != "" {
			line = fmt.Sprintf("forward %s (kubectl pid %d)", name, p.PID)
		}
		stopped = append(stopped, line)
		r.log().Info("stopped a forward no state named", "forward", name, "pid", p.PID)
	}
	return stopped, errors.Join(errs...)
}

// forwardName is the EnvForward mark of pid ("" when unreadable).
func forwardName(pid int) string {
	env, err := proc.Environ(pid)
	if err != nil {
		return ""
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, EnvForward+"="); ok {
			return v
		}
	}
	return ""
}
