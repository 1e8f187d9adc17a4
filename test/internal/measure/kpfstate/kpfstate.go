package kpfstate

import (
	"context"

	"github.com/kpf-dev/kpf/runtime/native/nativetest"
	"github.com/kpf-dev/kpf/state"
)

// Dir is the state directory kpf uses for workspace wsDir when run with
// KPF_STATE_DIR=stateDir.
func Dir(stateDir, wsDir string) (string, error) {
	return state.Dir(func(k string) string {
		if k == "KPF_STATE_DIR" {
			return stateDir
		}
		return ""
	}, wsDir)
}

// AgentPID is the pid the workspace's agent gives in its hello, 0 when none
// answers.
func AgentPID(ctx context.Context, stateDir, wsDir string) int {
	dir, err := Dir(stateDir, wsDir)
	if err != nil {
		return 0
	}
	return nativetest.AgentPID(ctx, dir)
}
