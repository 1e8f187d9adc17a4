package main

import (
	"fmt"
	"net"
	"os/exec"

	kpfnames "github.com/kpf-dev/kpf/internal/names"
)

// loopbackAliases adds lo0 an alias for each address of kpfnames.Range it
// does not have yet: macOS routes only 127.0.0.1 on lo0 by itself.
func loopbackAliases(addrs []string) error {
	have := map[string]bool{}
	if ifi, err := net.InterfaceByName("lo0"); err == nil {
		if as, err := ifi.Addrs(); err == nil {
			for _, a := range as {
				if ipn, ok := a.(*net.IPNet); ok {
					have[ipn.IP.String()] = true
				}
			}
		}
	}
	for _, a := range addrs {
		if have[a] || !kpfnames.InRange(a) {
			continue
		}
		if out, err := exec.Command("/sbin/ifconfig", "lo0", "alias", a, "up").CombinedOutput(); err != nil {
			return fmt.Errorf("adding the loopback alias %s: %w: %s", a, err, out)
		}
		have[a] = true
	}
	return nil
}
