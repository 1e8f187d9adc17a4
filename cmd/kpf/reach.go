package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/kpf-dev/kpf/runtime/kubeconfig"
)

// Bounds of the reachability check apply makes of each cluster before it
// starts forwards there.
const (
	// reachWait bounds the whole check of one cluster.
	reachWait = 5 * time.Second
	// reachRefusedFor is how long a refused connection is tried again (an
	// API server restarting); past it the cluster counts as unreachable.
	reachRefusedFor = 1500 * time.Millisecond
	reachRetryEvery = 250 * time.Millisecond
)

// reach checks that the API server of kube context kc accepts a TCP
// connection, within reachWait. It says nothing about credentials or RBAC
// (the start itself reports those); it only spares a start the retries that
// cannot succeed while nothing answers. A server reached through a proxy
// (the kubeconfig's proxy-url, or HTTPS_PROXY and the like) is not checked.
func (a *app) reach(ctx context.Context, kc string) error {
	cfg, err := kubeconfig.Load(a.kubeconfigSource())
	if err != nil {
		return nil // the start reports it
	}
	rc, err := cfg.RESTConfig(kc)
	if err != nil {
		return nil
	}
	u, err := url.Parse(rc.Host)
	if err != nil || u.Host == "" {
		return nil
	}
	if rc.Proxy != nil || a.envProxy() {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, reachWait)
	defer cancel()
	start := time.Now()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		refused := errors.Is(err, syscall.ECONNREFUSED)
		if !refused || time.Since(start) >= reachRefusedFor {
			return fmt.Errorf("cluster %s at %s is unreachable: %s", kc, rc.Host, dialProblem(ctx, err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s at %s is unreachable: %s", kc, rc.Host, dialProblem(ctx, err))
		case <-time.After(reachRetryEvery):
		}
	}
}

// dialProblem says in a few words why a dial failed.
func dialProblem(ctx context.Context, err error) string {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dns):
		return "no such host " + dns.Name
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", reachWait)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	}
	return err.Error()
}

// envProxy reports whether the environment names a proxy (client-go would
// reach the server through it, unless NO_PROXY says otherwise).
func (a *app) envProxy() bool {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"} {
		if a.getenv(k) != "" {
			return true
		}
	}
	return false
}
