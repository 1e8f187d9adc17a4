kpf {
  name            = "" # ERROR: Invalid workspace name
  probe_cache_ttl = "5" # ERROR: Invalid duration
  check_interval  = "0s" # ERROR: Invalid duration
  max_parallel    = 0 # ERROR: Invalid max_parallel
}

defaults {
  health {
    interval = "soon" # ERROR: Invalid duration
  }
}

forward "a" {
  target      = "svc/a"
  remote_port = 80
  health {
    timeout           = 2 # ERROR: Invalid duration
    failure_threshold = 0 # ERROR: Invalid failure_threshold
  }
}
