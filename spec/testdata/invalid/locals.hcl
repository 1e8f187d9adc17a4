locals {
  a = local.b # ERROR: Cycle in local values
  b = "${local.c}-x"
  c = upper(local.a)
  d = local.self # ERROR: Cycle in local values
  e = 1 + "x" # ERROR: Invalid operand
  self = local.d
}

forward "a" {
  target      = "svc/${local.c}"
  remote_port = local.e
}
