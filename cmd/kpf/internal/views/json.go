package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/kpf-dev/kpf/reconcile"
)

// JSONVersion is the version of `kpf apply --json`'s stream
// (docs/apply-json.md). A minor bump only adds types or fields; a major
// one may remove or change them.
const JSONVersion = "1.0"

// JSON is `kpf apply --json`: one JSON object per event per line. Every
// object has "@level", "@message", "@timestamp" and "type", and one
// payload named by its type's family; the first line is a "version".
type JSON struct {
	w   io.Writer
	now func() time.Time
	mu  sync.Mutex
	err error // the first write error; later lines are dropped
}

var _ reconcile.Hook = (*JSON)(nil)

// NewJSON writes the stream to w; now stamps the lines that are not
// events of reconcile (nil: time.Now).
func NewJSON(w io.Writer, now func() time.Time) *JSON {
	if now == nil {
		now = time.Now
	}
	return &JSON{w: w, now: now}
}

// Err is the first error writing the stream.
func (j *JSON) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// jsonLine is one line of the stream.
type jsonLine struct {
	Level     string `json:"@level"`
	Message   string `json:"@message"`
	Timestamp string `json:"@timestamp"`
	Type      string `json:"type"`

	UI         string          `json:"ui,omitempty"`
	KPF        string          `json:"kpf,omitempty"`
	Plan       json.RawMessage `json:"plan,omitempty"`
	Action     *jsonAction     `json:"action,omitempty"`
	Cluster    *jsonCluster    `json:"cluster,omitempty"`
	Forward    *jsonForward    `json:"forward,omitempty"`
	Spec       *jsonSpec       `json:"spec,omitempty"`
	Diagnostic *jsonDiagnostic `json:"diagnostic,omitempty"`
	Summary    *Summary        `json:"summary,omitempty"`
	Watch      *jsonWatch      `json:"watch,omitempty"`
}

