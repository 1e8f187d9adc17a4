package specfile

// Limits on hostile input (spec's limits.go has the others).
const (
	// MaxFileSize is the largest spec or variables file kpf reads, in
	// bytes. hclsyntax keeps about 100 bytes per token, so 1 MiB of
	// one-character tokens is ~100 MB while parsing.
	MaxFileSize = 1 << 20

	// MaxNestingDepth is the deepest nesting of brackets, braces, quotes,
	// heredocs, template sequences and %{if}/%{for} directives a file may
	// have, counting also each ? of a conditional chain and each unary
	// - or ! applied in a row. It is checked on the bytes before HCL
	// parses them: hclsyntax parses recursively, and a few hundred
	// thousand levels overflow the goroutine stack (a fatal error that no
	// recover catches).
	MaxNestingDepth = 100
)
