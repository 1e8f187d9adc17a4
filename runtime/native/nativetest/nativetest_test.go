package nativetest

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/kpf-dev/kpf/runtime/native"
)

// TestHello asks a socket that answers as protocol 1's golden hello does
// (../testdata/protocol/response-hello.json), and one with no agent.
func TestHello(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("..", "testdata", "protocol", "response-hello.json"))
	if err != nil {
		t.Fatal(err)
	}
	var compact map[string]any
	if err := json.Unmarshal(golden, &compact); err != nil {
		t.Fatal(err)
	}
	answer, _ := json.Marshal(compact)
	dir, err := os.MkdirTemp("", "nt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	if a, ok := Hello(ctx, dir); ok || a.PID != 0 {
		t.Errorf("no agent: %+v, %v", a, ok)
	}
	socket, _ := native.SocketPath(dir)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gotOp := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var req struct {
			Protocol int    `json:"protocol"`
			Op       string `json:"op"`
		}
		_ = json.NewDecoder(bufio.NewReader(c)).Decode(&req)
		gotOp <- req.Op
		_, _ = c.Write(append(answer, '\n'))
	}()
	a, ok := Hello(ctx, dir)
	if !ok || a.PID != 42 || a.Supervisor != 41 {
		t.Errorf("Hello = %+v, %v; want pid 42, supervisor 41", a, ok)
	}
	if op := <-gotOp; op != "hello" {
		t.Errorf("op %q, want hello", op)
	}
}
