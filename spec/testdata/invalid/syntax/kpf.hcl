forward "a" {
  target = "svc/a"
  remote_port = 80
}
