//go:build !unix

package native

import (
	"context"
	"errors"
	"net"

	"github.com/hashicorp/go-hclog"
)

// CanSupervise reports whether Supervise works on this OS: not here (no
// descriptor inheritance through exec.Cmd.ExtraFiles); the agent serves
// in a single process, and a dead one is replaced by the next kpf apply.
const CanSupervise = false

// SuperviseOptions configure Supervise.
type SuperviseOptions struct {
	StateDir   string
	Log        hclog.Logger
	Executable string
	Args       []string
}

var errNoSupervisor = errors.New("the agent's supervisor is not supported on this OS")

// Supervise is not supported on this OS.
func Supervise(context.Context, SuperviseOptions) error { return errNoSupervisor }

// InheritedListener is not supported on this OS.
func InheritedListener() (net.Listener, error) { return nil, errNoSupervisor }
