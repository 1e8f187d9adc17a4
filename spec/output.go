package spec

import (
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/kpf-dev/kpf/spec/model"
)

// Output blocks, as Terraform's:
//
//	output "DATABASE_URL" {
//	  value       = "postgres://app@${forward.db.address}/app"
//	  description = "the database, through its forward"
//	  sensitive   = false
//	}
//
// Their values depend on what runs (the port a forward actually got), not
// on the spec's wish, so a load keeps their expressions, checks them
// against every forward's attributes left unknown (a reference to an
// unknown forward, attribute or output, a cycle or a type error is a
// diagnostic with its place), and Outputs.Eval evaluates them later with a
// forward object built from state. Besides var, local and the functions,
// an output's value may use forward.NAME.host, .port, .address and .url,
// and output.NAME (another output; cycles are errors).

// forwardAttrs are the attributes of forward.NAME in an output's value.
var forwardAttrs = map[string]cty.Type{
	"host":    cty.String,
	"port":    cty.Number,
	"address": cty.String,
	"url":     cty.String,
}

// Outputs are the workspace's output blocks with what their evaluation
// needs (variables, locals, functions). The zero value has no outputs.
type Outputs struct {
	ctx *hcl.EvalContext
	// list is in evaluation order: an output after those it refers to.
	list []*outputDecl
	// open is each declared forward's open path (for .url).
	open map[string]string
}

type outputDecl struct {
	name        string
	expr        hcl.Expression
	description string
	sensitive   bool
	decl        hcl.Range
	forwards    []string // forward.NAME references, sorted, unique
	outputs     []string // output.NAME references
	badRefs     bool     // a reference was reported: not evaluated at load
}

// Names returns the output names, sorted.
func (o *Outputs) Names() []string {
	if o == nil {
		return nil
	}
	out := make([]string, len(o.list))
	for i, d := range o.list {
		out[i] = d.name
	}
	sort.Strings(out)
	return out
}

// Len is the number of outputs.
func (o *Outputs) Len() int {
	if o == nil {
		return 0
	}
	return len(o.list)
}

// Eval evaluates every output with forward.NAME built from endpoints: the
// forwards that run, by name, with the port they actually use (Port 0: not
// chosen yet, so values that use it are unknown). A declared forward
// missing from endpoints is not running: outputs that refer to it are not
// Known and name it in Missing. Outputs come sorted by name.
func (o *Outputs) Eval(endpoints map[string]model.Endpoint) []model.Output {
	if o == nil || len(o.list) == 0 {
		return nil
	}
	fw := make(map[string]cty.Value, len(o.open))
	for name := range o.open {
		ep, ok := endpoints[name]
		if !ok {
			fw[name] = unknownForward()
			continue
		}
		port := cty.UnknownVal(cty.Number)
		addr, url := cty.UnknownVal(cty.String), cty.UnknownVal(cty.String)
		if ep.Port != 0 {
			port = cty.NumberIntVal(int64(ep.Port))
			addr, url = cty.StringVal(ep.Address), cty.StringVal(ep.URL)
		}
		fw[name] = cty.ObjectVal(map[string]cty.Value{
			"host": cty.StringVal(ep.Host), "port": port, "address": addr, "url": url,
		})
	}
	vars := make(map[string]cty.Value, len(o.ctx.Variables)+2)
	for k, v := range o.ctx.Variables {
		vars[k] = v
	}
	vars["forward"] = cty.ObjectVal(fw)
	ctx := &hcl.EvalContext{Variables: vars, Functions: o.ctx.Functions}
	vals := make(map[string]cty.Value, len(o.list))
	missing := make(map[string][]string, len(o.list))
	out := make([]model.Output, 0, len(o.list))
	for _, d := range o.list {
		setOutputRefs(vars, d, vals)
		val, diags := checkedValue(d.expr, ctx)
		if diags.HasErrors() {
			val = cty.DynamicVal
		}
		vals[d.name] = val
		res := model.Output{
			Name: d.name, Description: d.description, Sensitive: d.sensitive,
			Decl: Pos{File: d.decl.Filename, Line: d.decl.Start.Line, Column: d.decl.Start.Column},
		}
		seen := map[string]bool{}
		for _, f := range d.forwards {
			if ep, ok := endpoints[f]; (!ok || ep.Port == 0) && !seen[f] {
				seen[f] = true
				res.Missing = append(res.Missing, f)
			}
		}
		for _, dep := range d.outputs {
			for _, f := range missing[dep] {
				if !seen[f] {
					seen[f] = true
					res.Missing = append(res.Missing, f)
				}
			}
		}
		sort.Strings(res.Missing)
		missing[d.name] = res.Missing
		plain, marks := val.UnmarkDeep()
		if marks.Has(sensitiveMark) {
			res.Sensitive = true
		}
		if plain.IsWhollyKnown() && !plain.IsNull() {
			res.Known = true
			res.Type = typeName(plain.Type())
			res.Text, res.JSON = valueText(plain)
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// setOutputRefs sets output in vars to the outputs d refers to (only
// those: an object of every output so far, built per output, made the
// evaluation of n outputs quadratic).
func setOutputRefs(vars map[string]cty.Value, d *outputDecl, vals map[string]cty.Value) {
	if len(d.outputs) == 0 {
		delete(vars, "output")
		return
	}
	refs := make(map[string]cty.Value, len(d.outputs))
	for _, n := range d.outputs {
		if v, ok := vals[n]; ok {
			refs[n] = v
		} else {
			refs[n] = cty.DynamicVal
		}
	}
	vars["output"] = cty.ObjectVal(refs)
}

func unknownForward() cty.Value {
	attrs := make(map[string]cty.Value, len(forwardAttrs))
	for k, ty := range forwardAttrs {
		attrs[k] = cty.UnknownVal(ty)
	}
	return cty.ObjectVal(attrs)
}

// typeName renders ty as a spec would write it.
func typeName(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return "string"
	case ty == cty.Number:
		return "number"
	case ty == cty.Bool:
		return "bool"
	case ty.IsListType() || ty.IsTupleType():
		return "list"
	case ty.IsSetType():
		return "set"
	case ty.IsMapType() || ty.IsObjectType():
		return "map"
	}
	return ty.FriendlyName()
}

// valueText is v as a string (strings as they are, numbers and bools as
// text, anything else as JSON) and as JSON.
func valueText(v cty.Value) (string, []byte) {
	js, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		js = []byte("null")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), js
	case cty.Number:
		return formatNumber(v.AsBigFloat()), js
	case cty.Bool:
		if v.True() {
			return "true", js
		}
		return "false", js
	}
	return string(js), js
}

