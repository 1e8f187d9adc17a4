package spec

import (
	"net/netip"
	"strings"

	"github.com/kpf-dev/kpf/internal/kinds"
)

// parseTarget parses kubectl's KIND/NAME; the reason is "" when it is valid.
func parseTarget(s string) (Target, string) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok {
		return Target{}, "a target is KIND/NAME, e.g. service/api"
	}
	k := kinds.Normal(kind)
	if k == "" {
		return Target{}, "the kind \"" + kind + "\" is not one of service (svc), pod (po), deployment (deploy) or statefulset (sts)"
	}
	if !isDNS1123Subdomain(name) {
		return Target{}, "the name \"" + name + "\" is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', at most 253 characters)"
	}
	return Target{Kind: k, Name: name}, ""
}

func isAlnumLower(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isAlnumLower(c) || c >= 'A' && c <= 'Z' }

// isDNS1123Label reports whether s is an RFC 1123 label (namespaces).
func isDNS1123Label(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnumLower(c) {
			continue
		}
		if c != '-' || i == 0 || i == len(s)-1 {
			return false
		}
	}
	return true
}

// isDNS1123Subdomain reports whether s is an RFC 1123 subdomain (object names).
func isDNS1123Subdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !isDNS1123Label(part) {
			return false
		}
	}
	return true
}

// isLabelName reports whether s is a valid label name or value part:
// at most 63 alphanumerics, '-', '_' and '.', alphanumeric at both ends.
// An empty string is valid only when allowEmpty.
func isLabelName(s string, allowEmpty bool) bool {
	if s == "" {
		return allowEmpty
	}
	if len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isLabelKey reports whether s is a valid label key: [prefix/]name.
func isLabelKey(s string) bool {
	prefix, name, ok := strings.Cut(s, "/")
	if !ok {
		return isLabelName(s, false)
	}
	return isDNS1123Subdomain(prefix) && isLabelName(name, false)
}

// isPortName reports whether s is an IANA_SVC_NAME: at most 15 lower-case
// letters, digits and '-', at least one letter, no '-' at either end or
// twice in a row.
func isPortName(s string) bool {
	if len(s) == 0 || len(s) > 15 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letter
}

// validForwardName reports whether s can name a forward; the name is also
// used as a file name, so it is kept to a safe alphabet.
func validForwardName(s string) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// parseAddress parses an IP literal (no zone) into its canonical form.
func parseAddress(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}
