# The shared spec of a team: checked into git, the same for everyone.
# me.override.kpf.hcl next to it shows how one developer changes it
# without editing this file.

kpf {
  name = "team"
}

defaults {
  context   = "staging"
  namespace = "team"
}

forward "grpc" {
  target      = "svc/orders"
  local_port  = 9090
  remote_port = "grpc"
  health {
    tcp = true
  }
}

forward "metrics" {
  target      = "statefulset/prometheus"
  namespace   = "monitoring"
  local_port  = 9091
  remote_port = 9090
  open        = "/graph"
  health {
    http = "/-/ready"
  }
}

forward "redis" {
  selector    = { "app.kubernetes.io/name" = "redis" }
  local_port  = 6379
  remote_port = 6379
}
