package spec

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// LoadOptions carries every input to loading a workspace, the environment
// included, so that loading never reads os.Environ by itself.
type LoadOptions struct {
	// Dir is the workspace directory; "" means the current directory.
	Dir string
	// Env looks up environment variables (KPF_VAR_name and env()); nil
	// means an empty environment. An empty value counts as unset.
	Env func(string) string
	// VarFiles are HCL files of name = value attributes (--var-file), applied in order.
	VarFiles []string
	// Vars are "name=value" strings (--var), applied in order; the last wins.
	Vars []string
}

// Loader loads workspaces and keeps every file it read during the last Load
// (spec files, variable files and synthetic sources for --var and
// KPF_VAR_name values) so diagnostics can be rendered with source snippets.
// A Loader is not safe for concurrent use; each Load starts afresh.
type Loader struct {
	files   map[string]*hcl.File
	outputs *Outputs
	// varSrc is where each variable's value was given outside the spec
	// files, by name (errors about its use move there).
	varSrc map[string]hcl.Range
}

// Outputs returns the output blocks of the last Load that succeeded (nil
// when it failed or the workspace has none), to be evaluated against what
// runs.
func (l *Loader) Outputs() *Outputs { return l.outputs }

// NewLoader returns a Loader.
func NewLoader() *Loader {
	return &Loader{files: map[string]*hcl.File{}}
}

// Load loads the workspace opts describes. See Loader.Load.
func Load(opts LoadOptions) (*Workspace, hcl.Diagnostics) {
	return NewLoader().Load(opts)
}

// Files returns the files read by the last Load, keyed by the file names
// used in diagnostics (relative to the workspace directory).
func (l *Loader) Files() map[string]*hcl.File { return l.files }

func (l *Loader) addSynthetic(name string, src []byte) {
	l.files[name] = &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
}

// Load reads, evaluates and validates the workspace. The workspace is nil
// when the diagnostics hold an error; warnings come with a workspace.
// Diagnostics are sorted by file and position.
func (l *Loader) Load(opts LoadOptions) (*Workspace, hcl.Diagnostics) {
	l.files = map[string]*hcl.File{}
	l.outputs = nil
	abs, primary, override, diags := specFiles(opts.Dir)
	if diags != nil {
		return nil, diags
	}

	// Syntax errors in any file stop loading before decoding, so that a
	// half-parsed file does not cascade into misleading errors.
	names := append(append([]string(nil), primary...), override...)
	bodies, decoded, diags := l.parseFiles(abs, names)
	early.drop() // the first Load took what it could
	if diags.HasErrors() {
		sortDiagnostics(diags)
		return nil, diags
	}
	m := newRawModule()
	for i, body := range bodies {
		fb, d := decoded[i].blocks, decoded[i].diags // decoded by a prefetch
		if fb == nil {
			fb, d = decodeFile(body)
		}
		diags = append(diags, d...)
		if i < len(primary) {
			diags = append(diags, m.addPrimary(fb)...)
		} else {
			diags = append(diags, m.addOverride(fb)...)
		}
	}

	b := &budget{}
	vars, d := l.evalVariables(m, opts, b)
	diags = append(diags, d...)
	sc := &scope{b: b, funcs: map[string]function.Function{}, std: true, lookup: opts.Env}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: sc.funcs,
	}
	_, d = evalLocals(m, ctx, sc)
	diags = append(diags, d...)

	e := &evaluator{ctx: ctx, scope: sc}
	name, settings := e.decodeSettings(m.kpf, filepath.Base(abs))
	defs := e.decodeDefaults(m.defaults)
	defs.clusterDomain = settings.ClusterDomain
	infos := make([]*forwardInfo, 0, len(m.forwards))
	for _, rf := range m.forwards {
		infos = append(infos, e.decodeForward(rf, defs))
	}
	// Conflicts point at the later declaration.
	sort.Slice(infos, func(i, j int) bool { return declLess(infos[i].f.Decl, infos[j].f.Decl, primary, override) })
	e.checkPorts(infos)
	e.checkHostnames(infos)
	outputs := e.decodeOutputs(m, infos)
	settings.EnvFile = e.envFile(m.kpf, abs)
	relocateVarDiags(e.diags, m, l.varSrc)
	diags = append(diags, e.diags...)

	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	if outputs.Len() > 0 {
		l.outputs = outputs
	}
	return newWorkspace(abs, name, settings, infos, names), diags
}

