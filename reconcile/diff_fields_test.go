package reconcile

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/spec/model"
)

// diffIgnores lists the fields of model.Forward (dotted paths into its
// structs) that Diff deliberately does not compare, each with its reason.
// Every other field must change the plan of a running forward.
var diffIgnores = map[string]string{
	"Name":        "the forward's identity: another name is another forward (a Stop and a Start)",
	"Open":        "read by `kpf open` from the spec at the time; nothing that runs uses it",
	"Decl":        "where the block was declared: moving it changes nothing that runs",
	"Sensitive":   "what views redact; it shapes no forward (the state records it at each start)",
	"AutoAddress": "says the address is kpf's to choose; the chosen Address is compared",
}

// TestDiffComparesEveryForwardField walks model.Forward: a change of any
// field not in diffIgnores must make Diff act on a running forward (a
// replacement names the field), so that no attribute is left out of the
// plan again, as health was.
func TestDiffComparesEveryForwardField(t *testing.T) {
	t.Parallel()
	base := dfwd("api", 8080, func(f *model.Forward) {
		f.Selector = map[string]string{"app": "api"}
		f.Runtime = "fake" // the handle's runtime (fakeHandle)
		f.MaxConnections = 5
		f.Health = model.Health{Kind: model.HealthHTTP, HTTPPath: "/healthz", Interval: time.Second,
			Timeout: time.Second, FailureThreshold: 2, Declared: true}
	})
	actual := Actual{"api": drunning(base, 8080)}
	if p := Diff([]model.Forward{base}, actual, dbusyPorts{}); p.HasChanges() {
		t.Fatalf("the unchanged forward plans %+v", p.Changes)
	}
	seen := map[string]bool{}
	for _, path := range forwardFields(reflect.TypeFor[model.Forward](), "") {
		seen[path] = true
		if _, ok := diffIgnores[path]; ok {
			continue
		}
		t.Run(path, func(t *testing.T) {
			f := cloneForward(base)
			changeField(t, fieldAt(reflect.ValueOf(&f).Elem(), path), path)
			p := Diff([]model.Forward{f}, actual, dbusyPorts{})
			if len(p.Changes) != 1 {
				t.Fatalf("%d changes, want 1: %+v", len(p.Changes), p.Changes)
			}
			c := p.Changes[0]
			switch {
			case c.Action == NoOp:
				t.Fatalf("a change of %s plans nothing: compare it in Diff, or list it in diffIgnores with a reason", path)
			case c.Action == Replace && len(c.Fields) == 0:
				t.Errorf("a change of %s replaces with reason %q but names no field (replaceFields)", path, c.Reason)
			}
		})
	}
	for path := range diffIgnores {
		if !seen[path] {
			t.Errorf("diffIgnores lists %s, which model.Forward no longer has", path)
		}
	}
}

// forwardFields lists the dotted paths of t's fields, into nested structs
// (not into ignored ones).
func forwardFields(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		path := prefix + sf.Name
		if _, ignored := diffIgnores[path]; sf.Type.Kind() == reflect.Struct && !ignored {
			out = append(out, forwardFields(sf.Type, path+".")...)
			continue
		}
		out = append(out, path)
	}
	return out
}

func fieldAt(v reflect.Value, path string) reflect.Value {
	for name := range strings.SplitSeq(path, ".") {
		v = v.FieldByName(name)
	}
	return v
}

// changeField sets v to a value other than its own.
func changeField(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Map:
		if v.Type() != reflect.TypeFor[map[string]string]() {
			t.Fatalf("%s: teach changeField about %s", path, v.Type())
		}
		m := map[string]string{"added": "x"}
		for k, val := range v.Interface().(map[string]string) {
			m[k] = val
		}
		v.Set(reflect.ValueOf(m))
	case reflect.Slice:
		if v.Type() != reflect.TypeFor[[]string]() {
			t.Fatalf("%s: teach changeField about %s", path, v.Type())
		}
		v.Set(reflect.ValueOf(append(slices.Clone(v.Interface().([]string)), "added")))
	default:
		t.Fatalf("%s: teach changeField about %s", path, v.Type())
	}
}

func cloneForward(f model.Forward) model.Forward {
	sel := make(map[string]string, len(f.Selector))
	for k, v := range f.Selector {
		sel[k] = v
	}
	f.Selector = sel
	return f
}