func formatNumber(f *big.Float) string {
	if f.IsInt() {
		i, _ := f.Int(nil)
		return i.String()
	}
	return f.Text('g', -1)
}

// decodeOutputs checks the output blocks and keeps them for Eval: e's
// context holds var and local; forwards are the declared ones.
func (e *evaluator) decodeOutputs(m *rawModule, forwards []*forwardInfo) *Outputs {
	if len(m.outputs) == 0 {
		return nil // Load keeps none
	}
	o := &Outputs{open: make(map[string]string, len(forwards))}
	for _, fi := range forwards {
		o.open[fi.f.Name] = fi.f.Open
	}
	names := make([]string, 0, len(m.outputs))
	for name := range m.outputs {
		names = append(names, name)
	}
	sort.Strings(names)

	decls := make(map[string]*outputDecl, len(names))
	deps := make(map[string][]string, len(names))
	for _, name := range names {
		if d := e.decodeOutput(m, name, o.open); d != nil {
			decls[name], deps[name] = d, d.outputs
		}
	}
	o.list = e.orderOutputs(m, names, decls, deps)
	e.checkOutputs(o)
	o.ctx = &hcl.EvalContext{Variables: e.ctx.Variables, Functions: e.ctx.Functions}
	return o
}

// decodeOutput checks output name and the forwards and outputs it refers
// to (nil: it has no value).
func (e *evaluator) decodeOutput(m *rawModule, name string, open map[string]string) *outputDecl {
	ro := m.outputs[name]
	d := &outputDecl{name: name, decl: ro.decl}
	a, ok := ro.attrs["value"]
	if !ok {
		e.errorAt(ro.decl, "Missing output value", "Output %q needs a value: value = forward.NAME.address, for example.", name)
		return nil
	}
	d.expr = a.Expr
	e.scope.guard(&d.expr)
	if v, _, ok := e.str(ro.attrs, "description"); ok {
		d.description = v
	}
	if v, _, ok := e.boolean(ro.attrs, "sensitive"); ok {
		d.sensitive = v
	}
	seen := map[string]bool{}
	reported := len(e.diags)
	for _, tr := range a.Expr.Variables() {
		switch tr.RootName() {
		case "forward":
			f, ok := e.forwardRef(tr, open)
			if ok && !seen[f] {
				seen[f] = true
				d.forwards = append(d.forwards, f)
			}
		case "output":
			if len(tr) < 2 {
				e.errorAt(tr.SourceRange(), "Invalid output reference", "Refer to another output as output.NAME.")
				continue
			}
			step, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				e.errorAt(tr.SourceRange(), "Invalid output reference", "Refer to another output as output.NAME.")
				continue
			}
			if _, declared := m.outputs[step.Name]; !declared {
				e.errorAt(tr.SourceRange(), "Reference to undeclared output", "No output %q is declared.", step.Name)
				continue
			}
			d.outputs = append(d.outputs, step.Name)
		}
	}
	sort.Strings(d.forwards)
	d.badRefs = len(e.diags) > reported
	return d
}

