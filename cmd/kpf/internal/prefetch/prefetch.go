package prefetch

import (
	"os"
	"slices"
	"strings"

	"github.com/kpf-dev/kpf/spec"
)

func init() {
	if dir, ok := WorkspaceDir(os.Args[1:]); ok {
		spec.Prefetch(dir)
	}
}

// Commands are kpf's commands that load the workspace's spec first
// thing.
var Commands = []string{"apply", "env", "open", "output", "plan", "run", "status", "validate"}

// ValueFlags are kpf's global flags that take a value (in the next
// argument unless written --flag=value); BoolFlags are those that do not.
var (
	ValueFlags = []string{"-C", "--dir", "--kubeconfig", "--var", "--var-file", "--log-level", "--cpuprofile", "--memprofile", "--pprof"}
	BoolFlags  = []string{"--no-color", "--pprof-any-address"}
)

// WorkspaceDir returns the workspace directory args (the command line
// without the program name) name with -C or --dir ("." without either;
// the last one counts, as for cobra), when args run one of Commands.
func WorkspaceDir(args []string) (dir string, ok bool) {
	dir = "."
	command := ""
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" { // what follows is not kpf's (kpf run -- CMD)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if command == "" {
				if !slices.Contains(Commands, arg) {
					return "", false
				}
				command = arg
			}
			continue // an argument of the command
		}
		name, value, hasValue := strings.Cut(arg, "=")
		if !hasValue && len(name) > 2 && name[1] != '-' && name[:2] == "-C" { // -Cdir
			name, value, hasValue = "-C", name[2:], true
		}
		switch {
		case slices.Contains(ValueFlags, name):
			if !hasValue {
				if i+1 == len(args) {
					return "", false
				}
				i++
				value = args[i]
			}
			if name == "-C" || name == "--dir" {
				dir = value
			}
		case slices.Contains(BoolFlags, name):
		case name == "-h" || name == "--help":
			return "", false
		case command == "":
			return "", false // a flag kpf does not have
		}
		// Else a flag of the command: its value, if any, is taken for an
		// argument, which is harmless.
	}
	if command == "" {
		return "", false
	}
	return dir, true
}
