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
