//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kpf-dev/kpf/internal/kinds"
	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/runtime/native/engine/enginetest"
	"github.com/kpf-dev/kpf/test/cluster"
	"github.com/kpf-dev/kpf/test/internal/measure"
)

func main() { os.Exit(realMain()) }

type sample struct {
	step       string
	rss, heap  uint64
	goroutines int
}

func realMain() int {
	n := flag.Int("n", 100, "forwards")
	services := flag.Int("services", 10, "services (one pod each) the forwards spread over")
	parallel := flag.Int("parallel", 16, "forwards started at a time")
	idle := flag.Duration("idle", 3*time.Second, "the engine's tunnel IdleTimeout")
	transport := flag.String("transport", "auto", "the tunnels' transport: auto (SPDY, WebSocket where SPDY is refused), spdy or websocket")
	dump := flag.String("goroutines", "", "write a goroutine profile (debug=1) here at the end")
	heapDir := flag.String("heap-profiles", "", "write a heap profile per step into this directory (step-N.pprof; compare with go tool pprof -base)")
	healthEvery := flag.Duration("health-interval", 0, "TCP health check interval (0: the engine's default)")
	flag.Parse()
	log := hclog.New(&hclog.LoggerOptions{Name: "engine-scale", Output: os.Stderr, Level: hclog.Info})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	scratch, err := os.MkdirTemp("", "engine-scale-")
	if err != nil {
		log.Error("scratch", "error", err)
		return 1
	}
	defer os.RemoveAll(scratch)
	c, err := cluster.Start(ctx, cluster.Options{Log: log.Named("cluster"), StateDir: filepath.Join(scratch, "cluster")})
	if err != nil {
		log.Error("starting the cluster", "error", err)
		return 1
	}
	defer c.Stop(context.Background())
	const ns = "scale"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		log.Error("namespace", "error", err)
		return 1
	}
	for i := range *services {
		if err := c.DeployEcho(ctx, ns, fmt.Sprintf("echo-%d", i), 1); err != nil {
			log.Error("deploying", "error", err)
			return 1
		}
	}
	log.Info("cluster ready", "services", *services)

	var samples []sample
	measure := func(step string) {
		runtime.GC()
		debug.FreeOSMemory()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		rss, _ := measure.RSS(os.Getpid())
		samples = append(samples, sample{step, uint64(rss), m.HeapAlloc, runtime.NumGoroutine()})
		if *heapDir != "" {
			if f, err := os.Create(filepath.Join(*heapDir, fmt.Sprintf("step-%d.pprof", len(samples)-1))); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
	clients, _, err := enginetest.LoadClients(c.Kubeconfig, c.Context)
	if err != nil {
		log.Error("clients", "error", err)
		return 1
	}
	if clients.Transport, err = engine.ParseTransport(*transport); err != nil {
		log.Error("--transport", "error", err)
		return 1
	}
	e := engine.New(engine.Options{Log: log, IdleTimeout: *idle, Now: time.Now})
	defer e.Close()
	if _, err := clients.API.ListServices(ctx, ns); err != nil { // warm the client like a running agent
		log.Error("listing services", "error", err)
		return 1
	}
	measure("baseline (clients, empty engine)")

	start := time.Now()
	forwards := make([]*engine.Forward, *n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	var mu sync.Mutex
	var firstErr error
	for i := range *n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f, err := e.Start(ctx, clients, engine.Config{Name: strconv.Itoa(i), Target: kinds.Target{Kind: kinds.Service, Name: fmt.Sprintf("echo-%d", i%*services)},
				Namespace: ns, Address: "127.0.0.1", RemotePort: "http", Health: engine.HealthConfig{Interval: *healthEvery}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			forwards[i] = f
		}()
	}
	wg.Wait()
	if firstErr != nil {
		log.Error("starting forwards", "error", firstErr)
		return 1
	}
	started := time.Since(start)
	measure(fmt.Sprintf("%d idle forwards", *n))

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	failed := 0
	for i, f := range forwards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := get(client, f.Addr()); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				log.Warn("request failed", "forward", i, "error", err)
			}
		}()
	}
	wg.Wait()
	serving := time.Since(start)
	measure(fmt.Sprintf("after one request through each (%d failed)", failed))
	time.Sleep(*idle + 2*time.Second)
	measure("tunnels closed idle")
	if *dump != "" {
		if f, err := os.Create(*dump); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 1)
			f.Close()
		}
	}

	fmt.Printf("\n%d forwards over %d services (transport %s), %d started at a time, 2 cores\n\n", *n, *services, clients.Transport, *parallel)
	fmt.Printf("- Start of every forward (listener bound, pods synced): %s\n", started.Round(time.Millisecond))
	fmt.Printf("- Start → every forward served one HTTP request: %s\n\n", serving.Round(time.Millisecond))
	fmt.Println("| step | RSS MiB | live heap MiB | goroutines | RSS KiB / forward over baseline | heap KiB / forward over baseline |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	base := samples[0]
	for i, s := range samples {
		per := func(v, b uint64) string {
			if i == 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f", (float64(v)-float64(b))/1024/float64(*n))
		}
		fmt.Printf("| %s | %.1f | %.1f | %d | %s | %s |\n", s.step, float64(s.rss)/(1<<20), float64(s.heap)/(1<<20), s.goroutines, per(s.rss, base.rss), per(s.heap, base.heap))
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func get(c *http.Client, addr net.Addr) error {
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "echo-") {
		return fmt.Errorf("%s: %q", resp.Status, body)
	}
	return nil
}
