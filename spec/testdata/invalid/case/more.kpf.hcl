forward "DB" { # ERROR: Forward names differ only in case
  target      = "svc/db2"
  remote_port = 5432
}
