package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"
)

// Stamped by `make build` and the release build (GoReleaser):
// -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
// A build that was not stamped (`go install ...@VERSION`, `go build`) takes
// them from its build information instead (buildInfoFrom).
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// versionFormat is the format_version of `kpf version --json`.
const versionFormat = "1.0"

// buildInfo is what `kpf version` reports about this binary.
type buildInfo struct {
	FormatVersion string `json:"format_version"`
	// Version is the release (v1.2.3), a Go pseudo-version
	// (v0.0.0-20260102150405-abcdef123456) or "dev".
	Version string `json:"version"`
	// Commit is the full commit hash, its 12-digit prefix (from a
	// pseudo-version), or "" when unknown.
	Commit string `json:"commit"`
	// Date is the commit's time (RFC 3339, UTC) or "" when unknown.
	Date string `json:"date"`
	// Modified: built from a tree with uncommitted changes.
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// currentBuild is this binary's build: the ldflags stamps, completed from
// the Go build information.
func currentBuild() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return buildInfoFrom(version, commit, date, bi)
}

// buildInfoFrom resolves version, commit and date: a value stamped with
// ldflags wins; else the build information's main module version (set by
// `go install ...@VERSION`, and since Go 1.24 by `go build` in a checkout),
// its vcs.* settings (`go build` in a checkout), and last the commit and
// time that a pseudo-version carries (`go install ...@main`). bi may be nil.
func buildInfoFrom(ldVersion, ldCommit, ldDate string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{
		FormatVersion: versionFormat,
		Version:       ldVersion,
		Commit:        ldCommit,
		Date:          ldDate,
		Go:            goruntime.Version(),
		Platform:      goruntime.GOOS + "/" + goruntime.GOARCH,
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if bi != nil {
		if bi.GoVersion != "" {
			b.Go = bi.GoVersion
		}
		if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = b.Modified || s.Value == "true"
			}
		}
	}
	if module.IsPseudoVersion(b.Version) {
		if b.Commit == "" {
			if rev, err := module.PseudoVersionRev(b.Version); err == nil {
				b.Commit = rev
			}
		}
		if b.Date == "" {
			if t, err := module.PseudoVersionTime(b.Version); err == nil {
				b.Date = t.UTC().Format(time.RFC3339)
			}
		}
	}
	// `git describe --dirty` (make build) and Go's VCS stamping mark a
	// tree with uncommitted changes in the version itself.
	if strings.HasSuffix(b.Version, "-dirty") || strings.HasSuffix(b.Version, "+dirty") {
		b.Modified = true
	}
	return b
}

// writeText prints the build as `kpf version` does.
func (b buildInfo) writeText(w io.Writer) {
	rev, when := b.Commit, b.Date
	if rev == "" {
		rev = "unknown"
	}
	if b.Modified {
		rev += " (modified)"
	}
	if when == "" {
		when = "unknown"
	}
	fmt.Fprintf(w, "kpf %s\ncommit %s\ndate %s\n%s %s\n", b.Version, rev, when, b.Go, b.Platform)
}

func (a *app) versionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print kpf's version, commit, commit date and Go version",
		Long: `version prints the release, the commit it was built from and that commit's
date, as stamped by the release build or, for 'go install' and 'go build',
as recorded in the binary's Go build information.`,
		Example: `  kpf version
  kpf version --json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noInterrupt: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := currentBuild()
			if !asJSON {
				b.writeText(cmd.OutOrStdout())
				return nil
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(b); err != nil {
				return fmt.Errorf("writing the version: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON document (see reconcile/JSON.md)")
	return cmd
}

// versionString identifies this build for the agent hand-over: an agent
// of another build is replaced (buildInfo.agentVersion).
func versionString() string {
	exe := ""
	if path, err := os.Executable(); err == nil {
		if fi, err := os.Stat(path); err == nil {
			exe = fmt.Sprintf("dev (%d bytes, %s)", fi.Size(), fi.ModTime().UTC().Format("20060102T150405.000000000"))
		}
	}
	return currentBuild().agentVersion(exe)
}

// agentVersion is the build's version and commit. A build without either
// (go run, tests), or one from a tree with uncommitted changes (two such
// builds share a commit), is also told apart by exe, its executable's size
// and time.
func (b buildInfo) agentVersion(exe string) string {
	id := ""
	if b.Version != "dev" || b.Commit != "" {
		id = strings.TrimSpace(b.Version + " " + b.Commit)
		if !b.Modified {
			return id
		}
	}
	if v := strings.TrimSpace(id + " " + exe); v != "" {
		return v
	}
	return b.Version
}
