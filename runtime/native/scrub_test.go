//go:build linux || darwin

package native

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/internal/redact"
	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestAgentScrubsSensitiveValues: a forward whose target and namespace
// came from sensitive variables — through a real agent process — shows
// them nowhere: not in its status, its events (kpf logs), a start error,
// or the agent's log. A forward whose values are not sensitive shows
// them, so the test sees what it looks for.
func TestAgentScrubsSensitiveValues(t *testing.T) {
	const secret = "zq7x3kv-agent"
	ctx := context.Background()
	r := newRuntime(t, "v1")
	tests := []struct {
		name      string
		sensitive []string
		wantShown bool
	}{
		{"plain", nil, true},
		{"sensitive", []string{redact.FieldTarget, redact.FieldNamespace}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec(tt.name, testutil.FreePort(t))
			s.Target, s.Namespace, s.Sensitive = kinds.Target{Kind: kinds.Service, Name: "svc-" + secret + "-" + tt.name}, "ns-"+secret, tt.sensitive
			h, err := r.Start(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Inspect(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			if err := r.Logs(ctx, h, false, &logs); err != nil {
				t.Fatal(err)
			}
			missing := s
			missing.Name, missing.Target, missing.LocalPort = tt.name+"-missing", kinds.Target{Kind: kinds.Service, Name: secret + "-" + tt.name + "-missing"}, testutil.FreePort(t)
			_, startErr := r.Start(ctx, missing)
			if startErr == nil {
				t.Fatal("a missing target started")
			}
			for what, text := range map[string]string{
				"status": st.LastError, "events": logs.String(), "start error": startErr.Error(),
			} {
				if shown := strings.Contains(text, secret); shown != tt.wantShown {
					t.Errorf("%s shows the value: %v, want %v:\n%s", what, shown, tt.wantShown, text)
				}
				if !tt.wantShown && !strings.Contains(text, redact.Placeholder) {
					t.Errorf("%s does not say a value is hidden:\n%s", what, text)
				}
			}
			if err := r.Stop(ctx, h); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The agent logged the failed starts of both; only the plain one shows.
	log, err := os.ReadFile(filepath.Join(r.StateDir, "logs", "agent.out"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), secret+"-plain") || strings.Contains(string(log), secret+"-sensitive") {
		t.Errorf("agent log: want the plain value and not the sensitive one:\n%s", log)
	}
}
