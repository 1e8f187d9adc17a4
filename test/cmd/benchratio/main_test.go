package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
)

func TestReport(t *testing.T) {
	tests := []struct {
		name, input, golden string
		args                []string
	}{
		{"medians and ratios", "two-runs.txt", "two-runs.golden",
			[]string{"-goal", "ProbeCached=8", "-goal", "ProbeUncached=2x", "-goal", "Missing=3",
				"-limit", "ProbeCached/kpf=10ns", "-limit", "Lonely=1ms", "-limit", "Nowhere=1s"}},
		{"no goals", "two-runs.txt", "no-goals.golden", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.Open(filepath.Join("testdata", tt.input))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var out bytes.Buffer
			if err := run(tt.args, in, &out); err != nil {
				t.Fatalf("run: %v", err)
			}
			testutil.Golden(t, tt.golden, out.Bytes())
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		input string
		want  string
	}{
		{"no benchmarks", nil, "PASS\nok  \tx\t0.1s\n", "no benchmark results"},
		{"bad goal", []string{"-goal", "ProbeCached"}, "", "want NAME=RATIO"},
		{"bad ratio", []string{"-goal", "ProbeCached=fast"}, "", "want NAME=RATIO"},
		{"bad limit", []string{"-limit", "X=10"}, "", "want NAME=DURATION"},
		{"bad value", nil, "BenchmarkX-2 \t 10 \t x ns/op\n", `value "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, strings.NewReader(tt.input), &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
