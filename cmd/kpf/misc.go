package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/kpf-dev/kpf/internal/safefs"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/runtime/kubeconfig"
	"github.com/kpf-dev/kpf/runtime/native/engine"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

func (a *app) validateCommand() *cobra.Command {
	var skipContexts bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the spec without touching a cluster",
		Long: `validate loads every spec file of the workspace, evaluates variables, locals
and functions, and makes every check that needs no cluster: unique names,
unique local ports per address, port ranges, target syntax, IP literals,
durations, and output blocks (references to undeclared forwards, attributes
or outputs, cycles, type errors). Errors carry file:line:col.

When a kubeconfig is at hand (--kubeconfig, $KUBECONFIG or ~/.kube/config),
validate also checks that every enabled forward's context is in it (reading
the file only: no cluster is contacted); without one, or with
--skip-contexts (a CI machine whose kubeconfig is not the developers'), it
says that contexts were not checked.`,
		Example: `  kpf validate
  kpf -C examples/basic validate --var context=kind-dev
  kpf validate --skip-contexts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.loadSpec()
			if err != nil {
				return err
			}
			contexts := "contexts checked against the kubeconfig"
			if why := a.kubeconfigProblem(); skipContexts || why != "" {
				if skipContexts {
					why = "--skip-contexts"
				}
				contexts = "contexts not checked: " + why
			} else {
				_, bad, err := a.newContextResolver().resolveEach(cmd.Context(), ws.Forwards)
				if err != nil {
					return err
				}
				for _, e := range bad {
					fmt.Fprintf(a.io.Err, "Error: %s\n", termtext.Escape(a.scrub.Scrub(e.Error)))
				}
				if len(bad) > 0 {
					return errReported
				}
			}
			outputs := ""
			if n := a.outputs.Len(); n > 0 {
				outputs = fmt.Sprintf(" and %d outputs", n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "The spec is valid: %d forwards (%d enabled)%s in %s; %s.\n",
				len(ws.Forwards), countEnabled(ws.Forwards), outputs, strings.Join(ws.Files, ", "), contexts)
			return nil
		},
	}
	cmd.Flags().BoolVar(&skipContexts, "skip-contexts", false, "do not check the forwards' contexts against the kubeconfig")
	return cmd
}

func (a *app) fmtCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt",
		Short: "Rewrite the spec files in the canonical format",
		Example: `  kpf fmt
  kpf fmt --check   # exit 1 and list the files that are not formatted`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			changed, err := spec.FormatDir(dir, check, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if check && len(changed) > 0 {
				a.exit = exitError
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only list the files that are not formatted; exit 1 if any")
	return cmd
}

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
		svcs, err := listServices(cmd.Context(), kc, o.Context, o.Namespace)
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

// service is the part of a Service that init reads.
type service struct {
	Name  string
	Ports []servicePort
}

type servicePort struct {
	Name string
	Port int
}

// listServices reads a namespace's services through the API (no kubectl).
func listServices(ctx context.Context, kc *kubeconfig.Config, kubeContext, namespace string) ([]service, error) {
	rc, err := kc.RESTConfig(kubeContext)
	if err != nil {
		return nil, err
	}
	c, err := engine.NewClients(rc)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", kubeContext, err)
	}
	list, err := c.API.ListServices(ctx, namespace)
	if err != nil {
		return nil, fmt.Errorf("listing services in %s/%s: %w", kubeContext, namespace, err)
	}
	if len(list.Items) == 0 {
		// An unknown namespace lists as empty: say which it is.
		switch exists, err := engine.NamespaceExists(ctx, c, namespace); {
		case err == nil && !exists:
			return nil, fmt.Errorf("namespace %q does not exist in context %q; nothing written", namespace, kubeContext)
		case err != nil:
			return nil, fmt.Errorf("namespace %q of context %q has no services (or does not exist: %w); nothing written", namespace, kubeContext, err)
		}
	}
	svcs := make([]service, 0, len(list.Items))
	for _, it := range list.Items {
		s := service{Name: it.Name}
		for _, p := range it.Spec.Ports {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				continue // a port-forward carries TCP only
			}
			s.Ports = append(s.Ports, servicePort{Name: p.Name, Port: int(p.Port)})
		}
		if len(s.Ports) > 0 {
			svcs = append(svcs, s)
		}
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	return svcs, nil
}

