package engine

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkIdleForwards starts 1,000 forwards on the fake clientset and
// reports the live heap and goroutines each idle forward costs, with every
// forward sharing one of 10 pod sources (10 services' worth) and with a
// pod source of its own (1,000 informers). Run with -benchtime=1x.
func BenchmarkIdleForwards(b *testing.B) {
	for _, sources := range []int{10, 1000} {
		b.Run(fmt.Sprintf("sources=%d", sources), func(b *testing.B) {
			for b.Loop() {
				measureIdle(b, 1000, sources)
			}
		})
	}
}

func measureIdle(b *testing.B, n, sources int) {
	var objs []kruntime.Object
	for i := range sources {
		objs = append(objs, readyPod("demo", fmt.Sprintf("p-%d", i), map[string]string{"app": fmt.Sprint(i)},
			corev1.ContainerPort{Name: "http", ContainerPort: 8080}))
	}
	t := &testing.T{}
	env := newTestEnv(t, Options{}, objs...)
	defer env.e.Close()
	before := liveHeap()
	goroutines := runtime.NumGoroutine()
	ctx := context.Background()
	fs := make([]*Forward, 0, n)
	for i := range n {
		f, err := env.e.Start(ctx, env.c, Config{Name: fmt.Sprint(i), Namespace: "demo", Address: "127.0.0.1",
			Selector: map[string]string{"app": fmt.Sprint(i % sources)}, RemotePort: "http"})
		if err != nil {
			b.Fatal(err)
		}
		fs = append(fs, f)
	}
	time.Sleep(100 * time.Millisecond) // let informer goroutines settle
	after := liveHeap()
	b.ReportMetric(float64(after-before)/float64(n), "heap-B/forward")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/float64(n), "goroutines/forward")
	for _, f := range fs {
		_ = f.Stop()
	}
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkNewConnectionOverSlowLink is one new local connection through a
// forward whose tunnel is open, when every stream creation waits rtt for
// its reply (a cluster 20 ms away): kpf asks for a connection's two
// streams at once, so it costs about one round trip, where creating them
// one after the other (as kubectl does) costs two.
func BenchmarkNewConnectionOverSlowLink(b *testing.B) {
	const rtt = 20 * time.Millisecond
	env := newTestEnv(&testing.T{}, Options{}, webPod("web-a"))
	defer env.e.Close()
	env.dialer.replyDelay = rtt
	f, err := env.e.Start(context.Background(), env.c, Config{Name: "web", Namespace: "demo", Address: "127.0.0.1",
		Selector: webLabels, RemotePort: "http", Health: HealthConfig{Kind: HealthNone}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Stop()
	if _, err := banner(b, f); err != nil { // dials the tunnel
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := banner(b, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rtt.Microseconds())/1000, "rtt-ms")
}
