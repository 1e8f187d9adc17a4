package spec

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// stdFunctionNames lists the functions available in expressions: a
// sensible set of go-cty's standard library plus env(name), which reads
// through the LoadOptions' Env ("" when it is nil or the variable is unset).
// Computed on first use: only a spec that calls an unknown function needs it.
var stdFunctionNames = sync.OnceValue(func() []string {
	names := []string{"env"}
	for n := range stdFunctions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
})

// stdFunction returns the standard function name; env reads through lookup.
func stdFunction(name string, lookup func(string) string) (function.Function, bool) {
	if name == "env" {
		return envFunc(lookup), true
	}
	f, ok := stdFunctions[name]
	return f, ok
}

var stdFunctions = map[string]function.Function{
	"abs":        stdlib.AbsoluteFunc,
	"ceil":       stdlib.CeilFunc,
	"chomp":      stdlib.ChompFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"compact":    stdlib.CompactFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"distinct":   stdlib.DistinctFunc,
	"element":    stdlib.ElementFunc,
	"flatten":    stdlib.FlattenFunc,
	"floor":      stdlib.FloorFunc,
	"format":     stdlib.FormatFunc,
	"formatlist": stdlib.FormatListFunc,
	"indent":     stdlib.IndentFunc,
	"join":       stdlib.JoinFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lookup":     stdlib.LookupFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"merge":      stdlib.MergeFunc,
	"min":        stdlib.MinFunc,
	"parseint":   stdlib.ParseIntFunc,
	"range":      stdlib.RangeFunc,
	"regex":      stdlib.RegexFunc,
	"regexall":   stdlib.RegexAllFunc,
	"replace":    stdlib.ReplaceFunc,
	"reverse":    stdlib.ReverseListFunc,
	"slice":      stdlib.SliceFunc,
	"sort":       stdlib.SortFunc,
	"split":      stdlib.SplitFunc,
	"strlen":     stdlib.StrlenFunc,
	"substr":     stdlib.SubstrFunc,
	"title":      stdlib.TitleFunc,
	"tobool":     stdlib.MakeToFunc(cty.Bool),
	"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber":   stdlib.MakeToFunc(cty.Number),
	"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":   stdlib.MakeToFunc(cty.String),
	"trim":       stdlib.TrimFunc,
	"trimprefix": stdlib.TrimPrefixFunc,
	"trimspace":  stdlib.TrimSpaceFunc,
	"trimsuffix": stdlib.TrimSuffixFunc,
	"upper":      stdlib.UpperFunc,
	"values":     stdlib.ValuesFunc,
	"zipmap":     stdlib.ZipmapFunc,
}

func envFunc(lookup func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or \"\" when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if lookup == nil {
				return cty.StringVal(""), nil
			}
			return cty.StringVal(lookup(args[0].AsString())), nil
		},
	})
}

// variable is a declared input variable.
type variable struct {
	ty        cty.Type
	val       cty.Value // cty.NilVal until a value is known
	sensitive bool
	outside   bool // val came from --var or KPF_VAR_name
	// src is where val was given outside the spec files (a --var flag,
	// KPF_VAR_name, a var file's line); nil for a default.
	src *hcl.Range
}

// evalVariables resolves every declared variable: default < KPF_VAR_name <
// var files < --var. Values from outside the spec files get synthetic
// source names so errors still point somewhere.
func (l *Loader) evalVariables(m *rawModule, opts LoadOptions, b *budget) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vars := make(map[string]*variable, len(m.variables))
	names := make([]string, 0, len(m.variables))
	for name := range m.variables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v, d := declareVariable(name, m.variables[name], b)
		diags = append(diags, d...)
		vars[name] = v
	}

	// KPF_VAR_name from the environment.
	if opts.Env != nil {
		for _, name := range names {
			raw := opts.Env("KPF_VAR_" + name)
			if raw == "" {
				continue
			}
			d := l.setRawVar(b, vars[name], name, raw, "<env KPF_VAR_"+name+">")
			diags = append(diags, d...)
		}
	}

	// --var-file, in order.
	for _, path := range opts.VarFiles {
		diags = append(diags, l.readVarFile(b, vars, path)...)
	}
	diags = append(diags, l.setFlagVars(b, vars, opts.Vars)...)
	out, d := l.variableValues(m, names, vars)
	return out, append(diags, d...)
}

