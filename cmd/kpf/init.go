package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native"
	"github.com/kpf-dev/kpf/spec"
)

type initOptions struct {
	FromCluster bool
	Namespace   string
	Context     string
	Force       bool
}

func (a *app) initCommand() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter kpf.hcl",
		Long: `init writes a commented kpf.hcl into the workspace directory: the commands
to go on with, a "context" variable set to the kubeconfig's current context
(written down: the spec never follows kubectl's current context), defaults,
and an example forward.

With --from-cluster it declares one forward per TCP service port of a
namespace (--namespace, else the context's namespace in the kubeconfig,
else "default"), each with a comment naming its service port; a port below
1024 gets local_port = 0 (kpf picks a free port and keeps it), with a
comment saying so. A namespace that does not exist, or has no services, is
an error and nothing is written.`,
		Example: `  kpf init
  kpf init --from-cluster --context kind-dev --namespace shop`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.init(cmd, o)
		},
	}
	cmd.Flags().BoolVar(&o.FromCluster, "from-cluster", false, "declare a forward for every service port of --namespace")
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", `namespace to read services from (with --from-cluster; default: the context's namespace, else "default")`)
	cmd.Flags().StringVar(&o.Context, "context", "", "kube context (with --from-cluster; default: the current context)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite an existing kpf.hcl")
	return cmd
}

func (a *app) init(cmd *cobra.Command, o initOptions) error {
	dir, err := a.workspaceDir()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "kpf.hcl")
	if err := checkInitTarget(path, o.Force); err != nil {
		return err
	}
	// The kubeconfig's current context becomes the spec's default, written
	// down so the spec never follows it implicitly afterwards.
	kc, kcErr := kubeconfig.Load(a.kubeconfigSource())
	if o.Context == "" && kcErr == nil {
		o.Context = kc.CurrentContext()
	}
	var src []byte
	if o.FromCluster {
		if kcErr != nil {
			return kcErr
		}
		if o.Context == "" {
			return errors.New("--from-cluster needs --context or a current context in the kubeconfig")
		}
		if o.Namespace == "" {
			o.Namespace = kc.Namespaces()[o.Context]
		}
		if o.Namespace == "" {
			o.Namespace = "default"
		}
		svcs, err := native.ListServices(cmd.Context(), kc, o.Context, o.Namespace)
		if err != nil {
			return err
		}
		if len(svcs) == 0 {
			return fmt.Errorf("namespace %q of context %q has no services with a TCP port; nothing written (pick one with -n)", o.Namespace, o.Context)
		}
		src = specFromServices(filepath.Base(dir), o.Context, o.Namespace, svcs)
	} else {
		src = spec.StarterSpec(filepath.Base(dir), o.Context)
	}
	if err := writeNew(path, src, o.Force); err != nil {
		return err
	}
	switch {
	case o.Context != "":
		fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s with context %q. Next: 'kpf plan', then 'kpf apply'.\n", path, o.Context)
	default:
		fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s. The kubeconfig has no current context: set variable \"context\" in it. Next: 'kpf plan', then 'kpf apply'.\n", path)
	}
	return nil
}

// checkInitTarget refuses to write the starter spec at path when something
// is there: a symbolic link always (even a dangling one: init would create
// a file wherever it points), anything else unless force.
func checkInitTarget(path string, force bool) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checking %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link; kpf init never writes through a link (remove it, or edit the file it points to)", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s exists and is not a regular file; kpf init does not replace it", path)
	case !force:
		return fmt.Errorf("%s already exists (use --force to overwrite it)", path)
	}
	return nil
}

// writeNew writes src to path without following a symbolic link there:
// the file is created (O_EXCL: a link, even a dangling one, is an error),
// or with force an existing regular file is truncated (never a link, a
// FIFO or a device; internal/safefs).
func writeNew(path string, src []byte, force bool) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := safefs.OpenFile(path, flag, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(src); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// specFromServices renders one forward per service port, commented as
// init --help says. Strings are quoted as HCL reads them (spec.QuoteString):
// a context named "team-${x}" stays that name, not a template. Privileged local ports (< 1024) become 0: kpf picks a
// free port and keeps it. Ports are numbers, names strings.
func specFromServices(name, context, namespace string, svcs []native.Service) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `# kpf.hcl: the port-forwards this workspace keeps alive.
# Generated by 'kpf init --from-cluster' from the services of namespace %q
# in context %q: one forward per TCP service port.
#
#   kpf plan      show what would change
#   kpf apply     start, restart or stop forwards to match this file
#   kpf status    see what runs
#
# Keep personal changes (your own ports, enabled = false) in a
# NAME.override.kpf.hcl file next to this one, and keep that out of git.

`, namespace, context)
	fmt.Fprintf(&b, "kpf {\n  name = %s\n}\n\n", spec.QuoteString(name))
	fmt.Fprintf(&b, "# Override with --var context=..., --var-file or KPF_VAR_context.\n")
	fmt.Fprintf(&b, "variable \"context\" {\n  type        = string\n  default     = %s\n  description = \"kube context every forward uses\"\n}\n\n", spec.QuoteString(context))
	fmt.Fprintf(&b, "defaults {\n  context   = var.context # never follows kubectl's current context\n  namespace = %s\n  address   = \"127.0.0.1\"\n}\n", spec.QuoteString(namespace))
	for _, s := range svcs {
		for i, p := range s.Ports {
			fname := s.Name
			if len(s.Ports) > 1 {
				if p.Name != "" {
					fname = s.Name + "-" + p.Name
				} else {
					fname = s.Name + "-" + strconv.Itoa(i)
				}
			}
			port := strconv.Itoa(p.Port)
			if p.Name != "" {
				port = fmt.Sprintf("%s (%d)", p.Name, p.Port)
			}
			fmt.Fprintf(&b, "\n# service/%s port %s\nforward %s {\n  target      = %s\n", s.Name, port, spec.QuoteString(fname), spec.QuoteString("service/"+s.Name))
			if p.Port < 1024 {
				fmt.Fprintf(&b, "  local_port  = 0 # %d is privileged (< 1024): kpf picks a free port and keeps it\n", p.Port)
			} else {
				fmt.Fprintf(&b, "  local_port  = %d\n", p.Port)
			}
			if p.Name != "" {
				fmt.Fprintf(&b, "  remote_port = %s\n}\n", spec.QuoteString(p.Name))
			} else {
				fmt.Fprintf(&b, "  remote_port = %d\n}\n", p.Port)
			}
		}
	}
	return spec.Format([]byte(b.String()))
}
