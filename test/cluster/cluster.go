//go:build linux

package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Context names in the kubeconfig the cluster writes.
const (
	ContextName        = "kpf-local"
	LimitedContextName = "kpf-local-limited"
	// LimitedNamespace is the only namespace the limited context may use.
	LimitedNamespace = "team"
	// DefaultNodeName is the name of the single kwok node.
	DefaultNodeName = "kpf-node"
)

// Options configure Start.
type Options struct {
	// StateDir holds PKI, kubeconfig, etcd data and logs. Empty: a temp
	// directory that Stop removes (unless KeepState).
	StateDir string
	// KeepState keeps a temp StateDir after Stop (for debugging).
	KeepState bool
	// BinDir holds the binaries; empty: EnsureBinaries.
	BinDir string
	// Log receives the harness's own logs; nil discards them.
	Log hclog.Logger
	// NodeName of the kwok node; empty: DefaultNodeName.
	NodeName string
}

// Cluster is a running local control plane.
type Cluster struct {
	// Kubeconfig is the path of a kubeconfig with Context and LimitedContext.
	Kubeconfig string
	// Context is the admin context (namespace default).
	Context string
	// LimitedContext may only read pods/services/deployments/statefulsets and
	// port-forward in namespace LimitedNamespace.
	LimitedContext string
	// StateDir holds everything the cluster writes.
	StateDir string
	// Server is the API server URL.
	Server string
	// NodeName is the kwok node's name.
	NodeName string
	// StartupTime is how long Start took from the first process to a Ready node.
	StartupTime time.Duration

	log        hclog.Logger
	api        *apiClient
	pki        *pki
	removeDir  bool
	etcd       *component
	apiserver  *component
	controller *component
	scheduler  *component
	kwok       *component
	kwokPort   int

	backendsCancel context.CancelFunc
	backendsDone   chan struct{}
	back           *backends
	stopOnce       sync.Once
	stopErr        error
}

