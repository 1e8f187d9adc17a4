package measure

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestRunTable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		table    string
		err      error
		out      string // "ok": a file in a temp dir; "bad": one that cannot be written
		wantCode int
		wantLog  []string
	}{
		{name: "a table", table: "| a |\n", wantCode: 0},
		{name: "a table to --out", table: "| a |\n", out: "ok", wantCode: 0},
		{name: "a failure after part of the table", table: "| a |\n", err: errors.New("no cluster"), out: "ok", wantCode: 1,
			wantLog: []string{"[ERROR] kpf-x: x run failed: error=\"no cluster\""}},
		{name: "a failure before any figure", err: errors.New("no cluster"), out: "ok", wantCode: 1,
			wantLog: []string{"x run failed"}},
		{name: "--out cannot be written", table: "| a |\n", out: "bad", wantCode: 0,
			wantLog: []string{"writing the table"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := ""
			switch tt.out {
			case "ok":
				out = filepath.Join(t.TempDir(), "table.md")
			case "bad":
				out = filepath.Join(t.TempDir(), "no-such-dir", "table.md")
			}
			var stdout, stderr bytes.Buffer
			code := RunTable(Tool{Name: "kpf-x", LogLevel: "info", Out: out, Failed: "x run failed"}, &stdout, &stderr,
				func(ctx context.Context, log hclog.Logger) (string, error) {
					if ctx.Err() != nil {
						t.Error("the body's context is done already")
					}
					log.Debug("not shown at info")
					return tt.table, tt.err
				})
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			if stdout.String() != tt.table {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.table)
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if len(tt.wantLog) == 0 && stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
			if tt.out == "ok" {
				b, err := os.ReadFile(out)
				if tt.table == "" {
					if !errors.Is(err, os.ErrNotExist) {
						t.Errorf("--out written without a table: %q, %v", b, err)
					}
					return
				}
				if err != nil || string(b) != tt.table {
					t.Errorf("--out: %q, %v; want %q", b, err, tt.table)
				}
				if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("--out's mode: %v, %v; want 0600", fi, err)
				}
			}
		})
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		err     error
		wantLog string
	}{
		{"stopped", nil, ""},
		{"failed", errors.New("etcd did not stop"), "[WARN]  stopping the cluster: error=\"etcd did not stop\""},
	} {
		var logs bytes.Buffer
		log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
		var deadline time.Time
		Cleanup(log, "stopping the cluster", time.Minute, func(ctx context.Context) error {
			if ctx.Err() != nil {
				t.Errorf("%s: the context is done already", tt.name)
			}
			deadline, _ = ctx.Deadline()
			return tt.err
		})
		if left := time.Until(deadline); left <= 0 || left > time.Minute {
			t.Errorf("%s: the context's deadline is %s away, want within a minute", tt.name, left)
		}
		if got := logs.String(); tt.wantLog == "" && got != "" || !strings.Contains(got, tt.wantLog) {
			t.Errorf("%s: logged %q, want %q", tt.name, got, tt.wantLog)
		}
	}
}
