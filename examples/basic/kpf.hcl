# A small shop: an API, its database and a UI, all in one cluster.
#   kpf plan -C examples/basic
#   kpf apply -C examples/basic --var context=my-cluster

kpf {
  name            = "shop"
  probe_cache_ttl = "5s"
  check_interval  = "2s"
  max_parallel    = 4
}

variable "context" {
  type        = string
  default     = "kind-dev"
  description = "kube context for every forward"
}

variable "base_port" {
  type        = number
  default     = 8080
  description = "first local port of the HTTP services"
}

locals {
  ns      = "shop"
  api_ns  = "${local.ns}-api"
  ui_port = var.base_port + 1
}

defaults {
  context   = var.context
  namespace = local.ns
  address   = "127.0.0.1"

  health {
    interval          = "5s"
    failure_threshold = 3
  }
}

forward "api" {
  target      = "service/api"
  namespace   = local.api_ns
  local_port  = var.base_port
  remote_port = "http"
  open        = "/swagger/"

  health {
    http    = "/healthz"
    timeout = "1s"
  }
}

forward "postgres" {
  selector    = { app = "postgres", tier = "db" }
  namespace   = "data"
  local_port  = 5432
  remote_port = 5432

  health {
    tcp = true
  }
}

forward "ui" {
  target      = "deploy/ui"
  local_port  = local.ui_port
  remote_port = 3000
  open        = "/"
}
