variable "required" { # ERROR: No value for required variable
  type = string
}

variable "port" {
  type    = number
  default = "eighty" # ERROR: Invalid value for variable
}

variable "weird" {
  type    = strin # ERROR: Invalid type specification
  default = "x"
}

variable "bad-default" {
  default = var.port # ERROR: Variables not allowed
}

forward "a" {
  target      = "svc/${var.missing}" # ERROR: Undeclared variable
  remote_port = local.nope # ERROR: Undeclared local value
}

forward "b" {
  target      = "svc/b"
  remote_port = nosuchfunc(1) # ERROR: Call to unknown function
}
