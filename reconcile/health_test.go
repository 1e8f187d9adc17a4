package reconcile

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/spec/model"
)

func serverPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNetProber(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
		case "/broken":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	open := serverPort(t, srv.Listener.Addr().String())
	closed := testutil.FreePort(t)

	tests := []struct {
		name    string
		health  model.Health
		address string
		port    int
		wantErr string // "" = healthy
	}{
		{"tcp open", model.Health{Kind: model.HealthTCP}, "127.0.0.1", open, ""},
		{"tcp is the default kind", model.Health{}, "127.0.0.1", open, ""},
		{"wildcard address dials loopback", model.Health{Kind: model.HealthTCP}, "0.0.0.0", open, ""},
		{"tcp closed", model.Health{Kind: model.HealthTCP}, "127.0.0.1", closed, "tcp connect"},
		{"http 200", model.Health{Kind: model.HealthHTTP, HTTPPath: "/ok"}, "127.0.0.1", open, ""},
		{"http 404 is healthy", model.Health{Kind: model.HealthHTTP, HTTPPath: "/nope"}, "127.0.0.1", open, ""},
		{"http path without slash", model.Health{Kind: model.HealthHTTP, HTTPPath: "ok"}, "127.0.0.1", open, ""},
		{"http redirect not followed", model.Health{Kind: model.HealthHTTP, HTTPPath: "/redirect"}, "127.0.0.1", open, ""},
		{"http 503 is unhealthy", model.Health{Kind: model.HealthHTTP, HTTPPath: "/broken"}, "127.0.0.1", open, "status 503"},
		{"http closed", model.Health{Kind: model.HealthHTTP, HTTPPath: "/"}, "127.0.0.1", closed, "http GET"},
		{"none", model.Health{Kind: model.HealthNone}, "127.0.0.1", closed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := model.Forward{Name: "x", Address: tt.address, Health: tt.health}
			err := NetProber{}.Probe(context.Background(), f, tt.port)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Probe() = %v, want healthy", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Probe() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
