//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/kpf-dev/kpf/internal/kinds"
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
	const size int64 = 16 << 20
	for _, tr := range []struct {
		name      string
		transport engine.Transport
	}{{"websocket", engine.TransportWebSocket}, {"spdy", engine.TransportSPDY}} {
		e, c := newEngine(b, testCluster.Context, engine.Options{})
		c.Transport = tr.transport
		f := startEngineForward(b, e, c, engine.Config{Target: kinds.Target{Kind: kinds.Service, Name: "echo"}, Namespace: ns, RemotePort: "http",
			Health: engine.HealthConfig{Kind: engine.HealthNone}})
		addr := fmt.Sprintf("127.0.0.1:%d", forwardPort(f))
		for _, run := range []struct {
			dir     string
			streams int
		}{{"down", 1}, {"up", 1}, {"down", 8}, {"up", 8}} {
			b.Run(fmt.Sprintf("%s/%s-%d", tr.name, run.dir, run.streams), func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					errs := make(chan error, run.streams)
					for range run.streams {
						go func() { errs <- bulkOnce(addr, run.dir, size/int64(run.streams)) }()
					}
					for range run.streams {
						if err := <-errs; err != nil {
							b.Fatal(err)
						}
					}
				}
				// Connections reset for not reading: a client that keeps
				// reading must never be one (0 expected).
				b.ReportMetric(float64(f.Status().Stalled), "stalled")
			})
		}
	}
}

// bulkOnce carries n bytes from the source (down) or to the sink (up) on
// a new connection to addr.
func bulkOnce(addr, dir string, n int64) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 256<<10)
	if dir == "down" {
		if _, err := conn.Write(binary.BigEndian.AppendUint64([]byte(cluster.SourceRequest), uint64(n))); err != nil {
			return err
		}
		if got, err := io.CopyBuffer(io.Discard, io.LimitReader(conn, n), buf); err != nil || got != n {
			return fmt.Errorf("down: %d of %d bytes: %v", got, n, err)
		}
		return nil
	}
	if _, err := io.WriteString(conn, cluster.SinkRequest); err != nil {
		return err
	}
	werr := make(chan error, 1)
	go func() {
		for sent := int64(0); sent < n; sent += int64(len(buf)) {
			if _, err := conn.Write(buf[:min(int64(len(buf)), n-sent)]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	if _, err := io.ReadFull(conn, make([]byte, n/cluster.SinkAckEvery)); err != nil {
		return fmt.Errorf("up: acks: %w", err)
	}
	return <-werr
}
