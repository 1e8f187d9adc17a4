//go:build linux

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kpf-dev/kpf/test/cluster"
)

// testCluster is the one control plane of this `go test` run, set by
// TestMain before any test runs and never reassigned.
var testCluster *cluster.Cluster

// envRequired makes a missing toolchain a failure instead of a skip (CI).
const envRequired = "KPF_E2E_REQUIRED"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "e2e: skipped in -short mode")
		return 0
	}
	required := os.Getenv(envRequired) == "1"
	unavailable := func(err error) int {
		if required {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: %s=1 and the local control plane is unavailable: %v\n", envRequired, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: SKIP: the local control plane is unavailable (set %s=1 to fail instead): %v\n", envRequired, err)
		return 0
	}
	level := hclog.Warn
	if l := os.Getenv("KPF_E2E_LOG"); l != "" {
		level = hclog.LevelFromString(l)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "e2e", Output: os.Stderr, Level: level})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if _, err := exec.LookPath("kubectl"); err != nil {
		return unavailable(err)
	}
	binDir, err := cluster.EnsureBinaries(ctx, log)
	if err != nil {
		return unavailable(err)
	}
	c, err := cluster.Start(ctx, cluster.Options{BinDir: binDir, Log: log, KeepState: os.Getenv("KPF_E2E_KEEP") == "1"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: starting the local control plane: %v\n", err)
		return 1
	}
	testCluster = c
	fmt.Fprintf(os.Stderr, "e2e: control plane ready in %s (state %s)\n", c.StartupTime.Round(time.Millisecond), c.StateDir)
	code := m.Run()
	removeKPFBinary()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: component logs (tail):\n%s\n", c.LogTail(30))
	}
	if err := c.Stop(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
