kpf {
  cluster_domain = "corp.internal"
}

defaults {
  namespace = "shop"
  hostnames = "service"
}

# Derived names, its own address, the service's own port.
forward "api" {
  target      = "service/api"
  remote_port = 80
}

# A second service on the same port coexists: it gets another address.
forward "web" {
  target      = "service/web"
  remote_port = 80
}

# Listed names win over the defaults'; upper case is folded.
forward "db" {
  target      = "service/postgres"
  remote_port = 5432
  hostnames   = ["db", "Postgres.shop.svc.cluster.local"]
}

# An explicit address is kept; the port stays automatic.
forward "cache" {
  target      = "service/redis"
  address     = "127.0.0.1"
  remote_port = 6379
}

# An explicit local_port is kept.
forward "admin" {
  target      = "service/admin"
  local_port  = 9000
  remote_port = 80
}
