// Package kinds is the one table of the resource kinds a forward may
// target and kubectl's spellings of them, shared by spec's validation and
// the native engine (they disagreed once: the engine took deployment.apps,
// spec refused it). It imports nothing of kpf.
package kinds

import "strings"

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
