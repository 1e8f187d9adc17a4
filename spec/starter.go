package spec

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// StarterSpec returns a commented kpf.hcl for a new workspace named name
// (kpf init). It loads cleanly as it is.
func StarterSpec(name, context string) []byte {
	if context == "" {
		context = "kind-kind"
	}
	quoted := QuoteString(name)
	quotedContext := QuoteString(context)
	var b bytes.Buffer
	b.WriteString(`# kpf.hcl: the port-forwards this workspace keeps alive.
#
#   kpf plan      show what would change
#   kpf apply     start, restart or stop forwards to match this file
#   kpf status    see what runs
#
# Keep personal changes (your own ports, enabled = false) in a
# NAME.override.kpf.hcl file next to this one, and keep that out of git.

kpf {
  name = `)
	b.Write(quoted)
	b.WriteString(`
}

# Override with --var context=..., --var-file or KPF_VAR_context.
variable "context" {
  type        = string
  default     = `)
	b.Write(quotedContext)
	b.WriteString(`
  description = "kube context every forward uses"
}

defaults {
  context   = var.context # never follows kubectl's current context
  namespace = "default"
  address   = "127.0.0.1"
}

forward "web" {
  target      = "service/web" # service/, pod/, deployment/, statefulset/
  local_port  = 8080          # 0 or absent: pick a free port and keep it
  remote_port = 80            # a number or a named port ("http")
  open        = "/"           # path that kpf open web opens

  health {
    tcp = true # or http = "/healthz", or none = true
  }
}

# forward "db" {
#   selector    = { app = "postgres" } # a pod by labels instead of a target
#   namespace   = "data"
#   local_port  = 5432
#   remote_port = 5432
#   enabled     = false
# }
`)
	return b.Bytes()
}

// QuoteString returns s as an HCL quoted string that evaluates to s, for
// the specs kpf writes (kpf init, kpf init --from-cluster): quotes,
// backslashes and control characters escaped, "${" and "%{" doubled so that
// they are not templates, and characters that do not print written as
// \uNNNN or \UNNNNNNNN. s is first normalised to NFC, as HCL does to every
// string it reads, so the file holds s as kpf will see it. It writes what
// hclwrite.TokensForValue writes for a string (layout_test.go holds it to
// that).
func QuoteString(s string) []byte {
	s = cty.StringVal(s).AsString()
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i, r := range s {
		switch r {
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '$', '%':
			b = append(b, byte(r))
			if i+1 < len(s) && s[i+1] == '{' {
				b = append(b, byte(r))
			}
		default:
			switch {
			case unicode.IsPrint(r):
				// An invalid byte decodes as RuneError, which prints:
				// it is written as U+FFFD, as hclwrite does.
				b = utf8.AppendRune(b, r)
			case r < 1<<16:
				b = fmt.Appendf(b, `\u%04x`, r)
			default:
				b = fmt.Appendf(b, `\U%08x`, r)
			}
		}
	}
	return append(b, '"')
}
