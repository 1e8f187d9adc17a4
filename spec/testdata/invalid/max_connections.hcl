defaults {
  max_connections = 0 # ERROR: Invalid max_connections
}

forward "a" {
  target          = "svc/a"
  remote_port     = 80
  max_connections = 1.5 # ERROR: Invalid max_connections
}

forward "b" {
  target          = "svc/b"
  remote_port     = 81
  max_connections = "many" # ERROR: Incorrect attribute value type
}

forward "c" {
  target          = "svc/c"
  remote_port     = 82
  max_connections = 2000000 # ERROR: Invalid max_connections
}

forward "d" {
  target      = "svc/d"
  remote_port = 83
  max_conns   = 10 # ERROR: Unsupported argument
}
