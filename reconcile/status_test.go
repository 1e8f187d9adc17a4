package reconcile

import (
	"testing"
	"time"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/spec/model"
)

func statusScenario() ([]model.Forward, Actual, time.Time) {
	now := time.Date(2025, 1, 2, 6, 7, 8, 0, time.UTC) // 3h3m3s after drunning's StartedAt
	api := dfwd("api", 8080)
	web := dfwd("web", 3000)
	cache := dfwd("cache", 6379)
	db := dfwd("db", 5432, func(f *model.Forward) {
		f.Target = model.Target{}
		f.Selector = map[string]string{"app": "postgres"}
	})
	forwards := []model.Forward{
		api, cache, db, dfwd("grafana", 0), dfwd("legacy", 7000, ddisabled), dfwd("metrics", 9090), web, dfwd("auth", 4000),
	}
	actual := Actual{
		"api": drunning(api, 8081, func(o *Observed) {
			o.State.Restarts = 2
			// A runtime that counts (native).
			o.Runtime = runtime.Status{Alive: true, Pod: "api-5d9c7b6f4-x2x7q", Active: 1, Total: 40, BytesIn: 81234, BytesOut: 5120, Refused: 3, Stalled: 2,
				LastCheck: now.Add(-3 * time.Second)}
		}),
		// Unused and without a health block: the runtime leaves it
		// unchecked. The runtime served it again by itself 90 s ago (the
		// native agent restarted by its supervisor).
		"cache": drunning(cache, 6379, func(o *Observed) {
			o.Health = HealthIdle
			o.Runtime = runtime.Status{Alive: true, Health: "idle", LastCheck: now.Add(-4*time.Minute - 10*time.Second),
				Since: now.Add(-90 * time.Second), Restarts: 1}
		}),
		"db": drunning(db, 5432, func(o *Observed) { o.Health, o.HealthError = HealthUnhealthy, "dial tcp: connection refused" }),
		"metrics": drunning(dfwd("metrics", 9090), 9090, ddead("error: lost connection to pod"),
			func(o *Observed) { o.State.Restarts = 5 }),
		// The last probe failed, but fewer times than failure_threshold.
		"old": drunning(dfwd("old", 9999), 9999, func(o *Observed) { o.HealthError = "GET /healthz: 503 Service Unavailable" }),
		"web": drunning(web, 3000, func(o *Observed) {
			o.Health = HealthNone
			o.State.StartedAt = now.Add(-49 * time.Hour)
		}),
		"auth": drunning(dfwd("auth", 4000), 4000, func(o *Observed) {
			o.Alive, o.State.Handle, o.State.LastError = false, runtime.Handle{}, "context \"prod\" does not exist"
		}),
	}
	return forwards, actual, now
}

func TestStatusRows(t *testing.T) {
	t.Parallel()
	forwards, actual, now := statusScenario()
	rows := StatusRows(forwards, actual, now)
	want := map[string]struct {
		state, health, local string
		uptime               time.Duration
		restarts             int
		lastErr              string
	}{
		"api":     {StatusRunning, "healthy", "127.0.0.1:8081", 3*time.Hour + 3*time.Minute + 3*time.Second, 2, ""},
		"cache":   {StatusRunning, "idle", "127.0.0.1:6379", 90 * time.Second, 1, ""},
		"auth":    {StatusFailed, "-", "127.0.0.1:4000", 0, 0, "context \"prod\" does not exist"},
		"db":      {StatusRunning, "unhealthy", "127.0.0.1:5432", 3*time.Hour + 3*time.Minute + 3*time.Second, 0, "dial tcp: connection refused"},
		"grafana": {StatusStopped, "-", "127.0.0.1:?", 0, 0, ""},
		"legacy":  {StatusDisabled, "-", "127.0.0.1:7000", 0, 0, ""},
		"metrics": {StatusExited, "-", "127.0.0.1:9090", 0, 5, "error: lost connection to pod"},
		"old":     {StatusOrphaned, HealthFailing, "127.0.0.1:9999", 3*time.Hour + 3*time.Minute + 3*time.Second, 0, "GET /healthz: 503 Service Unavailable"},
		"web":     {StatusRunning, "none", "127.0.0.1:3000", 49 * time.Hour, 0, ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if i > 0 && rows[i-1].Name >= r.Name {
			t.Errorf("rows not sorted: %q before %q", rows[i-1].Name, r.Name)
		}
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected row %q", r.Name)
			continue
		}
		if r.Selector != (r.Name == "db") {
			t.Errorf("%s: Selector = %v", r.Name, r.Selector)
		}
		if r.State != w.state || r.Health != w.health || r.Local != w.local || r.Uptime != w.uptime ||
			r.Restarts != w.restarts || r.LastError != w.lastErr {
			t.Errorf("%s: got %+v, want %+v", r.Name, r, w)
		}
	}
}

func TestHealthText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		health string
		age    time.Duration
		want   string
	}{
		{"idle", 4*time.Minute + 10*time.Second, "idle 4m10s"},
		{"idle", 200 * time.Millisecond, "idle 1s"},
		{"idle", -1, "idle"}, // never checked
		{"healthy", 3 * time.Second, "healthy"},
		{"-", -1, "-"},
	} {
		r := StatusRow{Health: tt.health, CheckAge: tt.age}
		if got := r.HealthText(); got != tt.want {
			t.Errorf("HealthText(%s, %v) = %q, want %q", tt.health, tt.age, got, tt.want)
		}
	}
}

func TestFormatUptime(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                                  "-",
		-time.Second:                       "-",
		45 * time.Second:                   "45s",
		12*time.Minute + 3*time.Second:     "12m3s",
		3*time.Hour + 2*time.Minute + 59e9: "3h2m",
		50 * time.Hour:                     "2d2h",
	} {
		if got := FormatUptime(d); got != want {
			t.Errorf("FormatUptime(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestStatusRowsSelector: a row says whether its target is a selector,
// whether it comes from the spec or (status --all, orphans) from the state.
func TestStatusRowsSelector(t *testing.T) {
	t.Parallel()
	sel := dfwd("sel", 5432, func(f *model.Forward) {
		f.Target = model.Target{}
		f.Selector = map[string]string{"app": "postgres"}
	})
	svc := dfwd("svc", 8080)
	actual := Actual{"sel": drunning(sel, 5432), "svc": drunning(svc, 8080)}
	now := time.Date(2025, 1, 2, 6, 7, 8, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		forwards []model.Forward
	}{
		{"from the spec", []model.Forward{sel, svc}},
		{"from the state", nil},
	} {
		for _, r := range StatusRows(tt.forwards, actual, now) {
			if want := r.Name == "sel"; r.Selector != want {
				t.Errorf("%s: %s: Selector = %v, want %v (target %q)", tt.name, r.Name, r.Selector, want, r.Target)
			}
		}
	}
}
