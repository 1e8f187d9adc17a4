//go:build !linux && !darwin

package ports

import (
	"net/netip"
)

// bindFree opens and closes a listener on ip:port: where kpf has no bare
// socket fast path (Windows, the BSDs) the answer comes from the net
// package, exactly as a listener would get it.
func bindFree(ip netip.Addr, dualStack bool, port int) error {
	host := ip.String()
	if dualStack {
		host = ""
	}
	return listenFree(host, port)
}
