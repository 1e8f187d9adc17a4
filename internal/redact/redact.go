package redact

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Placeholder stands for a value that came from a sensitive variable.
const Placeholder = "(sensitive value)"

// Field names of a forward's sensitive fields, as spec/model names them.
const (
	FieldTarget     = "Target"
	FieldSelector   = "Selector"
	FieldContext    = "Context"
	FieldNamespace  = "Namespace"
	FieldAddress    = "Address"
	FieldRemotePort = "RemotePort"
	FieldOpen       = "Open"
	FieldHealth     = "Health"
)

// Fields are the fields of a forward that may hold a sensitive value, and
// the names of those that do (Sensitive).
type Fields struct {
	Target     string // TYPE/NAME
	Selector   map[string]string
	Context    string
	Namespace  string
	Address    string
	RemotePort string
	Open       string
	HealthPath string
	Sensitive  []string
}

// Values returns the values to scrub for f: each sensitive field's value,
// and the parts of it that messages show alone (a target's name, a
// selector's keys and values). The local port is never among them: it is
// bound on this machine for anyone to see.
func Values(f Fields) []string {
	var out []string
	for _, field := range f.Sensitive {
		switch field {
		case FieldTarget:
			out = append(out, f.Target)
			if _, name, ok := strings.Cut(f.Target, "/"); ok {
				out = append(out, name)
			}
		case FieldSelector:
			for k, v := range f.Selector {
				out = append(out, k, v)
			}
		case FieldContext:
			out = append(out, f.Context)
		case FieldNamespace:
			out = append(out, f.Namespace)
		case FieldAddress:
			out = append(out, f.Address)
		case FieldRemotePort:
			out = append(out, f.RemotePort)
		case FieldOpen:
			out = append(out, f.Open)
		case FieldHealth:
			out = append(out, f.HealthPath)
		}
	}
	return out
}

// Scrubber replaces the values it holds by Placeholder. The zero value
// holds none; it is safe for concurrent use.
type Scrubber struct {
	mu     sync.RWMutex
	values map[string]struct{}
	r      *strings.Replacer // nil while values is empty
}

// New returns a Scrubber holding values.
func New(values ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(values...)
	return s
}

// Add makes s scrub values too, and the forms they take in quoted and
// JSON text. Empty values are ignored. A value once added stays.
func (s *Scrubber) Add(values ...string) {
	var add []string
	for _, v := range values {
		add = append(add, forms(v)...)
	}
	if len(add) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.values)
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	for _, v := range add {
		s.values[v] = struct{}{}
	}
	if len(s.values) == n {
		return
	}
	// Longest first: a replacer tries its pairs in order at each position,
	// so "service/db" goes whole rather than as "service/" + "db".
	all := make([]string, 0, len(s.values))
	for v := range s.values {
		all = append(all, v)
	}
	slices.SortFunc(all, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, Placeholder)
	}
	s.r = strings.NewReplacer(pairs...)
}

// forms are v as text shows it: as is, Go-quoted and JSON-encoded (without
// the quotes) where those differ.
func forms(v string) []string {
	if v == "" {
		return nil
	}
	out := []string{v}
	if q := strconv.Quote(v); q[1:len(q)-1] != v {
		out = append(out, q[1:len(q)-1])
	}
	if b, err := json.Marshal(v); err == nil && string(b[1:len(b)-1]) != v {
		out = append(out, string(b[1:len(b)-1]))
	}
	return out
}

// Len is how many values (forms included) s holds.
func (s *Scrubber) Len() int {
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.values)
}

// Scrub returns text with every value s holds replaced by Placeholder. A
// nil Scrubber returns text as is.
func (s *Scrubber) Scrub(text string) string {
	if s == nil || text == "" {
		return text
	}
	s.mu.RLock()
	r := s.r
	s.mu.RUnlock()
	if r == nil {
		return text
	}
	return r.Replace(text)
}

// Error returns err with its message scrubbed; errors.Is and errors.As
// still find what err wraps (whose own texts are not scrubbed: callers
// that show them scrub them). nil stays nil; an error with nothing to
// scrub is returned as is.
func (s *Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := s.Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
