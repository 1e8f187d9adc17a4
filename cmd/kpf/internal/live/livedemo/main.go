package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/live"
)

func main() {
	noColor := flag.Bool("no-color", false, "never colour the output")
	readOnly := flag.Bool("read-only", false, "disable restart, as `kpf status --watch` does")
	every := flag.Duration("every", time.Second, "how often a snapshot is sent")
	forwards := flag.Int("forwards", 0, "add this many idle forwards (for measuring the view's own cost)")
	flag.Parse()
	if err := run(*noColor, *readOnly, *every, *forwards); err != nil {
		fmt.Fprintln(os.Stderr, "livedemo:", err)
		os.Exit(1)
	}
}

func run(noColor, readOnly bool, every time.Duration, idle int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w := newWorld(idle)
	m := live.New(ctx, live.Options{Actions: w, ReadOnly: readOnly})
	p := live.NewProgram(ctx, m, live.Terminal{In: os.Stdin, Out: os.Stdout, Env: os.Environ(), NoColor: noColor})

	// The feed: one snapshot per tick, until the program ends.
	fed := make(chan struct{})
	feedCtx, endFeed := context.WithCancel(ctx)
	go func() {
		defer close(fed)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			p.Send(w.snapshot(time.Now()))
			select {
			case <-feedCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	err := live.Run(ctx, p)
	endFeed()
	<-fed
	fmt.Println("Stopped watching; forwards keep running.")
	return err
}

// world is the made-up workspace: forwards and their counters.
type world struct {
	mu      sync.Mutex
	start   time.Time
	last    time.Time // the previous snapshot
	rows    []live.Row
	restart map[string]time.Time // restart requested at
}

func newWorld(idle int) *world {
	u := int64(live.Unknown)
	now := time.Now()
	w := &world{start: now, last: now, restart: map[string]time.Time{}}
	w.rows = []live.Row{
		{Name: "api", Local: "127.0.0.1:8080", Target: "service/api", Context: "kind-dev", Namespace: "shop", Pod: "api-7f9c4d-x2lq", State: live.StateRunning, Health: "healthy"},
		{Name: "cart", Local: "127.0.0.1:8081", Target: "deployment/cart", Context: "kind-dev", Namespace: "shop", Pod: "cart-5d8b9-qq7rm", State: live.StateRunning, Health: "healthy"},
		{Name: "grafana", Local: "127.0.0.1:3000", Target: "service/grafana", Context: "kind-ops", Namespace: "monitoring", State: live.StateRunning, Health: "failing", Active: u, Total: u, BytesIn: u, BytesOut: u, LastError: "GET /api/health: 503 Service Unavailable"},
		{Name: "orders", Local: "[::1]:9090", Target: "app=orders,tier=backend", Context: "kind-dev", Namespace: "shop", State: live.StateWaiting, Health: "unhealthy", LastError: "no Ready pod for app=orders,tier=backend"},
		{Name: "postgres", Local: "127.0.0.1:5432", Target: "statefulset/postgres", Context: "kind-dev", Namespace: "data", Pod: "postgres-0", State: live.StateRunning, Health: "healthy"},
		{Name: "rabbitmq", Local: "127.0.0.1:15672", Target: "service/rabbitmq", Context: "kind-dev", Namespace: "data", State: live.StateFailed, Health: "-", Active: u, Total: u, BytesIn: u, BytesOut: u, Restarts: 4, LastError: `services "rabbitmq" not found`},
		{Name: "search", Local: "127.0.0.1:9200", Target: "service/elasticsearch", Context: "kind-dev", Namespace: "search", State: live.StateStopped, Health: "-", Active: u, Total: u, BytesIn: u, BytesOut: u},
	}
	for i := range idle {
		w.rows = append(w.rows, live.Row{
			Name: fmt.Sprintf("svc-%04d", i), Local: fmt.Sprintf("127.0.0.1:%d", 20000+i), Target: fmt.Sprintf("service/svc-%04d", i),
			Context: "kind-dev", Namespace: "idle", Pod: fmt.Sprintf("svc-%04d-0", i), State: live.StateRunning, Health: "healthy",
			Total: u, Active: u, BytesIn: u, BytesOut: u,
		})
	}
	return w
}

// snapshot advances the made-up world to now.
func (w *world) snapshot(now time.Time) live.Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	up, tick := now.Sub(w.start), now.Sub(w.last)
	w.last = now
	for i := range w.rows {
		r := &w.rows[i]
		if at, ok := w.restart[r.Name]; ok {
			if now.Sub(at) < 2*time.Second {
				r.State, r.Health, r.Uptime = live.StateRestarting, "-", 0
				continue
			}
			delete(w.restart, r.Name)
			r.State, r.Health, r.Restarts, r.LastError = live.StateRunning, "healthy", r.Restarts+1, ""
			r.BytesIn, r.BytesOut = 0, 0
		}
		if r.State != live.StateRunning || r.BytesIn < 0 {
			continue
		}
		r.Uptime += tick
		burst := int64(1 + (i*7+int(up/time.Second))%9)
		r.BytesIn += burst * 12_000 * int64(i+1)
		r.BytesOut += burst * 3_000
		r.Active = burst % 4
		r.Total += burst % 3
	}
	rows := make([]live.Row, len(w.rows))
	copy(rows, w.rows)
	return live.Snapshot{
		Workspace: "shop", Contexts: []string{"kind-dev", "kind-ops"},
		Rows: rows, At: now, SpecLoaded: w.start,
	}
}

func (w *world) Restart(_ context.Context, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.restart[name] = time.Now()
	return nil
}

func (w *world) Open(_ context.Context, name string) error {
	return errors.New("the demo opens no browser")
}

// Log is a followed log: a line every 300 ms until closed.
func (w *world) Log(ctx context.Context, name string, follow bool) (io.ReadCloser, error) {
	r, pw := io.Pipe()
	go func() {
		defer pw.Close()
		t := time.NewTicker(300 * time.Millisecond)
		defer t.Stop()
		for n := 1; ; n++ {
			line := fmt.Sprintf("%s connection %d from 127.0.0.1:%d to %s\n", time.Now().Format("15:04:05"), n, 50000+n, name)
			if _, err := io.WriteString(pw, line); err != nil || !follow {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return r, nil
}
