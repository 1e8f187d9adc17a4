package spec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// rawBlock is a block decoded against its schema but not yet evaluated:
// attribute expressions are kept so override files can replace them one by
// one before anything is evaluated.
type rawBlock struct {
	attrs  hcl.Attributes
	health *rawBlock // nested health block; nil when absent
	decl   hcl.Range // the block header
}

// rawNamed is a labelled block: variable "x" or forward "x".
type rawNamed struct {
	name string
	rawBlock
}

// rawModule is every block of a workspace after overrides were merged.
type rawModule struct {
	kpf       *rawBlock
	defaults  *rawBlock
	variables map[string]*rawNamed
	locals    map[string]*hcl.Attribute
	forwards  map[string]*rawNamed
	folded    map[string]*rawNamed // forwards by lower-case name
	outputs   map[string]*rawNamed
}

func newRawModule() *rawModule {
	return &rawModule{
		variables: map[string]*rawNamed{},
		locals:    map[string]*hcl.Attribute{},
		forwards:  map[string]*rawNamed{},
		folded:    map[string]*rawNamed{},
		outputs:   map[string]*rawNamed{},
	}
}

// fileBlocks is what one file declares, in source order.
type fileBlocks struct {
	kpf       []*rawBlock
	defaults  []*rawBlock
	variables []*rawNamed
	locals    []*hcl.Attribute
	forwards  []*rawNamed
	outputs   []*rawNamed
}

// decodeFile decodes the top level of one file. It keeps going after an
// error so that one run reports every problem.
func decodeFile(body hcl.Body) (*fileBlocks, hcl.Diagnostics) {
	fb := &fileBlocks{}
	c, diags := content(body, fileSchema)
	for _, b := range c.Blocks {
		switch b.Type {
		case "kpf":
			rb, d := decodeSimpleBlock(b, kpfSchema)
			diags = append(diags, d...)
			fb.kpf = append(fb.kpf, rb)
		case "defaults":
			rb, d := decodeSimpleBlock(b, defaultsSchema)
			diags = append(diags, d...)
			fb.defaults = append(fb.defaults, rb)
		case "variable":
			rv, d := decodeIdentifiedBlock(b, "variable", variableSchema)
			diags = append(diags, d...)
			if rv != nil {
				fb.variables = append(fb.variables, rv)
			}
		case "locals":
			attrs, d := b.Body.JustAttributes()
			diags = append(diags, d...)
			fb.locals = append(fb.locals, sortedAttrs(attrs)...)
		case "output":
			ro, d := decodeIdentifiedBlock(b, "output", outputSchema)
			diags = append(diags, d...)
			if ro != nil {
				fb.outputs = append(fb.outputs, ro)
			}
		case "forward":
			rf, d := decodeForwardBlock(b)
			diags = append(diags, d...)
			if rf != nil {
				fb.forwards = append(fb.forwards, rf)
			}
		}
	}
	return fb, diags
}

// decodeSimpleBlock decodes a kpf, defaults or health block.
func decodeSimpleBlock(b *hcl.Block, schema *hcl.BodySchema) (*rawBlock, hcl.Diagnostics) {
	c, diags := content(b.Body, schema)
	rb := &rawBlock{attrs: c.Attributes, decl: b.DefRange}
	for _, hb := range c.Blocks {
		if rb.health != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate health block",
				Detail:   fmt.Sprintf("Only one health block is allowed here; the first is at %s.", rangePos(rb.health.decl)),
				Subject:  hb.DefRange.Ptr(),
			})
			continue
		}
		h, d := decodeSimpleBlock(hb, healthSchema)
		diags = append(diags, d...)
		rb.health = h
	}
	return rb, diags
}

// decodeIdentifiedBlock decodes a variable or output block (what: its
// kind, for the errors): its label must be an identifier, as expressions
// name it (var.NAME); nil when it is not.
func decodeIdentifiedBlock(b *hcl.Block, what string, schema *hcl.BodySchema) (*rawNamed, hcl.Diagnostics) {
	name := b.Labels[0]
	var diags hcl.Diagnostics
	valid := hclsyntax.ValidIdentifier(name)
	if !valid {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what + " name",
			Detail:   fmt.Sprintf("%q is not a valid %s name: use letters, digits, '_' and '-', starting with a letter or '_'.", name, what),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	rb, d := decodeSimpleBlock(b, schema)
	diags = append(diags, d...)
	if !valid {
		return nil, diags
	}
	return &rawNamed{name: name, rawBlock: *rb}, diags
}

func decodeForwardBlock(b *hcl.Block) (*rawNamed, hcl.Diagnostics) {
	name := b.Labels[0]
	var diags hcl.Diagnostics
	if !validForwardName(name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid forward name",
			Detail:   fmt.Sprintf("%q is not a valid forward name: use up to 63 letters, digits, '-' and '_', starting with a letter or digit (the name is also a file name).", name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	rb, d := decodeSimpleBlock(b, forwardSchema)
	diags = append(diags, d...)
	return &rawNamed{name: name, rawBlock: *rb}, diags
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return rangeLess(out[i].Range, out[j].Range) })
	return out
}

func rangeLess(a, b hcl.Range) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	return a.Start.Byte < b.Start.Byte
}

// rangePos renders where a range starts, as file:line:col.
func rangePos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// describe names a block for a message: `forward "api"`, or just `kpf`.
func describe(kind, name string) string {
	if name == "" {
		return kind
	}
	return fmt.Sprintf("%s %q", kind, name)
}

