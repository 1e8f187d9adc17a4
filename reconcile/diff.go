package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/reconcile/ports"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// Reasons Diff gives for stopping a forward.
const (
	ReasonDisabled = "disabled in spec"
	ReasonRemoved  = "removed from spec"
)

// ResolveContexts returns a copy of fs in which every forward without a
// context gets current, the kube context in effect at plan time. From then on
// the context is part of the forward's identity: switching kubectl's context
// later does not move a running forward.
func ResolveContexts(fs []model.Forward, current string) []model.Forward {
	out := slices.Clone(fs)
	for i := range out {
		if out[i].Context == "" {
			out[i].Context = current
		}
	}
	return out
}

// SpecHash identifies the fields that shape a forward's process: target,
// selector, context, namespace, address, remote port, the local port the
// spec asks for (not the one resolved), max_connections when set and the
// health check when a health block sets one (unset, each leaves the hash as
// it was before it entered: upgrading kpf replaces no forward without
// them). Open and enabled are not part of it. No runtime can change a
// running forward's cap or health check (the agent checks its forwards with
// the health it started them with), so a new max_connections or health
// block replaces the forward.
func SpecHash(f model.Forward) string {
	sum := specSum(&f)
	return hex.EncodeToString(sum[:])
}

// specHashIs reports whether SpecHash(*f) == h without allocating: Diff
// asks this of every running forward on every pass.
func specHashIs(f *model.Forward, h string) bool {
	sum := specSum(f)
	var dst [2 * len(sum)]byte
	if len(h) != len(dst) {
		return false
	}
	hex.Encode(dst[:], sum[:])
	return string(dst[:]) == h
}

// specSum is the first half of the SHA-256 of the fields SpecHash covers.
func specSum(f *model.Forward) [sha256.Size / 2]byte {
	var buf [256]byte
	b := append(buf[:0], "kpf-forward-v1"...)
	field := func(s string) {
		b = append(b, 0)
		b = append(b, s...)
	}
	field(f.Target.Kind)
	field(f.Target.Name)
	if len(f.Selector) > 0 {
		var kbuf [8]string // selectors rarely have more labels
		keys := slices.AppendSeq(kbuf[:0], maps.Keys(f.Selector))
		slices.Sort(keys)
		for _, k := range keys {
			field(k)
			b = append(b, '=')
			b = append(b, f.Selector[k]...)
		}
	}
	field(f.Context)
	field(f.Namespace)
	field(f.Address)
	field(f.RemotePort)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(f.LocalPort), 10)
	if f.MaxConnections != 0 {
		field("max_connections=")
		b = strconv.AppendInt(b, int64(f.MaxConnections), 10)
	}
	if h := &f.Health; !isDefaultHealth(h) {
		field("health=")
		field(string(h.Kind))
		field(h.HTTPPath)
		for _, n := range [...]int64{int64(h.Interval), int64(h.Timeout), int64(h.FailureThreshold)} {
			b = append(b, 0)
			b = strconv.AppendInt(b, n, 10)
		}
		b = strconv.AppendBool(append(b, 0), h.Declared)
	}
	if len(f.Hostnames) > 0 { // absent: the hash of forwards without names is unchanged
		field("hostnames=")
		for _, h := range f.Hostnames {
			field(h)
		}
	}
	sum := sha256.Sum256(b)
	return [sha256.Size / 2]byte(sum[:sha256.Size/2])
}

