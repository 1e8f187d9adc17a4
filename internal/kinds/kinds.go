package kinds

import (
	"fmt"
	"strings"
)

// The kinds, in their normal form.
const (
	Service     = "service"
	Pod         = "pod"
	Deployment  = "deployment"
	StatefulSet = "statefulset"
)

// aliases maps kubectl's spellings of a kind (lower case) to its normal form.
var aliases = map[string]string{
	"service": Service, "services": Service, "svc": Service,
	"pod": Pod, "pods": Pod, "po": Pod,
	"deployment": Deployment, "deployments": Deployment, "deploy": Deployment,
	"deployment.apps": Deployment, "deployments.apps": Deployment,
	"statefulset": StatefulSet, "statefulsets": StatefulSet, "sts": StatefulSet,
	"statefulset.apps": StatefulSet, "statefulsets.apps": StatefulSet,
}

// Normal is the normal form of a kind as kubectl spells it (any case); ""
// when it is not a kind kpf forwards to.
func Normal(kind string) string {
	return aliases[strings.ToLower(kind)]
}

// Target is a resource a forward targets: Kind in its normal form (one of
// the kinds above) and Name. It is the one parsed form of a target,
// from the spec to the engine: spec parses it from HCL, the native wire
// (runtime/native/wire.go) maps it to and from its string, and String
// gives kubectl's TYPE/NAME for kubectl's argv.
type Target struct {
	Kind string
	Name string
}

// IsZero reports whether no target is set (a forward with a selector).
func (t Target) IsZero() bool { return t.Kind == "" && t.Name == "" }

// String renders the target in kubectl's TYPE/NAME form (the name alone
// when the kind is unknown, as for a redacted target; "" for none).
func (t Target) String() string {
	switch {
	case t.IsZero():
		return ""
	case t.Kind == "":
		return t.Name
	}
	return t.Kind + "/" + t.Name
}

// ParseTarget parses kubectl's TYPE/NAME (any spelling Normal knows; a
// bare NAME is a pod, as in kubectl), as String renders it; "" is the
// zero Target. spec checks more of what a user writes (a KIND/ prefix,
// a valid Kubernetes name) and says so in its own words.
func ParseTarget(s string) (Target, error) {
	if s == "" {
		return Target{}, nil
	}
	typ, name, ok := strings.Cut(s, "/")
	if !ok {
		typ, name = Pod, s
	}
	if name == "" || strings.Contains(name, "/") {
		return Target{}, fmt.Errorf("target %q: want TYPE/NAME", s)
	}
	k := Normal(typ)
	if k == "" {
		return Target{}, fmt.Errorf("target %q: unknown kind %q (want service, pod, deployment or statefulset)", s, typ)
	}
	return Target{Kind: k, Name: name}, nil
}
