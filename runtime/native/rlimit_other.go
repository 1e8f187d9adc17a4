//go:build !unix

package native

import "github.com/hashicorp/go-hclog"

// raiseOpenFileLimit: only unix has RLIMIT_NOFILE.
func raiseOpenFileLimit(hclog.Logger) {}
