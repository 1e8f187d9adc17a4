package native

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// engineServer serves forwards with the engine: one rest config and
// clientset per (kubeconfig source, context), so an exec credential plugin
// runs once per context and informers and tunnels are shared.
type engineServer struct {
	e *engine.Engine

	mu      sync.Mutex
	clients map[clientsKey]*engine.Clients
	changed func() // OnTunnelsChanged
}

type clientsKey struct {
	src     kubeconfig.Source
	context string
}

// newEngineServer serves with the engine; the tunnels' transport is
// transportFromEnv's, and listen binds the forwards' listeners.
func newEngineServer(log hclog.Logger, listen func(ctx context.Context, addr string) (net.Listener, error)) *engineServer {
	rel := &releaser{Delay: time.Second, Every: 30 * time.Second, Quiet: 200 * time.Millisecond, MaxHold: 30 * time.Second,
		Surge: 32 << 20, SurgeEvery: 10 * time.Second, SurgeHold: 2 * time.Second, Log: log}
	s := &engineServer{clients: map[clientsKey]*engine.Clients{}}
	transport, err := TransportFromEnv(os.Getenv)
	if err != nil { // kpf apply refuses it; an agent started otherwise says so
		log.Error("using auto", "error", err)
	}
	log.Info("tunnels", "transport", transport)
	opts := engine.Options{Log: log, Transport: transport,
		TunnelClosed: rel.tunnelClosed, ConnClosed: rel.schedule, TunnelsChanged: s.tunnelsChanged, Listen: listen}
	s.e = engine.New(opts)
	rel.Carried, rel.Conns = s.e.Carried, s.e.Conns // before any forward starts: nothing closes before
	return s
}

// TransportFromEnv reads the tunnels' transport from an environment (the
// agent's is that of the kpf apply that started it): KPF_TRANSPORT (auto,
// spdy or websocket), else kubectl's KUBECTL_PORT_FORWARD_WEBSOCKETS
// (false: spdy, true: websocket), else auto. A KPF_TRANSPORT it does not
// know is an error, with auto.
func TransportFromEnv(getenv func(string) string) (engine.Transport, error) {
	if v := getenv("KPF_TRANSPORT"); v != "" {
		t, err := engine.ParseTransport(v)
		if err != nil {
			return engine.TransportAuto, fmt.Errorf("KPF_TRANSPORT: %w", err)
		}
		return t, nil
	}
	switch strings.ToLower(getenv("KUBECTL_PORT_FORWARD_WEBSOCKETS")) {
	case "false":
		return engine.TransportSPDY, nil
	case "true":
		return engine.TransportWebSocket, nil
	}
	return engine.TransportAuto, nil
}

// OnTunnelsChanged sets what is called after a tunnel opened or closed.
func (s *engineServer) OnTunnelsChanged(fn func()) {
	s.mu.Lock()
	s.changed = fn
	s.mu.Unlock()
}

func (s *engineServer) tunnelsChanged() {
	s.mu.Lock()
	fn := s.changed
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Tunnels lists the pods of the open tunnels, by kubeconfig source and
// context.
func (s *engineServer) Tunnels() []warmTunnel {
	open := s.e.Tunnels()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make(map[*engine.Clients]clientsKey, len(s.clients))
	for k, c := range s.clients {
		keys[c] = k
	}
	out := make([]warmTunnel, 0, len(open))
	for _, t := range open {
		if k, ok := keys[t.Clients]; ok {
			out = append(out, warmTunnel{Kubeconfig: k.src, Context: k.context, Namespace: t.Namespace, Pod: t.Pod, UID: string(t.UID), Labels: t.Labels, Ports: t.Ports})
		}
	}
	return out
}

// Restore hands the engine the pods of ws whose clients can be built
// (engine.Engine.Restore); the others are left to their forwards' lists.
func (s *engineServer) Restore(ws []warmTunnel) {
	tts := make([]engine.TunnelTarget, 0, len(ws))
	for _, w := range ws {
		if tt, err := s.target(w); err == nil {
			tts = append(tts, tt)
		}
	}
	s.e.Restore(tts)
}

// PreDial dials a tunnel to w's pod (engine.Engine.PreDial).
func (s *engineServer) PreDial(ctx context.Context, w warmTunnel) error {
	tt, err := s.target(w)
	if err != nil {
		return err
	}
	return s.e.PreDial(ctx, tt)
}

// target is w with its clients.
func (s *engineServer) target(w warmTunnel) (engine.TunnelTarget, error) {
	c, err := s.clientsFor(w.Kubeconfig, w.Context)
	if err != nil {
		return engine.TunnelTarget{}, err
	}
	return engine.TunnelTarget{Clients: c, Namespace: w.Namespace, Pod: w.Pod, UID: types.UID(w.UID), Labels: w.Labels, Ports: w.Ports}, nil
}

func (s *engineServer) clientsFor(src kubeconfig.Source, kubeContext string) (*engine.Clients, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := clientsKey{src, kubeContext}
	if c, ok := s.clients[key]; ok {
		return c, nil
	}
	kc, err := kubeconfig.Load(src)
	if err != nil {
		return nil, runtime.Permanent(err)
	}
	rc, err := kc.RESTConfig(kubeContext)
	if err != nil {
		if errors.Is(err, kubeconfig.ErrUnknownContext) {
			err = runtime.Permanent(err)
		}
		return nil, err
	}
	c, err := engine.NewClients(rc)
	if err != nil {
		return nil, err
	}
	s.clients[key] = c
	return c, nil
}

func (s *engineServer) Start(ctx context.Context, src kubeconfig.Source, sp runtime.Spec) (Forward, error) {
	return s.StartResolved(ctx, src, sp, nil)
}

// StartResolved starts sp with what its target resolved to at an earlier
// start (nil: read the target, as Start does).
func (s *engineServer) StartResolved(ctx context.Context, src kubeconfig.Source, sp runtime.Spec, res *engine.Resolution) (Forward, error) {
	c, err := s.clientsOf(src, sp)
	if err != nil {
		return nil, err
	}
	cfg := engineConfig(sp)
	cfg.Resolved = res
	f, err := s.e.Start(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Resolve reads sp's target from the server without starting anything.
func (s *engineServer) Resolve(ctx context.Context, src kubeconfig.Source, sp runtime.Spec) (engine.Resolution, error) {
	c, err := s.clientsOf(src, sp)
	if err != nil {
		return engine.Resolution{}, err
	}
	return s.e.Resolve(ctx, c, engineConfig(sp))
}

func (s *engineServer) clientsOf(src kubeconfig.Source, sp runtime.Spec) (*engine.Clients, error) {
	if sp.Kubeconfig != "" {
		src.Explicit = sp.Kubeconfig
	}
	c, err := s.clientsFor(src, sp.Context)
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", sp.Name, err)
	}
	return c, nil
}

// engineConfig is sp as the engine takes it.
func engineConfig(sp runtime.Spec) engine.Config {
	return engine.Config{
		Name: sp.Name, Target: sp.Target, Selector: sp.Selector, Namespace: sp.Namespace,
		Address: sp.Address, LocalPort: sp.LocalPort, RemotePort: sp.RemotePort,
		MaxConnections: sp.MaxConnections,
		Health: engine.HealthConfig{
			Kind: sp.Health.Kind, HTTPPath: sp.Health.HTTPPath, Interval: sp.Health.Interval,
			Timeout: sp.Health.Timeout, FailureThreshold: sp.Health.FailureThreshold,
			WhileIdle: sp.Health.WhileIdle,
		},
	}
}

func (s *engineServer) Close() { s.e.Close() }
