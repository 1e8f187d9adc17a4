package spec

import "testing"

// TestHealthDeclared: a forward is checked while idle only when a health
// block applies to it, its own or the defaults block's; the values it does
// not set stay zero (the runtimes' defaults).
func TestHealthDeclared(t *testing.T) {
	tests := []struct {
		name, src string
		want      Health
	}{
		{"no block", `forward "a" {
  target      = "svc/a"
  remote_port = 80
}`, Health{Kind: HealthTCP}},
		{"own block", `forward "a" {
  target      = "svc/a"
  remote_port = 80
  health {
    http     = "/healthz"
    interval = "2s"
  }
}`, Health{Kind: HealthHTTP, HTTPPath: "/healthz", Interval: 2e9, Declared: true}},
		{"empty block", `forward "a" {
  target      = "svc/a"
  remote_port = 80
  health {}
}`, Health{Kind: HealthTCP, Declared: true}},
		{"defaults block", `defaults {
  health { timeout = "1s" }
}
forward "a" {
  target      = "svc/a"
  remote_port = 80
}`, Health{Kind: HealthTCP, Timeout: 1e9, Declared: true}},
		{"none", `forward "a" {
  target      = "svc/a"
  remote_port = 80
  health { none = true }
}`, Health{Kind: HealthNone, Declared: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"kpf.hcl": tt.src})
			ws := mustLoad(t, LoadOptions{Dir: dir, Env: envMap(nil)})
			if got := ws.Forwards[0].Health; got != tt.want {
				t.Errorf("health = %+v, want %+v", got, tt.want)
			}
		})
	}
}
