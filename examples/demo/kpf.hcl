# The demo workspace: three forwards into the local test cluster.
#   make cluster-up                    # or: go run ./test/cmd/testcluster up
#   export KUBECONFIG=...              # as printed by cluster-up
#   kpf plan  -C examples/demo
#   kpf apply -C examples/demo
#   curl http://127.0.0.1:18080/       # answers with the name of the web pod
#   make cluster-down

kpf {
  name = "demo"
}

variable "context" {
  type        = string
  default     = "kpf-local"
  description = "kube context of the local test cluster"
}

locals {
  ns = "demo"
}

defaults {
  context   = var.context
  namespace = local.ns
  address   = "127.0.0.1"
}

# Two replicas behind a Service; the service's named port "http" maps to the
# pods' containerPort "http" (8080).
forward "web" {
  target      = "service/web"
  local_port  = 18080
  remote_port = "http"
  open        = "/"

  health {
    http = "/healthz"
  }
}

forward "api" {
  target      = "deployment/api"
  local_port  = 18081
  remote_port = 8080

  health {
    http = "/healthz"
  }
}

# A database-like backend: it speaks first, so only a TCP check fits.
forward "db" {
  target      = "statefulset/db"
  local_port  = 15432
  remote_port = 5432

  health {
    tcp = true
  }
}
