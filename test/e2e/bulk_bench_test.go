//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/test/cluster"
)

// BenchmarkEngineBulk carries 16 MiB per op through a native forward to the
// test backend, one connection at a time: down (the backend is a source)
// and up (a sink that acknowledges every MiB), on each transport. For
// profiles of the data path:
//
//	go test ./test/e2e -run '^$' -bench EngineBulk -benchtime 8x -cpuprofile cpu.out
func BenchmarkEngineBulk(b *testing.B) {
	ns := newEmptyNamespace(b)
	ctx := testContext(b)
	if err := testCluster.DeployEcho(ctx, ns, "echo", 1); err != nil {
		b.Fatal(err)
	}
	const size = 16 << 20
	for _, tr := range []struct {
		name string
		spdy bool
	}{{"websocket", false}, {"spdy", true}} {
		e, c := newEngine(b, testCluster.Context, engine.Options{})
		c.ForceSPDY = tr.spdy
		f := startEngineForward(b, e, c, engine.Config{Target: "service/echo", Namespace: ns, RemotePort: "http",
			Health: engine.HealthConfig{Kind: engine.HealthNone}})
		addr := fmt.Sprintf("127.0.0.1:%d", forwardPort(f))
		for _, dir := range []string{"down", "up"} {
			b.Run(tr.name+"/"+dir, func(b *testing.B) {
				b.SetBytes(size)
				buf := make([]byte, 256<<10)
				for b.Loop() {
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatal(err)
					}
					if dir == "down" {
						if _, err := conn.Write(binary.BigEndian.AppendUint64([]byte(cluster.SourceRequest), size)); err != nil {
							b.Fatal(err)
						}
						if _, err := io.CopyBuffer(io.Discard, io.LimitReader(conn, size), buf); err != nil {
							b.Fatal(err)
						}
					} else {
						if _, err := io.WriteString(conn, cluster.SinkRequest); err != nil {
							b.Fatal(err)
						}
						for sent := 0; sent < size; sent += len(buf) {
							if _, err := conn.Write(buf); err != nil {
								b.Fatal(err)
							}
						}
						if _, err := io.ReadFull(conn, make([]byte, size/cluster.SinkAckEvery)); err != nil {
							b.Fatal(err)
						}
					}
					conn.Close()
				}
			})
		}
	}
}
