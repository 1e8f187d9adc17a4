package spec

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// Evaluation is bounded by a budget (MaxEvalWork) and a size per value
// (MaxValueSize). HCL evaluates for expressions and templates itself, so
// before an expression is evaluated, scope.guard rewrites it to pass
// through functions no spec can name (their names are not identifiers):
//
//   - a for expression's collection goes through iterateFunc, which
//     charges IterationCost per element;
//   - its element expression, every interpolated template part and the
//     result of every function that can return more than it was given
//     (grows) go through chargeFunc, which measures the value (stopping at
//     MaxValueSize) and charges its size;
//   - its "if" condition becomes gateFunc, which stops the remaining
//     iterations once the budget is spent (HCL evaluates an element's
//     condition before anything else of it).
//
// The functions that multiply their input (range, format, formatlist,
// indent, replace, join) estimate their result before they run. Every
// local and attribute value is measured after evaluation. Once the budget
// is spent, the first charge fails with errBudget and every later one
// yields an unknown value without a diagnostic, so a hostile spec gets one
// error, not a million. Functions are added to the evaluation context as
// the spec names them.
const (
	iterateFunc = "kpf iterate"
	chargeFunc  = "kpf charge"
	gateFunc    = "kpf gate"
	unknownFunc = "kpf unsupported"
)

func isChargeName(name string) bool {
	return name == iterateFunc || name == chargeFunc || name == gateFunc || name == unknownFunc
}

var (
	errBudget    = errors.New("evaluation budget spent")
	errValueSize = errors.New("value too large")
)

// budget is the evaluation budget of one Load.
type budget struct {
	used  int64
	spent bool // a charge failed: later charges yield unknown values
}

// take charges n units; false once the budget is spent.
func (b *budget) take(n int64) bool {
	if b.spent {
		return false
	}
	b.used += n
	if b.used > MaxEvalWork {
		b.spent = true
		return false
	}
	return true
}

// valueSize is the size of v as MaxValueSize counts it, stopping once it
// exceeds limit (so a huge value costs no more than limit steps).
func valueSize(v cty.Value, limit int64) int64 {
	return addSize(0, v, limit)
}

func addSize(n int64, v cty.Value, limit int64) int64 {
	n++
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	if v.IsNull() || !v.IsKnown() {
		return n
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return n + int64(len(v.AsString()))
	case ty.IsPrimitiveType():
		return n
	}
	keyed := ty.IsMapType() || ty.IsObjectType()
	for it := v.ElementIterator(); it.Next() && n <= limit; {
		k, e := it.Element()
		if keyed {
			k, _ = k.Unmark()
			n += int64(len(k.AsString()))
		}
		n = addSize(n, e, limit)
	}
	return n
}

// scope is where expressions are evaluated: the budget and the functions
// of the evaluation context, which guard fills in as expressions name them
// (wrapping one function costs more than most specs spend calling them).
type scope struct {
	b      *budget
	funcs  map[string]function.Function // the EvalContext's; nil until needed
	std    bool                         // the standard functions are available
	lookup func(string) string          // for env()
	all    bool                         // every standard function is in funcs
}

// guard rewrites *expr so that evaluating it charges the budget, and adds
// the functions it calls to s.funcs. It reports whether expr has anything
// to charge. Literals and plain references are left alone.
func (s *scope) guard(expr *hcl.Expression) bool {
	switch e := (*expr).(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr:
		return false
	case *hclsyntax.TemplateExpr:
		if e.IsStringLiteral() {
			return false
		}
	}
	e, ok := (*expr).(hclsyntax.Expression)
	if !ok {
		return false
	}
	out, found := s.walk(e)
	*expr = out
	return found
}

