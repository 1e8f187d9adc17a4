kpf {
  probe_cache_ttl = "99ms" # ERROR: Duration too short
  check_interval  = "1ns" # ERROR: Duration too short
}

defaults {
  health {
    interval = "999ms" # ERROR: Duration too short
    timeout  = "1us" # ERROR: Duration too short
  }
}

forward "a" {
  target      = "svc/a"
  remote_port = 80
  health {
    interval = "10ms" # ERROR: Duration too short
    timeout  = "50ms" # ERROR: Duration too short
  }
}

forward "b" {
  target      = "svc/b"
  remote_port = 80
  health {
    interval = "1s"
    timeout  = "100ms"
  }
}
