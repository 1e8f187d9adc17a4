//go:build linux

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Versions of the control-plane components; they are pinned by test/tools/go.mod.
const (
	KubernetesVersion = "v1.36.3"
	EtcdVersion       = "v3.6.8"
	KwokVersion       = "v0.8.0"
)

// cacheKey names the cache folder; a version bump gives a new folder.
const cacheKey = "k8s-" + KubernetesVersion + "_etcd-" + EtcdVersion + "_kwok-" + KwokVersion

// EnvBinDir overrides where the control-plane binaries are looked for.
const EnvBinDir = "KPF_TESTCLUSTER_BIN"

// Binary names inside the bin directory.
const (
	binEtcd       = "etcd"
	binAPIServer  = "kube-apiserver"
	binController = "kube-controller-manager"
	binScheduler  = "kube-scheduler"
	binKwok       = "kwok"
)

// assetsDirName is the folder next to the binaries holding kwok's CRDs and stages.
const assetsDirName = "kwok-assets"

// kwokCRDs are the CRD files (under kustomize/crd/bases in the kwok module) kpf needs.
var kwokCRDs = []string{
	"kwok.x-k8s.io_portforwards.yaml",
	"kwok.x-k8s.io_clusterportforwards.yaml",
}

// kwokStages are the stage files (under kustomize/stage in the kwok module) kwok runs with.
var kwokStages = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"pod/fast/pod-ready.yaml",
	"pod/fast/pod-complete.yaml",
	"pod/fast/pod-delete.yaml",
}

// buildPackages are built by one `go build` in test/tools; etcd's module root
// comes out as "server" and is renamed.
var buildPackages = []string{
	"k8s.io/kubernetes/cmd/kube-apiserver",
	"k8s.io/kubernetes/cmd/kube-controller-manager",
	"k8s.io/kubernetes/cmd/kube-scheduler",
	"sigs.k8s.io/kwok/cmd/kwok",
	"go.etcd.io/etcd/server/v3",
}

func allBinaries() []string {
	return []string{binEtcd, binAPIServer, binController, binScheduler, binKwok}
}

// DefaultBinDir is where EnsureBinaries caches the binaries unless
// KPF_TESTCLUSTER_BIN says otherwise.
func DefaultBinDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the cache directory: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "kpf", "testcluster", cacheKey, "bin"), nil
}

// binariesPresent reports whether dir holds every binary.
func binariesPresent(dir string) error {
	for _, name := range allBinaries() {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("binary %s: %w", name, err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("binary %s is not an executable file", name)
		}
	}
	return nil
}

// EnsureBinaries returns a directory holding etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (and kwok's CRDs and stage
// files in kwok-assets/). It honours KPF_TESTCLUSTER_BIN; otherwise it uses
// the version-keyed cache and, when that is empty, builds the binaries from
// test/tools (a cold build takes about 8 minutes on 2 cores).
func EnsureBinaries(ctx context.Context, log hclog.Logger) (string, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if err := binariesPresent(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinDir, dir, err)
		}
		return dir, nil
	}
	binDir, err := DefaultBinDir()
	if err != nil {
		return "", err
	}
	if binariesPresent(binDir) == nil {
		if _, err := os.Stat(filepath.Join(binDir, assetsDirName)); err == nil {
			return binDir, nil
		}
	}
	if err := buildBinaries(ctx, log, binDir); err != nil {
		return "", err
	}
	return binDir, nil
}

// ToolsDir finds test/tools of this repository: from this source file's
// location when it is on disk, else from `go env GOMOD` of the working directory.
func ToolsDir(ctx context.Context) (string, error) {
	if _, file, _, ok := goruntime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "tools")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Clean(dir), nil
		}
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("running go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("cannot find the kpf repository: run from inside it")
	}
	root := filepath.Dir(gomod)
	// Inside test/tools itself, GOMOD is the tools module.
	if filepath.Base(root) == "tools" {
		return root, nil
	}
	dir := filepath.Join(root, "test", "tools")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("no test/tools module under %s: %w", root, err)
	}
	return dir, nil
}

