variable "port" {
  type    = number
  default = 8080
}

forward "api" {
  target      = "svc/api"
  port        = var.port
  remote_port = "http"
}

forward "web" {
  target      = "service/web"
  local_port  = var.port
  remote_port = 80
  address     = "0.0.0.0"
}

forward "web" {
  target      = "service/web2"
  remote_port = 80
}