// orderOutputs puts each output after those it refers to; a cycle is an
// error naming every output in it.
func (e *evaluator) orderOutputs(m *rawModule, names []string, decls map[string]*outputDecl, deps map[string][]string) []*outputDecl {
	var list []*outputDecl
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		switch mark[name] {
		case done:
			return
		case visiting:
			cycle := cyclePath(stack, name)
			parts := make([]string, len(cycle))
			for i, n := range cycle {
				parts[i] = fmt.Sprintf("output.%s (%s)", n, rangePos(m.outputs[n].decl))
			}
			e.errorAt(m.outputs[name].decl, "Cycle in outputs", "Outputs refer to each other in a cycle: %s.", strings.Join(parts, " → "))
			return
		}
		mark[name] = visiting
		stack = append(stack, name)
		for _, dep := range deps[name] {
			visit(dep)
		}
		stack = stack[:len(stack)-1]
		mark[name] = done
		if d := decls[name]; d != nil {
			list = append(list, d)
		}
	}
	for _, name := range names {
		visit(name)
	}

	return list
}

// checkOutputs evaluates every output once with every forward attribute
// unknown: functions, types and attribute names are checked now, not when
// the forwards run.
func (e *evaluator) checkOutputs(o *Outputs) {
	if len(o.list) == 0 {
		return // nothing to check: no object of unknown forwards to build
	}
	vars := make(map[string]cty.Value, len(e.ctx.Variables)+2)
	for k, v := range e.ctx.Variables {
		vars[k] = v
	}
	fw := make(map[string]cty.Value, len(o.open))
	unknown := unknownForward() // values are immutable: one serves every forward
	for name := range o.open {
		fw[name] = unknown
	}
	vars["forward"] = cty.ObjectVal(fw)
	o.ctx = &hcl.EvalContext{Variables: vars, Functions: e.ctx.Functions}
	vals := map[string]cty.Value{}
	for _, d := range o.list {
		if d.badRefs {
			vals[d.name] = cty.DynamicVal // reported once, not again by HCL
			continue
		}
		setOutputRefs(vars, d, vals)
		val, diags := checkedValue(d.expr, o.ctx)
		e.diags = append(e.diags, diags...)
		if diags.HasErrors() {
			val = cty.DynamicVal
		}
		vals[d.name] = val
	}
}

// forwardRef checks a forward.NAME[.ATTR] traversal and returns NAME.
func (e *evaluator) forwardRef(tr hcl.Traversal, declared map[string]string) (string, bool) {
	if len(tr) < 2 {
		return "", false // the whole forward object
	}
	step, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		e.errorAt(tr.SourceRange(), "Invalid forward reference", "Refer to a forward as forward.NAME.host, .port, .address or .url.")
		return "", false
	}
	if _, ok := declared[step.Name]; !ok {
		names := make([]string, 0, len(declared))
		for n := range declared {
			names = append(names, n)
		}
		sort.Strings(names)
		e.errorAt(tr.SourceRange(), "Reference to undeclared forward", "No forward %q is declared (forwards: %s).", step.Name, strings.Join(names, ", "))
		return "", false
	}
	if len(tr) >= 3 {
		attr, ok := tr[2].(hcl.TraverseAttr)
		if !ok {
			e.errorAt(tr.SourceRange(), "Invalid forward reference", "Refer to a forward as forward.NAME.host, .port, .address or .url.")
			return step.Name, true
		}
		if _, ok := forwardAttrs[attr.Name]; !ok {
			e.errorAt(tr.SourceRange(), "Unsupported forward attribute", "A forward has no attribute %q in an output: use host, port, address (host:port) or url.", attr.Name)
		}
	}
	return step.Name, true
}

// envFile decodes env_file of the kpf block: a path relative to the
// workspace directory (or absolute), returned absolute; "" when unset.
func (e *evaluator) envFile(rb *rawBlock, dir string) string {
	if rb == nil {
		return ""
	}
	v, a, ok := e.str(rb.attrs, "env_file")
	if !ok {
		return ""
	}
	switch {
	case strings.TrimSpace(v) == "" || strings.ContainsRune(v, 0):
		e.errorAt(a.Expr.Range(), "Invalid env_file", "env_file must be the path of a file, such as \".env.kpf\".")
		return ""
	case strings.HasSuffix(v, ".hcl"):
		e.errorAt(a.Expr.Range(), "Invalid env_file", "env_file must not be an .hcl file: kpf overwrites it on every apply.")
		return ""
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(dir, v)
	}
	return filepath.Clean(v)
}
