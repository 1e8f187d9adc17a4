defaults {
  health {
    http = "/ready"
    none = true # ERROR: Conflicting health checks
  }
}

forward "a" {
  target      = "svc/a"
  remote_port = 80
  health {
    tcp  = true
    http = "/healthz" # ERROR: Conflicting health checks
  }
}

forward "b" {
  target      = "svc/b"
  remote_port = 80
  health {
    http = "healthz" # ERROR: Invalid health check path
  }
}

forward "c" {
  target      = "svc/c"
  remote_port = 80
  health {
    tcp = true
  }
  health { # ERROR: Duplicate health block
    none = true
  }
}
