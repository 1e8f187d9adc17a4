package nativetest

import (
	"context"
	"encoding/json"
	"net"

	"github.com/kpf-dev/kpf/runtime/native"
)

// Agent is what an agent says of itself, in part.
type Agent struct {
	PID        int `json:"pid"`
	Supervisor int `json:"supervisor"`
}

// Hello asks the agent of the workspace whose state is in stateDir who it
// is; ok is false when none answers.
func Hello(ctx context.Context, stateDir string) (a Agent, ok bool) {
	socket, err := native.SocketPath(stateDir)
	if err != nil {
		return a, false
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return a, false
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	req, _ := json.Marshal(map[string]any{"protocol": native.Protocol, "op": "hello"})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return a, false
	}
	var resp struct {
		Hello *Agent `json:"hello"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil || resp.Hello == nil {
		return a, false
	}
	return *resp.Hello, true
}

// AgentPID is the pid of the workspace's serving agent, 0 when none runs.
func AgentPID(ctx context.Context, stateDir string) int {
	a, _ := Hello(ctx, stateDir)
	return a.PID
}
