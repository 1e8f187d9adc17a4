package names

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/netip"
)

// Range is the loopback range named forwards get their addresses from.
var Range = netip.MustParsePrefix("127.77.0.0/16")

// ErrRangeFull is returned when every address of Range is taken.
var ErrRangeFull = errors.New("no free loopback address left in " + Range.String())

// Want is one forward asking for an address of its own.
type Want struct {
	Name string
	// Prior is the address state recorded for it ("" if none): it is kept
	// while in Range and not held by another workspace.
	Prior string
}

// Assign returns an address for each of wants (by Name), derived from
// workspace and the forward's name: the hash of both picks a first
// address, then the next ones are probed until one is free. taken holds
// the addresses other workspaces' state records; the result never holds one
// of them, nor the same address twice.
func Assign(workspace string, wants []Want, taken map[string]bool) (map[string]string, error) {
	used := make(map[netip.Addr]bool, len(taken)+len(wants))
	for a := range taken {
		if ip, err := netip.ParseAddr(a); err == nil {
			used[ip] = true
		}
	}
	out := make(map[string]string, len(wants))
	// Prior addresses first: a forward keeps its address even when a new
	// forward's hash would pick it.
	for _, w := range wants {
		ip, err := netip.ParseAddr(w.Prior)
		if err != nil || !Range.Contains(ip) || used[ip] || !usable(ip) {
			continue
		}
		used[ip] = true
		out[w.Name] = ip.String()
	}
	size := uint32(1) << (32 - Range.Bits())
	base := binary.BigEndian.Uint32(Range.Addr().AsSlice())
	for _, w := range wants {
		if _, ok := out[w.Name]; ok {
			continue
		}
		sum := sha256.Sum256([]byte(workspace + "\x00" + w.Name))
		start := binary.BigEndian.Uint32(sum[:4]) % size
		found := false
		for i := uint32(0); i < size; i++ {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], base+(start+i)%size)
			ip := netip.AddrFrom4(b)
			if used[ip] || !usable(ip) {
				continue
			}
			used[ip] = true
			out[w.Name] = ip.String()
			found = true
			break
		}
		if !found {
			return nil, ErrRangeFull
		}
	}
	return out, nil
}

// usable leaves out the addresses ending in .0 and .255, which some tools
// take for network or broadcast addresses.
func usable(ip netip.Addr) bool {
	b := ip.As4()
	return b[3] != 0 && b[3] != 255
}

// InRange reports whether addr is an address of Range.
func InRange(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	return err == nil && Range.Contains(ip)
}