// freePorts asks the kernel for n distinct free loopback TCP ports.
func freePorts(n int) ([]int, error) {
	// Hold every listener until all are chosen so the ports differ.
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// Start builds (if needed) and starts etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok on loopback, registers one
// node, waits for it to be Ready and starts the pod backends. On error every
// started process is stopped.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	log := opts.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = EnsureBinaries(ctx, log); err != nil {
			return nil, err
		}
	}
	c = &Cluster{Context: ContextName, LimitedContext: LimitedContextName, log: log, NodeName: opts.NodeName}
	if c.NodeName == "" {
		c.NodeName = DefaultNodeName
	}
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "kpf-testcluster-")
		if err != nil {
			return nil, fmt.Errorf("creating the state directory: %w", err)
		}
		c.StateDir, c.removeDir = dir, !opts.KeepState
	} else {
		if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the state directory: %w", err)
		}
		c.StateDir = opts.StateDir
	}
	defer func() {
		if err != nil {
			logs := c.LogTail(30)
			_ = c.Stop(context.WithoutCancel(ctx))
			err = fmt.Errorf("%w\n%s", err, logs)
		}
	}()
	if err := os.MkdirAll(filepath.Join(c.StateDir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	crds, stages, err := kwokAssets(ctx, binDir, filepath.Join(c.StateDir, "kwok-assets"))
	if err != nil {
		return nil, err
	}
	if c.pki, err = newPKI(filepath.Join(c.StateDir, "pki")); err != nil {
		return nil, err
	}
	// etcd client, peer, metrics; apiserver; controller-manager; scheduler; kwok.
	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, metricsPort, apiPort, cmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	c.kwokPort = ports[6]
	c.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	c.Kubeconfig = filepath.Join(c.StateDir, "kubeconfig")
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	kwokConfig := filepath.Join(c.StateDir, "kwok.yaml")
	if err := writeKwokConfig(kwokConfig, stages); err != nil {
		return nil, err
	}
	if c.api, err = newAPIClient(c.Server, c.pki.CACert, c.pki.AdminCert, c.pki.AdminKey); err != nil {
		return nil, err
	}

	p := c.pki
	logPath := func(name string) string { return filepath.Join(c.StateDir, "logs", name+".log") }
	local := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	c.etcd = &component{name: binEtcd, bin: filepath.Join(binDir, binEtcd), logPath: logPath(binEtcd), args: []string{
		"--name=kpf",
		"--data-dir=" + filepath.Join(c.StateDir, "etcd"),
		"--unsafe-no-fsync",
		"--listen-client-urls=" + local(etcdPort), "--advertise-client-urls=" + local(etcdPort),
		"--listen-peer-urls=" + local(peerPort), "--initial-advertise-peer-urls=" + local(peerPort),
		"--initial-cluster=kpf=" + local(peerPort),
		"--listen-metrics-urls=" + local(metricsPort),
		"--log-level=warn",
	}}
	c.apiserver = &component{name: binAPIServer, bin: filepath.Join(binDir, binAPIServer), logPath: logPath(binAPIServer), args: []string{
		"--etcd-servers=" + local(etcdPort),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + filepath.Join(c.StateDir, "pki", "apiserver"),
		"--tls-cert-file=" + p.AdminCert, "--tls-private-key-file=" + p.AdminKey,
		"--client-ca-file=" + p.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.SAPub,
		"--service-account-signing-key-file=" + p.SAKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--disable-admission-plugins=ServiceAccount",
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority=" + p.CACert,
		"--kubelet-client-certificate=" + p.AdminCert, "--kubelet-client-key=" + p.AdminKey,
		"--profiling=false",
	}}
	c.controller = &component{name: binController, bin: filepath.Join(binDir, binController), logPath: logPath(binController), args: []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(cmPort),
		"--cert-dir=" + filepath.Join(c.StateDir, "pki", "controller-manager"),
		"--leader-elect=false",
		"--service-account-private-key-file=" + p.SAKey,
		"--root-ca-file=" + p.CACert,
		"--profiling=false",
	}}
	c.scheduler = &component{name: binScheduler, bin: filepath.Join(binDir, binScheduler), logPath: logPath(binScheduler), args: []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(schedPort),
		"--leader-elect=false",
		"--profiling=false",
	}}
	c.kwok = &component{name: binKwok, bin: filepath.Join(binDir, binKwok), logPath: logPath(binKwok), args: []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--config=" + kwokConfig,
		"--manage-all-nodes=true",
		"--node-ip=127.0.0.1",
		"--node-port=" + strconv.Itoa(c.kwokPort),
		"--server-address=127.0.0.1:" + strconv.Itoa(c.kwokPort),
		"--tls-cert-file=" + p.AdminCert, "--tls-private-key-file=" + p.AdminKey,
		"--enable-crds=PortForward,ClusterPortForward",
	}}

	began := time.Now()
	log.Info("starting the local control plane", "state", c.StateDir, "server", c.Server)
	if err := c.etcd.start(); err != nil {
		return nil, err
	}
	if err := c.waitEtcd(ctx, local(etcdPort)); err != nil {
		return nil, err
	}
	if err := c.StartAPIServer(ctx); err != nil {
		return nil, err
	}
	if err := c.controller.start(); err != nil {
		return nil, err
	}
	if err := c.scheduler.start(); err != nil {
		return nil, err
	}
	if out, err := c.Kubectl(ctx, append([]string{"apply", "-f"}, strings.Join(crds, ","))...); err != nil {
		return nil, fmt.Errorf("applying kwok's CRDs: %w: %s", err, out)
	}
	if err := c.waitFor(ctx, "kwok's CRDs", 30*time.Second, nil, func(ctx context.Context) error {
		return c.api.do(ctx, http.MethodGet, portForwardsPath+"/portforwards", nil, nil)
	}); err != nil {
		return nil, err
	}
	if err := c.createRBAC(ctx); err != nil {
		return nil, err
	}
	if err := c.api.create(ctx, "/api/v1/nodes", map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": c.NodeName, "labels": map[string]string{
			"type": "kwok", "kubernetes.io/hostname": c.NodeName, "kubernetes.io/os": "linux",
		}},
	}); err != nil {
		return nil, fmt.Errorf("creating node %s: %w", c.NodeName, err)
	}
	if err := c.StartKwok(ctx); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "node "+c.NodeName+" Ready", 60*time.Second, c.kwok, func(ctx context.Context) error {
		var n node
		if err := c.api.do(ctx, http.MethodGet, "/api/v1/nodes/"+c.NodeName, nil, &n); err != nil {
			return err
		}
		if !n.ready() {
			return errors.New("not ready")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	c.StartupTime = time.Since(began)

	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.back = newBackends(c.api, c.NodeName, log.Named("backends"))
	c.backendsCancel, c.backendsDone = cancel, make(chan struct{})
	go func() {
		defer close(c.backendsDone)
		c.back.run(bctx)
	}()
	log.Info("local control plane ready", "took", c.StartupTime.Round(time.Millisecond), "kubeconfig", c.Kubeconfig)
	return c, nil
}

// waitFor polls check every 100 ms until it returns nil, the timeout passes,
// ctx ends, or (when proc is set) the process exits.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, proc *component, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	began := time.Now()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(cctx)
		ccancel()
		if err == nil {
			c.log.Debug("waited", "for", what, "took", time.Since(began).Round(time.Millisecond))
			return nil
		}
		if last == nil || err.Error() != last.Error() {
			c.log.Debug("waiting", "for", what, "state", err.Error(), "after", time.Since(began).Round(time.Millisecond))
		}
		last = err
		if proc != nil {
			if err := proc.exited(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) waitEtcd(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return c.waitFor(ctx, "etcd", 30*time.Second, c.etcd, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
}

// StartAPIServer starts kube-apiserver (again) and waits for /readyz. After
// a restart it also restarts the running controller-manager, scheduler and
// kwok: left alone they take up to a minute to re-watch (their reconnect
// backoff), and every port-forward died with the API server anyway.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	restart := c.apiserver.started()
	if err := c.apiserver.start(); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", 60*time.Second, c.apiserver, c.api.readyz); err != nil {
		return err
	}
	if !restart {
		return nil
	}
	for _, comp := range []*component{c.controller, c.scheduler} {
		if comp.pid() == 0 {
			continue
		}
		if err := comp.stop(ctx); err != nil {
			return err
		}
		if err := comp.start(); err != nil {
			return err
		}
	}
	if c.kwok.pid() != 0 {
		if err := c.kwok.stop(ctx); err != nil {
			return err
		}
		return c.StartKwok(ctx)
	}
	return nil
}

// StopAPIServer stops kube-apiserver (SIGTERM, SIGKILL after 5 s).
func (c *Cluster) StopAPIServer(ctx context.Context) error { return c.apiserver.stop(ctx) }

// StartKwok starts kwok (again) and waits until it accepts connections.
// kwok only plays the pods of nodes whose Lease it holds, and a new kwok
// process is a new holder: it would wait for the old Lease to expire (40 s)
// before touching any pod. So the node's Lease is deleted first.
func (c *Cluster) StartKwok(ctx context.Context) error {
	lease := "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + c.NodeName
	if err := c.api.do(ctx, http.MethodDelete, lease, nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("deleting the node lease: %w", err)
	}
	if err := c.kwok.start(); err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(c.kwokPort)
	return c.waitFor(ctx, "kwok on "+addr, 30*time.Second, c.kwok, func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// StopKwok stops kwok, the stand-in kubelet: forwards lose their backend.
func (c *Cluster) StopKwok(ctx context.Context) error { return c.kwok.stop(ctx) }

// FreezeKwok stops kwok with SIGSTOP: its sockets stay open and nothing
// answers on them, no reset, no close — a node behind a dropped VPN or a
// laptop that slept. ThawKwok (SIGCONT) lets it go on.
func (c *Cluster) FreezeKwok() error { return c.kwok.signal(syscall.SIGSTOP) }

// ThawKwok resumes a frozen kwok.
func (c *Cluster) ThawKwok() error { return c.kwok.signal(syscall.SIGCONT) }

// FreezeAPIServer stops kube-apiserver with SIGSTOP: connections to it,
// and the tunnels it proxies, go silent. ThawAPIServer resumes it.
func (c *Cluster) FreezeAPIServer() error { return c.apiserver.signal(syscall.SIGSTOP) }

// ThawAPIServer resumes a frozen kube-apiserver.
func (c *Cluster) ThawAPIServer() error { return c.apiserver.signal(syscall.SIGCONT) }

// PIDs returns the process id of every running component by name.
func (c *Cluster) PIDs() map[string]int {
	out := map[string]int{}
	for _, comp := range c.components() {
		if pid := comp.pid(); pid != 0 {
			out[comp.name] = pid
		}
	}
	return out
}

func (c *Cluster) components() []*component {
	var out []*component
	for _, comp := range []*component{c.etcd, c.apiserver, c.controller, c.scheduler, c.kwok} {
		if comp != nil {
			out = append(out, comp)
		}
	}
	return out
}

// Stop stops the backends and every component in reverse order (SIGTERM,
// SIGKILL after 5 s), then removes a temporary state directory. Safe to
// call twice.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		if c.backendsCancel != nil {
			c.backendsCancel()
			<-c.backendsDone
		}
		comps := c.components()
		var errs []error
		for i := len(comps) - 1; i >= 0; i-- {
			if err := comps[i].stop(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if c.removeDir {
			if err := os.RemoveAll(c.StateDir); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", c.StateDir, err))
			}
		}
		c.stopErr = errors.Join(errs...)
		c.log.Info("local control plane stopped")
	})
	return c.stopErr
}

