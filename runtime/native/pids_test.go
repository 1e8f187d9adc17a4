package native

import "context"

// AgentPID is the pid of the workspace's running (serving) agent, 0 when
// none runs (for tests).
func (r *Runtime) AgentPID(ctx context.Context) int {
	h, err := r.hello(ctx)
	if err != nil {
		return 0
	}
	return h.PID
}

// SupervisorPID is the pid of the running agent's supervisor, 0 when none
// runs (for tests).
func (r *Runtime) SupervisorPID(ctx context.Context) int {
	h, err := r.hello(ctx)
	if err != nil {
		return 0
	}
	return h.Supervisor
}
