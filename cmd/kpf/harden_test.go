package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/internal/testutil"
	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/proc"
	"github.com/kpf-dev/kpf/state"
)

// workspaceStore opens the state of workspace dir as c's kpf would.
func cliStore(t *testing.T, c *cli, dir string) *state.Store {
	t.Helper()
	sdir, err := state.Dir(func(k string) string { return c.env[k] }, dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(sdir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDestroyNeverSignalsInit: a state record naming pid 1 with pid 1's
// real start time makes destroy report the forward as not kpf's (no
// signal: the refusal comes first), keep the record, and exit 1; destroy
// --forget drops it touching no process.
func TestDestroyNeverSignalsInit(t *testing.T) {
	st, err := proc.StartTime(1)
	if err != nil {
		t.Skipf("cannot read pid 1: %v", err)
	}
	dir := t.TempDir()
	c := newCLI(t)
	store := cliStore(t, c, dir)
	h, err := kubectl.NewHandle(proc.ID{PID: 1, StartTime: st}, "api")
	if err != nil {
		t.Fatal(err)
	}
	f := &state.File{Workspace: dir, Name: "ws", Forwards: map[string]state.Forward{
		"api": {Name: "api", Handle: h, Context: "kind-dev", Namespace: "shop", Address: "127.0.0.1", RemotePort: "80", LocalPort: 1},
	}}
	if err := store.Save(f); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := c.run("-C", dir, "destroy")
	if code != exitError || !strings.Contains(out, "not kpf's to stop") || !strings.Contains(out, "kpf destroy --forget api") {
		t.Fatalf("destroy: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(out, "--forget") != 1 {
		t.Errorf("reported more than once (retried?):\n%s", out)
	}
	if got := stateHandles(t, c, dir); got["api"] != h {
		t.Fatalf("destroy dropped the record it could not stop: %v", got)
	}
	if code, _, errOut := c.run("-C", dir, "destroy", "--forget"); code != exitError || !strings.Contains(errOut, "--forget needs") {
		t.Errorf("--forget without names: exit %d, %q", code, errOut)
	}
	if code, _, errOut := c.run("-C", dir, "destroy", "--forget", "nope"); code != exitError || !strings.Contains(errOut, "nope") {
		t.Errorf("--forget of an unknown name: exit %d, %q", code, errOut)
	}
	code, out, errOut = c.run("-C", dir, "destroy", "--forget", "api")
	if code != exitOK || !strings.Contains(out, "forgotten") {
		t.Fatalf("destroy --forget: exit %d\n%s%s", code, out, errOut)
	}
	if got := stateHandles(t, c, dir); len(got) != 0 {
		t.Fatalf("state after --forget: %v", got)
	}
}

// TestApplyStopsWhatALostStateLeft: forwards running that no state names
// (a kpf killed between starting them and saving) are stopped by the next
// apply before it plans, so the forwards start again on their own ports —
// not moved away from kpf's own orphans — and destroy leaves nothing.
func TestApplyStopsWhatALostStateLeft(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := testutil.FreePort(t), testutil.FreePort(t)
	writeSpec(t, dir, "kpf.hcl", fmt.Sprintf(`
defaults {
  context   = "kind-dev"
  namespace = "shop"
}
forward "api" {
  runtime     = "kubectl"
  target      = "service/api"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
forward "web" {
  runtime     = "kubectl"
  target      = "service/web"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
`, p1, p2))
	c := newCLI(t)
	if code, out, errOut := c.run("-C", dir, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	orphans := stateHandles(t, c, dir)
	t.Cleanup(func() {
		for _, h := range orphans {
			if id, err := kubectl.Process(h); err == nil && proc.Alive(id) {
				_ = proc.Signal(id, 9)
			}
		}
	})
	if err := os.Remove(filepath.Join(cliStore(t, c, dir).Path())); err != nil { // the state is lost
		t.Fatal(err)
	}
	code, out, errOut := c.run("-C", dir, "apply")
	if code != exitOK {
		t.Fatalf("second apply: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(errOut, "Stopped a forward no state named") != 2 {
		t.Errorf("second apply did not report the two orphans:\n%s", errOut)
	}
	if strings.Contains(out, "was in use") {
		t.Errorf("a forward moved off its port:\n%s", out)
	}
	for name, h := range orphans {
		id, _ := kubectl.Process(h)
		if proc.Alive(id) {
			t.Errorf("orphan %s (pid %d) still alive", name, id.PID)
		}
	}
	for _, port := range []int{p1, p2} {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			t.Fatalf("forward on %d not serving after the second apply: %v", port, err)
		}
		conn.Close()
	}
	now := stateHandles(t, c, dir)
	if code, out, errOut := c.run("-C", dir, "destroy"); code != exitOK {
		t.Fatalf("destroy: exit %d\n%s%s", code, out, errOut)
	}
	for name, h := range now {
		id, _ := kubectl.Process(h)
		if proc.Alive(id) {
			t.Errorf("%s still alive after destroy", name)
		}
	}
}

// TestWorkspaceThroughALinkSharesState: `-C ws apply` then `-C wslink
// apply` is one workspace: the second apply has nothing to do.
func TestWorkspaceThroughALinkSharesState(t *testing.T) {
	base := t.TempDir()
	ws := filepath.Join(base, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "wslink")
	if err := os.Symlink(ws, link); err != nil {
		t.Fatal(err)
	}
	writeSpec(t, ws, "kpf.hcl", fmt.Sprintf(`
forward "api" {
  runtime     = "kubectl"
  context     = "kind-dev"
  namespace   = "shop"
  target      = "service/api"
  local_port  = %d
  remote_port = 80
  health {
    none = true
  }
}
`, testutil.FreePort(t)))
	c := newCLI(t)
	if code, out, errOut := c.run("-C", ws, "apply"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { c.run("-C", ws, "destroy") })
	code, out, errOut := c.run("-C", link, "plan", "--detailed-exitcode")
	if code != exitOK || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan through the link: exit %d, want no changes\n%s%s", code, out, errOut)
	}
	if a, b := cliStore(t, c, ws).Dir(), cliStore(t, c, link).Dir(); a != b {
		t.Fatalf("two state directories: %s and %s", a, b)
	}
}

// TestDestroyDamagedHandle: a state record whose handle data does not
// decode (for either runtime) fails destroy at once — no retries — with
// the --forget hint; the record is kept until --forget drops it.
func TestDestroyDamagedHandle(t *testing.T) {
	for _, rt := range []string{"native", "kubectl"} {
		t.Run(rt, func(t *testing.T) {
			dir := t.TempDir()
			c := newCLI(t)
			store := cliStore(t, c, dir)
			h := runtime.Handle{Runtime: rt, ID: "api-0123abcd", Data: `[1,2]`}
			f := &state.File{Workspace: dir, Name: "ws", Forwards: map[string]state.Forward{
				"api": {Name: "api", Handle: h, Context: "kind-dev", Namespace: "shop", Address: "127.0.0.1", RemotePort: "80", LocalPort: 1},
			}}
			if err := store.Save(f); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := c.run("-C", dir, "destroy")
			if code != exitError || !strings.Contains(out+errOut, "kpf destroy --forget") {
				t.Fatalf("destroy: exit %d\n%s%s", code, out, errOut)
			}
			if strings.Contains(errOut, "retrying") {
				t.Errorf("a damaged handle was retried:\n%s", errOut)
			}
			if got := stateHandles(t, c, dir); got["api"] != h {
				t.Fatalf("destroy dropped the record it could not stop: %v", got)
			}
			if code, out, errOut := c.run("-C", dir, "destroy", "--forget", "api"); code != exitOK {
				t.Fatalf("destroy --forget: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestInitNeverWritesThroughALink: a kpf.hcl that is a symbolic link —
// dangling (init would create the file it names, outside the workspace) or
// to an existing file — is refused with or without --force, and nothing is
// written where it points.
func TestInitNeverWritesThroughALink(t *testing.T) {
	tests := []struct {
		name     string
		dangling bool
		force    bool
	}{
		{"dangling", true, false},
		{"dangling force", true, true},
		{"to a file", false, false},
		{"to a file force", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			target := filepath.Join(outside, "victim")
			if !tc.dangling {
				if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(target, filepath.Join(dir, "kpf.hcl")); err != nil {
				t.Fatal(err)
			}
			args := []string{"-C", dir, "init"}
			if tc.force {
				args = append(args, "--force")
			}
			code, out, errOut := newCLI(t).run(args...)
			if code != exitError || !strings.Contains(errOut, "symbolic link") {
				t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
			}
			b, err := os.ReadFile(target)
			switch {
			case tc.dangling && !os.IsNotExist(err):
				t.Errorf("init created the link's target: %q, %v", b, err)
			case !tc.dangling && string(b) != "precious\n":
				t.Errorf("the link's target changed to %q", b)
			}
		})
	}
}

// TestInitForceOverwrites: --force replaces a regular kpf.hcl.
func TestInitForceOverwrites(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "kpf.hcl", "# old\n")
	c := newCLI(t)
	if code, out, errOut := c.run("-C", dir, "init", "--force"); code != exitOK {
		t.Fatalf("init --force: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "kpf.hcl")); strings.Contains(string(b), "# old") || !strings.Contains(string(b), "forward") {
		t.Fatalf("kpf.hcl after --force:\n%s", b)
	}
}

// TestReadOnlyCommandsWriteNothing: the commands that change nothing —
// status (also --all and --json), plan, validate, logs, open, completion,
// and destroy where nothing ran — create no state folder, lock file or anything else: in an empty
// directory, in a workspace never applied, and for --all beside a state
// file that names another workspace (whose state folder --all must not
// make).
func TestReadOnlyCommandsWriteNothing(t *testing.T) {
	const specSrc = `forward "api" {
  target      = "service/api"
  context     = "kind-dev"
  namespace   = "shop"
  remote_port = 80
}
`
	commands := [][]string{
		{"status"}, {"status", "--json"}, {"status", "--all"}, {"status", "--all", "--json"},
		{"plan"}, {"plan", "--json"}, {"validate"}, {"logs", "api"}, {"open", "api", "--print"},
		{"__complete", "logs", ""},
		// destroy changes state, but where none is there is nothing to change.
		{"destroy"}, {"destroy", "api"}, {"destroy", "--forget", "api"},
	}
	tests := []struct {
		name  string
		spec  string
		other bool // a state file of another workspace exists
	}{
		{"empty directory", "", false},
		{"never applied", specSrc, false},
		{"another workspace", specSrc, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.spec != "" {
				writeSpec(t, dir, "kpf.hcl", tc.spec)
			}
			c := newCLI(t)
			root := filepath.Join(t.TempDir(), "kpf") // not made until a command changes state
			c.env["KPF_STATE_DIR"] = root
			if tc.other {
				elsewhere := filepath.Join(t.TempDir(), "elsewhere")
				store, err := state.Open(filepath.Join(root, "planted-0123abcd"))
				if err != nil {
					t.Fatal(err)
				}
				h := runtime.Handle{Runtime: "native", ID: "db-0123abcd", Data: `{"agent":"gone","name":"db"}`}
				f := &state.File{Workspace: elsewhere, Name: "other", Forwards: map[string]state.Forward{
					"db": {Name: "db", Handle: h, Target: "service/db", Context: "kind-dev", Namespace: "x", Address: "127.0.0.1", RemotePort: "5432", LocalPort: 15432},
				}}
				if err := store.Save(f); err != nil {
					t.Fatal(err)
				}
			}
			before, beforeWS := fileTree(t, filepath.Dir(root)), fileTree(t, dir)
			for _, args := range commands {
				code, out, errOut := c.run(append([]string{"-C", dir}, args...)...)
				t.Logf("%v: exit %d\n%s%s", args, code, out, errOut)
				if after := fileTree(t, filepath.Dir(root)); after != before {
					t.Fatalf("kpf %s changed the state root:\n%s\nwas:\n%s", strings.Join(args, " "), after, before)
				}
				if after := fileTree(t, dir); after != beforeWS {
					t.Fatalf("kpf %s changed the workspace:\n%s\nwas:\n%s", strings.Join(args, " "), after, beforeWS)
				}
			}
		})
	}
}

// fileTree lists every path under dir with its mode and size.
func fileTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