// walk guards e and everything in it and returns what replaces e. It knows
// hclsyntax's expression types, so that the common ones cost no closure,
// and falls back to hclsyntax.VisitAll for the others. It is one case
// per expression type, which is why it is longer than a screen.
func (s *scope) walk(e hclsyntax.Expression) (hclsyntax.Expression, bool) {
	found := false
	sub := func(x *hclsyntax.Expression) {
		if *x == nil {
			return
		}
		var f bool
		*x, f = s.walk(*x)
		found = found || f
	}
	switch e := e.(type) {
	case nil, *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.AnonSymbolExpr:
		return e, false
	case *hclsyntax.TemplateExpr:
		for i := range e.Parts {
			if _, lit := e.Parts[i].(*hclsyntax.LiteralValueExpr); lit {
				continue
			}
			if !isCharge(e.Parts[i], chargeFunc) {
				sub(&e.Parts[i])
				e.Parts[i] = chargeCall(chargeFunc, e.Parts[i])
			}
			found = true
		}
	case *hclsyntax.FunctionCallExpr:
		if isChargeName(e.Name) {
			return e, true
		}
		s.function(e.Name)
		for i := range e.Args {
			sub(&e.Args[i])
		}
		if !grows(e.Name) {
			break
		}
		// The result of a function that can return more than it was
		// given is measured and charged: a chain of them (jsonencode of
		// jsonencode …) stops at MaxValueSize. The others return at most
		// what they were given, so a chain of them is as large as its
		// text; what shares a value (locals, for) is charged there.
		s.charging()
		return chargeCall(chargeFunc, e), true
	case *hclsyntax.ForExpr:
		found = true
		if isCharge(e.CollExpr, iterateFunc) {
			break
		}
		sub(&e.CollExpr)
		sub(&e.KeyExpr)
		sub(&e.ValExpr)
		sub(&e.CondExpr)
		e.CollExpr = chargeCall(iterateFunc, e.CollExpr)
		e.ValExpr = chargeCall(chargeFunc, e.ValExpr)
		gate := &hclsyntax.FunctionCallExpr{Name: gateFunc, NameRange: e.OpenRange, OpenParenRange: e.OpenRange, CloseParenRange: e.OpenRange}
		if e.CondExpr != nil {
			gate.Args = []hclsyntax.Expression{e.CondExpr}
		}
		e.CondExpr = gate
	case *hclsyntax.ObjectConsExpr:
		for i := range e.Items {
			sub(&e.Items[i].KeyExpr)
			sub(&e.Items[i].ValueExpr)
		}
	case *hclsyntax.ObjectConsKeyExpr:
		sub(&e.Wrapped)
	case *hclsyntax.TupleConsExpr:
		for i := range e.Exprs {
			sub(&e.Exprs[i])
		}
	case *hclsyntax.BinaryOpExpr:
		sub(&e.LHS)
		sub(&e.RHS)
	case *hclsyntax.UnaryOpExpr:
		sub(&e.Val)
	case *hclsyntax.ParenthesesExpr:
		sub(&e.Expression)
	case *hclsyntax.TemplateWrapExpr:
		sub(&e.Wrapped)
	case *hclsyntax.ConditionalExpr:
		sub(&e.Condition)
		sub(&e.TrueResult)
		sub(&e.FalseResult)
	case *hclsyntax.IndexExpr:
		sub(&e.Collection)
		sub(&e.Key)
	case *hclsyntax.RelativeTraversalExpr:
		sub(&e.Source)
	case *hclsyntax.SplatExpr:
		sub(&e.Source)
		sub(&e.Each)
	case *hclsyntax.TemplateJoinExpr:
		sub(&e.Tuple)
	default:
		// An expression type this walk does not know (hclsyntax grew
		// one): refuse to evaluate it rather than evaluate it unbounded.
		return &hclsyntax.FunctionCallExpr{
			Name: unknownFunc, NameRange: e.Range(), OpenParenRange: e.Range(), CloseParenRange: e.Range(),
		}, true
	}
	if found {
		s.charging()
	}
	return e, found
}

// charging adds the charging functions to s.funcs.
func (s *scope) charging() {
	if s.funcs == nil {
		s.funcs = map[string]function.Function{}
	}
	if _, ok := s.funcs[chargeFunc]; !ok {
		s.b.chargeFunctions(s.funcs)
	}
}

// function adds the function name to s.funcs, wrapped; for a name that is
// not a standard function it adds them all, so that HCL's "did you mean"
// suggestions see every name.
func (s *scope) function(name string) {
	if !s.std || s.all {
		return
	}
	if _, ok := s.funcs[name]; ok {
		return
	}
	if s.funcs == nil {
		s.funcs = map[string]function.Function{}
	}
	if f, ok := stdFunction(name, s.lookup); ok {
		s.funcs[name] = s.b.wrap(name, f)
		return
	}
	for _, n := range stdFunctionNames() {
		if _, ok := s.funcs[n]; !ok {
			f, _ := stdFunction(n, s.lookup)
			s.funcs[n] = s.b.wrap(n, f)
		}
	}
	s.all = true
}