// declareVariable reads a variable block: its type, sensitive,
// description and default.
func declareVariable(name string, rv *rawNamed, b *budget) (*variable, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	v := &variable{ty: cty.DynamicPseudoType}
	if a, ok := rv.attrs["type"]; ok {
		ty, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.ty = ty
		}
	}
	if a, ok := rv.attrs["sensitive"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if val.IsNull() || val.Type() != cty.Bool {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid sensitive setting",
					Detail:   "sensitive must be true or false.",
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				v.sensitive = val.True()
			}
		}
	}
	if a, ok := rv.attrs["description"]; ok {
		val, d := b.constValue(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() && (val.IsNull() || val.Type() != cty.String) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable description",
				Detail:   "The description must be a string.",
				Subject:  a.Expr.Range().Ptr(),
			})
		}
	}
	if a, ok := rv.attrs["default"]; ok {
		val, d := b.constValue(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			v.val = cty.DynamicVal // reported; not "required" as well
		} else {
			v.val, d = convertVar(name, val, v.ty, a.Expr.Range(), "default value", v.sensitive)
			diags = append(diags, d...)
		}
	}
	return v, diags
}

// setFlagVars applies --var name=value, in order; the last one wins. The
// values are never shown: l keeps valueHidden as their source.
func (l *Loader) setFlagVars(b *budget, vars map[string]*variable, flags []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, kv := range flags {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || name == "" || !hclsyntax.ValidIdentifier(name) {
			fname := fmt.Sprintf("<flag --var #%d>", i+1)
			rng := l.addHidden(fname)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid --var option",
				Detail:   fmt.Sprintf("--var option %d is not NAME=VALUE with NAME a variable name (it is not shown: it may be a value).", i+1),
				Subject:  rng.Ptr(),
			})
			continue
		}
		fname := "<flag --var " + name + ">"
		v, ok := vars[name]
		if !ok {
			rng := l.addHidden(fname)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("No variable %q is declared; declare it with a variable %q block.", name, name),
				Subject:  rng.Ptr(),
			})
			continue
		}
		diags = append(diags, l.setRawVar(b, v, name, raw, fname)...)
	}

	return diags
}

// variableValues is every variable's value, marked sensitive or hidden as
// it must be, and records in l.varSrc where values given outside the files
// came from; a variable left without a value is an error.
func (l *Loader) variableValues(m *rawModule, names []string, vars map[string]*variable) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	l.varSrc = map[string]hcl.Range{}
	out := make(map[string]cty.Value, len(vars))
	for _, name := range names {
		v := vars[name]
		// Not a sensitive one: a var file's line would show its value
		// in the diagnostic's snippet.
		if v.src != nil && v.val != cty.NilVal && !v.sensitive {
			l.varSrc[name] = *v.src
		}
		if v.val == cty.NilVal {
			rv := m.variables[name]
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("Variable %q has no default and no value was given: set it with --var %s=VALUE, a --var-file or the environment variable KPF_VAR_%s.",
					name, name, name),
				Subject: rv.decl.Ptr(),
			})
			out[name] = cty.DynamicVal
			continue
		}
		switch {
		case v.sensitive:
			out[name] = v.val.Mark(sensitiveMark)
		case v.outside:
			out[name] = v.val.Mark(hiddenMark)
		default:
			out[name] = v.val
		}
	}
	return out, diags
}

