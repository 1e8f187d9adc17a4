package kubectl

import (
	"errors"
	"testing"

	"github.com/kpf-dev/kpf/runtime"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// Message texts as real kubectl prints them.
	tests := []struct {
		msg  string
		want error
	}{
		{`Error from server (NotFound): services "x" not found`, runtime.ErrPermanent},
		{`Error from server (NotFound): pods "api-0" not found`, runtime.ErrPermanent},
		{`error: context "nope" does not exist`, runtime.ErrPermanent},
		{`Error in configuration: context was not found for specified context: nope`, runtime.ErrPermanent},
		{`Error from server (Forbidden): pods "api-0" is forbidden: User "dev" cannot create resource "pods/portforward" in API group "" in the namespace "shop"`, runtime.ErrPermanent},
		{`error: unable to listen on any of the requested ports: [{18080 80}]`, ErrPortInUse},
		{`Unable to listen on port 8080: Listeners failed to create with the following errors: [unable to create listener: Error listen tcp4 127.0.0.1:8080: bind: address already in use]`, ErrPortInUse},
		{`error: unable to forward port because pod is not running. Current status=Pending`, ErrNoPod},
		{`error: lost connection to pod`, nil},
		{`error: timed out waiting for the condition`, nil},
		{`The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?`, nil},
		{`error upgrading connection: no preferred addresses found; known addresses: []`, nil},
		{`E1128 12:04:50.024754 16008 portforward.go:413] an error occurred forwarding 8080 -> 80: error forwarding port 80 to pod x, uid : failed to execute portforward in network namespace: connection refused`, nil},
		{``, nil},
	}
	for _, tc := range tests {
		if got := Classify(tc.msg); !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("Classify(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

func TestIsErrorLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want bool
	}{
		{"Forwarding from 127.0.0.1:8080 -> 80", false},
		{"Forwarding from [::1]:8080 -> 80", false},
		{"Handling connection for 8080", false},
		{"error: lost connection to pod", true},
		{`Error from server (NotFound): services "x" not found`, true},
		{`E1128 12:04:50.024754   16008 memcache.go:265] "Unhandled Error" err="couldn't get current server API group list"`, true},
		{`I1128 12:04:50.024754   16008 log.go:1] all fine`, false},
		{"E1128 12:04:50.024754 16008 portforward.go:413] an error occurred forwarding 8080 -> 80", true},
		{"Exit status but no error word", false},
	}
	for _, tc := range tests {
		if got := isErrorLine(tc.line); got != tc.want {
			t.Errorf("isErrorLine(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}
