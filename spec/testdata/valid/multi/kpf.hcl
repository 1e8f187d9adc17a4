variable "context" {
  default = "kind-dev"
}

defaults {
  context = var.context
}

forward "api" {
  target      = "svc/api"
  local_port  = local.api_port
  remote_port = 80
}
