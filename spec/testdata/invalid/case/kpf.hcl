forward "db" {
  target      = "svc/db"
  remote_port = 5432
}
