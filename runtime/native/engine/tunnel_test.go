package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/streaming/pkg/httpstream"
)

// upgraderFunc is an httpstream.UpgradeRoundTripper whose NewConnection
// is a function.
type upgraderFunc func(*http.Response) (httpstream.Connection, error)

func (f upgraderFunc) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.ErrUnsupported
}

func (f upgraderFunc) NewConnection(resp *http.Response) (httpstream.Connection, error) {
	return f(resp)
}

func TestStatusUpgraderKeepsTheAPIStatus(t *testing.T) {
	delegated := errors.New("delegated")
	tests := []struct {
		name      string
		code      int
		body      string
		is        func(error) bool // nil: the inner upgrader answers
		wantInMsg string
	}{
		{"forbidden Status", 403, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web\" is forbidden: User \"u\" cannot create resource \"pods/portforward\"","reason":"Forbidden","code":403}`,
			apierrors.IsForbidden, `cannot create resource "pods/portforward"`},
		{"not found Status", 404, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web\" not found","reason":"NotFound","code":404}`,
			apierrors.IsNotFound, `pods "web" not found`},
		{"forbidden as text", 403, "forbidden: no\n", apierrors.IsForbidden, "forbidden: no"},
		{"unauthorized, empty", 401, "", apierrors.IsUnauthorized, "Unauthorized"},
		{"JSON that is no Status", 404, `{"error":"gone"}`, apierrors.IsNotFound, `{"error":"gone"}`},
		{"switching protocols", 101, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := statusUpgrader{upgraderFunc(func(*http.Response) (httpstream.Connection, error) { return nil, delegated })}
			_, err := u.NewConnection(&http.Response{StatusCode: tt.code, Status: http.StatusText(tt.code), Body: io.NopCloser(strings.NewReader(tt.body))})
			if tt.is == nil {
				if !errors.Is(err, delegated) {
					t.Fatalf("got %v, want the inner upgrader's answer", err)
				}
				return
			}
			if err == nil || !tt.is(err) {
				t.Fatalf("got %v, want it recognised as %d", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) || !strings.HasPrefix(err.Error(), "unable to upgrade connection: ") {
				t.Errorf("message %q, want it to say %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestSPDYRefused(t *testing.T) {
	statusErr := func(code int) error {
		return fmt.Errorf("unable to upgrade connection: %w", upgradeRefused(code, []byte("no")))
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"400: the upgrade itself", statusErr(400), true},
		{"405", statusErr(405), true},
		{"426 upgrade required", statusErr(426), true},
		{"501", statusErr(501), true},
		{"502 from a proxy", statusErr(502), true},
		{"401: the user, on either transport", statusErr(401), false},
		{"403: the user, on either transport", statusErr(403), false},
		{"404: the pod, on either transport", statusErr(404), false},
		{"no upgrade at all", &httpstream.UpgradeFailureError{Cause: errors.New("200 OK")}, true},
		{"a failed dial", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spdyRefused(tt.err); got != tt.want {
				t.Errorf("spdyRefused(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestParseTransport(t *testing.T) {
	tests := []struct {
		in      string
		want    Transport
		wantErr bool
	}{
		{"", TransportAuto, false},
		{"auto", TransportAuto, false},
		{"SPDY", TransportSPDY, false},
		{" websocket ", TransportWebSocket, false},
		{"ws", "", true},
	}
	for _, tt := range tests {
		got, err := ParseTransport(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseTransport(%q) = %q, %v; want %q (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
