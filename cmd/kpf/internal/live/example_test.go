package live_test

import (
	"context"
	"os"
	"time"

	"github.com/kpf-dev/kpf/cmd/kpf/internal/live"
)

// The wiring of `apply --watch`: the view runs on the terminal while the
// watch feeds it; q (or ctx) ends Run and the forwards keep running.
func ExampleNewProgram() {
	ctx := context.Background()
	var actions live.Actions // the caller's restart/open/log; nil disables those keys

	m := live.New(ctx, live.Options{Actions: actions})
	p := live.NewProgram(ctx, m, live.Terminal{In: os.Stdin, Out: os.Stdout, Env: os.Environ()})

	go func() { // the watch loop, after each observation
		p.Send(live.Snapshot{Workspace: "shop", At: time.Now(), Rows: []live.Row{{
			Name: "api", Local: "127.0.0.1:8080", Target: "service/api", State: live.StateRunning, Health: "healthy",
			Active: live.Unknown, Total: live.Unknown, BytesIn: live.Unknown, BytesOut: live.Unknown,
		}}})
		p.Send(live.Event{At: time.Now(), Name: "api", Text: "restarted (exit status 1)", Err: true})
	}()
	if err := live.Run(ctx, p); err != nil {
		os.Exit(1)
	}
}
