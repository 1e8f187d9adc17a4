package views

// ANSI escapes of kpf's own colours (a view strips nothing else: what
// comes from outside goes through termtext.Escape).
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiGrey   = "\x1b[90m"
	ansiPlain  = "\x1b[39m"
)