func duplicate(kind, name string, first, again hcl.Range) *hcl.Diagnostic {
	what := describe(kind, name)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + kind,
		Detail:   fmt.Sprintf("%s is already declared at %s.", upperFirst(what), rangePos(first)),
		Subject:  again.Ptr(),
	}
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// addPrimary adds the blocks of a primary (non-override) file; a second
// declaration of anything is an error naming both places.
func (m *rawModule) addPrimary(fb *fileBlocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range fb.kpf {
		if m.kpf != nil {
			diags = append(diags, duplicate("kpf block", "", m.kpf.decl, b.decl))
			continue
		}
		m.kpf = b
	}
	for _, b := range fb.defaults {
		if m.defaults != nil {
			diags = append(diags, duplicate("defaults block", "", m.defaults.decl, b.decl))
			continue
		}
		m.defaults = b
	}
	for _, v := range fb.variables {
		if prev, ok := m.variables[v.name]; ok {
			diags = append(diags, duplicate("variable", v.name, prev.decl, v.decl))
			continue
		}
		m.variables[v.name] = v
	}
	for _, a := range fb.locals {
		if prev, ok := m.locals[a.Name]; ok {
			diags = append(diags, duplicate("local value", a.Name, prev.NameRange, a.NameRange))
			continue
		}
		m.locals[a.Name] = a
	}
	for _, f := range fb.forwards {
		if prev, ok := m.forwards[f.name]; ok {
			diags = append(diags, duplicate("forward", f.name, prev.decl, f.decl))
			continue
		}
		// A forward's name is also the name of its log file, and macOS
		// and Windows file systems ignore case: a and A would share one.
		folded := strings.ToLower(f.name)
		if prev, ok := m.folded[folded]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Forward names differ only in case",
				Detail: fmt.Sprintf("Forward %q has the name of forward %q, declared at %s, but for case. Forward names are also file names, which are the same on macOS and Windows; rename one of them.",
					f.name, prev.name, rangePos(prev.decl)),
				Subject: f.decl.Ptr(),
			})
			continue
		}
		m.forwards[f.name] = f
		m.folded[folded] = f
	}
	for _, o := range fb.outputs {
		if prev, ok := m.outputs[o.name]; ok {
			diags = append(diags, duplicate("output", o.name, prev.decl, o.decl))
			continue
		}
		m.outputs[o.name] = o
	}
	return diags
}

// exclusiveGroups lists attribute groups of which a block sets at most one:
// an override that sets one member drops the others it merges onto.
func exclusiveGroups() [][]string {
	return [][]string{{"target", "selector"}, {"tcp", "http", "none"}}
}

// addOverride merges the blocks of an override file onto the blocks of
// the same name, attribute by attribute. An override of nothing is an error.
func (m *rawModule) addOverride(fb *fileBlocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range fb.kpf {
		if m.kpf == nil {
			diags = append(diags, overridesNothing("kpf block", "", b.decl))
			continue
		}
		mergeBlock(m.kpf, b)
	}
	for _, b := range fb.defaults {
		if m.defaults == nil {
			diags = append(diags, overridesNothing("defaults block", "", b.decl))
			continue
		}
		mergeBlock(m.defaults, b)
	}
	for _, v := range fb.variables {
		prev, ok := m.variables[v.name]
		if !ok {
			diags = append(diags, overridesNothing("variable", v.name, v.decl))
			continue
		}
		mergeBlock(&prev.rawBlock, &v.rawBlock)
	}
	for _, a := range fb.locals {
		if _, ok := m.locals[a.Name]; !ok {
			diags = append(diags, overridesNothing("local value", a.Name, a.NameRange))
			continue
		}
		m.locals[a.Name] = a
	}
	for _, f := range fb.forwards {
		prev, ok := m.forwards[f.name]
		if !ok {
			diags = append(diags, overridesNothing("forward", f.name, f.decl))
			continue
		}
		mergeBlock(&prev.rawBlock, &f.rawBlock)
	}
	for _, o := range fb.outputs {
		prev, ok := m.outputs[o.name]
		if !ok {
			diags = append(diags, overridesNothing("output", o.name, o.decl))
			continue
		}
		mergeBlock(&prev.rawBlock, &o.rawBlock)
	}
	return diags
}

func overridesNothing(kind, name string, at hcl.Range) *hcl.Diagnostic {
	what := describe(kind, name)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Override of undeclared " + kind,
		Detail: fmt.Sprintf("%s in an override file overrides nothing: no %s is declared in kpf.hcl or *.kpf.hcl. Override files only change what a shared file declares.",
			upperFirst(what), what),
		Subject: at.Ptr(),
	}
}

// mergeBlock merges over onto base attribute by attribute; nested health
// blocks merge the same way.
func mergeBlock(base, over *rawBlock) {
	for _, group := range exclusiveGroups() {
		if !setsAny(over.attrs, group) {
			continue
		}
		for _, name := range group {
			delete(base.attrs, name)
		}
	}
	if base.attrs == nil {
		base.attrs = hcl.Attributes{}
	}
	for name, a := range over.attrs {
		base.attrs[name] = a
	}
	switch {
	case over.health == nil:
	case base.health == nil:
		base.health = over.health
	default:
		mergeBlock(base.health, over.health)
	}
}

func setsAny(attrs hcl.Attributes, names []string) bool {
	for _, n := range names {
		if _, ok := attrs[n]; ok {
			return true
		}
	}
	return false
}
