package spec

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/kpf-dev/kpf/spec/model"
)

// evaluator evaluates attribute expressions into plain values and collects
// diagnostics; every method keeps going after an error.
type evaluator struct {
	ctx   *hcl.EvalContext
	scope *scope // adds the functions expressions call to ctx
	diags hcl.Diagnostics
	// sensitive holds the attributes whose value came from a sensitive
	// variable, hidden those whose value came from --var or KPF_VAR_name:
	// diagnostics show neither.
	sensitive, hidden map[*hcl.Attribute]bool
}

// redacted reports whether diagnostics must not show a's value.
func (e *evaluator) redacted(a *hcl.Attribute) bool {
	return a != nil && (e.sensitive[a] || e.hidden[a])
}

// show renders the value v of attribute a for a diagnostic, quoted, or
// as a placeholder when it must not be shown.
func (e *evaluator) show(a *hcl.Attribute, v string) string {
	switch {
	case e.sensitive[a]:
		return sensitiveText
	case e.hidden[a]:
		return hiddenText
	}
	return strconv.Quote(v)
}

// showRaw is show without the quotes.
func (e *evaluator) showRaw(a *hcl.Attribute, v string) string {
	if e.redacted(a) {
		return e.show(a, v)
	}
	return v
}

func (e *evaluator) errorAt(rng hcl.Range, summary, format string, args ...any) {
	e.diagAt(hcl.DiagError, rng, summary, format, args...)
}

func (e *evaluator) warnAt(rng hcl.Range, summary, format string, args ...any) {
	e.diagAt(hcl.DiagWarning, rng, summary, format, args...)
}

