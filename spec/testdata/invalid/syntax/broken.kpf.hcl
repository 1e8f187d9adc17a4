forward "b" {
  target = "svc/b" remote_port = 80 # ERROR: Missing newline after argument
}
