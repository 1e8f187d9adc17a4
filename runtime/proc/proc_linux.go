package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

func lookup(pid int) (info, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) {
		return info{}, fmt.Errorf("process %d: %w", pid, ErrGone)
	}
	if err != nil {
		return info{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from after the last ')'.
func parseStat(b []byte) (info, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return info{}, errors.New("malformed /proc stat: no ')'")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field N is f[N-3].
	const stateField, pgrpField, startField = 3, 5, 22
	if len(f) < startField-2 {
		return info{}, fmt.Errorf("malformed /proc stat: %d fields after comm", len(f))
	}
	start, err := strconv.ParseUint(string(f[startField-3]), 10, 64)
	if err != nil {
		return info{}, fmt.Errorf("malformed /proc stat start time: %w", err)
	}
	pgid, err := strconv.Atoi(string(f[pgrpField-3]))
	if err != nil {
		return info{}, fmt.Errorf("malformed /proc stat pgrp: %w", err)
	}
	state := f[stateField-3]
	return info{
		startTime: start,
		zombie:    len(state) > 0 && (state[0] == 'Z' || state[0] == 'X'),
		pgid:      pgid,
	}, nil
}
