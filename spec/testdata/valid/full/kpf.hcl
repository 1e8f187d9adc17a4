kpf {
  name            = "shop-${var.team}"
  probe_cache_ttl = "750ms"
  check_interval  = "1m"
  max_parallel    = max(2, length(local.services))
  runtime         = "native"
}

variable "team" {
  type    = string
  default = "core"
}

variable "ports" {
  type = map(number)
  default = {
    api = 8080
    web = 8081
  }
}

variable "replicas" {
  type    = list(string)
  default = ["db-0", "db-1"]
}

locals {
  user     = env("USER")
  missing  = env("NOT_SET")
  ns       = lower("${var.team}-${local.suffix}")
  suffix   = local.missing == "" ? "dev" : local.missing
  services = keys(var.ports)
  labels   = merge({ app = "db" }, { owner = local.user })
}

defaults {
  context         = format("kind-%s", var.team)
  namespace       = local.ns
  address         = "::1"
  max_connections = 512
  health {
    http              = "/healthz"
    failure_threshold = 5
  }
}

forward "api" {
  target          = "svc/api"
  local_port      = lookup(var.ports, "api", 0)
  remote_port     = "http"
  open            = "/docs/${upper(local.user)}"
  max_connections = 2 * 1000
}

forward "web" {
  target      = "deployments/web"
  context     = "prod"
  runtime     = "kubectl"
  local_port  = var.ports["web"]
  remote_port = "8080"
  health {
    tcp      = true
    interval = "10s"
  }
}

forward "db" {
  target      = "sts/${var.replicas[0]}"
  address     = "127.0.0.1"
  remote_port = tonumber("5432")
  enabled     = !contains(var.replicas, "db-0")
  health {
    none = true
  }
}

forward "cache" {
  selector    = local.labels
  namespace   = join("-", split("/", "cache/data"))
  remote_port = 6379
  health {
    timeout = "100ms"
  }
}

forward "pod" {
  target      = "po/worker-1"
  remote_port = "metrics"
  enabled     = true
}
