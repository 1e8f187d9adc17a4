//go:build linux || darwin

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime/kubectl"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// A test binary started with KPF_TEST_AS_KPF set runs kpf with the JSON
// argv it holds: a kpf process the chaos test can SIGKILL.
func init() {
	js := os.Getenv("KPF_TEST_AS_KPF")
	if js == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(js), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(run(context.Background(), args, streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv))
}

// TestChaosKilledApplyAndDestroy kills `kpf apply` and `kpf destroy` of 30
// forwards with SIGKILL at random points, 20 rounds. After each round the
// state file loads; the next apply (not killed) stops what the killed one
// left unrecorded, moves no forward off its port, and leaves exactly the
// processes state names; a final destroy leaves nothing of the workspace.
// Forwards are the fake kubectl (real processes and listeners); the local
// control plane variant belongs to test/e2e.
func TestChaosKilledApplyAndDestroy(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: 20 rounds of 30 forwards")
	}
	const forwards, rounds = 30, 20
	dir := t.TempDir()
	var spec strings.Builder
	spec.WriteString("defaults {\n  context = \"kind-dev\"\n  namespace = \"shop\"\n}\n")
	ports := map[string]int{}
	free := distinctPorts(t, forwards)
	for i := range forwards {
		name := fmt.Sprintf("f%02d", i)
		ports[name] = free[i]
		fmt.Fprintf(&spec, "forward %q {\n  runtime = \"kubectl\"\n  target = \"service/%s\"\n  local_port = %d\n  remote_port = 80\n  health {\n    none = true\n  }\n}\n", name, name, ports[name])
	}
	writeSpec(t, dir, "kpf.hcl", spec.String())
	c := newCLI(t)
	store := cliStore(t, c, dir)
	marked := func() []proc.ID {
		t.Helper()
		ps, err := proc.Marked(kubectl.EnvWorkspace + "=" + store.Dir())
		if err != nil {
			t.Fatal(err)
		}
		var ids []proc.ID
		for _, p := range ps {
			if p.LeadsSession() {
				ids = append(ids, p.ID)
			}
		}
		return ids
	}
	t.Cleanup(func() {
		for _, id := range marked() {
			_ = proc.Signal(id, syscall.SIGKILL)
		}
	})
	kpf := func(args ...string) *exec.Cmd {
		js, _ := json.Marshal(append([]string{"-C", dir}, args...))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KPF_TEST_AS_KPF="+string(js))
		for k, v := range c.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		return cmd
	}
	// Kills land anywhere in a command: the delays span how long an apply
	// and a destroy take on this machine.
	span := time.Duration(0)
	for _, verb := range []string{"apply", "destroy"} {
		start := time.Now()
		if out, err := kpf(verb).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", verb, err, out)
		}
		span = max(span, time.Since(start))
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	interrupted := 0
	for round := range rounds {
		verb := "apply"
		if rng.IntN(3) == 0 {
			verb = "destroy"
		}
		if verb == "apply" { // from nothing, so the apply has 30 forwards to start
			if out, err := kpf("destroy").CombinedOutput(); err != nil {
				t.Fatalf("round %d: destroy: %v\n%s", round, err, out)
			}
		}
		victim := kpf(verb)
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.Int64N(int64(span)))
		time.Sleep(delay)
		_ = victim.Process.Signal(syscall.SIGKILL)
		if err := victim.Wait(); err != nil && strings.Contains(err.Error(), "killed") {
			interrupted++
		}

		if _, err := store.Load(); err != nil {
			t.Fatalf("round %d (%s killed after %s): state does not load: %v", round, verb, delay, err)
		}
		out, err := kpf("apply").CombinedOutput()
		if err != nil {
			t.Fatalf("round %d: apply after the kill: %v\n%s", round, err, out)
		}
		if strings.Contains(string(out), "was in use") {
			t.Fatalf("round %d (%s killed after %s): a forward moved off its port:\n%s", round, verb, delay, out)
		}
		st, err := store.Load()
		if err != nil {
			t.Fatal(err)
		}
		var named []proc.ID
		for name, fw := range st.Forwards {
			if fw.LocalPort != ports[name] {
				t.Fatalf("round %d: %s on port %d, want %d", round, name, fw.LocalPort, ports[name])
			}
			id, err := kubectl.Process(fw.Handle)
			if err != nil {
				t.Fatal(err)
			}
			named = append(named, id)
		}
		running := marked()
		cmp := func(a, b proc.ID) int { return a.PID - b.PID }
		slices.SortFunc(named, cmp)
		slices.SortFunc(running, cmp)
		if len(named) != forwards || !slices.Equal(named, running) {
			t.Fatalf("round %d (%s killed after %s): state names %d processes %v, the workspace runs %v", round, verb, delay, len(named), named, running)
		}
	}
	t.Logf("%d of %d rounds killed kpf before it finished", interrupted, rounds)
	if interrupted < rounds/4 {
		t.Errorf("only %d of %d kills landed before kpf finished: the test exercises too little", interrupted, rounds)
	}
	if out, err := kpf("destroy").CombinedOutput(); err != nil {
		t.Fatalf("final destroy: %v\n%s", err, out)
	}
	if left := marked(); len(left) != 0 {
		t.Fatalf("final destroy left %d processes of the workspace", len(left))
	}
}

// distinctPorts returns n free ports, all different (each is held until
// all are found, so the kernel cannot offer one twice).
func distinctPorts(t *testing.T, n int) []int {
	t.Helper()
	// Below the ephemeral range (32768+ on Linux, 49152+ on macOS): the
	// kernel hands those out to every outgoing connection on this machine,
	// so one may be taken between rounds by somebody else's client socket.
	var out []int
	for port := 20000 + rand.IntN(10000); len(out) < n && port < 32768; port++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		out = append(out, port)
	}
	if len(out) < n {
		t.Fatalf("found %d free ports below the ephemeral range, want %d", len(out), n)
	}
	return out
}