// multiplies lists the functions whose result can be much larger than
// their arguments; estimate bounds it before they run.
func multiplies(name string) bool {
	switch name {
	case "range", "format", "formatlist", "indent", "replace", "join":
		return true
	}
	return false
}

// grows lists the functions whose result can be larger than the sum of
// their arguments: those that multiply, and jsonencode (escapes).
func grows(name string) bool {
	return multiplies(name) || name == "jsonencode"
}

func isCharge(e hclsyntax.Expression, name string) bool {
	c, ok := e.(*hclsyntax.FunctionCallExpr)
	return ok && c.Name == name
}

// chargeCall wraps e in a call of a charging function; the call has e's
// range, so diagnostics point at e.
func chargeCall(name string, e hclsyntax.Expression) hclsyntax.Expression {
	r := e.Range()
	return &hclsyntax.FunctionCallExpr{
		Name: name, Args: []hclsyntax.Expression{e},
		NameRange: r, OpenParenRange: r, CloseParenRange: r,
	}
}

// chargeFunctions returns the two charging functions.
func (b *budget) chargeFunctions(into map[string]function.Function) {
	param := []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType,
		AllowNull: true, AllowUnknown: true, AllowDynamicType: true, AllowMarked: true,
	}}
	passType := func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil }
	into[unknownFunc] = function.New(&function.Spec{
		Type: function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.DynamicVal, errors.New("kpf cannot bound the evaluation of this kind of expression")
		},
	})
	into[gateFunc] = function.New(&function.Spec{
		VarParam: &param[0],
		Type:     function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if b.spent {
				return cty.UnknownVal(cty.Bool), nil
			}
			if len(args) == 0 {
				return cty.True, nil
			}
			// The for expression checks the condition's type and value.
			return convertCond(args[0])
		},
	})
	into[iterateFunc] = function.New(&function.Spec{
		Params: param, Type: passType,
		Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
			v := args[0]
			u, _ := v.Unmark()
			if u.IsNull() || !u.IsKnown() || !u.CanIterateElements() {
				return v, nil
			}
			return b.charged(v, ty, IterationCost*int64(u.LengthInt()))
		},
	})
	into[chargeFunc] = function.New(&function.Spec{
		Params: param, Type: passType,
		Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
			v := args[0]
			if b.spent {
				return cty.UnknownVal(ty), nil
			}
			size := valueSize(v, MaxValueSize)
			if size > MaxValueSize {
				return b.tooLarge(ty)
			}
			return b.charged(v, ty, size)
		},
	})
}

// charged returns v after charging n units, or the budget error.
func (b *budget) charged(v cty.Value, ty cty.Type, n int64) (cty.Value, error) {
	if b.spent {
		return cty.UnknownVal(ty), nil
	}
	if !b.take(n) {
		return cty.UnknownVal(ty), errBudget
	}
	return v, nil
}

// wrap returns f, or for the functions that multiply their input a
// wrapper that estimates the result first. Every call's result is measured
// and charged by the chargeFunc call guard puts around it.
func (b *budget) wrap(name string, f function.Function) function.Function {
	if !multiplies(name) {
		return f
	}
	params := f.Params()
	var varParam *function.Parameter
	if vp := f.VarParam(); vp != nil {
		p := *vp
		varParam = &p
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    varParam,
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
			if b.spent {
				return cty.UnknownVal(ty), nil
			}
			if estimate(name, args) > MaxValueSize {
				return b.tooLarge(ty)
			}
			return f.Call(args)
		},
	})
}

// tooLarge fails a call on errValueSize and spends the budget, so that a
// loop over the call reports it once.
func (b *budget) tooLarge(ty cty.Type) (cty.Value, error) {
	b.spent = true
	return cty.UnknownVal(ty), errValueSize
}