type jsonAction struct {
	Forward    string `json:"forward"`
	Action     string `json:"action"`
	Reason     string `json:"reason,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	RetryInMS  int64  `json:"retry_in_ms,omitempty"`
	Address    string `json:"address,omitempty"`
	Port       int    `json:"port,omitempty"`
	MovedFrom  int    `json:"moved_from,omitempty"`
	NeverRan   bool   `json:"never_ran,omitempty"`
	Error      string `json:"error,omitempty"`
	Permanent  bool   `json:"permanent,omitempty"`
	NotReached bool   `json:"not_reached,omitempty"`
}

type jsonCluster struct {
	Context  string   `json:"context"`
	Forwards []string `json:"forwards"`
	Error    string   `json:"error"`
}

type jsonForward struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
	From  string `json:"health_from,omitempty"`
	To    string `json:"health_to,omitempty"`
}

type jsonSpec struct {
	Forwards    int              `json:"forwards,omitempty"`
	Recovered   bool             `json:"recovered,omitempty"`
	Error       string           `json:"error,omitempty"`
	Unplannable []string         `json:"unplannable,omitempty"`
	Diagnostics []jsonDiagnostic `json:"diagnostics,omitempty"`
}

type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonWatch struct {
	Forwards int `json:"forwards,omitempty"`
}

// Level words of the stream.
const (
	levelInfo  = "info"
	levelWarn  = "warn"
	levelError = "error"
)

func (j *JSON) emit(at time.Time, l jsonLine) {
	if at.IsZero() {
		at = j.now()
	}
	l.Timestamp = at.UTC().Format(time.RFC3339Nano)
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // one line, ending in a newline
	enc.SetEscapeHTML(false)
	err := enc.Encode(l)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return
	}
	if err == nil {
		_, err = j.w.Write(b.Bytes())
	}
	if err != nil {
		j.err = fmt.Errorf("writing the json stream: %w", err)
	}
}

// message is the human words of an event, unescaped (JSON encodes them).
func message(ev any, fallback string) string {
	name, text, _, ok := Text(ev)
	switch {
	case !ok:
		return fallback
	case name == "":
		return text
	}
	return "forward." + name + ": " + text
}

// Version is the stream's first line.
func (j *JSON) Version(kpf string) {
	j.emit(time.Time{}, jsonLine{Level: levelInfo, Message: "kpf " + kpf, Type: "version", UI: JSONVersion, KPF: kpf})
}

// PlanReady is the plan in the schema of `kpf plan --json`.
func (j *JSON) PlanReady(e reconcile.PlanReady) {
	var b bytes.Buffer
	if err := (PlanJSON{W: &b}).Show(e.Plan); err != nil {
		j.mu.Lock()
		j.err = err
		j.mu.Unlock()
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b.Bytes()); err != nil {
		j.mu.Lock()
		j.err = err
		j.mu.Unlock()
		return
	}
	s := e.Plan.Plan().Summary()
	msg := fmt.Sprintf("Plan: %d to start, %d to replace, %d to restart, %d to stop.", s.Start, s.Replace, s.Restart, s.Stop)
	j.emit(e.At, jsonLine{Level: levelInfo, Message: msg, Type: "plan", Plan: compact.Bytes()})
}

func (j *JSON) ActionStarted(e reconcile.ActionStarted) {
	j.emit(e.At, jsonLine{Level: levelInfo, Message: fmt.Sprintf("forward.%s: %s", e.Forward, actionWord(e.Action)),
		Type: "action_started", Action: &jsonAction{Forward: e.Forward, Action: actionName(e.Action), Reason: e.Reason}})
}

func (j *JSON) ActionRetried(e reconcile.ActionRetried) {
	j.emit(e.At, jsonLine{Level: levelWarn, Message: fmt.Sprintf("forward.%s: attempt %d failed: %s", e.Forward, e.Attempt, e.Error),
		Type: "action_retried", Action: &jsonAction{Forward: e.Forward, Action: actionName(e.Action), Attempt: e.Attempt,
			RetryInMS: e.RetryIn.Milliseconds(), Error: e.Error}})
}

func (j *JSON) ActionSucceeded(e reconcile.ActionSucceeded) {
	j.emit(e.At, jsonLine{Level: levelInfo, Message: message(e, ""), Type: "action_succeeded",
		Action: &jsonAction{Forward: e.Forward, Action: actionName(e.Action), Reason: e.Reason, Attempts: e.Attempts,
			Address: e.Address, Port: e.Port, MovedFrom: e.MovedFrom, NeverRan: e.NeverRan}})
}

func (j *JSON) ActionFailed(e reconcile.ActionFailed) {
	j.emit(e.At, jsonLine{Level: levelError, Message: message(e, fmt.Sprintf("forward.%s: not applied: %s", e.Forward, e.Error)),
		Type: "action_failed", Action: &jsonAction{Forward: e.Forward, Action: actionName(e.Action), Attempts: e.Attempts,
			Error: e.Error, Permanent: e.Permanent, NotReached: e.NotReached}})
}

func (j *JSON) ClusterUnreachable(e reconcile.ClusterUnreachable) {
	j.emit(e.At, jsonLine{Level: levelError, Message: message(e, ""), Type: "cluster_unreachable",
		Cluster: &jsonCluster{Context: e.Context, Forwards: e.Forwards, Error: e.Error}})
}

func (j *JSON) ForwardExited(e reconcile.ForwardExited) {
	msg := "forward." + e.Forward + ": exited"
	if e.Error != "" {
		msg += ": " + e.Error
	}
	j.emit(e.At, jsonLine{Level: levelWarn, Message: msg, Type: "forward_exited", Forward: &jsonForward{Name: e.Forward, Error: e.Error}})
}

func (j *JSON) HealthChanged(e reconcile.HealthChanged) {
	level := levelInfo
	if e.To == reconcile.HealthUnhealthy {
		level = levelWarn
	}
	msg := fmt.Sprintf("forward.%s: health %s -> %s", e.Forward, e.From, e.To)
	if e.Error != "" {
		msg += ": " + e.Error
	}
	j.emit(e.At, jsonLine{Level: level, Message: msg, Type: "health_changed",
		Forward: &jsonForward{Name: e.Forward, Error: e.Error, From: string(e.From), To: string(e.To)}})
}

func (j *JSON) SpecReloaded(e reconcile.SpecReloaded) {
	msg := fmt.Sprintf("the spec changed: %d forwards", e.Forwards)
	if e.Recovered {
		msg = "the spec loads again"
	}
	j.emit(e.At, jsonLine{Level: levelInfo, Message: msg, Type: "spec_reloaded", Spec: &jsonSpec{Forwards: e.Forwards, Recovered: e.Recovered}})
}

func (j *JSON) SpecBroken(e reconcile.SpecBroken) {
	msg := e.Error
	if first := FirstError(e.Diagnostics); first != "" {
		msg = first
	}
	j.emit(e.At, jsonLine{Level: levelError, Message: msg, Type: "spec_broken",
		Spec: &jsonSpec{Error: e.Error, Unplannable: e.Unplannable, Diagnostics: jsonDiagnostics(e.Diagnostics)}})
}

// Diagnostics writes a line per diagnostic (the warnings of a spec that
// loads).
func (j *JSON) Diagnostics(ds []reconcile.Diagnostic) {
	for _, d := range jsonDiagnostics(ds) {
		level := levelWarn
		if d.Severity == string(reconcile.SeverityError) {
			level = levelError
		}
		d := d
		j.emit(time.Time{}, jsonLine{Level: level, Message: d.Summary, Type: "diagnostic", Diagnostic: &d})
	}
}

// Summary is the apply's closing line.
func (j *JSON) Summary(s Summary) {
	level := levelInfo
	if !s.OK() {
		level = levelError
	}
	j.emit(time.Time{}, jsonLine{Level: level, Message: s.String(), Type: "apply_summary", Summary: &s})
}

// WatchStarted: the watch follows the spec from now on.
func (j *JSON) WatchStarted(forwards int) {
	j.emit(time.Time{}, jsonLine{Level: levelInfo, Message: fmt.Sprintf("Watching %d forwards", forwards), Type: "watch_started", Watch: &jsonWatch{Forwards: forwards}})
}

// WatchStopped: the watch ended; the forwards keep running.
func (j *JSON) WatchStopped() {
	j.emit(time.Time{}, jsonLine{Level: levelInfo, Message: "Stopped watching; forwards keep running", Type: "watch_stopped"})
}

// Serving: every forward of the apply serves (--wait).
func (j *JSON) Serving(forwards int) {
	j.emit(time.Time{}, jsonLine{Level: levelInfo, Message: fmt.Sprintf("Every forward serves (%d)", forwards), Type: "serving", Watch: &jsonWatch{Forwards: forwards}})
}

func jsonDiagnostics(ds []reconcile.Diagnostic) []jsonDiagnostic {
	if len(ds) == 0 {
		return nil
	}
	out := make([]jsonDiagnostic, len(ds))
	for i, d := range ds {
		out[i] = jsonDiagnostic{Severity: string(d.Severity), Summary: d.Summary, Detail: d.Detail}
		if r := d.Range; r != nil {
			out[i].Range = &jsonRange{Filename: r.Filename,
				Start: jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte}, End: jsonPos{r.End.Line, r.End.Column, r.End.Byte}}
		}
	}
	return out
}

// actionName is a as plan --json names it.
func actionName(a reconcile.Action) string {
	switch a {
	case reconcile.Start:
		return "start"
	case reconcile.Stop:
		return "stop"
	case reconcile.Replace:
		return "replace"
	case reconcile.Restart:
		return "restart"
	}
	return "no-op"
}

func actionWord(a reconcile.Action) string {
	switch a {
	case reconcile.Start:
		return "starting"
	case reconcile.Stop:
		return "stopping"
	case reconcile.Replace:
		return "replacing"
	case reconcile.Restart:
		return "restarting"
	}
	return string(a)
}
