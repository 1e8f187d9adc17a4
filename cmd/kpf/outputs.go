package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/reconcile"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

// endpoints are where the spec's forwards run, per the state file: the
// address and the port each actually got. Forwards without a record (or
// disabled) are absent. No runtime is asked: kpf output and env read files
// only (and the hosts file, for the names).
func (a *app) endpoints(ws *spec.Workspace, st *state.File) map[string]model.Endpoint {
	out := make(map[string]model.Endpoint, len(ws.Forwards))
	for _, f := range ws.Forwards {
		rec, ok := st.Forwards[f.Name]
		if !ok || !f.Enabled || rec.Handle.IsZero() || rec.LocalPort == 0 {
			continue
		}
		// A forward's name where the hosts file gives it: http://api:8080/.
		out[f.Name] = model.NewEndpoint(a.reachHost(rec), rec.LocalPort, f.Open)
	}
	return out
}

// evalOutputs evaluates the outputs against eps and makes the run's log and
// errors scrub the sensitive ones.
func (a *app) evalOutputs(eps map[string]model.Endpoint) []model.Output {
	outs := a.outputs.Eval(eps)
	for _, o := range outs {
		if o.Sensitive && o.Known && o.Text != "" {
			a.scrub.Add(o.Text)
		}
	}
	return outs
}

// planOutputs adds to p the changes its forward changes make to the
// outputs: before from the state, after from the plan's ports.
func (a *app) planOutputs(p *reconcile.Plan, ws *spec.Workspace, st *state.File) {
	if a.outputs.Len() == 0 {
		return
	}
	before := a.evalOutputs(a.endpoints(ws, st))
	// After: what runs now, changed by the plan (which may cover only
	// some forwards: apply --only).
	eps := a.endpoints(ws, st)
	for _, c := range p.Changes {
		if c.Action == reconcile.Stop || c.Desired == nil || !c.Desired.Enabled {
			delete(eps, c.Name)
			continue
		}
		ep := model.NewEndpoint(c.Desired.Address, c.Port, c.Desired.Open)
		if c.Port == 0 {
			ep = model.Endpoint{Host: ep.Host}
		}
		eps[c.Name] = ep
	}
	after := a.evalOutputs(eps)
	value := func(o model.Output, eps map[string]model.Endpoint) reconcile.OutputValue {
		if o.Known {
			return reconcile.OutputValue{Present: true, Known: true, Text: o.Text, JSON: o.JSON}
		}
		for _, f := range o.Missing {
			if _, ok := eps[f]; !ok {
				return reconcile.OutputValue{} // a forward it needs will not run
			}
		}
		return reconcile.OutputValue{Present: true}
	}
	names := a.outputs.Names()
	bm, am := map[string]reconcile.OutputValue{}, map[string]reconcile.OutputValue{}
	sens := map[string]bool{}
	for _, o := range before {
		bm[o.Name] = value(o, a.endpoints(ws, st))
		sens[o.Name] = sens[o.Name] || o.Sensitive
	}
	for _, o := range after {
		am[o.Name] = value(o, eps)
		sens[o.Name] = sens[o.Name] || o.Sensitive
	}
	p.Outputs = reconcile.DiffOutputs(names, bm, am, sens)
}

// readOnlyOutputs loads the spec and the state (no lock, no runtime, no
// kubeconfig) and evaluates the outputs.
func (a *app) readOnlyOutputs() (*spec.Workspace, *state.File, []model.Output, error) {
	ws, err := a.loadSpec()
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := a.view(ws.Dir)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := store.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	a.hide(nil, st)
	return ws, st, a.evalOutputs(a.endpoints(ws, st)), nil
}

type outputOptions struct {
	JSON bool
	Raw  bool
}

