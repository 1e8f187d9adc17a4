//go:build unix

package live

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the test process has used:
// on a shared machine wall time per op rises with the load, CPU time not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
