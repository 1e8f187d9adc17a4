package ports

import "testing"

// listenProbe is Probe done the portable way, as Probe was before it bound
// bare sockets: a listener of the net package per address, closed at once.
// It is the definition of the right answer Probe is tested against.
func listenProbe(address string, port int) bool {
	if port < 1 || port > MaxPort {
		return false
	}
	if listenFree(primary(address), port) != nil {
		return false
	}
	if address == "127.0.0.1" {
		return secondaryFree(listenFree("::1", port))
	}
	return true
}

// TestProbeMatchesListenHere compares Probe with listenProbe on every
// platform (TestProbeMatchesListen has the full table on Linux and macOS).
func TestProbeMatchesListenHere(t *testing.T) {
	t.Parallel()
	held := listen(t, "127.0.0.1", 0)
	free, err := FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1", "0.0.0.0", ""} {
		for _, p := range []int{held, free} {
			if got, want := Probe(a, p), listenProbe(a, p); got != want {
				t.Errorf("Probe(%q, %d) = %v, a listener says %v", a, p, got, want)
			}
		}
	}
	if Probe("127.0.0.1", held) || !Probe("127.0.0.1", free) {
		t.Errorf("Probe(127.0.0.1): held %d free=%v, free %d free=%v", held, Probe("127.0.0.1", held), free, Probe("127.0.0.1", free))
	}
}
