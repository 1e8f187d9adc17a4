package kinds

import "testing"

func TestNormal(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"service", Service}, {"SVC", Service}, {"services", Service},
		{"po", Pod}, {"Pods", Pod},
		{"deploy", Deployment}, {"deployment.apps", Deployment}, {"Deployments.apps", Deployment},
		{"sts", StatefulSet}, {"statefulsets.apps", StatefulSet},
		{"replicaset", ""}, {"", ""}, {"svc.apps", ""},
	} {
		if got := Normal(tt.in); got != tt.want {
			t.Errorf("Normal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseTarget: kubectl's TYPE/NAME (any spelling of a kind; a bare
// NAME is a pod) parses to the Target whose String is its normal form;
// anything else is an error that says what is wrong.
func TestParseTarget(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Target
		err  string
	}{
		{in: "", want: Target{}},
		{in: "service/api", want: Target{Service, "api"}},
		{in: "svc/api", want: Target{Service, "api"}},
		{in: "po/db-0", want: Target{Pod, "db-0"}},
		{in: "db-0", want: Target{Pod, "db-0"}},
		{in: "deploy/web", want: Target{Deployment, "web"}},
		{in: "deployments.apps/web", want: Target{Deployment, "web"}},
		{in: "sts/db", want: Target{StatefulSet, "db"}},
		{in: "StatefulSet/db", want: Target{StatefulSet, "db"}},
		{in: "daemonset/x", err: `target "daemonset/x": unknown kind "daemonset" (want service, pod, deployment or statefulset)`},
		{in: "service/", err: `target "service/": want TYPE/NAME`},
		{in: "service/a/b", err: `target "service/a/b": want TYPE/NAME`},
	} {
		got, err := ParseTarget(tt.in)
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseTarget(%q) = %+v, %v; want the error %q", tt.in, got, err, tt.err)
			}
		case err != nil || got != tt.want:
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestTargetString: String is what ParseTarget reads back, the name alone
// for a target without a kind (a redacted one), "" for none.
func TestTargetString(t *testing.T) {
	for _, tt := range []struct {
		t    Target
		want string
	}{
		{Target{}, ""},
		{Target{Service, "api"}, "service/api"},
		{Target{StatefulSet, "db"}, "statefulset/db"},
		{Target{Name: "(sensitive value)"}, "(sensitive value)"},
	} {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.t, got, tt.want)
		}
		if tt.t.Kind == "" {
			continue
		}
		if back, err := ParseTarget(tt.t.String()); err != nil || back != tt.t {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v back", tt.t.String(), back, err, tt.t)
		}
	}
}
