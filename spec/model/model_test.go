package model

import "testing"

func TestHostPortAndDialAddress(t *testing.T) {
	for _, tt := range []struct {
		addr     string
		port     int
		hostPort string
		dial     string
	}{
		{"127.0.0.1", 8080, "127.0.0.1:8080", "127.0.0.1"},
		{"", 80, ":80", "127.0.0.1"},
		{"0.0.0.0", 0, "0.0.0.0:?", "127.0.0.1"},
		{"::", 5432, "[::]:5432", "::1"},
		{"fd00::1", 443, "[fd00::1]:443", "fd00::1"},
	} {
		if got := HostPort(tt.addr, tt.port); got != tt.hostPort {
			t.Errorf("HostPort(%q, %d) = %q, want %q", tt.addr, tt.port, got, tt.hostPort)
		}
		if got := DialAddress(tt.addr); got != tt.dial {
			t.Errorf("DialAddress(%q) = %q, want %q", tt.addr, got, tt.dial)
		}
	}
}
