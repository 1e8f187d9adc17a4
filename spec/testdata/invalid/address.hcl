defaults {
  namespace = "Shop" # ERROR: Invalid namespace
  address   = "localhost" # ERROR: Invalid address
}

forward "a" {
  target      = "svc/a"
  address     = "10.0.0.1" # WARNING: Address is not loopback
  remote_port = 80
}

forward "b" {
  target      = "svc/b"
  address     = "fe80::1%eth0" # ERROR: Invalid address
  namespace   = "a-very-long-namespace-name-that-is-longer-than-sixty-three-chars" # ERROR: Invalid namespace
  remote_port = 80
}

forward "c" {
  target      = "svc/c"
  address     = "::1"
  namespace   = "ok-ns"
  remote_port = 80
}
