locals {
  api_port = 9000
}

forward "db" {
  target      = "statefulsets/db"
  local_port  = local.api_port + 1
  remote_port = 5432
  address     = "0.0.0.0"
}
