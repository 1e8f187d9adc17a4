//go:build linux

package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 100", hundred, 50, ms(50)},
		{"p99 of 100", hundred, 99, ms(99)},
		{"p99 of 3", []time.Duration{ms(1), ms(2), ms(3)}, 99, ms(3)},
	} {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(%d) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestTableRowPerPath(t *testing.T) {
	r := &run{paths: []*path{
		{title: "the backend directly (the floor)", figs: map[string]string{columns[0]: "900 / 800"}},
		{title: "kpf native, WebSocket (default)", figs: map[string]string{columns[5]: "blocked"}},
	}, notes: []string{"one run"}}
	got := r.table()
	for _, want := range []string{
		"| the backend directly (the floor) | 900 / 800 | — |",
		"| kpf native, WebSocket (default) | — | — | — | — | — | blocked | — | — |",
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