// kwokModuleDir asks the tools module where sigs.k8s.io/kwok is.
func kwokModuleDir(ctx context.Context, toolsDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok")
	cmd.Dir = toolsDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating the kwok module: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("locating the kwok module: go list printed nothing (module not downloaded?)")
	}
	return dir, nil
}

func ldflags() string {
	const v = "k8s.io/component-base/version."
	return strings.Join([]string{
		"-s", "-w",
		"-X", v + "gitVersion=" + KubernetesVersion,
		"-X", v + "gitMajor=1",
		"-X", v + "gitMinor=36",
	}, " ")
}

// buildBinaries builds into a temporary sibling of binDir and renames it into
// place, so a half-built cache never counts.
func buildBinaries(ctx context.Context, log hclog.Logger, binDir string) error {
	toolsDir, err := ToolsDir(ctx)
	if err != nil {
		return err
	}
	parent := filepath.Dir(binDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("creating the cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "bin.tmp-")
	if err != nil {
		return fmt.Errorf("creating a build directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename

	args := append([]string{"build", "-trimpath", "-ldflags", ldflags(), "-o", tmp + string(filepath.Separator)}, buildPackages...)
	log.Info("building control-plane binaries (a cold build takes about 8 minutes on 2 cores; later runs use the cache)",
		"dir", toolsDir, "into", binDir, "command", "go "+strings.Join(args, " "))
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = toolsDir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building control-plane binaries in %s: %w: %s", toolsDir, err, tail(out.String(), 40))
	}
	log.Info("control-plane binaries built", "took", time.Since(start).Round(time.Second))
	if err := os.Rename(filepath.Join(tmp, "server"), filepath.Join(tmp, binEtcd)); err != nil {
		return fmt.Errorf("naming the etcd binary: %w", err)
	}
	if err := copyKwokAssets(ctx, toolsDir, filepath.Join(tmp, assetsDirName)); err != nil {
		return err
	}
	if err := binariesPresent(tmp); err != nil {
		return fmt.Errorf("after the build: %w", err)
	}
	if err := os.RemoveAll(binDir); err != nil {
		return fmt.Errorf("replacing %s: %w", binDir, err)
	}
	if err := os.Rename(tmp, binDir); err != nil {
		return fmt.Errorf("moving the binaries into %s: %w", binDir, err)
	}
	return nil
}

// copyKwokAssets copies kwok's CRDs and stage files from its module dir.
func copyKwokAssets(ctx context.Context, toolsDir, dst string) error {
	mod, err := kwokModuleDir(ctx, toolsDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dst, "crd"), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "stage"), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	for _, f := range kwokCRDs {
		if err := copyFile(filepath.Join(mod, "kustomize", "crd", "bases", f), filepath.Join(dst, "crd", f)); err != nil {
			return err
		}
	}
	for _, f := range kwokStages {
		if err := copyFile(filepath.Join(mod, "kustomize", "stage", f), filepath.Join(dst, "stage", filepath.Base(f))); err != nil {
			return err
		}
	}
	return nil
}

// kwokAssets returns the paths of kwok's CRDs and stages for binDir: the
// copy next to the binaries, else (KPF_TESTCLUSTER_BIN pointing at bare
// binaries) a fresh copy from the kwok module into scratch.
func kwokAssets(ctx context.Context, binDir, scratch string) (crds []string, stages []string, err error) {
	dir := filepath.Join(binDir, assetsDirName)
	if _, err := os.Stat(dir); err != nil {
		toolsDir, terr := ToolsDir(ctx)
		if terr != nil {
			return nil, nil, fmt.Errorf("no %s next to the binaries and %w", assetsDirName, terr)
		}
		dir = scratch
		if err := copyKwokAssets(ctx, toolsDir, dir); err != nil {
			return nil, nil, err
		}
	}
	for _, f := range kwokCRDs {
		crds = append(crds, filepath.Join(dir, "crd", f))
	}
	for _, f := range kwokStages {
		stages = append(stages, filepath.Join(dir, "stage", filepath.Base(f)))
	}
	return crds, stages, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("copying to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copying to %s: %w", dst, err)
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
