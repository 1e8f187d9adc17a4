package spec

import (
	"cmp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// hostnamesVal is an evaluated hostnames attribute: a list of names, or
// "service" (derive the in-cluster names of a service target).
type hostnamesVal struct {
	set     bool
	service bool
	names   []string
	rng     hcl.Range
	attr    *hcl.Attribute
}

// hostnames evaluates a hostnames attribute: a list of RFC 1123 host
// names, or the string "service".
func (e *evaluator) hostnames(attrs hcl.Attributes) hostnamesVal {
	v, a, ok := e.value(attrs, "hostnames", cty.DynamicPseudoType)
	if !ok {
		return hostnamesVal{}
	}
	h := hostnamesVal{set: true, rng: a.Expr.Range(), attr: a}
	ty := v.Type()
	switch {
	case ty == cty.String:
		if v.AsString() != "service" {
			e.errorAt(a.Expr.Range(), "Invalid hostnames", "hostnames is a list of names (e.g. [\"api\"]) or \"service\" (the service's in-cluster names), not %s.", e.show(a, v.AsString()))
			return hostnamesVal{}
		}
		h.service = true
		return h
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if el.IsNull() || el.Type() != cty.String {
				e.errorAt(a.Expr.Range(), "Invalid hostnames", "hostnames must hold only strings.")
				return hostnamesVal{}
			}
			name := strings.ToLower(el.AsString())
			if !isDNS1123Subdomain(name) {
				e.errorAt(a.Expr.Range(), "Invalid hostname", "%s is not a valid host name: use dot-separated labels of at most 63 letters, digits and '-', each starting and ending with a letter or digit (RFC 1123).", e.show(a, el.AsString()))
				continue
			}
			h.names = append(h.names, name)
		}
		return h
	}
	e.errorAt(a.Expr.Range(), "Incorrect attribute value type", "hostnames must be a list of names or \"service\", not %s.", ty.FriendlyName())
	return hostnamesVal{}
}

// applyHostnames sets f.Hostnames from h (the forward's own, else the
// defaults'), deriving the in-cluster names for "service".
func (e *evaluator) applyHostnames(f *Forward, h hostnamesVal, domain string) {
	if !h.set {
		return
	}
	if !h.service {
		f.Hostnames = append([]string(nil), h.names...)
	} else {
		if f.Target.Kind != "service" {
			e.errorAt(h.rng, "Invalid hostnames", "hostnames = \"service\" derives the names of a service target; forward %q does not target a service: list its names instead.", f.Name)
			return
		}
		name := f.Target.Name
		f.Hostnames = []string{name}
		if ns := f.Namespace; ns != "" {
			domain = cmp.Or(domain, DefaultClusterDomain)
			f.Hostnames = append(f.Hostnames, name+"."+ns, name+"."+ns+".svc", name+"."+ns+".svc."+domain)
		}
	}
	e.record(&f.Sensitive, FieldHostnames, h.attr)
}

// checkHostnames reports a name claimed by two enabled forwards.
func (e *evaluator) checkHostnames(infos []*forwardInfo) {
	seen := map[string]*forwardInfo{}
	for _, fi := range infos {
		if !fi.f.Enabled {
			continue
		}
		for _, n := range fi.f.Hostnames {
			prev, ok := seen[n]
			if !ok {
				seen[n] = fi
				continue
			}
			if prev == fi {
				continue
			}
			e.errorAt(fi.hostnames, "Duplicate hostname",
				"Forward %q claims the name %q, already claimed by forward %q at %s.",
				fi.f.Name, n, prev.f.Name, rangePos(prev.hostnames))
		}
	}
}
