package reconcile

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
)

// HealthProber checks whether a running forward actually forwards. A nil
// error means healthy.
type HealthProber interface {
	Probe(ctx context.Context, f model.Forward, port int) error
}

// NetProber probes over the network, on the forward's local address:
// kind tcp dials address:port; kind http sends GET http://address:port/path
// and counts any status below 500 as healthy; kind none is always healthy.
type NetProber struct {
	// Timeout bounds one probe when the forward's health block sets none
	// (default runtime.DefaultHealthTimeout).
	Timeout time.Duration
}

// Probe implements HealthProber.
func (p NetProber) Probe(ctx context.Context, f model.Forward, port int) error {
	timeout := f.Health.Timeout
	if timeout <= 0 {
		timeout = p.Timeout
	}
	if timeout <= 0 {
		timeout = runtime.DefaultHealthTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	hostport := net.JoinHostPort(model.DialAddress(f.Address), strconv.Itoa(port))
	switch f.Health.Kind {
	case model.HealthNone:
		return nil
	case model.HealthHTTP:
		return probeHTTP(ctx, hostport, f.Health.HTTPPath)
	default: // tcp is the default kind
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", hostport)
		if err != nil {
			return fmt.Errorf("tcp connect to %s: %w", hostport, err)
		}
		return conn.Close()
	}
}

func probeHTTP(ctx context.Context, hostport, path string) error {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := "http://" + hostport + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building health request: %w", err)
	}
	client := &http.Client{
		// No proxy from the environment and no kept-alive connections:
		// every idle connection would hold a stream open in the forward.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect could point anywhere; the first answer is the verdict.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("http GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 500 {
		return fmt.Errorf("http GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}