// Diff computes the plan that makes actual match desired. desired holds
// every forward of the workspace, disabled ones included, with contexts
// already resolved (ResolveContexts). ports answers whether a local port is
// free; Diff asks it about candidate ports only. Diff is pure: no I/O beyond
// the checker, no clock.
//
// Rules, per forward: enabled and not running → Start; running but disabled
// or gone from the spec → Stop; process-shaping fields changed (SpecHash) →
// Replace; process dead → Restart; alive but unhealthy → Restart; else NoOp.
// A forward whose last start failed (no process) is started again. Ports are
// resolved for Start, Replace and Restart (see ports.Resolver): the wanted
// port if usable, else the one chosen earlier if still usable, else the next
// free one above the wanted one; a port a forward asks for by number goes to
// it before any other forward's fallback, and no two forwards of a plan get
// the same port. A running forward that is left alone keeps its port, unless
// it runs off the port it asked for and that port is free again (then it is
// restarted there), or another forward asks for the port it runs on by
// number (then it is restarted on the next free one above its wanted port;
// Apply stops it before it starts the other there). Changes are sorted by
// name.
//
// Diff is longer than a screen on purpose: it is the rule table of the
// plan, pure and read top to bottom (each rule a case); split, its order
// would hide in calls.
func Diff(desired []model.Forward, actual Actual, checker PortChecker) Plan {
	fs := slices.Clone(desired)
	if !slices.IsSortedFunc(fs, byForwardName) {
		slices.SortStableFunc(fs, byForwardName)
	}
	changes := make([]Change, 0, len(fs)+len(actual))
	// Requests of forwards that run or ran come first, so a newcomer never
	// takes the port of a forward that already had one.
	reqs := make([]ports.Request, 0, len(fs))
	reqIdx := make([]int, 0, len(fs)) // change index of each request
	var newReqs []ports.Request
	var newIdx []int
	inSpec := make(map[string]struct{}, len(fs))
	// One backing array for the Prior copies; its capacity is never exceeded,
	// so the pointers stay valid.
	priors := make([]state.Forward, 0, len(actual))
	prior := func(s state.Forward) *state.Forward {
		priors = append(priors, s)
		return &priors[len(priors)-1]
	}

	for i := range fs {
		f := &fs[i]
		inSpec[f.Name] = struct{}{}
		obs, running := actual[f.Name]
		c := Change{Name: f.Name, Desired: f}
		if running {
			c.Prior = prior(obs.State)
		}
		req := ports.Request{Address: f.Address, Wanted: f.LocalPort}
		if c.Prior != nil {
			if c.Prior.WantedPort == f.LocalPort && c.Prior.Address == f.Address {
				req.Sticky = c.Prior.LocalPort
			}
			if obs.Alive {
				req.Own = c.Prior.LocalPort
			}
		}
		switch {
		case !f.Enabled && running:
			c.Action, c.Reason, c.Desired = Stop, ReasonDisabled, nil
			c.Port = c.Prior.LocalPort
		case !f.Enabled:
			c.Reason = ReasonDisabled
		case !running:
			c.Action = Start
		case !specHashIs(f, obs.State.SpecHash) || runtimeMoves(obs, f):
			c.Action = Replace
			c.Fields = replaceFields(c.Prior, f)
			c.Reason = replaceReason(c.Fields)
		case obs.State.Handle.IsZero():
			c.Action = Start
			c.Reason = withDetail("previous start failed", lastError(obs))
		case !obs.Alive:
			c.Action = Restart
			c.Reason = withDetail("forward exited", lastError(obs))
		case obs.Health == HealthUnhealthy && !obs.Runtime.Heals:
			c.Action = Restart
			c.Reason = withDetail("health check failing", obs.HealthError)
		default:
			c.Port = c.Prior.LocalPort
			req = ports.Request{Address: c.Prior.Address, Keep: c.Prior.LocalPort}
			if f.LocalPort > 0 && c.Prior.LocalPort != f.LocalPort {
				// Off the port it asked for (it was taken): back to it
				// once it is free, else where it is.
				req.Wanted = f.LocalPort
			}
		}
		switch {
		case c.Prior == nil && c.Action == Start:
			newReqs = append(newReqs, req)
			newIdx = append(newIdx, len(changes))
		case c.Action == Start || c.Action == Replace || c.Action == Restart || req.Keep > 0:
			reqs = append(reqs, req)
			reqIdx = append(reqIdx, len(changes))
		}
		changes = append(changes, c)
	}
	var gone []string // running, not in the spec
	for name := range actual {
		if _, ok := inSpec[name]; !ok {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		st := actual[name].State
		changes = append(changes, Change{
			Name: name, Action: Stop, Reason: ReasonRemoved,
			Port: st.LocalPort, Prior: prior(st),
		})
	}

	reqs, reqIdx = append(reqs, newReqs...), append(reqIdx, newIdx...)
	got := ports.ResolvePorts(reqs, checker)
	var contested []int // requests moved off a port someone else holds
	for ri, ci := range reqIdx {
		c := &changes[ci]
		c.Port = got[ri]
		wanted := reqs[ri].Wanted
		if keep := reqs[ri].Keep; keep > 0 {
			switch {
			case c.Port == keep:
				continue
			case c.Port == wanted: // a running forward moves back to its port
				c.Action = Restart
				c.Reason = fmt.Sprintf("port %d is free again: moving back from %d", c.Port, keep)
				continue
			}
			// Off its wanted port, it yields the one it has to a forward
			// that asks for it by number.
			c.Action = Restart
			c.Reason = fmt.Sprintf("port %d is asked for by forward.%s", keep, claimer(keep, reqs[ri].Address, ri, reqs, reqIdx, got, changes))
		}
		switch {
		case c.Port == 0:
			from := wanted
			if from == 0 {
				from = ports.AutoBase
			}
			c.PortMove = &PortMove{Wanted: wanted, Reason: fmt.Sprintf("no free port at or above %d", from)}
		case wanted == 0 || c.Port == wanted:
		case c.Port == reqs[ri].Sticky:
			c.PortMove = &PortMove{Wanted: wanted, Got: c.Port,
				Reason: fmt.Sprintf("keeping port %d chosen earlier", c.Port)}
		default:
			contested = append(contested, ri)
		}
	}
	if len(contested) > 0 {
		holders := portHolders(contested, reqs, reqIdx, got, changes, actual)
		for _, ri := range contested {
			c, wanted := &changes[reqIdx[ri]], reqs[ri].Wanted
			reason := fmt.Sprintf("port %d is in use by another program", wanted)
			if h := holders.of(wanted, reqs[ri].Address, c.Name); h != "" {
				reason = fmt.Sprintf("port %d is used by forward.%s", wanted, h)
			}
			c.PortMove = &PortMove{Wanted: wanted, Got: c.Port, Reason: reason}
		}
	}
	slices.SortStableFunc(changes, func(a, b Change) int { return strings.Compare(a.Name, b.Name) })
	return Plan{Changes: changes}
}

// Fail marks forwards that cannot be planned: each change of one of them
// is dropped (whatever runs of it is left as it is: not started, stopped or
// replaced) and the error is listed in p.Errors instead. Diff is given the
// other forwards only, so a running forward that failed shows up as a Stop
// here, and is dropped like the rest.
func (p *Plan) Fail(errs []ForwardError) {
	if len(errs) == 0 {
		return
	}
	bad := make(map[string]bool, len(errs))
	for _, e := range errs {
		bad[e.Name] = true
	}
	p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return bad[c.Name] })
	p.Errors = append(p.Errors, errs...)
	slices.SortStableFunc(p.Errors, func(a, b ForwardError) int { return strings.Compare(a.Name, b.Name) })
}

