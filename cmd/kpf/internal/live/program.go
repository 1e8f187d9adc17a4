package live

import (
	"context"
	"errors"
	"io"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Terminal is where the program runs: the caller's streams and environment.
type Terminal struct {
	In  io.Reader // the terminal's input (os.Stdin)
	Out io.Writer // the terminal (os.Stdout)
	// Env is the environment the colour profile is read from (os.Environ()).
	Env []string
	// NoColor is --no-color: text attributes only, no colours.
	NoColor bool
	// Width and Height, when set, are the size of an output that is not a
	// terminal (tests); a terminal reports its own.
	Width, Height int
}

// Profile is the colour profile the view uses on t: the terminal's own
// (colorprofile.Detect), without colours when NO_COLOR is set to anything
// (no-color.org) or t.NoColor.
func (t Terminal) Profile() colorprofile.Profile {
	p := colorprofile.Detect(t.Out, t.Env)
	if (t.NoColor || noColorEnv(t.Env)) && p > colorprofile.ASCII {
		p = colorprofile.ASCII
	}
	return p
}

func noColorEnv(env []string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return true
		}
	}
	return false
}

// frameRate is the most frames a second the program draws.
const frameRate = 20

// NewProgram returns the bubbletea program of m on t. Feed it with
// p.Send(Snapshot{...}) and p.Send(Event{...}) from any goroutine; run it
// with Run. Cancelling ctx stops it.
func NewProgram(ctx context.Context, m *Model, t Terminal) *tea.Program {
	opts := []tea.ProgramOption{
		tea.WithContext(ctx),
		tea.WithInput(t.In),
		tea.WithOutput(t.Out),
		tea.WithEnvironment(t.Env),
		tea.WithColorProfile(t.Profile()),
		// The caller owns SIGINT/SIGTERM (first drains, second exits);
		// in raw mode Ctrl-C arrives as a key anyway.
		tea.WithoutSignalHandler(),
		// The renderer wakes this often even when nothing changed: 20 a
		// second keeps keys prompt (≤ 50 ms) at a third of the default's
		// idle cost.
		tea.WithFPS(frameRate),
	}
	if t.Width > 0 && t.Height > 0 {
		opts = append(opts, tea.WithWindowSize(t.Width, t.Height))
	}
	return tea.NewProgram(m, opts...)
}

// Run runs p until the user quits or ctx is cancelled; both are a normal
// end (nil). The terminal is restored before it returns.
func Run(ctx context.Context, p *tea.Program) error {
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}