// specFromServices renders one forward per service port, commented as
// init --help says. Privileged local ports (< 1024) become 0: kpf picks a
// free port and keeps it. Ports are numbers, names strings.
func specFromServices(name, context, namespace string, svcs []service) []byte {
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
	fmt.Fprintf(&b, "kpf {\n  name = %q\n}\n\n", name)
	fmt.Fprintf(&b, "# Override with --var context=..., --var-file or KPF_VAR_context.\n")
	fmt.Fprintf(&b, "variable \"context\" {\n  type        = string\n  default     = %q\n  description = \"kube context every forward uses\"\n}\n\n", context)
	fmt.Fprintf(&b, "defaults {\n  context   = var.context # never follows kubectl's current context\n  namespace = %q\n  address   = \"127.0.0.1\"\n}\n", namespace)
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
			fmt.Fprintf(&b, "\n# service/%s port %s\nforward %q {\n  target      = %q\n", s.Name, port, fname, "service/"+s.Name)
			if p.Port < 1024 {
				fmt.Fprintf(&b, "  local_port  = 0 # %d is privileged (< 1024): kpf picks a free port and keeps it\n", p.Port)
			} else {
				fmt.Fprintf(&b, "  local_port  = %d\n", p.Port)
			}
			if p.Name != "" {
				fmt.Fprintf(&b, "  remote_port = %q\n}\n", p.Name)
			} else {
				fmt.Fprintf(&b, "  remote_port = %d\n}\n", p.Port)
			}
		}
	}
	return spec.Format([]byte(b.String()))
}

type openOptions struct {
	Print bool
}

func (a *app) openCommand() *cobra.Command {
	var o openOptions
	cmd := &cobra.Command{
		Use:   "open NAME",
		Short: "Open http://ADDRESS:PORT/<open path> of a running forward in the browser",
		Example: `  kpf open api
  kpf open api --print   # only print the URL`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.open(cmd, args[0], o)
		},
	}
	cmd.Flags().BoolVar(&o.Print, "print", false, "print the URL instead of opening it")
	return cmd
}

func (a *app) open(cmd *cobra.Command, name string, o openOptions) error {
	ws, err := a.loadSpec()
	if err != nil {
		return err
	}
	var fwd *spec.Forward
	for i := range ws.Forwards {
		if ws.Forwards[i].Name == name {
			fwd = &ws.Forwards[i]
		}
	}
	if fwd == nil {
		return fmt.Errorf("no forward named %q in the spec", name)
	}
	store, err := a.view(ws.Dir)
	if err != nil {
		return err
	}
	url, err := a.runningURL(cmd.Context(), store, *fwd)
	var nh *notHTTPError
	if o.Print && errors.As(err, &nh) {
		// Its address, not a URL it may not serve; and why.
		fmt.Fprintln(cmd.OutOrStdout(), nh.addr)
		fmt.Fprintf(a.io.Err, "Note: %s; printed its address. Set open = \"/\" on the forward if it serves HTTP.\n", nh.reason())
		return nil
	}
	if err != nil {
		return err
	}
	if o.Print {
		fmt.Fprintln(cmd.OutOrStdout(), url)
		return nil
	}
	if err := a.startBrowser(cmd.Context(), url); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Opened %s\n", url)
	return nil
}

