package proc

import "testing"

func TestParseStat(t *testing.T) {
	t.Parallel()
	// 52 fields as in Linux 6.x; starttime (field 22) = 123456, pgrp = 77.
	tail := " 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	tests := []struct {
		name   string
		in     string
		start  uint64
		zombie bool
		pgid   int
		err    bool
	}{
		{"plain", "42 (kubectl) S" + tail, 123456, false, 77, false},
		{"comm with spaces and parens", "42 (a) b (c) d) S" + tail, 123456, false, 77, false},
		{"comm ending in paren-space", "42 (x) ) R" + tail, 123456, false, 77, false},
		{"zombie", "42 (kubectl) Z" + tail, 123456, true, 77, false},
		{"dead", "42 (kubectl) X" + tail, 123456, true, 77, false},
		{"no paren", "42 kubectl S" + tail, 0, false, 0, true},
		{"truncated", "42 (kubectl) S 1 2 3", 0, false, 0, true},
		{"bad start", "42 (k) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 zz 1", 0, false, 0, true},
	}
	for _, tc := range tests {
		in, err := parseStat([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if in.startTime != tc.start || in.zombie != tc.zombie || in.pgid != tc.pgid {
			t.Errorf("%s: got %+v, want start %d zombie %v pgid %d", tc.name, in, tc.start, tc.zombie, tc.pgid)
		}
	}
}