// claimer names the forward of the plan that got port on an address
// conflicting with address, other than request self.
func claimer(port int, address string, self int, reqs []ports.Request, reqIdx, got []int, changes []Change) string {
	for j, p := range got {
		if j != self && p == port && addressesConflict(reqs[j].Address, address) {
			return changes[reqIdx[j]].Name
		}
	}
	return "?"
}

// HasChanges reports whether applying the plan would do anything.
func (p Plan) HasChanges() bool {
	for i := range p.Changes {
		if p.Changes[i].Action != NoOp {
			return true
		}
	}
	return false
}

// Summary counts a plan's changes by action.
type Summary struct {
	Start   int `json:"start"`
	Stop    int `json:"stop"`
	Replace int `json:"replace"`
	Restart int `json:"restart"`
	NoOp    int `json:"no_op"`
}

// Summary counts the plan's changes by action.
func (p Plan) Summary() Summary {
	var s Summary
	for i := range p.Changes {
		switch p.Changes[i].Action {
		case Start:
			s.Start++
		case Stop:
			s.Stop++
		case Replace:
			s.Replace++
		case Restart:
			s.Restart++
		default:
			s.NoOp++
		}
	}
	return s
}

// portIndex maps a port to the forwards of this workspace that hold it: a
// running process, or an assignment of this plan.
type portIndex map[int][]portHolder

type portHolder struct{ name, address string }

// portHolders indexes the holders of the ports the contested requests
// wanted, and of no other port.
func portHolders(contested []int, reqs []ports.Request, reqIdx, got []int, changes []Change, actual Actual) portIndex {
	m := make(portIndex, len(contested))
	for _, ri := range contested {
		m[reqs[ri].Wanted] = nil
	}
	for name := range actual {
		o := actual[name]
		if _, ok := m[o.State.LocalPort]; ok && o.Alive {
			m[o.State.LocalPort] = append(m[o.State.LocalPort], portHolder{name, o.State.Address})
		}
	}
	for j, p := range got {
		if _, ok := m[p]; ok {
			m[p] = append(m[p], portHolder{changes[reqIdx[j]].Name, reqs[j].Address})
		}
	}
	return m
}