// estimate bounds the size of what the functions that multiply their input
// would return, before they allocate it; 0 for every other function.
func estimate(name string, args []cty.Value) int64 {
	un := make([]cty.Value, len(args))
	for i, a := range args {
		un[i], _ = a.UnmarkDeep()
		if !un[i].IsWhollyKnown() || un[i].IsNull() {
			return 0
		}
	}
	num := func(v cty.Value) float64 {
		if v.Type() != cty.Number {
			return 0
		}
		f, _ := v.AsBigFloat().Float64()
		return f
	}
	str := func(v cty.Value) string {
		if v.Type() != cty.String {
			return ""
		}
		return v.AsString()
	}
	switch name {
	case "range":
		start, limit, step := 0.0, 0.0, 1.0
		switch len(un) {
		case 1:
			limit = num(un[0])
		case 2:
			start, limit = num(un[0]), num(un[1])
		case 3:
			start, limit, step = num(un[0]), num(un[1]), num(un[2])
		}
		if step == 0 {
			return 0
		}
		n := (limit - start) / step
		if n > float64(MaxValueSize) {
			return MaxValueSize + 1
		}
	case "format", "formatlist":
		if len(un) == 0 {
			return 0
		}
		per := int64(len(str(un[0]))) + formatWidths(str(un[0]))
		n := int64(1)
		if name == "formatlist" {
			for _, a := range un[1:] {
				if t := a.Type(); t.IsListType() || t.IsTupleType() || t.IsSetType() {
					n = max(n, int64(a.LengthInt()))
				}
			}
		}
		return n * per
	case "indent":
		if len(un) == 2 {
			s := str(un[1])
			return int64(len(s)) + int64(strings.Count(s, "\n"))*int64(num(un[0]))
		}
	case "replace":
		if len(un) == 3 {
			s, sub, repl := str(un[0]), str(un[1]), str(un[2])
			return int64(len(s)) + int64(strings.Count(s, sub))*int64(len(repl))
		}
	case "join":
		if len(un) >= 2 {
			var n int64
			for _, l := range un[1:] {
				if t := l.Type(); t.IsListType() || t.IsTupleType() || t.IsSetType() {
					n += int64(l.LengthInt())
				}
			}
			return n * int64(len(str(un[0])))
		}
	}
	return 0
}

// formatWidths sums the widths and precisions of the verbs of a format
// string ("%10000d" pads to 10,000 bytes).
func formatWidths(f string) int64 {
	var total int64
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		for i++; i < len(f) && strings.IndexByte("+-# 0.[]*", f[i]) >= 0 || i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
			if f[i] < '1' || f[i] > '9' {
				continue
			}
			j := i
			for j < len(f) && f[j] >= '0' && f[j] <= '9' {
				j++
			}
			w, ok := new(big.Int).SetString(f[i:j], 10)
			if !ok || !w.IsInt64() || w.Int64() > MaxValueSize {
				return MaxValueSize + 1
			}
			total += w.Int64()
			i = j - 1
		}
	}
	return total
}

// budgetDiag rewrites a diagnostic of a charging or wrapped function that
// failed on the budget or a size into one that says so; others are left.
func budgetDiag(d *hcl.Diagnostic) {
	extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
	if !ok {
		return
	}
	err := extra.FunctionCallError()
	switch {
	case errors.Is(err, errBudget):
		d.Summary = "Evaluation too large"
		d.Detail = fmt.Sprintf("Evaluating the spec needs more than %d units of work (elements iterated by for expressions, bytes built by templates and functions); kpf stops here (MaxEvalWork).", MaxEvalWork)
	case errors.Is(err, errValueSize):
		d.Summary = "Value too large"
		d.Detail = fmt.Sprintf("This expression builds a value larger than %d bytes and elements; kpf stops here (MaxValueSize).", MaxValueSize)
	default:
		return
	}
	d.Expression, d.EvalContext = nil, nil
}

// sizeDiag reports a value of a local or attribute larger than MaxValueSize.
func sizeDiag(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Value too large",
		Detail:   fmt.Sprintf("This expression evaluates to a value larger than %d bytes and elements; kpf stops here (MaxValueSize).", MaxValueSize),
		Subject:  rng.Ptr(),
	}
}

// constValue evaluates an expression that may use no variables and no
// functions (a variable's default or description, a value from a
// variables file, --var or the environment), charging b.
func (b *budget) constValue(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	var ctx *hcl.EvalContext
	s := &scope{b: b}
	if s.guard(&expr) {
		ctx = &hcl.EvalContext{Functions: s.funcs}
	}
	return checkedValue(expr, ctx)
}