func (a *app) outputCommand() *cobra.Command {
	var o outputOptions
	cmd := &cobra.Command{
		Use:   "output [NAME]",
		Short: "Show the spec's outputs, evaluated against the forwards that run",
		Long: `output evaluates the spec's output blocks against what runs: forward.NAME.port
is the port the forward actually got (a moved port shows), read from the state
file. It contacts no cluster and no agent.

Without NAME it lists every output (sensitive ones as <sensitive>); with NAME
it prints that output's value. --raw prints a string, number or bool as it
is, without quotes or newline (for scripts; sensitive values too). --json
prints every output (or NAME's value) as JSON, sensitive values included,
as Terraform does. An output whose forward is not running has no value:
it is left out of --json and named on stderr.`,
		Example: `  kpf output
  kpf output DATABASE_URL
  psql "$(kpf output --raw DATABASE_URL)"
  kpf output --json | jq -r .DATABASE_URL.value`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeOutputNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return a.output(cmd.OutOrStdout(), name, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON (sensitive values included)")
	cmd.Flags().BoolVar(&o.Raw, "raw", false, "print NAME's value as it is: no quotes, no newline")
	return cmd
}

func (a *app) output(out io.Writer, name string, o outputOptions) error {
	if o.Raw && o.JSON {
		return errors.New("--raw and --json cannot be combined")
	}
	if o.Raw && name == "" {
		return errors.New("--raw needs the NAME of an output")
	}
	_, _, outs, err := a.readOnlyOutputs()
	if err != nil {
		return err
	}
	if name != "" {
		var found *model.Output
		for i := range outs {
			if outs[i].Name == name {
				found = &outs[i]
			}
		}
		if found == nil {
			return fmt.Errorf("no output named %q in the spec (outputs: %s)", termtext.Escape(name), termtext.Escape(strings.Join(a.outputs.Names(), ", ")))
		}
		if !found.Known {
			return notAvailable(*found)
		}
		switch {
		case o.Raw:
			if found.Type != "string" && found.Type != "number" && found.Type != "bool" {
				return fmt.Errorf("output %q is a %s: --raw prints only strings, numbers and bools; use --json", name, found.Type)
			}
			_, err = io.WriteString(out, found.Text)
		case o.JSON:
			_, err = fmt.Fprintf(out, "%s\n", found.JSON)
		case found.Sensitive:
			_, err = fmt.Fprintln(out, "<sensitive> (kpf output --raw "+name+" shows it)")
		default:
			_, err = fmt.Fprintln(out, termtext.EscapeText(hclText(*found)))
		}
		return err
	}
	if o.JSON {
		return writeOutputsJSON(out, outs, a.io.Err)
	}
	if len(outs) == 0 {
		fmt.Fprintln(a.io.Err, "No outputs: the spec declares no output block.")
		return nil
	}
	width := 0
	for _, op := range outs {
		width = max(width, len(op.Name))
	}
	var b bytes.Buffer
	for _, op := range outs {
		fmt.Fprintf(&b, "%-*s = ", width, op.Name)
		switch {
		case !op.Known:
			b.WriteString("(not available: " + missingText(op) + ")")
		case op.Sensitive:
			b.WriteString("<sensitive>")
		default:
			b.WriteString(termtext.EscapeText(hclText(op)))
		}
		b.WriteByte('\n')
	}
	_, err = out.Write(b.Bytes())
	return err
}

// hclText is an output's value as the spec would write it.
func hclText(o model.Output) string {
	if o.Type == "string" {
		return strconv.Quote(o.Text)
	}
	return o.Text
}

func missingText(o model.Output) string {
	if len(o.Missing) == 0 {
		return "its value is unknown"
	}
	names := make([]string, len(o.Missing))
	for i, m := range o.Missing {
		names[i] = "forward." + m
	}
	verb := "is"
	if len(names) > 1 {
		verb = "are"
	}
	return strings.Join(names, ", ") + " " + verb + " not running"
}

func notAvailable(o model.Output) error {
	return fmt.Errorf("output %q has no value: %s; 'kpf apply' starts it", o.Name, missingText(o))
}

type jsonOutput struct {
	Sensitive bool            `json:"sensitive"`
	Type      string          `json:"type"`
	Value     json.RawMessage `json:"value"`
}

func writeOutputsJSON(out io.Writer, outs []model.Output, errw io.Writer) error {
	m := make(map[string]jsonOutput, len(outs))
	for _, o := range outs {
		if !o.Known {
			fmt.Fprintf(errw, "Output %q left out: %s.\n", o.Name, missingText(o))
			continue
		}
		m[o.Name] = jsonOutput{Sensitive: o.Sensitive, Type: o.Type, Value: o.JSON}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("writing outputs as json: %w", err)
	}
	return nil
}

// envVar is one variable of kpf env.
type envVar struct {
	Name, Value string
	// From says where it comes from, for clashes: output "X" (file:line:col)
	// or forward "db".
	From string
	// Sensitive values are scrubbed from logs; kpf env prints them.
	Sensitive bool
}

// envNameRE is compiled on first use (kpf output), not at every start.
var envNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// forwardEnvName is a forward name as part of an environment variable:
// upper-cased, every other character than A-Z, 0-9 and _ as _.
func forwardEnvName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// envVars are kpf env's variables: every known output whose name is an
// environment variable name, then KPF_<NAME>_HOST, _PORT, _ADDRESS and _URL
// per running forward, sorted by name; only those selected when names is
// not empty (an output's or a forward's name). A name two sources produce
// is an error naming both. warn is told of each output left out.
func envVars(ws *spec.Workspace, eps map[string]model.Endpoint, outs []model.Output, names []string, warn func(string)) ([]envVar, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	found := map[string]bool{}
	selected := func(n string) bool {
		if len(names) == 0 {
			return true
		}
		found[n] = want[n]
		return want[n]
	}
	byName := map[string]envVar{}
	var vars []envVar
	add := func(v envVar) error {
		if prev, ok := byName[v.Name]; ok {
			return fmt.Errorf("environment variable %s would come from both %s and %s: rename one of them", v.Name, prev.From, v.From)
		}
		byName[v.Name] = v
		vars = append(vars, v)
		return nil
	}
	for _, o := range outs {
		if !selected(o.Name) {
			continue
		}
		if !envNameRE().MatchString(o.Name) {
			if len(names) > 0 {
				warn(fmt.Sprintf("output %q is left out: its name is not an environment variable name (letters, digits and _)", o.Name))
			}
			continue
		}
		if !o.Known {
			warn(fmt.Sprintf("%s is not set: %s", o.Name, missingText(o)))
			continue
		}
		if err := add(envVar{Name: o.Name, Value: o.Text, From: fmt.Sprintf("output %q (%s)", o.Name, o.Decl), Sensitive: o.Sensitive}); err != nil {
			return nil, err
		}
	}
	for _, f := range ws.Forwards {
		ep, ok := eps[f.Name]
		if !selected(f.Name) || !ok {
			continue
		}
		base := "KPF_" + forwardEnvName(f.Name) + "_"
		from := fmt.Sprintf("forward %q (%s)", f.Name, f.Decl)
		for _, v := range []envVar{
			{Name: base + "HOST", Value: ep.Host},
			{Name: base + "PORT", Value: strconv.Itoa(ep.Port)},
			{Name: base + "ADDRESS", Value: ep.Address},
			{Name: base + "URL", Value: ep.URL},
		} {
			v.From = from
			if err := add(v); err != nil {
				return nil, err
			}
		}
	}
	var unknown []string
	for n := range want {
		if !found[n] {
			unknown = append(unknown, termtext.Escape(n))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("no output or running forward named %s", strings.Join(unknown, ", "))
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	return vars, nil
}

// Formats of kpf env.
var envFormats = []string{"sh", "fish", "powershell", "dotenv", "json"}

// formatEnv renders vars in format.
func formatEnv(vars []envVar, format string) ([]byte, error) {
	var b bytes.Buffer
	switch format {
	case "json":
		m := make(map[string]string, len(vars))
		for _, v := range vars {
			m[v.Name] = v.Value
		}
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return nil, fmt.Errorf("writing the environment as json: %w", err)
		}
		return b.Bytes(), nil
	case "sh", "bash", "zsh":
		for _, v := range vars {
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, shQuote(v.Value))
		}
	case "fish":
		for _, v := range vars {
			fmt.Fprintf(&b, "set -gx %s %s\n", v.Name, fishQuote(v.Value))
		}
	case "powershell", "pwsh":
		for _, v := range vars {
			fmt.Fprintf(&b, "$env:%s = %s\n", v.Name, psQuote(v.Value))
		}
	case "dotenv":
		for _, v := range vars {
			fmt.Fprintf(&b, "%s=%s\n", v.Name, dotenvQuote(v.Value))
		}
	default:
		return nil, fmt.Errorf("unknown --format %q (want %s)", format, strings.Join(envFormats, ", "))
	}
	return b.Bytes(), nil
}

// shQuote quotes s for POSIX shells: in single quotes, where nothing is
// special but the single quote itself ('\” closes, adds one, reopens).
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fishQuote quotes s for fish: in single quotes, where only \ and ' are
// escaped.
func fishQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// psQuote quotes s for PowerShell: a verbatim single-quoted string, where
// each single quote (PowerShell also takes the typographic ones) is doubled.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// dotenvQuote quotes s for docker compose's env_file and direnv's dotenv:
// single quotes (taken literally: no escapes, no ${} interpolation) unless s
// holds a single quote or a line break, or ends with a backslash (which a
// parser would take as escaping the closing quote); then double quotes
// with \\, \", \$, \n and \r escaped (godotenv's and direnv's escapes;
// docker compose, which writes a literal $ in double quotes as $$, is the
// one reader that may differ, for such values only).
func dotenvQuote(s string) string {
	if !strings.ContainsAny(s, "'\n\r") && !strings.HasSuffix(s, `\`) {
		return "'" + s + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

type envOptions struct {
	Format string
}

func (a *app) envCommand() *cobra.Command {
	var o envOptions
	cmd := &cobra.Command{
		Use:   "env [NAME...]",
		Short: "Print the forwards and outputs as environment variables for a shell",
		Long: `env prints, for a shell to evaluate, every output whose name is an environment
variable name and, per running forward, KPF_<NAME>_HOST, _PORT, _ADDRESS
(host:port) and _URL (http://address plus its open path), where NAME is the
forward's name upper-cased with every other character than letters and
digits as _. Values come from the state file (the ports forwards actually
got); no cluster or agent is contacted. With NAMEs, only those outputs and
forwards. Sensitive outputs are included: they are what apps need.`,
		Example: `  eval "$(kpf env)"                       # bash, zsh
  kpf env --format fish | source           # fish
  kpf env --format powershell | Invoke-Expression
  kpf env --format dotenv > .env.local
  kpf env db DATABASE_URL`,
		ValidArgsFunction: a.completeEnvNames,
		RunE: func(cmd *cobra.Command, names []string) error {
			ws, st, outs, err := a.readOnlyOutputs()
			if err != nil {
				return err
			}
			vars, err := envVars(ws, a.endpoints(ws, st), outs, names, func(s string) {
				fmt.Fprintf(a.io.Err, "kpf env: %s\n", s)
			})
			if err != nil {
				return err
			}
			text, err := formatEnv(vars, o.Format)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(text)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "sh", "`format`: sh (bash, zsh), fish, powershell, dotenv or json")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(envFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// writeEnvFile writes the workspace's env file (dotenv) from st, atomically
// and 0600; it removes it when path is "". Failures are returned, for the
// caller to report: the forwards run anyway.
func (a *app) writeEnvFile(ws *spec.Workspace, st *state.File) error {
	path := ws.Settings.EnvFile
	if path == "" {
		return nil
	}
	st.EnvFile = path
	eps := a.endpoints(ws, st)
	vars, err := envVars(ws, eps, a.evalOutputs(eps), nil, func(s string) { a.log.Debug("env file", "note", s) })
	if err != nil {
		return fmt.Errorf("env file %s: %w", path, err)
	}
	text, err := formatEnv(vars, "dotenv")
	if err != nil {
		return err
	}
	text = append([]byte("# Written by kpf from the state of "+ws.Dir+"; do not edit (kpf apply rewrites it, kpf destroy removes it).\n"), text...)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, text) {
		return nil
	}
	if err := safefs.WriteFileAtomic(path, text); err != nil {
		return fmt.Errorf("writing the env file: %w", err)
	}
	return nil
}

// removeEnvFile removes the env file kpf wrote at path (only one that
// starts as kpf writes it).
func removeEnvFile(path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the env file: %w", err)
	}
	if !bytes.HasPrefix(b, []byte("# Written by kpf ")) {
		return fmt.Errorf("not removing %s: kpf did not write it", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing the env file: %w", err)
	}
	return nil
}