// LogTail returns the last n lines of every component's log, for a failed test.
func (c *Cluster) LogTail(n int) string {
	var b strings.Builder
	for _, comp := range c.components() {
		data, err := os.ReadFile(comp.logPath)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", filepath.Base(comp.logPath), tail(string(data), n))
	}
	return b.String()
}

// CopyLogs copies every component's log into dir (made if need be), for
// a run to keep after the cluster's state directory is gone.
func (c *Cluster) CopyLogs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var errs []error
	for _, comp := range c.components() {
		data, err := os.ReadFile(comp.logPath)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(comp.logPath)), data, 0o600)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Kubectl runs kubectl with --kubeconfig and --context set to the admin
// context (a later --context in args wins) and returns its combined output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	argv := append([]string{"--kubeconfig", c.Kubeconfig, "--context", c.Context}, args...)
	out, err := exec.CommandContext(ctx, "kubectl", argv...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// writeKubeconfig writes both contexts with the certificates inline.
func (c *Cluster) writeKubeconfig() error {
	data, err := renderKubeconfig(c.Server, c.pki)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}

func renderKubeconfig(server string, p *pki) ([]byte, error) {
	b64 := func(path string) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", path, err)
		}
		return base64.StdEncoding.EncodeToString(data), nil
	}
	v := map[string]string{
		"Server": server, "Cluster": ContextName, "Admin": ContextName + "-admin",
		"Context": ContextName, "Limited": LimitedContextName, "LimitedNS": LimitedNamespace,
	}
	for key, path := range map[string]string{
		"CA": p.CACert, "AdminCert": p.AdminCert, "AdminKey": p.AdminKey,
		"LimitedCert": p.LimitedCert, "LimitedKey": p.LimitedKey,
	} {
		data, err := b64(path)
		if err != nil {
			return nil, err
		}
		v[key] = data
	}
	var b bytes.Buffer
	if err := kubeconfigTemplate.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("rendering the kubeconfig: %w", err)
	}
	return b.Bytes(), nil
}