// checkedValue evaluates expr in ctx, turns budget failures into their own
// diagnostics and refuses a result larger than MaxValueSize.
func checkedValue(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	val, diags := expr.Value(ctx)
	for _, d := range diags {
		budgetDiag(d)
		redactCallError(d)
		undeclaredDiag(d, expr, ctx)
	}
	if !diags.HasErrors() && valueSize(val, MaxValueSize) > MaxValueSize {
		diags = append(diags, sizeDiag(expr.Range()))
		val = cty.DynamicVal
	}
	return val, diags
}

// convertCond passes a for expression's own condition through the gate:
// a bool as it is (marks included), anything else as HCL would reject it.
func convertCond(v cty.Value) (cty.Value, error) {
	u, marks := v.Unmark()
	if u.IsNull() || !u.IsKnown() {
		return cty.UnknownVal(cty.Bool).WithMarks(marks), nil
	}
	out, err := convert.Convert(u, cty.Bool)
	if err != nil {
		return cty.UnknownVal(cty.Bool), fmt.Errorf("the condition of a for expression must be bool: %w", err)
	}
	return out.WithMarks(marks), nil
}

// redactCallError removes the message of a failed function call whose
// expression refers to a sensitive or hidden value: go-cty's messages may
// quote the argument ("cannot parse \"hunter2\" as an integer").
func redactCallError(d *hcl.Diagnostic) {
	if d.Expression == nil || d.EvalContext == nil {
		return
	}
	if _, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d); !ok {
		return
	}
	for _, tr := range d.Expression.Variables() {
		v, diags := tr.TraverseAbs(d.EvalContext)
		if !diags.HasErrors() && v.ContainsMarked() {
			name := ""
			if c, ok := d.Expression.(*hclsyntax.FunctionCallExpr); ok {
				name = fmt.Sprintf(" %q", c.Name)
			}
			d.Detail = fmt.Sprintf("Call to function%s failed on a value from a sensitive variable, --var or KPF_VAR_name, which is not shown.", name)
			d.Expression, d.EvalContext = nil, nil
			return
		}
	}
}

// undeclaredDiag rewrites HCL's "This object does not have an attribute
// named" about var.NAME or local.NAME into what it means: the variable (or
// local value) is not declared, with the closest declared name if one is
// near.
func undeclaredDiag(d *hcl.Diagnostic, expr hcl.Expression, ctx *hcl.EvalContext) {
	if d.Summary != "Unsupported attribute" || d.Subject == nil || ctx == nil {
		return
	}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if (root != "var" && root != "local") || len(tr) < 2 {
			continue
		}
		step, ok := tr[1].(hcl.TraverseAttr)
		if !ok || step.SrcRange != *d.Subject {
			continue
		}
		var declared []string
		if obj, ok := ctx.Variables[root]; ok && obj.Type().IsObjectType() {
			for name := range obj.Type().AttributeTypes() {
				declared = append(declared, name)
			}
		}
		what, block := "variable", fmt.Sprintf("a variable %q block", step.Name)
		if root == "local" {
			what, block = "local value", "the locals block"
		}
		d.Summary = "Undeclared " + what
		d.Detail = fmt.Sprintf("%s %q is not declared", what, step.Name)
		if near := closest(step.Name, declared); near != "" {
			d.Detail += fmt.Sprintf("; did you mean %q?", near)
		} else {
			d.Detail += fmt.Sprintf("; declare it in %s.", block)
		}
		return
	}
}

// abbreviates reports whether short is an abbreviation of long: the same
// first letter, and its letters in long in order.
func abbreviates(short, long string) bool {
	if short == "" || len(short) >= len(long) || short[0] != long[0] {
		return false
	}
	i := 0
	for j := 0; j < len(long) && i < len(short); j++ {
		if long[j] == short[i] {
			i++
		}
	}
	return i == len(short)
}

// closest is the name of names nearest to name (ignoring case) within a
// distance that still reads as a typo or an abbreviation, or "".
func closest(name string, names []string) string {
	sort.Strings(names)
	best, bestDist := "", len(name)/2+2
	lower := strings.ToLower(name)
	for _, n := range names {
		ln := strings.ToLower(n)
		d := levenshtein.Distance(lower, ln, nil)
		if abbreviates(lower, ln) || abbreviates(ln, lower) {
			d = min(d, 2) // ctx for context, ns for namespace
		}
		if d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}
