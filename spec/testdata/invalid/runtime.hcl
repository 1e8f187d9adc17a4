kpf {
  runtime = "docker" # ERROR: Invalid runtime
}

forward "a" {
  target      = "svc/a"
  remote_port = 80
  runtime     = "Native" # ERROR: Invalid runtime
}

forward "b" {
  target      = "svc/b"
  remote_port = 80
  runtime     = 3 # ERROR: Invalid runtime
}
