package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	goruntime "runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/spec/model"
	"github.com/kpf-dev/kpf/state"
)

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
		return "", &notHTTPError{name: fwd.Name, remote: fwd.RemotePort, addr: model.NewEndpoint(fs.Address, fs.LocalPort, "").Address}
	}
	return model.NewEndpoint(a.reachHost(fs), fs.LocalPort, fwd.Open).URL, nil
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