var kubeconfigTemplate = template.Must(template.New("kubeconfig").Parse(`apiVersion: v1
kind: Config
clusters:
- name: {{.Cluster}}
  cluster:
    server: {{.Server}}
    certificate-authority-data: {{.CA}}
users:
- name: {{.Admin}}
  user:
    client-certificate-data: {{.AdminCert}}
    client-key-data: {{.AdminKey}}
- name: {{.Limited}}
  user:
    client-certificate-data: {{.LimitedCert}}
    client-key-data: {{.LimitedKey}}
contexts:
- name: {{.Context}}
  context:
    cluster: {{.Cluster}}
    user: {{.Admin}}
    namespace: default
- name: {{.Limited}}
  context:
    cluster: {{.Cluster}}
    user: {{.Limited}}
    namespace: {{.LimitedNS}}
current-context: {{.Context}}
`))

// writeKwokConfig writes kwok's --config: a KwokConfiguration that keeps node
// leases (so the controller-manager never marks the node Unknown) with every
// parallelism field set, followed by the stages.
func writeKwokConfig(path string, stages []string) error {
	var b strings.Builder
	b.WriteString(kwokConfiguration)
	for _, s := range stages {
		data, err := os.ReadFile(s)
		if err != nil {
			return fmt.Errorf("reading stage %s: %w", s, err)
		}
		if filepath.Base(s) == podReadyStage {
			if data, err = gateOnBacked(data); err != nil {
				return fmt.Errorf("stage %s: %w", s, err)
			}
		}
		b.WriteString("---\n")
		b.Write(data)
		if !strings.HasSuffix(string(data), "\n") {
			b.WriteString("\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing the kwok config: %w", err)
	}
	return nil
}

// podReadyStage is kwok's stage that makes a pod Running and Ready.
const podReadyStage = "pod-ready.yaml"

// BackedAnnotation is set on a pod by the harness once a local server
// answers for it (its kwok PortForward exists). kwok's pod-ready stage waits
// for it, as a kubelet waits for a readiness probe: a Ready pod of this
// cluster serves, so "served within N ms of Ready" measures the client,
// not the harness's polling.
const BackedAnnotation = "testcluster.kpf.dev/backed"

// gateOnBacked adds BackedAnnotation to the stage's selector.
func gateOnBacked(stage []byte) ([]byte, error) {
	const sel = "\n  selector:\n"
	s := string(stage)
	if strings.Count(s, sel) != 1 || strings.Contains(s, "matchAnnotations") {
		return nil, errors.New("kwok's pod-ready stage changed shape: expected one spec.selector and no matchAnnotations")
	}
	return []byte(strings.Replace(s, sel, sel+"    matchAnnotations:\n      "+BackedAnnotation+": \"true\"\n", 1)), nil
}

const kwokConfiguration = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 2
  cidr: 10.0.0.0/24
  enableDebuggingHandlers: true
  enableProfilingHandler: false
  enableContentionProfiling: false
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
`

// createRBAC creates namespace team and the limited user's Role and RoleBinding.
func (c *Cluster) createRBAC(ctx context.Context) error {
	if err := c.CreateNamespace(ctx, LimitedNamespace); err != nil {
		return err
	}
	rbac := "/apis/rbac.authorization.k8s.io/v1/namespaces/" + LimitedNamespace
	role := map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": LimitedUser, "namespace": LimitedNamespace},
		"rules": []any{
			map[string]any{"apiGroups": []string{""}, "resources": []string{"pods", "services"}, "verbs": []string{"get", "list"}},
			map[string]any{"apiGroups": []string{"apps"}, "resources": []string{"deployments", "statefulsets"}, "verbs": []string{"get", "list"}},
			map[string]any{"apiGroups": []string{""}, "resources": []string{"pods/portforward"}, "verbs": []string{"create"}},
		},
	}
	if err := c.api.create(ctx, rbac+"/roles", role); err != nil {
		return fmt.Errorf("creating the limited role: %w", err)
	}
	binding := map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": LimitedUser, "namespace": LimitedNamespace},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": LimitedUser},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": LimitedUser}},
	}
	if err := c.api.create(ctx, rbac+"/rolebindings", binding); err != nil {
		return fmt.Errorf("creating the limited role binding: %w", err)
	}
	return nil
}
