//go:build releasedocs

package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { buildTagCommands = append(buildTagCommands, (*app).releaseDocsCommand) }

// releaseDocsCommand writes what the release packages install beside the
// binary: shell completions and man pages generated from the commands
// (.goreleaser.yaml runs it as a `before` hook: go run -tags releasedocs
// ./cmd/kpf __release-docs DIR). Hidden, and only in a build with the tag
// (cobra/doc and its Markdown renderer add 290 KB to the binary).
func (a *app) releaseDocsCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "__release-docs DIR",
		Short:  "Write the shell completions and man pages of a release into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeReleaseDocs(cmd.Root(), args[0], currentBuild())
		},
	}
}

// writeReleaseDocs writes DIR/completions/kpf.{bash,zsh,fish,ps1} and
// DIR/man/*.1.gz, one page per command. The files depend only on the
// commands and b (the man pages' date is the commit's, their gzip headers
// carry no time), so a release rebuilt from the same commit is identical.
func writeReleaseDocs(root *cobra.Command, dir string, b buildInfo) error {
	comp := filepath.Join(dir, "completions")
	man := filepath.Join(dir, "man")
	for _, d := range []string{comp, man} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("clearing %s: %w", d, err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	for name, gen := range map[string]func(*bytes.Buffer) error{
		"kpf.bash": func(w *bytes.Buffer) error { return root.GenBashCompletionV2(w, true) },
		"kpf.zsh":  func(w *bytes.Buffer) error { return root.GenZshCompletion(w) },
		"kpf.fish": func(w *bytes.Buffer) error { return root.GenFishCompletion(w, true) },
		"kpf.ps1":  func(w *bytes.Buffer) error { return root.GenPowerShellCompletionWithDesc(w) },
	} {
		var buf bytes.Buffer
		if err := gen(&buf); err != nil {
			return fmt.Errorf("generating the %s completion: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(comp, name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the completion: %w", err)
		}
	}

	header := &doc.GenManHeader{Section: "1", Source: "kpf " + b.Version, Manual: "kpf manual"}
	if t, err := time.Parse(time.RFC3339, b.Date); err == nil {
		header.Date = &t
	} // else cobra takes $SOURCE_DATE_EPOCH, or now
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() && c != root || c.IsAdditionalHelpTopicCommand() {
			return nil
		}
		c.DisableAutoGenTag = true // its footer has the generation time
		h := *header
		var page bytes.Buffer
		if err := doc.GenMan(c, &h, &page); err != nil {
			return fmt.Errorf("generating the man page of %s: %w", c.CommandPath(), err)
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1.gz"
		if err := writeGzip(filepath.Join(man, name), page.Bytes()); err != nil {
			return err
		}
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

// writeGzip writes data gzipped, with no name or time in the header.
func writeGzip(path string, data []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("compressing %s: %w", path, err)
	}
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("compressing %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compressing %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
