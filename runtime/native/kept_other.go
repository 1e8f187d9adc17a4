//go:build !unix

package native

import "github.com/hashicorp/go-hclog"

// InheritedKept is not supported on this OS (no supervisor).
func InheritedKept(int, hclog.Logger) (*Kept, error) { return nil, errNoSupervisor }
