package prefetch

import "testing"

func TestWorkspaceDir(t *testing.T) {
	tests := []struct {
		args []string
		dir  string
		ok   bool
	}{
		{[]string{"plan"}, ".", true},
		{[]string{"-C", "ws", "plan"}, "ws", true},
		{[]string{"plan", "-C", "ws"}, "ws", true},
		{[]string{"--dir", "ws", "plan", "--json"}, "ws", true},
		{[]string{"--dir=ws", "plan"}, "ws", true},
		{[]string{"-C=ws", "plan"}, "ws", true},
		{[]string{"-Cws", "plan"}, "ws", true},
		{[]string{"-C", "a", "plan", "-C", "b"}, "b", true}, // the last one counts
		{[]string{"--log-level", "debug", "--var", "x=1", "--no-color", "apply", "--watch"}, ".", true},
		{[]string{"--kubeconfig=k", "--pprof-any-address", "status", "--json"}, ".", true},
		{[]string{"run", "--", "sh", "-C", "elsewhere"}, ".", true}, // not kpf's -C
		{[]string{"validate", "-C"}, "", false},                     // no value: cobra fails
		{[]string{"version"}, "", false},
		{[]string{"fmt", "-C", "ws"}, "", false},
		{[]string{"-C", "plan"}, "", false}, // plan is -C's value; no command
		{[]string{"plan", "--help"}, "", false},
		{[]string{"-h", "plan"}, "", false},
		{[]string{"--unknown", "plan"}, "", false},
		{[]string{"-test.run=TestPlan", "-test.v=true"}, "", false}, // a test binary
		{nil, "", false},
	}
	for _, tt := range tests {
		dir, ok := WorkspaceDir(tt.args)
		if dir != tt.dir || ok != tt.ok {
			t.Errorf("WorkspaceDir(%q) = %q, %v; want %q, %v", tt.args, dir, ok, tt.dir, tt.ok)
		}
	}
}
