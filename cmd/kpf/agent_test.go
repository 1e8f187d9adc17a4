package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// TestAgentLogScrubbed: once the agent knows a sensitive value, neither
// its own log lines nor client-go's (klog) show it.
func TestAgentLogScrubbed(t *testing.T) {
	const secret = "zq7x3kvw-agentlog"
	a := &app{opts: globalOptions{LogLevel: "info"}}
	dir := t.TempDir()
	log, scrub, closeLog, err := a.agentLog(dir, "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(klog.ClearLogger)
	scrub.Add(secret)
	log.Info("forward started", "target", "service/"+secret)
	klog.Errorf("an error from client-go naming %s", secret)
	klog.Flush()
	closeLog()
	b, err := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{"forward started", "an error from client-go naming"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) || strings.Count(out, "(sensitive value)") != 2 {
		t.Errorf("the log shows the sensitive value, or does not say it is hidden:\n%s", out)
	}
}
