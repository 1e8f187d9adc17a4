package measure

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Start is how a tool's main begins: a logger named name at level (a
// go-hclog level name) writing to stderr, and a context that SIGINT or
// SIGTERM cancels; stop stops catching the signals.
func Start(name, level string, stderr io.Writer) (ctx context.Context, stop context.CancelFunc, log hclog.Logger) {
	log = hclog.New(&hclog.LoggerOptions{Name: name, Output: stderr, Level: hclog.LevelFromString(level)})
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return ctx, stop, log
}

// Cleanup calls stop with a context of its own of at most within (the
// run's may be cancelled already) and logs its error as msg; for a
// deferred stop, e.g. of the cluster.
func Cleanup(log hclog.Logger, msg string, within time.Duration, stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := stop(ctx); err != nil {
		log.Warn(msg, "error", err)
	}
}

// Tool names a tool that prints a table, for RunTable.
type Tool struct {
	Name     string // the logger's name, e.g. "kpf-scale"
	LogLevel string // its level
	Out      string // a file to write the table to as well ("": none)
	Failed   string // the message that logs the run's error, e.g. "scale run failed"
}

// RunTable runs body with Start's context and logger, prints the table it
// returns to stdout (also after a failure, when it has one), writes it to
// t.Out (0600) when set, logging a failure to write it, and logs body's
// error as t.Failed. It returns the exit code: 0, or 1 when body failed.
func RunTable(t Tool, stdout, stderr io.Writer, body func(context.Context, hclog.Logger) (table string, err error)) int {
	ctx, stop, log := Start(t.Name, t.LogLevel, stderr)
	defer stop()
	table, err := body(ctx, log)
	if table != "" {
		fmt.Fprint(stdout, table)
		if t.Out != "" {
			if werr := os.WriteFile(t.Out, []byte(table), 0o600); werr != nil {
				log.Error("writing the table", "error", werr)
			}
		}
	}
	if err != nil {
		log.Error(t.Failed, "error", err)
		return 1
	}
	return 0
}
