package main

import (
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// pluginName is the executable name under which kubectl runs kpf as a
// plugin: `kubectl kpf ...` runs the first kubectl-kpf on $PATH (krew links
// ~/.krew/bin/kubectl-kpf to the kpf binary of its archive).
const pluginName = "kubectl-kpf"

// isPluginName reports whether argv0, os.Args[0], names the plugin
// (kubectl passes the path it found on $PATH; Windows adds .exe).
func isPluginName(argv0 string) bool {
	base := filepath.Base(argv0)
	if ext := filepath.Ext(base); strings.EqualFold(ext, ".exe") {
		base = strings.TrimSuffix(base, ext)
	}
	return base == pluginName
}

// asPlugin renames the root command as cobra documents for kubectl
// plugins: usage lines, errors' "Run '... --help'" and completions say
// `kubectl kpf`, and so do the examples and the root's overview.
func asPlugin(root *cobra.Command) {
	root.Use = pluginName
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = "kubectl kpf"
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Example = pluginText(c.Example)
		c.Long = pluginText(c.Long)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// pluginText rewrites the command lines of a help text (lines that run
// `kpf ...` after their indentation) to `kubectl kpf ...`.
func pluginText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		rest := strings.TrimLeft(l, " \t")
		if strings.HasPrefix(rest, "kpf ") || rest == "kpf" {
			lines[i] = l[:len(l)-len(rest)] + "kubectl " + rest
		}
	}
	return strings.Join(lines, "\n")
}
