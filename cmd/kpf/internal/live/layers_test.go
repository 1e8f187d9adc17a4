package live

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports: the view imports no kpf package, even transitively, and
// itself nothing that runs processes or dials (doc.go). The Charm stack's
// own dependencies (a clipboard helper, terminfo) are theirs.
func TestImports(t *testing.T) {
	deps, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/kpf-dev/kpf/cmd/kpf/internal/live"
	for _, dep := range strings.Fields(string(deps)) {
		if dep != self && strings.HasPrefix(dep, "github.com/kpf-dev/kpf/") {
			t.Errorf("imports %s: the caller maps its types to Row", dep)
		}
	}
	direct, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(direct)) {
		if imp == "os/exec" || strings.HasPrefix(imp, "net") {
			t.Errorf("imports %s: the view never runs processes or dials", imp)
		}
	}
}
