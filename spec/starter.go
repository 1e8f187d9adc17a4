package spec

import (
	"bytes"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// StarterSpec returns a commented kpf.hcl for a new workspace named name
// (kpf init). It loads cleanly as it is.
func StarterSpec(name, context string) []byte {
	if context == "" {
		context = "kind-kind"
	}
	quoted := bytes.TrimSpace(hclwrite.TokensForValue(cty.StringVal(name)).Bytes())
	quotedContext := bytes.TrimSpace(hclwrite.TokensForValue(cty.StringVal(context)).Bytes())
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
