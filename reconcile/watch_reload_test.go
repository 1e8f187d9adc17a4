package reconcile

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpf-dev/kpf/spec/model"
)

// An idle watch that watches the spec files does not reload the spec on
// every tick, only every SpecReload; its stats count every pass.
func TestWatchReloadsSpecOnlyWhenDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		watchDir  bool
		wantLoads int64 // after 30 s of 2 s ticks, then after 61 s more
		wantLater int64
	}{
		{name: "files watched", watchDir: true, wantLoads: 1, wantLater: 2},
		{name: "no file watch: every pass", watchDir: false, wantLoads: 16, wantLater: 46},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, watchFwd(t, "api"))
			var loads atomic.Int64
			h.w.Load = func(ctx context.Context) ([]model.Forward, model.Settings, error) {
				loads.Add(1)
				return h.load(ctx)
			}
			h.w.SpecReload = time.Minute
			if tt.watchDir {
				dir := t.TempDir()
				h.w.WatchPaths = func() []string { return []string{dir} }
			}
			h.run()
			h.stepUntil(watchStart.Add(30 * time.Second))
			if got := loads.Load(); got != tt.wantLoads {
				t.Errorf("after 30 s: %d spec loads, want %d", got, tt.wantLoads)
			}
			h.stepUntil(watchStart.Add(91 * time.Second))
			if got := loads.Load(); got != tt.wantLater {
				t.Errorf("after 91 s: %d spec loads, want %d", got, tt.wantLater)
			}
			st := h.w.Stats()
			if st.SpecLoads != uint64(loads.Load()) {
				t.Errorf("stats count %d spec loads, Load ran %d times", st.SpecLoads, loads.Load())
			}
			if st.Passes < 45 || st.Passes > 47 {
				t.Errorf("stats count %d passes in 91 s of 2 s ticks", st.Passes)
			}
			if n := len(h.rt.startCalls()); n != 1 {
				t.Errorf("%d starts, want 1", n)
			}
		})
	}
}
