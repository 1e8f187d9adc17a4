forward "api" {
  target      = "service/api"
  remote_port = 8080
}
