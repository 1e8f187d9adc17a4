package live

import (
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/kpf-dev/kpf/internal/testutil"
)

// TestReadmeFrame is the capture the README shows: the realistic workspace
// at 120×18, as plain text (go test -update rewrites
// testdata/readme-frame.txt).
func TestReadmeFrame(t *testing.T) {
	m := fed(t, 120, 18, Options{Actions: &fakeActions{}})
	send(m, press("j"), 1)
	send(m, Event{At: t0, Name: "cart", Text: "restarting: pod cart-5d8b9-abcde deleted"}, 1)
	got := frame(t, m, colorprofile.NoTTY)
	checkSize(t, got, 120, 18)
	testutil.Golden(t, "readme-frame.txt", []byte(got))
}
