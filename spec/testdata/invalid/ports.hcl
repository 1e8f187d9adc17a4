forward "a" {
  target      = "svc/a"
  local_port  = 70000 # ERROR: Invalid local port
  remote_port = 0 # ERROR: Invalid remote port
}

forward "b" {
  target      = "svc/b"
  local_port  = -1 # ERROR: Invalid local port
  remote_port = "Not_A_Name" # ERROR: Invalid remote port
}

forward "c" {
  target      = "svc/c"
  local_port  = 1.5 # ERROR: Invalid local port
  remote_port = "70000" # ERROR: Invalid remote port
}

forward "d" {
  target      = "svc/d"
  local_port  = "http" # ERROR: Incorrect attribute value type
  remote_port = true # ERROR: Incorrect attribute value type
}

forward "e" {
  target      = "svc/e"
  local_port  = 8080
  remote_port = 80
}

forward "f" {
  target      = "svc/f"
  local_port  = 8080 # ERROR: Duplicate local port
  remote_port = 80
}

# Disabled and auto-port forwards never conflict.
forward "g" {
  target      = "svc/g"
  local_port  = 8080
  remote_port = 80
  enabled     = false
}

forward "h" {
  target      = "svc/h"
  local_port  = 0
  remote_port = 80
}

forward "i" {
  target      = "svc/i"
  remote_port = 80
}

# Another address may reuse the port, the wildcard may not.
forward "j" {
  target      = "svc/j"
  address     = "127.0.0.2"
  local_port  = 8080
  remote_port = 80
}

forward "k" {
  target      = "svc/k"
  address     = "0.0.0.0" # WARNING: Address is not loopback
  local_port  = 8080 # ERROR: Duplicate local port
  remote_port = 80
}

forward "l" { # ERROR: Missing remote_port
  target = "svc/l"
}
