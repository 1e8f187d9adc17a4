package reconcile

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// hostile holds what a state file, kubectl or the cluster could put in a
// name, context or error text to act on the terminal: an OSC title change,
// a CSI clear screen, a C1 CSI and a bidi override.
const hostile = "x\x1b]0;pwned\x07\x1b[2J\u009b1m\u202ey"

func assertNoControls(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b]", "\x1b[2J", "\x07", "\u009b", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s lets %q through:\n%q", what, bad, out)
		}
	}
	if !strings.Contains(out, `x\x1b]0;pwned\a\x1b[2J\u009b1m\u202ey`) {
		t.Errorf("%s does not show the escaped text:\n%q", what, out)
	}
}

func TestPlanViewEscapes(t *testing.T) {
	t.Parallel()
	prior := state.Forward{Name: hostile, Target: "service/" + hostile, Context: hostile, Namespace: "ns",
		Address: "127.0.0.1", RemotePort: "80", LocalPort: 1, Selector: map[string]string{hostile: hostile}}
	p := Plan{Changes: []Change{
		{Name: hostile, Action: Stop, Reason: "not in the spec " + hostile, Prior: &prior},
		{Name: "api", Action: Start, Port: 2, Desired: &model.Forward{Name: "api", Context: hostile, Namespace: "ns",
			Address: "127.0.0.1", RemotePort: "80", Selector: map[string]string{hostile: "v"}},
			PortMove: &PortMove{Wanted: 1, Got: 2, Reason: hostile}},
	}}
	var b bytes.Buffer
	if err := RenderHuman(&b, p, HumanOptions{}); err != nil {
		t.Fatal(err)
	}
	assertNoControls(t, "plan view", b.String())
}
