package state

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kpf-dev/kpf/runtime"
)

// TestUpgradeV1: a version-1 file (written by kpf before handles were
// opaque) loads with every forward as a kubectl handle naming the same
// process, loses nothing else, and is saved as version 2.
func TestUpgradeV1(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	const v1 = `{
  "version": 1,
  "workspace": "/home/u/shop",
  "name": "shop",
  "forwards": {
    "api": {"name": "api", "handle": {"pid": 4242, "start_time": 987654}, "spec_hash": "h1",
      "target": "service/api", "context": "kind-dev", "namespace": "shop", "address": "127.0.0.1",
      "remote_port": "80", "local_port": 8080, "wanted_port": 8080,
      "started_at": "2026-11-20T10:00:00Z", "restarts": 2, "log_path": "/home/u/.local/state/kpf/x/logs/api.log"},
    "db": {"name": "db", "handle": {"pid": 0, "start_time": 0}, "spec_hash": "h2", "context": "kind-dev",
      "namespace": "shop", "address": "127.0.0.1", "remote_port": "5432", "local_port": 5432, "wanted_port": 5432,
      "started_at": "0001-01-01T00:00:00Z", "restarts": 0, "last_error": "boom", "log_path": ""}
  }
}`
	if err := os.WriteFile(s.Path(), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	api := f.Forwards["api"]
	want := runtime.Handle{Runtime: "kubectl", ID: "4242", Data: `{"pid":4242,"start_time":987654,"name":"api"}`}
	if api.Handle != want {
		t.Errorf("api handle = %+v, want %+v", api.Handle, want)
	}
	if api.SpecHash != "h1" || api.LocalPort != 8080 || api.Restarts != 2 || api.Target != "service/api" {
		t.Errorf("api lost fields: %+v", api)
	}
	if db := f.Forwards["db"]; !db.Handle.IsZero() || db.LastError != "boom" {
		t.Errorf("db = %+v, want no handle and its last error", db)
	}
	if err := s.Save(f); err != nil {
		t.Fatal(err)
	}
	again, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != Version || again.Forwards["api"].Handle != want {
		t.Errorf("after save: version %d, api handle %+v", again.Version, again.Forwards["api"].Handle)
	}
}
