package main

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildInfoFrom: ldflags stamps win; an unstamped binary reports what
// its Go build information holds (go install @VERSION, go install @main,
// go build in a checkout, go run).
func TestBuildInfoFrom(t *testing.T) {
	vcs := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.7", Main: debug.Module{Path: "github.com/kpf-dev/kpf", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	const (
		rev    = "abaed74e3f1122334455667788990011aabbccdd"
		pseudo = "v0.0.0-20261205072028-abaed74e3f11"
	)
	tests := []struct {
		name                      string
		ldVersion, ldCommit, ldDt string
		bi                        *debug.BuildInfo
		want                      buildInfo
	}{
		{
			name:      "release build: ldflags win over the build information",
			ldVersion: "v1.2.3", ldCommit: rev, ldDt: "2026-12-05T07:20:28Z",
			bi:   vcs("v9.9.9", "vcs.revision", "ffff", "vcs.time", "2000-01-01T00:00:00Z"),
			want: buildInfo{Version: "v1.2.3", Commit: rev, Date: "2026-12-05T07:20:28Z", Go: "go1.26.7"},
		},
		{
			name:      "make build with a dirty tree (git describe --dirty)",
			ldVersion: "abaed74-dirty", ldCommit: rev,
			want: buildInfo{Version: "abaed74-dirty", Commit: rev, Modified: true},
		},
		{
			name: "go install @v1.2.3: the module version, no commit recorded",
			bi:   vcs("v1.2.3"),
			want: buildInfo{Version: "v1.2.3", Go: "go1.26.7"},
		},
		{
			name: "go install @main: a pseudo-version carries the commit and its time",
			bi:   vcs(pseudo),
			want: buildInfo{Version: pseudo, Commit: "abaed74e3f11", Date: "2026-12-05T07:20:28Z", Go: "go1.26.7"},
		},
		{
			name: "go install @v1.2.4-0.pseudo after a tag",
			bi:   vcs("v1.2.4-0.20261205072028-abaed74e3f11"),
			want: buildInfo{Version: "v1.2.4-0.20261205072028-abaed74e3f11", Commit: "abaed74e3f11", Date: "2026-12-05T07:20:28Z", Go: "go1.26.7"},
		},
		{
			name: "go build in a clean checkout: vcs settings",
			bi:   vcs(pseudo, "vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-05T07:20:28Z", "vcs.modified", "false"),
			want: buildInfo{Version: pseudo, Commit: rev, Date: "2026-12-05T07:20:28Z", Go: "go1.26.7"},
		},
		{
			name: "go build in a dirty checkout",
			bi:   vcs(pseudo+"+dirty", "vcs.revision", rev, "vcs.time", "2026-12-05T07:20:28Z", "vcs.modified", "true"),
			want: buildInfo{Version: pseudo + "+dirty", Commit: rev, Date: "2026-12-05T07:20:28Z", Modified: true, Go: "go1.26.7"},
		},
		{
			name: "go build -buildvcs=false, before Go 1.24 or outside a checkout",
			bi:   vcs("(devel)"),
			want: buildInfo{Version: "dev", Go: "go1.26.7"},
		},
		{
			name:      "ldflags commit without a version: the module version completes it",
			ldVersion: "dev", ldCommit: rev,
			bi:   vcs("v1.2.3"),
			want: buildInfo{Version: "v1.2.3", Commit: rev, Go: "go1.26.7"},
		},
		{
			name: "no build information at all",
			want: buildInfo{Version: "dev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildInfoFrom(tt.ldVersion, tt.ldCommit, tt.ldDt, tt.bi)
			want := tt.want
			want.FormatVersion = versionFormat
			want.Platform = got.Platform
			if want.Go == "" {
				want.Go = got.Go // the running toolchain's
			}
			if got != want {
				t.Errorf("buildInfoFrom:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, errOut := newCLI(t).run("version", "--json")
	if code != exitOK {
		t.Fatalf("version --json: exit %d, %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version --json is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"format_version", "version", "commit", "date", "modified", "go", "platform"} {
		if _, ok := got[k]; !ok {
			t.Errorf("version --json has no %q: %s", k, out)
		}
	}
	if got["format_version"] != versionFormat || !strings.HasPrefix(got["go"].(string), "go1.") {
		t.Errorf("version --json: %s", out)
	}
}

func TestAgentVersion(t *testing.T) {
	const exe = "dev (100 bytes, 20261205T072028.000000000)"
	tests := []struct {
		name string
		b    buildInfo
		exe  string
		want string
	}{
		{"release", buildInfo{Version: "v1.2.3", Commit: "abc"}, exe, "v1.2.3 abc"},
		{"go install @v1.2.3", buildInfo{Version: "v1.2.3"}, exe, "v1.2.3"},
		{"go build -buildvcs=false, tests", buildInfo{Version: "dev"}, exe, exe},
		{"a dirty tree: the commit is not enough", buildInfo{Version: "abc-dirty", Commit: "abc", Modified: true}, exe, "abc-dirty abc " + exe},
		{"no executable to look at", buildInfo{Version: "dev"}, "", "dev"},
	}
	for _, tt := range tests {
		if got := tt.b.agentVersion(tt.exe); got != tt.want {
			t.Errorf("%s: agentVersion = %q, want %q", tt.name, got, tt.want)
		}
	}
}