// runningURL is the URL of fwd if it runs (per the state in store and its
// runtime), else an error that says how to start it.
func (a *app) runningURL(ctx context.Context, store *state.Store, fwd spec.Forward) (string, error) {
	st, err := store.Load()
	if err != nil {
		return "", err
	}
	fs, ok := st.Forwards[fwd.Name]
	if !ok || fs.Handle.IsZero() {
		return "", fmt.Errorf("forward %q is not running; 'kpf apply' starts it", fwd.Name)
	}
	status, err := a.runtimeFor(store).Inspect(ctx, fs.Handle)
	if err != nil || !status.Alive {
		return "", fmt.Errorf("forward %q is not running; 'kpf apply' starts it", fwd.Name)
	}
	if why := httpEvidence(fwd); why == "" {
		return "", &notHTTPError{name: fwd.Name, remote: fwd.RemotePort, addr: hostPort(fs.Address, fs.LocalPort)}
	}
	return forwardURL(a.reachHost(fs), fs.LocalPort, fwd.Open), nil
}

// notHTTPError is a forward that nothing says serves HTTP: kpf open does
// not offer it an http:// URL (a database's port in a browser helps no one).
type notHTTPError struct {
	name, remote, addr string
}

func (e *notHTTPError) reason() string {
	return fmt.Sprintf("forward %q does not look like HTTP (no open path, no HTTP health check, and remote port %s is not a usual HTTP port)", e.name, e.remote)
}

func (e *notHTTPError) Error() string {
	return e.reason() + fmt.Sprintf("; it listens on %s. Set open = \"/\" on the forward to open it in a browser", e.addr)
}

// httpPorts are remote port numbers that usually serve HTTP.
var httpPorts = map[string]bool{
	"80": true, "443": true, "3000": true, "5000": true, "8000": true, "8008": true, "8080": true,
	"8081": true, "8443": true, "8888": true, "9000": true, "9090": true, "15672": true,
}

// httpEvidence says why fwd is taken to serve HTTP ("" when nothing says
// so): an open path, an HTTP health check, a port named http/https/web/ui
// or metrics, or a port number that usually serves HTTP.
func httpEvidence(fwd spec.Forward) string {
	p := strings.ToLower(fwd.RemotePort)
	switch {
	case fwd.Open != "":
		return "open path"
	case fwd.Health.Kind == spec.HealthHTTP:
		return "HTTP health check"
	case strings.Contains(p, "http"), p == "web", p == "ui", p == "metrics", strings.HasSuffix(p, "-web"), strings.HasSuffix(p, "-ui"):
		return "port named " + fwd.RemotePort
	case httpPorts[p]:
		return "port " + p
	}
	return ""
}

// hostPort is the address to reach a forward listening on address:port.
func hostPort(address string, port int) string {
	switch address {
	case "", "0.0.0.0":
		address = "127.0.0.1"
	case "::":
		address = "::1"
	}
	return net.JoinHostPort(address, strconv.Itoa(port))
}

// startBrowser opens url with $BROWSER or the platform's opener, without
// waiting for it (its output goes nowhere: the live view owns the terminal).
func (a *app) startBrowser(ctx context.Context, url string) error {
	argv := browserCommand(a.getenv("BROWSER"), url)
	c := exec.CommandContext(context.WithoutCancel(ctx), argv[0], argv[1:]...)
	if err := c.Start(); err != nil {
		return fmt.Errorf("opening %s with %s: %w", url, argv[0], err)
	}
	go func() { _ = c.Wait() }()
	return nil
}

// forwardURL builds the URL of a forward; a wildcard bind is reached on loopback.
func forwardURL(address string, port int, path string) string {
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + hostPort(address, port) + path
}

// browserCommand is the argv that opens url: $BROWSER, else the platform's opener.
func browserCommand(browser, url string) []string {
	if browser != "" {
		return []string{browser, url}
	}
	switch goruntime.GOOS {
	case "darwin":
		return []string{"open", url}
	case "windows":
		return []string{"rundll32", "url.dll,FileProtocolHandler", url}
	default:
		return []string{"xdg-open", url}
	}
}