// specFiles finds a workspace's spec files in dir (empty: "."): its
// absolute path, the primary files and the override files, or why not.
func specFiles(dir string) (string, []string, []string, hcl.Diagnostics) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid workspace directory", Detail: err.Error()}}
	}
	primary, override, err := workspaceFiles(abs)
	if err != nil {
		return "", nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read workspace", Detail: fmt.Sprintf("Reading %s: %s.", dir, err)}}
	}
	if len(primary) == 0 {
		detail := fmt.Sprintf("no kpf.hcl or *.kpf.hcl in %s; run kpf init to write a starter kpf.hcl.", dir)
		if len(override) > 0 {
			detail = fmt.Sprintf("no kpf.hcl or *.kpf.hcl in %s, only override files (%s), which have nothing to override.", dir, override[0])
		}
		return "", nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No spec files", Detail: detail}}
	}
	return abs, primary, override, nil
}

// newWorkspace is the loaded workspace: its forwards sorted by name, each
// with the workspace's runtime unless it names its own.
func newWorkspace(abs, name string, settings Settings, infos []*forwardInfo, files []string) *Workspace {
	ws := &Workspace{
		Dir:      abs,
		Name:     name,
		Settings: settings,
		Forwards: make([]Forward, len(infos)),
		Files:    files,
	}
	for i, fi := range infos {
		ws.Forwards[i] = fi.f
		if ws.Forwards[i].Runtime == "" {
			ws.Forwards[i].Runtime = settings.Runtime
		}
	}
	sort.Slice(ws.Forwards, func(i, j int) bool { return ws.Forwards[i].Name < ws.Forwards[j].Name })
	return ws
}

// parseFiles reads and parses the spec files, in parallel when there are
// several; bodies, the top levels a prefetch decoded (decodedFile's zero
// value where none did) and diagnostics come in the order of names.
func (l *Loader) parseFiles(dir string, names []string) ([]hcl.Body, []decodedFile, hcl.Diagnostics) {
	files := make([]*hcl.File, len(names))
	fileDiags := make([]hcl.Diagnostics, len(names))
	decoded := make([]decodedFile, len(names))
	eachFile(names, func(i int, name string) {
		files[i], fileDiags[i], decoded[i] = parseFile(dir, name)
	})
	var diags hcl.Diagnostics
	bodies := make([]hcl.Body, len(names))
	for i, name := range names {
		diags = append(diags, fileDiags[i]...)
		if files[i] != nil {
			l.files[name] = files[i]
			bodies[i] = files[i].Body
		}
	}
	return bodies, decoded, diags
}

// eachFile calls fn with every name of names and its index: on this
// goroutine for one file, on a goroutine each for several (they parse at
// once), returning when every call has.
func eachFile(names []string, fn func(i int, name string)) {
	if len(names) == 1 {
		fn(0, names[0])
		return
	}
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { fn(i, name) })
	}
	wg.Wait()
}

// parseFile reads and parses one spec file; the file is nil when it cannot
// be read. decoded is the file's top level when a prefetch decoded it.
func parseFile(dir, name string) (*hcl.File, hcl.Diagnostics, decodedFile) {
	src, diags := readSpecFile(dir, name)
	if diags.HasErrors() {
		return nil, diags, decodedFile{}
	}
	if pf := early.take(name, src); pf != nil {
		return pf.file, pf.diags, pf.decoded
	}
	if diags := checkNesting(src, name); diags.HasErrors() {
		return &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, diags, decodedFile{}
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	return f, diags, decodedFile{}
}

// declLess orders declarations by load order of their files, then position.
func declLess(a, b Pos, primary, override []string) bool {
	if a.File != b.File {
		return fileIndex(a.File, primary, override) < fileIndex(b.File, primary, override)
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Column < b.Column
}

func fileIndex(name string, primary, override []string) int {
	for i, n := range primary {
		if n == name {
			return i
		}
	}
	for i, n := range override {
		if n == name {
			return len(primary) + i
		}
	}
	return len(primary) + len(override)
}

// sortDiagnostics orders diagnostics by file and position; diagnostics
// without a source range come first. The sort is stable.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
