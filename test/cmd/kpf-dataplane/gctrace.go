//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// gcLine is one line of GODEBUG=gctrace=1: "gc 12 @3.456s 1%: 0.015+1.2+0.020
// ms clock, ...": the first and third clock figures are the two
// stop-the-world pauses (sweep termination, mark termination); "(forced)"
// ends the line of a collection that runtime.GC or debug.FreeOSMemory asked
// for.
var gcLine = regexp.MustCompile(`^gc \d+ @[0-9.]+s \d+%: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock.*, (\d+)->\d+->(\d+) MB`)

// gcSummary counts the collections in gctrace output.
type gcSummary struct {
	n, forced int
	maxPause  time.Duration // the longest single stop-the-world pause
	maxWall   time.Duration // the longest collection, start to end
	pauses    time.Duration // every pause added up
	// allocMB: the heap allocated between collections, the heap at each
	// one's start less what the one before left live (whole MB: a rough
	// figure; the first collection of the output counts from 0).
	allocMB int
}

func (s gcSummary) String() string {
	if s.n == 0 {
		return "no GC"
	}
	return fmt.Sprintf("%d GCs (%d forced), pauses %s in all, longest pause %s, longest GC %s, ~%d MB allocated",
		s.n, s.forced, fmtMs(s.pauses), fmtMs(s.maxPause), fmtMs(s.maxWall), s.allocMB)
}

// parseGCTrace reads gctrace lines from r (other lines are skipped), and
// sums those that end past offset from and, unless to is negative, no
// further than to.
func parseGCTrace(r io.Reader, from, to int64) gcSummary {
	var s gcSummary
	var off int64
	prevLive := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ms := func(f string) time.Duration {
		v, _ := strconv.ParseFloat(f, 64)
		return time.Duration(v * float64(time.Millisecond))
	}
	for sc.Scan() {
		off += int64(len(sc.Bytes())) + 1
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		start, _ := strconv.Atoi(m[4])
		live, _ := strconv.Atoi(m[5])
		alloc := start - prevLive
		prevLive = live
		if off <= from || (to >= 0 && off > to) {
			continue
		}
		s.allocMB += alloc
		s.n++
		if strings.HasSuffix(sc.Text(), "(forced)") {
			s.forced++
		}
		stw1, conc, stw2 := ms(m[1]), ms(m[2]), ms(m[3])
		s.pauses += stw1 + stw2
		s.maxPause = max(s.maxPause, stw1, stw2)
		s.maxWall = max(s.maxWall, stw1+conc+stw2)
	}
	return s
}

// gcOffset is how far the agent's output file reaches now (0 without
// --gctrace).
func (p *path) gcOffset() int64 {
	if p.gcOut == "" {
		return 0
	}
	fi, err := os.Stat(p.gcOut)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// gcSince sums the collections the agent's output file told of after
// offset from (up to offset to, unless negative). The supervisor's
// collections are counted too (it shares the file and is idle: rarely
// one).
func (p *path) gcSince(from, to int64) string {
	f, err := os.Open(p.gcOut)
	if err != nil {
		return "gctrace: " + err.Error()
	}
	defer f.Close()
	return parseGCTrace(f, from, to).String()
}
