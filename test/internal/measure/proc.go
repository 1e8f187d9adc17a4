package measure

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc (100 on
// Linux).
const ClockTicks = 100

// CPUTicks is utime+stime of pid, in clock ticks, from /proc/PID/stat.
func CPUTicks(pid int) (int64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("reading cpu time: no process (pid %d)", pid)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading cpu time: %w", err)
	}
	return statTicks(b)
}

// statTicks is utime+stime of a /proc/PID/stat text.
func statTicks(b []byte) (int64, error) {
	// Fields after the command (which may hold spaces) start after ") ".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parsing /proc stat: %w", err)
	}
	return u + s, nil
}

// RSS is pid's resident set (VmRSS) in bytes, from /proc/PID/status.
func RSS(pid int) (int64, error) { return statusBytes(pid, "VmRSS") }

// PeakRSS is pid's peak resident set (VmHWM) in bytes, from
// /proc/PID/status. It fails once the process is gone or a zombie (which
// has no memory lines).
func PeakRSS(pid int) (int64, error) { return statusBytes(pid, "VmHWM") }

// statusBytes reads field (in kB) of /proc/PID/status, in bytes.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the memory of pid %d: %w", pid, err)
	}
	v, err := statusField(string(b), field)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return v, nil
}

// statusField is field's value (in kB) of a /proc/PID/status text, in
// bytes.
func statusField(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing %s: %w", field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s (a zombie?)", field)
}

// LoadAvg is the machine's load averages over 1, 5 and 15 minutes, from
// /proc/loadavg, or "?".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