// of names the holder of port on an address conflicting with address, other
// than self; the first by name if several, "" if none.
func (m portIndex) of(port int, address, self string) string {
	best := ""
	for _, h := range m[port] {
		if h.name != self && addressesConflict(h.address, address) && (best == "" || h.name < best) {
			best = h.name
		}
	}
	return best
}

func byForwardName(a, b model.Forward) int { return strings.Compare(a.Name, b.Name) }

func addressesConflict(a, b string) bool {
	return a == b || ports.IsWildcard(a) || ports.IsWildcard(b)
}

// lastError is the forward's last logged error, without kubectl's "error: "
// prefix.
func lastError(o Observed) string {
	e := o.LastError
	if e == "" {
		e = o.State.LastError
	}
	return strings.TrimPrefix(e, "error: ")
}

func withDetail(reason, detail string) string {
	if detail == "" {
		return reason
	}
	return reason + ": " + detail
}

// replaceFields lists the process-shaping fields that differ between what
// runs (prior) and the spec (f); each forces a replacement.
func replaceFields(prior *state.Forward, f *model.Forward) []FieldChange {
	var out []FieldChange
	add := func(field, before, after string) {
		if before != after {
			out = append(out, FieldChange{Field: field, Before: before, After: after, ForcesReplace: true})
		}
	}
	add("target", prior.Target, f.Target.String())
	add("selector", runtime.FormatSelector(prior.Selector), runtime.FormatSelector(f.Selector))
	add("context", prior.Context, f.Context)
	add("namespace", prior.Namespace, f.Namespace)
	add("address", prior.Address, f.Address)
	add("local_port", FormatWantedPort(prior.WantedPort), FormatWantedPort(f.LocalPort))
	add("remote_port", prior.RemotePort, f.RemotePort)
	add("max_connections", formatMaxConnections(prior.MaxConnections), formatMaxConnections(f.MaxConnections))
	add("health", prior.Health, FormatHealth(f.Health))
	// The names are recorded at the start and written to the hosts file
	// from there: new names need a new record (and, for a forward whose
	// address kpf chose, maybe another address).
	add("hostnames", strings.Join(prior.Hostnames, ", "), strings.Join(f.Hostnames, ", "))
	if prior.Handle.Runtime != "" && f.Runtime != "" {
		add("runtime", prior.Handle.Runtime, f.Runtime)
	}
	return out
}

// runtimeMoves reports whether a live forward runs in another runtime than
// the spec asks for (a migration: kubectl to native, or back).
func runtimeMoves(obs Observed, f *model.Forward) bool {
	h := obs.State.Handle
	return obs.Alive && f.Runtime != "" && !h.IsZero() && h.Runtime != f.Runtime
}

func replaceReason(fields []FieldChange) string {
	if len(fields) == 0 {
		return "spec changed"
	}
	names := make([]string, len(fields))
	for i, fc := range fields {
		names[i] = fc.Field
	}
	return "spec changed: " + strings.Join(names, ", ")
}

// isDefaultHealth reports whether h is what a forward without a health
// block gets: no check declared, the default kind (tcp, or unset).
func isDefaultHealth(h *model.Health) bool {
	return *h == model.Health{} || *h == model.Health{Kind: model.HealthTCP}
}

// FormatHealth renders a forward's health check as its spec block would
// read: { http = "/healthz", interval = "5s" }; "" for no health block.
func FormatHealth(h model.Health) string {
	if isDefaultHealth(&h) {
		return ""
	}
	kind := h.Kind
	if kind == "" {
		kind = model.HealthTCP
	}
	parts := make([]string, 0, 5)
	if kind == model.HealthHTTP {
		parts = append(parts, "http = "+strconv.Quote(h.HTTPPath))
	} else {
		parts = append(parts, string(kind)+" = true")
	}
	if h.Interval != 0 {
		parts = append(parts, "interval = "+strconv.Quote(h.Interval.String()))
	}
	if h.Timeout != 0 {
		parts = append(parts, "timeout = "+strconv.Quote(h.Timeout.String()))
	}
	if h.FailureThreshold != 0 {
		parts = append(parts, "failure_threshold = "+strconv.Itoa(h.FailureThreshold))
	}
	if !h.Declared {
		parts = append(parts, "declared = false")
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func formatMaxConnections(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

// FormatWantedPort renders a local_port as the spec gives it: the number,
// or "auto" for 0 (any port).
func FormatWantedPort(p int) string {
	if p == 0 {
		return "auto"
	}
	return strconv.Itoa(p)
}
