package reconcile

import (
	"testing"

	"github.com/kpf-dev/kpf/spec"
)

// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestSpecHashIs(t *testing.T) {
	base := dfwd("api", 8080)
	base.Selector = map[string]string{"app": "api", "tier": "web"}
	h := SpecHash(base)
	if len(h) != 32 {
		t.Fatalf("SpecHash is %d characters, want 32", len(h))
	}
	tests := []struct {
		name string
		mod  func(*spec.Forward)
		same bool
	}{
		{"unchanged", func(*spec.Forward) {}, true},
		{"health is not part of it", func(f *spec.Forward) { f.Health.Kind = spec.HealthNone }, true},
		{"namespace", func(f *spec.Forward) { f.Namespace = "other" }, false},
		{"selector value", func(f *spec.Forward) { f.Selector = map[string]string{"app": "api", "tier": "db"} }, false},
		{"local port", func(f *spec.Forward) { f.LocalPort = 8081 }, false},
	}
	for _, tt := range tests {
		f := base
		tt.mod(&f)
		if got := specHashIs(&f, h); got != tt.same {
			t.Errorf("%s: specHashIs = %v, want %v", tt.name, got, tt.same)
		}
		if got := SpecHash(f) == h; got != tt.same {
			t.Errorf("%s: SpecHash equal = %v, want %v", tt.name, got, tt.same)
		}
	}
	if specHashIs(&base, h[:31]) || specHashIs(&base, "") {
		t.Error("a truncated hash matched")
	}
	// Diff asks this of every running forward on every watch pass.
	if n := testing.AllocsPerRun(100, func() { specHashIs(&base, h) }); n != 0 {
		t.Errorf("specHashIs allocates %.0f times", n)
	}
}
