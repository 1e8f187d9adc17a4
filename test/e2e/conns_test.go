//go:build linux

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestNativeFloodBeyondMaxConnections: a forward with max_connections = 20
// holds 20 open connections; a flood of 400 more is refused at once (each
// closed without a byte, none queued), counted in `kpf status`; another
// forward of the same workspace serves every request throughout, and
// `kpf status` keeps answering. A new max_connections then replaces the
// forward, and the plan says why.
func TestNativeFloodBeyondMaxConnections(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	w := nativeWorkspace(t, ns)
	ports := freeLocalPorts(t, 2)
	web, api := ports[0], ports[1]
	const maxConns, flood = 20, 400
	spec := func(max int) string {
		return oneForward("web", fmt.Sprintf("  target          = \"svc/web\"\n  local_port      = %d\n  remote_port     = \"http\"\n  max_connections = %d\n", web, max)) +
			oneForward("api", fmt.Sprintf("  target      = \"deployment/api\"\n  local_port  = %d\n  remote_port = 8080\n", api))
	}
	w.writeSpec("kpf.hcl", spec(maxConns))
	w.mustKpf("apply")
	w.expectNoChanges("after apply")

	for range maxConns {
		holdBanner(t, web)
	}
	// The other forward, fetched from continuously during the flood.
	stopFetch := make(chan struct{})
	var fetched, fetchFailed atomic.Int64
	var fetchErr atomic.Value
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		for {
			select {
			case <-stopFetch:
				return
			case <-time.After(20 * time.Millisecond):
			}
			fetched.Add(1)
			if _, err := httpGetOnce(testContext(t), api, "/"); err != nil {
				fetchFailed.Add(1)
				fetchErr.CompareAndSwap(nil, err.Error())
			}
		}
	}()

	type answer struct {
		code int
		took time.Duration
		out  string
	}
	during := make(chan answer, 1)
	go func() { // kpf status while the flood runs
		t0 := time.Now()
		code, out, errOut := w.kpf("status")
		during <- answer{code, time.Since(t0), out + errOut}
	}()
	refused, served := floodOnce(t, web, flood)
	a := <-during
	t.Logf("kpf status took %s during a flood of %d connections", a.took.Round(time.Millisecond), flood)
	if a.code != 0 || !strings.Contains(a.out, "web") {
		t.Errorf("kpf status during the flood: exit %d\n%s", a.code, a.out)
	}
	st := w.status()
	time.Sleep(200 * time.Millisecond) // a few more fetches after the flood
	close(stopFetch)
	<-fetchDone

	if refused != flood || served != 0 {
		t.Errorf("flood of %d: %d refused at once, %d served; want all refused", flood, refused, served)
	}
	r := st["web"]
	if r.Refused == nil || *r.Refused != flood || r.Active == nil || *r.Active != maxConns || r.State != "running" {
		t.Errorf("status of web: state %s, %s, refused %v; want running, %d active and %d refused", r.State, counters(r), ptr(r.Refused), maxConns, flood)
	}
	if n := fetchFailed.Load(); n != 0 || fetched.Load() == 0 {
		t.Errorf("the other forward: %d of %d fetches failed during the flood (first: %v)", n, fetched.Load(), fetchErr.Load())
	}
	out := w.mustKpf("status")
	if !strings.Contains(out, fmt.Sprintf("(%d refused)", flood)) {
		t.Errorf("kpf status does not show the refusals:\n%s", out)
	}
	if logs := w.mustKpf("logs", "web"); !strings.Contains(logs, "conn-refused") {
		t.Errorf("kpf logs web lacks a conn-refused event:\n%s", logs)
	}

	// A new cap reaches the plan: the forward is replaced, and why is said.
	w.writeSpec("kpf.hcl", spec(2*maxConns))
	code, plan, errOut := w.kpf("plan", "--detailed-exitcode")
	if code != 2 || !strings.Contains(plan, "max_connections") || !strings.Contains(plan, "1 to replace") {
		t.Errorf("plan after a new max_connections: exit %d\n%s%s", code, plan, errOut)
	}
	w.mustKpf("apply")
	w.expectNoChanges("after the new cap")
	if body := httpGetRetry(t, web, "/", 10*time.Second); !strings.HasPrefix(body, "web-") {
		t.Errorf("web after the replace: %q", body)
	}
}

func ptr(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

// holdBanner opens a connection through port, waits for the backend's
// banner (it speaks first after 200 ms of silence) and keeps the
// connection open until the test ends.
func holdBanner(t *testing.T, port int) {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatalf("holding a connection through %d: %v", port, err)
	}
	_ = c.SetReadDeadline(time.Time{})
}

// floodOnce opens n connections through port at once and reads each:
// refused counts those closed without a byte, served those that got one.
// A connection left waiting (queued) fails the test at its deadline.
func floodOnce(t *testing.T, port, n int) (refused, served int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var problems []string
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := dialAndRead(port)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				problems = append(problems, err.Error())
			case got:
				served++
			default:
				refused++
			}
		}()
	}
	wg.Wait()
	if len(problems) > 0 {
		t.Errorf("%d of %d flood connections neither refused nor served, first: %s", len(problems), n, problems[0])
	}
	return refused, served
}

// dialAndRead reports whether a connection through port got a byte (true)
// or was closed without one (false). A refused connection is reset at
// once: the reset may reach the client before its connect returned.
func dialAndRead(port int) (bool, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 30*time.Second)
	if errors.Is(err, syscall.ECONNRESET) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := c.Read(make([]byte, 1))
	switch {
	case n > 0:
		return true, nil
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return false, nil
	}
	return false, fmt.Errorf("read: %w", err)
}
