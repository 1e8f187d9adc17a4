kpf {
  name = "one"
}

kpf { # ERROR: Duplicate kpf block
  name = "two"
}

variable "v" {
  default = "a"
}

variable "v" { # ERROR: Duplicate variable
  default = "b"
}

locals {
  x = 1
}

locals {
  x = 2 # ERROR: Duplicate local value
}

forward "api" {
  target      = "svc/api"
  remote_port = 80
}

forward "api" { # ERROR: Duplicate forward
  target      = "svc/api2"
  remote_port = 80
}

forward "API" { # ERROR: Forward names differ only in case
  target      = "svc/api3"
  remote_port = 80
}

forward "Web-1" {
  target      = "svc/web"
  remote_port = 80
}
