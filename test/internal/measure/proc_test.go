package measure

import (
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

func TestStatTicks(t *testing.T) {
	t.Parallel()
	// Fields 14 and 15 (utime, stime) are 7 and 5.
	const rest = " S 1 2 3 4 5 6 7 8 9 10 7 5 0 0 20 0 1 0"
	for _, tt := range []struct {
		name, stat string
		want       int64
		wantErr    bool
	}{
		{"plain", "42 (kpf)" + rest, 12, false},
		{"a command with spaces and a parenthesis", "42 (a b) c)" + rest, 12, false},
		{"no command end", "42 kpf S 1 2", 0, true},
		{"short", "42 (kpf) S 1 2 3", 0, true},
		{"not a number", "42 (kpf) S 1 2 3 4 5 6 7 8 9 10 x 5", 0, true},
	} {
		got, err := statTicks([]byte(tt.stat))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: statTicks = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStatusField(t *testing.T) {
	t.Parallel()
	const status = "Name:\tkpf\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\n"
	for _, tt := range []struct {
		name, status, field string
		want                int64
		wantErr             bool
	}{
		{"VmRSS", status, "VmRSS", 1024 << 10, false},
		{"VmHWM", status, "VmHWM", 2048 << 10, false},
		{"a zombie has no memory lines", "Name:\tkpf\nState:\tZ (zombie)\n", "VmRSS", 0, true},
		{"not a number", "VmRSS:\t many kB\n", "VmRSS", 0, true},
		{"a prefix of another field is not it", "VmRSSx:\t1 kB\n", "VmRSS", 0, true},
	} {
		got, err := statusField(tt.status, tt.field)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: statusField = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestProcReaders(t *testing.T) {
	t.Parallel()
	if goruntime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	pid := os.Getpid()
	// Burn CPU until the counter (clock ticks of CPU time, not wall time:
	// on a loaded machine 30 ms of wall time may be no tick at all) moves.
	var ticks int64
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if ticks, err = CPUTicks(pid); err != nil || ticks > 0 {
			break
		}
	}
	if err != nil || ticks <= 0 {
		t.Fatalf("CPUTicks = %d, %v", ticks, err)
	}
	rss, err := RSS(pid)
	if err != nil || rss <= 0 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	peak, err := PeakRSS(pid)
	if err != nil || peak < rss {
		t.Errorf("PeakRSS = %d, %v; RSS %d", peak, err, rss)
	}
	for _, pid := range []int{-1, 0} {
		if _, err := CPUTicks(pid); err == nil {
			t.Errorf("CPUTicks(%d) did not fail", pid)
		}
		if _, err := RSS(pid); err == nil {
			t.Errorf("RSS(%d) did not fail", pid)
		}
		if _, err := PeakRSS(pid); err == nil {
			t.Errorf("PeakRSS(%d) did not fail", pid)
		}
	}
	if l := LoadAvg(); len(strings.Fields(l)) != 3 {
		t.Errorf("LoadAvg = %q, want three figures", l)
	}
}
