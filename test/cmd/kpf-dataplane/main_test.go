//go:build linux

package main

import (
	"context"
	"strings"
	"testing"
)

func TestTableRowPerPath(t *testing.T) {
	r := &run{paths: []*path{
		{title: "the backend directly (the floor)", figs: map[string]string{columns[0]: "900 / 800"}},
		{title: "kpf native, WebSocket", figs: map[string]string{columns[5]: "blocked"}},
	}, notes: []string{"one run"}}
	got := r.table()
	for _, want := range []string{
		"| the backend directly (the floor) | 900 / 800 | — |",
		"| kpf native, WebSocket | — | — | — | — | — | blocked | — | — |",
		"- one run\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// TestOpenRefusesWithoutItsBinary: the base paths need --base; an unknown
// path names the known ones. Neither reaches the cluster.
func TestOpenRefusesWithoutItsBinary(t *testing.T) {
	for _, tt := range []struct {
		key, want string
	}{
		{"base-ws", "no --base binary"},
		{"base-spdy", "no --base binary"},
		{"kpf-quic", "unknown path"},
	} {
		r := &run{}
		if _, err := r.open(context.Background(), tt.key); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("open(%q) = %v, want an error saying %q", tt.key, err, tt.want)
		}
	}
}

func TestParseGCTrace(t *testing.T) {
	before := "gc 1 @0.001s 1%: 0.010+1.0+0.010 ms clock, 0.02+0/0/0+0.02 ms cpu, 4->5->3 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n"
	for _, tt := range []struct {
		name, in string
		from, to int64
		want     string
	}{
		{"none", "serving\n", 0, -1, "no GC"},
		{"none after from", before, int64(len(before)), -1, "no GC"},
		{"none up to to", "serving\n" + before, 0, int64(len("serving\n")), "no GC"},
		{"after from, allocated since the one before", before +
			"gc 2 @0.500s 1%: 0.010+1.0+0.030 ms clock, 0.02+0/0/0+0.02 ms cpu, 20->21->2 MB, 21 MB goal, 0 MB stacks, 0 MB globals, 2 P\n",
			int64(len(before)), -1, "1 GCs (0 forced), pauses 0.04 ms in all, longest pause 0.03 ms, longest GC 1.04 ms, ~17 MB allocated"},
		{"ordinary and forced", "gc 1 @0.010s 2%: 0.020+1.5+0.030 ms clock, 0.04+0.1/0.2/0+0.06 ms cpu, 4->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
			"a panic's line\n" +
			"gc 2 @3.100s 1%: 0.100+5.0+0.250 ms clock, 0.2+0/1/0+0.5 ms cpu, 6->6->2 MB, 8 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n",
			0, -1, "2 GCs (1 forced), pauses 0.40 ms in all, longest pause 0.25 ms, longest GC 5.35 ms, ~9 MB allocated"},
	} {
		if got := parseGCTrace(strings.NewReader(tt.in), tt.from, tt.to).String(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