// setRawVar sets v from a raw string given outside the files: taken as is
// for string (or untyped) variables, parsed as an HCL expression otherwise.
// The value is never shown: diagnostics about it point at the synthetic
// source fname, which holds valueHidden, and say what is wrong without
// quoting it.
func (l *Loader) setRawVar(b *budget, v *variable, name, raw, fname string) hcl.Diagnostics {
	rng := l.addHidden(fname)
	if v.ty == cty.String || v.ty == cty.DynamicPseudoType {
		v.val, v.outside, v.src = cty.StringVal(raw), true, &rng
		return nil
	}
	src := []byte(raw)
	hidden := func(diags hcl.Diagnostics) hcl.Diagnostics {
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for variable",
					Detail:   fmt.Sprintf("The value of variable %q is not a valid %s: %s (the value is not shown).", name, v.ty.FriendlyName(), strings.ToLower(d.Summary)),
					Subject:  rng.Ptr(),
				}}
			}
		}
		return nil
	}
	if len(src) > MaxFileSize {
		return hidden(tooLarge(varsKind, fname, int64(len(src))))
	}
	if diags := checkNesting(src, fname); diags.HasErrors() {
		return hidden(diags)
	}
	expr, diags := hclsyntax.ParseExpression(src, fname, hcl.InitialPos)
	if diags.HasErrors() {
		return hidden(diags)
	}
	val, d := b.constValue(expr)
	if d.HasErrors() {
		return hidden(d)
	}
	v.val, d = convertVar(name, val, v.ty, rng, "value", true)
	v.outside, v.src = true, &rng
	return d
}

// addHidden keeps valueHidden as the source of fname, for a value that
// must not be shown, and returns its range.
func (l *Loader) addHidden(fname string) hcl.Range {
	src := []byte(valueHidden)
	l.addSynthetic(fname, src)
	return syntheticRange(fname, src)
}

func (l *Loader) readVarFile(b *budget, vars map[string]*variable, path string) hcl.Diagnostics {
	src, diags := readLimited(varsKind, path, path)
	if diags.HasErrors() {
		return diags
	}
	if diags := checkNesting(src, path); diags.HasErrors() {
		return diags
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	l.files[path] = f
	if diags.HasErrors() {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for _, a := range sortedAttrs(attrs) {
		v, ok := vars[a.Name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("No variable %q is declared, so this value is ignored.", a.Name),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		val, d := b.constValue(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		rng := a.Expr.Range()
		v.val, d = convertVar(a.Name, val, v.ty, rng, "value", v.sensitive)
		v.outside, v.src = false, &rng
		diags = append(diags, d...)
	}
	return diags
}

// convertVar converts a variable's value to its type; hide leaves the
// conversion error out of the diagnostic, as it may quote the value.
func convertVar(name string, val cty.Value, ty cty.Type, rng hcl.Range, what string, hide bool) (cty.Value, hcl.Diagnostics) {
	out, err := convert.Convert(val, ty)
	if err != nil {
		detail := fmt.Sprintf("The %s of variable %q is not a %s: %s.", what, name, ty.FriendlyName(), err)
		if hide {
			detail = fmt.Sprintf("The %s of variable %q is not a %s but a %s (the value is not shown).", what, name, ty.FriendlyName(), val.Type().FriendlyName())
		}
		return cty.DynamicVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   detail,
			Subject:  rng.Ptr(),
		}}
	}
	return out, nil
}

// syntheticRange covers all of src in the synthetic file fname.
func syntheticRange(fname string, src []byte) hcl.Range {
	end := hcl.Pos{Line: 1, Column: len(src) + 1, Byte: len(src)}
	if i := strings.IndexByte(string(src), '\n'); i >= 0 {
		end = hcl.Pos{Line: 1, Column: i + 1, Byte: i}
	}
	return hcl.Range{Filename: fname, Start: hcl.InitialPos, End: end}
}

// evalLocals evaluates locals in dependency order. A local that refers to
// itself through others is reported with every place in the cycle.
func evalLocals(m *rawModule, ctx *hcl.EvalContext, sc *scope) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	names := make([]string, 0, len(m.locals))
	for name := range m.locals {
		names = append(names, name)
	}
	sort.Strings(names)

	deps := make(map[string][]string, len(names))
	for _, name := range names {
		for _, tr := range m.locals[name].Expr.Variables() {
			if tr.RootName() != "local" || len(tr) < 2 {
				continue
			}
			if step, ok := tr[1].(hcl.TraverseAttr); ok {
				if _, declared := m.locals[step.Name]; declared {
					deps[name] = append(deps[name], step.Name)
				}
			}
		}
	}

	vals := make(map[string]cty.Value, len(names))
	const (
		unvisited = iota
		visiting
		done
	)
	mark := make(map[string]int, len(names))
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		switch mark[name] {
		case done:
			return
		case visiting:
			d, cycle := cycleDiag(m, stack, name)
			diags = append(diags, d)
			for _, n := range cycle {
				vals[n] = cty.DynamicVal
			}
			return
		}
		mark[name] = visiting
		stack = append(stack, name)
		for _, dep := range deps[name] {
			visit(dep)
		}
		stack = stack[:len(stack)-1]
		mark[name] = done
		if _, failed := vals[name]; failed {
			return // part of a cycle, already reported
		}
		ctx.Variables["local"] = cty.ObjectVal(vals)
		sc.guard(&m.locals[name].Expr)
		val, d := checkedValue(m.locals[name].Expr, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			val = cty.DynamicVal
		}
		vals[name] = val
	}
	for _, name := range names {
		visit(name)
	}
	ctx.Variables["local"] = cty.ObjectVal(vals)
	return vals, diags
}

