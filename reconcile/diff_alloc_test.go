package reconcile

import (
	"testing"

	"github.com/kpf-dev/kpf/spec/model"
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
		mod  func(*model.Forward)
		same bool
	}{
		{"unchanged", func(*model.Forward) {}, true},
		{"no health block either way", func(f *model.Forward) { f.Health = model.Health{} }, true},
		{"health", func(f *model.Forward) { f.Health = model.Health{Kind: model.HealthNone, Declared: true} }, false},
		{"namespace", func(f *model.Forward) { f.Namespace = "other" }, false},
		{"selector value", func(f *model.Forward) { f.Selector = map[string]string{"app": "api", "tier": "db"} }, false},
		{"local port", func(f *model.Forward) { f.LocalPort = 8081 }, false},
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
