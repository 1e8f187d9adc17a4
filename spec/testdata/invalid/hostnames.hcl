kpf {
  cluster_domain = "Not A Domain" # ERROR: Invalid cluster_domain
}

forward "a" {
  target      = "service/a"
  remote_port = 80
  hostnames   = ["api", "under_score"] # ERROR: Invalid hostname
}

forward "b" {
  target      = "service/b"
  remote_port = 80
  hostnames   = ["API"] # ERROR: Duplicate hostname
}

forward "c" {
  target      = "pod/c"
  remote_port = 80
  hostnames   = "service" # ERROR: Invalid hostnames
}

forward "d" {
  target      = "service/d"
  remote_port = 80
  hostnames   = "pods" # ERROR: Invalid hostnames
}

forward "e" {
  target      = "service/e"
  remote_port = 80
  hostnames   = 3 # ERROR: Incorrect attribute value type
}

forward "f" {
  target      = "service/f"
  remote_port = 80
  enabled     = false
  hostnames   = ["api"]
}
