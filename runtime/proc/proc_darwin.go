package proc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// sZomb is the BSD p_stat value of a zombie (SZOMB in sys/proc.h).
const sZomb = 5

func lookup(pid int) (info, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || k == nil || int(k.Proc.P_pid) != pid {
		// A missing pid yields an empty answer, which x/sys reports as EIO.
		return info{}, fmt.Errorf("process %d: %w", pid, ErrGone)
	}
	tv := k.Proc.P_starttime
	return info{
		startTime: uint64(tv.Sec)*1_000_000 + uint64(tv.Usec),
		zombie:    k.Proc.P_stat == sZomb,
		pgid:      int(k.Eproc.Pgid),
	}, nil
}
