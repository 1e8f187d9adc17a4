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