func (e *evaluator) diagAt(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, format string, args ...any) {
	e.diags = append(e.diags, &hcl.Diagnostic{
		Severity: sev,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// value evaluates attrs[name] and converts it to ty. ok is false when the
// attribute is absent, null, unknown (an error reported elsewhere) or wrong.
func (e *evaluator) value(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	a, present := attrs[name]
	if !present {
		return cty.NilVal, nil, false
	}
	var val cty.Value
	var d hcl.Diagnostics
	if lit, ok := literalString(a.Expr); ok {
		// Most attributes are plain strings: HCL would build the string
		// again through a buffer; the parser already holds it.
		val = lit
	} else {
		e.scope.guard(&a.Expr)
		val, d = checkedValue(a.Expr, e.ctx)
	}
	e.diags = append(e.diags, d...)
	// ContainsMarked walks the value (and allocates doing so): for the
	// primitives most attributes hold, IsMarked says the same.
	if marked := val.IsMarked() || !val.Type().IsPrimitiveType() && val.ContainsMarked(); marked {
		var marks cty.ValueMarks
		val, marks = val.UnmarkDeep()
		if marks.Has(sensitiveMark) {
			if e.sensitive == nil {
				e.sensitive = map[*hcl.Attribute]bool{}
			}
			e.sensitive[a] = true
		}
		if marks.Has(hiddenMark) {
			if e.hidden == nil {
				e.hidden = map[*hcl.Attribute]bool{}
			}
			e.hidden[a] = true
		}
	}
	if d.HasErrors() || val.IsNull() || !val.IsWhollyKnown() {
		return cty.NilVal, a, false
	}
	if ty == cty.DynamicPseudoType || val.Type() == ty {
		return val, a, true // what convert.Convert would return, without its lookups
	}
	out, err := convert.Convert(val, ty)
	if err != nil {
		e.typeError(a, name, ty, val)
		return cty.NilVal, a, false
	}
	return out, a, true
}

// literalString returns the value of a quoted string without
// interpolations ("svc/api"), as HCL would evaluate it.
func literalString(expr hcl.Expression) (cty.Value, bool) {
	t, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 {
		return cty.NilVal, false
	}
	lit, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.String || lit.Val.IsMarked() || lit.Val.IsNull() {
		return cty.NilVal, false
	}
	return lit.Val, true
}

func (e *evaluator) typeError(a *hcl.Attribute, name string, ty cty.Type, val cty.Value) {
	e.diags = append(e.diags, &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     "Incorrect attribute value type",
		Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s required, got %s.", name, ty.FriendlyName(), val.Type().FriendlyName()),
		Subject:     a.Expr.Range().Ptr(),
		Expression:  a.Expr,
		EvalContext: e.ctx,
	})
}

func (e *evaluator) str(attrs hcl.Attributes, name string) (string, *hcl.Attribute, bool) {
	v, a, ok := e.value(attrs, name, cty.String)
	if !ok {
		return "", a, false
	}
	return v.AsString(), a, true
}

func (e *evaluator) boolean(attrs hcl.Attributes, name string) (bool, *hcl.Attribute, bool) {
	v, a, ok := e.value(attrs, name, cty.Bool)
	if !ok {
		return false, a, false
	}
	return v.True(), a, true
}

// integer evaluates a whole number in [lo, hi].
func (e *evaluator) integer(attrs hcl.Attributes, name string, lo, hi int64, summary string) (int, *hcl.Attribute, bool) {
	v, a, ok := e.value(attrs, name, cty.Number)
	if !ok {
		return 0, a, false
	}
	return e.checkInt(a, v.AsBigFloat(), lo, hi, summary)
}

func (e *evaluator) checkInt(a *hcl.Attribute, f *big.Float, lo, hi int64, summary string) (int, *hcl.Attribute, bool) {
	i, acc := f.Int64()
	if !f.IsInt() || acc != big.Exact || i < lo || i > hi {
		e.errorAt(a.Expr.Range(), summary, "%s must be a whole number from %d to %d, not %s.", a.Name, lo, hi, e.showRaw(a, f.Text('g', -1)))
		return 0, a, false
	}
	return int(i), a, true
}

// duration evaluates a Go duration string ("5s") that must be at least
// the minimum for name (minDuration).
func (e *evaluator) duration(attrs hcl.Attributes, name string) (time.Duration, *hcl.Attribute, bool) {
	s, a, ok := e.str(attrs, name)
	if !ok {
		return 0, a, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		e.errorAt(a.Expr.Range(), "Invalid duration", "%s must be a positive duration such as \"500ms\", \"5s\" or \"1m\", not %s.", name, e.show(a, s))
		return 0, a, false
	}
	if m := minDuration(name); d < m.min {
		e.errorAt(a.Expr.Range(), "Duration too short", "%s must be at least %s (%s), not %s.", name, m.min, m.why, e.show(a, s))
		return 0, a, false
	}
	return d, a, true
}

func (e *evaluator) stringMap(attrs hcl.Attributes, name string) (map[string]string, *hcl.Attribute, bool) {
	v, a, ok := e.value(attrs, name, cty.DynamicPseudoType)
	if !ok {
		return nil, a, false
	}
	// An object of strings (what { app = "api" } and merge() give) is
	// read directly: converting it to a map first costs more than the rest
	// of the forward.
	if ty := v.Type(); ty.IsObjectType() {
		atys := ty.AttributeTypes()
		out := make(map[string]string, len(atys))
		for k, aty := range atys {
			if aty != cty.String {
				out = nil
				break
			}
			el := v.GetAttr(k)
			if el.IsNull() {
				e.errorAt(a.Expr.Range(), "Invalid selector", "The value of label %s is null.", e.show(a, k))
				return nil, a, false
			}
			out[k] = el.AsString()
		}
		if out != nil {
			return out, a, true
		}
	}
	m, err := convert.Convert(v, cty.Map(cty.String))
	if err != nil {
		e.typeError(a, name, cty.Map(cty.String), v)
		return nil, a, false
	}
	out := make(map[string]string, m.LengthInt())
	for k, el := range m.AsValueMap() {
		if el.IsNull() {
			e.errorAt(a.Expr.Range(), "Invalid selector", "The value of label %s is null.", e.show(a, k))
			return nil, a, false
		}
		out[k] = el.AsString()
	}
	return out, a, true
}

// decodeSettings evaluates the kpf block.
func (e *evaluator) decodeSettings(rb *rawBlock, dirName string) (string, Settings) {
	name := dirName
	s := Settings{ProbeCacheTTL: DefaultProbeCacheTTL, CheckInterval: DefaultCheckInterval, MaxParallel: DefaultMaxParallel}
	if rb == nil {
		return name, s
	}
	if v, a, ok := e.str(rb.attrs, "name"); ok {
		if strings.TrimSpace(v) == "" {
			e.errorAt(a.Expr.Range(), "Invalid workspace name", "The workspace name must not be empty; remove it to use the directory name.")
		} else {
			name = v
		}
	}
	if d, _, ok := e.duration(rb.attrs, "probe_cache_ttl"); ok {
		s.ProbeCacheTTL = d
	}
	if d, _, ok := e.duration(rb.attrs, "check_interval"); ok {
		s.CheckInterval = d
	}
	if n, _, ok := e.integer(rb.attrs, "max_parallel", 1, 1<<20, "Invalid max_parallel"); ok {
		s.MaxParallel = n
	}
	if v, ok := e.runtimeName(rb.attrs); ok {
		s.Runtime = v
	}
	if v, a, ok := e.str(rb.attrs, "cluster_domain"); ok {
		if !isDNS1123Subdomain(v) {
			e.errorAt(a.Expr.Range(), "Invalid cluster_domain", "%s is not a valid domain, such as \"cluster.local\".", e.show(a, v))
		} else {
			s.ClusterDomain = v
		}
	}
	return name, s
}

// healthVal is a decoded health block; zero fields are unset (and stay
// zero: the runtimes' defaults apply).
type healthVal struct {
	kind      HealthKind
	path      string
	interval  time.Duration
	timeout   time.Duration
	threshold int
	declared  bool // a health block was written
}

// overlay returns h with every field set in o replaced.
func (h healthVal) overlay(o healthVal) healthVal {
	if o.kind != "" {
		h.kind, h.path = o.kind, o.path
	}
	if o.interval != 0 {
		h.interval = o.interval
	}
	if o.timeout != 0 {
		h.timeout = o.timeout
	}
	if o.threshold != 0 {
		h.threshold = o.threshold
	}
	h.declared = h.declared || o.declared
	return h
}

func (e *evaluator) decodeHealth(rb *rawBlock) healthVal {
	var h healthVal
	if rb == nil {
		return h
	}
	h.declared = true
	// The kind attributes, in source order, so a conflict points at the later one.
	var chosen *hcl.Attribute
	for _, a := range sortedAttrs(rb.attrs) {
		var kind HealthKind
		switch a.Name {
		case "tcp", "none":
			on, _, ok := e.boolean(rb.attrs, a.Name)
			if !ok || !on {
				continue
			}
			kind = HealthKind(a.Name)
		case "http":
			p, _, ok := e.str(rb.attrs, "http")
			if !ok {
				continue
			}
			if !strings.HasPrefix(p, "/") {
				e.errorAt(a.Expr.Range(), "Invalid health check path", "The http path must start with \"/\", e.g. \"/healthz\", not %s.", e.show(a, p))
				continue
			}
			kind, h.path = HealthHTTP, p
		default:
			continue
		}
		if chosen != nil {
			e.errorAt(a.Range, "Conflicting health checks", "Set at most one of tcp, http and none; %s is already set at %s.", chosen.Name, rangePos(chosen.Range))
			continue
		}
		chosen, h.kind = a, kind
	}
	if h.kind != HealthHTTP {
		h.path = ""
	}
	if d, _, ok := e.duration(rb.attrs, "interval"); ok {
		h.interval = d
	}
	if d, _, ok := e.duration(rb.attrs, "timeout"); ok {
		h.timeout = d
	}
	if n, _, ok := e.integer(rb.attrs, "failure_threshold", 1, 1000, "Invalid failure_threshold"); ok {
		h.threshold = n
	}
	return h
}

// defaultsVal is the evaluated defaults block.
type defaultsVal struct {
	context, namespace, address string
	health                      healthVal
	maxConns                    int             // 0: unset
	sensitive                   map[string]bool // Forward field names
	addressRedacted             bool            // address is not to be shown
	addressSet                  bool            // address was written
	hostnames                   hostnamesVal
	clusterDomain               string
}

func (e *evaluator) decodeDefaults(rb *rawBlock) defaultsVal {
	d := defaultsVal{
		address: DefaultAddress,
		health:  healthVal{kind: HealthTCP},
	}
	if rb == nil {
		return d
	}
	if v, a, ok := e.str(rb.attrs, "context"); ok {
		d.context = v
		e.record(&d.sensitive, FieldContext, a)
	}
	if v, ok := e.namespace(rb.attrs); ok {
		d.namespace = v
		e.record(&d.sensitive, FieldNamespace, rb.attrs["namespace"])
	}
	if v, ok := e.address(rb.attrs); ok {
		d.address = v
		e.record(&d.sensitive, FieldAddress, rb.attrs["address"])
		d.addressRedacted = e.redacted(rb.attrs["address"])
		d.addressSet = true
	}
	d.hostnames = e.hostnames(rb.attrs)
	if n, a, ok := e.maxConnections(rb.attrs); ok {
		d.maxConns = n
		e.record(&d.sensitive, FieldMaxConnections, a)
	}
	d.health = d.health.overlay(e.decodeHealth(rb.health))
	if e.anySensitive(rb.health) {
		d.sensitive = setField(d.sensitive, FieldHealth)
	}
	return d
}

func setField(m map[string]bool, field string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[field] = true
	return m
}

func (e *evaluator) namespace(attrs hcl.Attributes) (string, bool) {
	v, a, ok := e.str(attrs, "namespace")
	if !ok {
		return "", false
	}
	if !isDNS1123Label(v) {
		e.errorAt(a.Expr.Range(), "Invalid namespace", "%s is not a valid namespace: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit.", e.show(a, v))
		return "", false
	}
	return v, true
}

func (e *evaluator) address(attrs hcl.Attributes) (string, bool) {
	v, a, ok := e.str(attrs, "address")
	if !ok {
		return "", false
	}
	ip, ok := parseAddress(v)
	if !ok {
		e.errorAt(a.Expr.Range(), "Invalid address", "The address must be an IP literal such as \"127.0.0.1\" or \"::1\", not %s.", e.show(a, v))
		return "", false
	}
	if !ip.IsLoopback() {
		e.warnAt(a.Expr.Range(), "Address is not loopback", "Binding %s exposes the forward to other machines; use 127.0.0.1 unless that is intended.", e.showRaw(a, ip.String()))
	}
	return ip.String(), true
}

// forwardInfo is a built forward and the attributes it was built from, for
// checks across forwards.
type forwardInfo struct {
	f     Forward
	attrs hcl.Attributes
	// portRedacted: the local address or port is not to be shown.
	portRedacted bool
	// hostnames is where the forward's hostnames were written (its own
	// attribute, else the defaults').
	hostnames hcl.Range
}

func (e *evaluator) decodeForward(rf *rawNamed, defs defaultsVal) *forwardInfo {
	attrs := rf.attrs
	f := Forward{
		Name:      rf.name,
		Context:   defs.context,
		Namespace: defs.namespace,
		Address:   defs.address,
		Enabled:   true,
		// MaxConnections: the defaults', else 0 (the runtime's default).
		MaxConnections: defs.maxConns,
		Decl:           Pos{File: rf.decl.Filename, Line: rf.decl.Start.Line, Column: rf.decl.Start.Column},
	}
	for k := range defs.sensitive {
		f.Sensitive = setField(f.Sensitive, k)
	}

	e.decodeTarget(&f, rf)
	if v, a, ok := e.str(attrs, "context"); ok {
		f.Context = v
		e.record(&f.Sensitive, FieldContext, a)
	}
	if v, ok := e.namespace(attrs); ok {
		f.Namespace = v
		e.record(&f.Sensitive, FieldNamespace, attrs["namespace"])
	}
	if v, ok := e.address(attrs); ok {
		f.Address = v
		e.record(&f.Sensitive, FieldAddress, attrs["address"])
	}
	hn := defs.hostnames
	if own := e.hostnames(attrs); own.set {
		hn = own
	}
	e.applyHostnames(&f, hn, defs.clusterDomain)
	_, ownAddress := attrs["address"]
	f.AutoAddress = len(f.Hostnames) > 0 && !ownAddress && !defs.addressSet
	if n, a, ok := e.integer(attrs, "local_port", 0, 65535, "Invalid local port"); ok {
		f.LocalPort = n
		e.record(&f.Sensitive, FieldLocalPort, a)
	}
	if _, ok := attrs["remote_port"]; !ok {
		e.errorAt(rf.decl, "Missing remote_port", "Forward %q needs a remote_port: a port number or a named port of the target.", rf.name)
	} else if p, ok := e.remotePort(attrs); ok {
		f.RemotePort = p
		e.record(&f.Sensitive, FieldRemotePort, attrs["remote_port"])
	}
	if _, own := attrs["local_port"]; f.AutoAddress && !own {
		// A named forward has an address of its own: it binds the
		// service's own port, as in the cluster.
		if n, err := strconv.Atoi(f.RemotePort); err == nil {
			f.LocalPort = n
		}
	}
	e.decodeOptions(&f, attrs)
	h := defs.health.overlay(e.decodeHealth(rf.health))
	if e.anySensitive(rf.health) {
		f.Sensitive = setField(f.Sensitive, FieldHealth)
	}
	f.Health = Health{Kind: h.kind, HTTPPath: h.path, Interval: h.interval, Timeout: h.timeout, FailureThreshold: h.threshold, Declared: h.declared}
	redacted := e.redacted(attrs["local_port"]) || e.redacted(attrs["address"])
	if _, own := attrs["address"]; !own {
		redacted = redacted || defs.addressRedacted
	}
	return &forwardInfo{f: f, attrs: attrs, portRedacted: redacted, hostnames: hn.rng}
}

// decodeTarget sets what f forwards to: its target or its selector,
// exactly one of them.
func (e *evaluator) decodeTarget(f *Forward, rf *rawNamed) {
	attrs := rf.attrs
	_, hasTarget := attrs["target"]
	_, hasSelector := attrs["selector"]
	switch {
	case hasTarget && hasSelector:
		e.errorAt(attrs["selector"].Range, "Conflicting target and selector", "Forward %q sets both target (at %s) and selector; set exactly one.", rf.name, rangePos(attrs["target"].Range))
	case !hasTarget && !hasSelector:
		e.errorAt(rf.decl, "Missing target", "Forward %q needs a target (e.g. target = \"service/api\") or a selector (e.g. selector = { app = \"api\" }).", rf.name)
	}
	if v, a, ok := e.str(attrs, "target"); ok {
		t, why := parseTarget(v)
		if why != "" {
			if e.redacted(a) {
				e.errorAt(a.Expr.Range(), "Invalid target", "%s is not a valid target: a target is KIND/NAME, e.g. service/api, with KIND one of service (svc), pod (po), deployment (deploy) or statefulset (sts).", e.show(a, v))
			} else {
				e.errorAt(a.Expr.Range(), "Invalid target", "%q is not a valid target: %s.", v, why)
			}
		}
		f.Target = t
		e.record(&f.Sensitive, FieldTarget, a)
	}
	if m, a, ok := e.stringMap(attrs, "selector"); ok {
		e.checkSelector(a, m)
		f.Selector = m
		e.record(&f.Sensitive, FieldSelector, a)
	}
}

// decodeOptions sets f's enabled, runtime, max_connections and open.
func (e *evaluator) decodeOptions(f *Forward, attrs hcl.Attributes) {
	if v, a, ok := e.boolean(attrs, "enabled"); ok {
		f.Enabled = v
		e.record(&f.Sensitive, FieldEnabled, a)
	}
	if v, ok := e.runtimeName(attrs); ok {
		f.Runtime = v
	}
	if n, a, ok := e.maxConnections(attrs); ok {
		f.MaxConnections = n
		e.record(&f.Sensitive, FieldMaxConnections, a)
	}
	if v, a, ok := e.str(attrs, "open"); ok {
		if !strings.HasPrefix(v, "/") {
			e.errorAt(a.Expr.Range(), "Invalid open path", "open is the URL path to open, starting with \"/\" (e.g. \"/swagger/\"), not %s.", e.show(a, v))
		} else {
			f.Open = v
			e.record(&f.Sensitive, FieldOpen, a)
		}
	}
}

// maxConnections evaluates max_connections: a whole number from 1.
func (e *evaluator) maxConnections(attrs hcl.Attributes) (int, *hcl.Attribute, bool) {
	return e.integer(attrs, "max_connections", 1, model.MaxMaxConnections, "Invalid max_connections")
}

// runtimeName evaluates a runtime attribute: "native" or "kubectl".
func (e *evaluator) runtimeName(attrs hcl.Attributes) (string, bool) {
	v, a, ok := e.str(attrs, "runtime")
	if !ok {
		return "", false
	}
	if !slices.Contains(model.Runtimes, v) {
		e.errorAt(a.Expr.Range(), "Invalid runtime", "runtime is %q (kpf serves the forward itself, the default) or %q (a kubectl port-forward process per forward), not %q.", model.RuntimeNative, model.RuntimeKubectl, v)
		return "", false
	}
	return v, true
}

func (e *evaluator) checkSelector(a *hcl.Attribute, m map[string]string) {
	if len(m) == 0 {
		e.errorAt(a.Expr.Range(), "Invalid selector", "A selector needs at least one label, e.g. { app = \"api\" }.")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !isLabelKey(k) {
			e.errorAt(a.Expr.Range(), "Invalid selector", "%s is not a valid label key.", e.show(a, k))
		}
		if !isLabelName(m[k], true) {
			e.errorAt(a.Expr.Range(), "Invalid selector", "%s is not a valid value for label %s.", e.show(a, m[k]), e.show(a, k))
		}
	}
}

// remotePort evaluates remote_port: a number 1–65535 or a port name.
func (e *evaluator) remotePort(attrs hcl.Attributes) (string, bool) {
	v, a, ok := e.value(attrs, "remote_port", cty.DynamicPseudoType)
	if !ok {
		return "", false
	}
	switch v.Type() {
	case cty.Number:
		n, _, ok := e.checkInt(a, v.AsBigFloat(), 1, 65535, "Invalid remote port")
		return strconv.Itoa(n), ok
	case cty.String:
		s := v.AsString()
		if n, err := strconv.Atoi(s); err == nil {
			if n < 1 || n > 65535 {
				e.errorAt(a.Expr.Range(), "Invalid remote port", "remote_port must be a whole number from 1 to 65535, not %s.", e.showRaw(a, s))
				return "", false
			}
			return strconv.Itoa(n), true
		}
		if !isPortName(s) {
			e.errorAt(a.Expr.Range(), "Invalid remote port", "%s is neither a port number nor a port name (at most 15 lower-case letters, digits and '-', with at least one letter).", e.show(a, s))
			return "", false
		}
		return s, true
	}
	e.errorAt(a.Expr.Range(), "Incorrect attribute value type", "remote_port must be a number or a port name, not %s.", v.Type().FriendlyName())
	return "", false
}

// checkPorts reports enabled forwards that ask for the same local port on
// the same address (or on a wildcard address that covers it).
func (e *evaluator) checkPorts(infos []*forwardInfo) {
	seen := map[int][]*forwardInfo{}
	for _, fi := range infos {
		f := fi.f
		if !f.Enabled || f.LocalPort == 0 || f.AutoAddress {
			continue // an automatic address is the forward's own
		}
		for _, prev := range seen[f.LocalPort] {
			if !addressesOverlap(prev.f.Address, f.Address) {
				continue
			}
			a := fi.attrs["local_port"]
			where := model.HostPort(f.Address, f.LocalPort)
			if fi.portRedacted || prev.portRedacted {
				where = "the same local address and port (not shown: they come from a sensitive variable, --var or KPF_VAR_name)"
			}
			e.errorAt(a.Expr.Range(), "Duplicate local port",
				"Forward %q uses %s, already used by forward %q at %s.",
				f.Name, where, prev.f.Name, rangePos(prev.attrs["local_port"].Expr.Range()))
			break
		}
		seen[f.LocalPort] = append(seen[f.LocalPort], fi)
	}
}

func addressesOverlap(a, b string) bool {
	if a == b {
		return true
	}
	pa, oka := parseAddress(a)
	pb, okb := parseAddress(b)
	if !oka || !okb {
		return false
	}
	return pa.IsUnspecified() && pa.Is4() == pb.Is4() || pb.IsUnspecified() && pa.Is4() == pb.Is4()
}