// cyclePath is the cycle a depth-first walk found when it met name again
// while stack was being visited: from name's place in stack back to name.
func cyclePath(stack []string, name string) []string {
	start := 0
	for i, n := range stack {
		if n == name {
			start = i
		}
	}
	return append(append([]string(nil), stack[start:]...), name)
}

// cycleDiag reports the cycle that closes at name; every local in the cycle
// gets cty.DynamicVal so nothing downstream repeats the error.
func cycleDiag(m *rawModule, stack []string, name string) (*hcl.Diagnostic, []string) {
	cycle := cyclePath(stack, name)
	parts := make([]string, len(cycle))
	for i, n := range cycle {
		parts[i] = fmt.Sprintf("local.%s (%s)", n, rangePos(m.locals[n].NameRange))
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cycle in local values",
		Detail:   "Local values refer to each other in a cycle: " + strings.Join(parts, " → ") + ".",
		Subject:  m.locals[name].NameRange.Ptr(),
	}, cycle
}

// relocateVarDiags moves an error about an attribute whose expression is
// one variable given outside the spec files (var.NAME, with its value from
// --var, KPF_VAR_name or a var file) to where the value was given: that is
// what to fix. The detail says which attribute used it, and where.
func relocateVarDiags(diags hcl.Diagnostics, m *rawModule, varSrc map[string]hcl.Range) {
	if len(varSrc) == 0 || !diags.HasErrors() {
		return
	}
	byRange := map[hcl.Range]*hcl.Attribute{}
	add := func(rb *rawBlock) {
		for rb != nil {
			for _, a := range rb.attrs {
				byRange[a.Expr.Range()] = a
			}
			rb = rb.health
		}
	}
	add(m.kpf)
	add(m.defaults)
	for _, rf := range m.forwards {
		add(&rf.rawBlock)
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Subject == nil {
			continue
		}
		a := byRange[*d.Subject]
		if a == nil {
			continue
		}
		name, ok := soleVariable(a.Expr)
		src, given := varSrc[name]
		if !ok || !given {
			continue
		}
		d.Detail = strings.TrimSuffix(d.Detail, ".") + fmt.Sprintf(". This is the value of variable %q, given here, which %s at %s uses.", name, a.Name, rangePos(*d.Subject))
		d.Subject, d.Context, d.Expression, d.EvalContext = src.Ptr(), nil, nil, nil
	}
}

// soleVariable returns NAME when expr is var.NAME and nothing else.
func soleVariable(expr hcl.Expression) (string, bool) {
	st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) != 2 || st.Traversal.RootName() != "var" {
		return "", false
	}
	step, ok := st.Traversal[1].(hcl.TraverseAttr)
	return step.Name, ok
}
