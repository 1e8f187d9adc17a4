forwards "api" { # ERROR: Unsupported block type
  target = "svc/api"
}

settings { # ERROR: Unsupported block type
}

forward "api" {
  target      = "svc/api"
  port        = 8080 # ERROR: Unsupported argument
  remote_port = 80
  colour      = "blue" # ERROR: Unsupported argument

  health {
    path = "/healthz" # ERROR: Unsupported argument
  }
}
