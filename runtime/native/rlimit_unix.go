//go:build unix

package native

import (
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// raiseOpenFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: the
// agent holds every forward's connections, two descriptors each, and a
// burst of local connections must not starve its control socket. (Go
// raises it at start-up too, but not on every platform to the hard limit,
// and a kpf started with a low soft limit keeps that for its children.)
func raiseOpenFileLimit(log hclog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Debug("reading the open-file limit", "error", err)
		return
	}
	if lim.Cur >= lim.Max {
		return
	}
	was := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		// macOS refuses more than kern.maxfilesperproc: keep what Go set.
		log.Debug("raising the open-file limit", "from", was, "to", lim.Max, "error", err)
		return
	}
	log.Debug("raised the open-file limit", "from", was, "to", lim.Max)
}
