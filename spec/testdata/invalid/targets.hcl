forward "a" {
  target      = "api" # ERROR: Invalid target
  remote_port = 80
}

forward "b" {
  target      = "job/api" # ERROR: Invalid target
  remote_port = 80
}

forward "c" {
  target      = "svc/API_1" # ERROR: Invalid target
  remote_port = 80
}

forward "d" {
  target      = "svc/d"
  selector    = { app = "d" } # ERROR: Conflicting target and selector
  remote_port = 80
}

forward "e" { # ERROR: Missing target
  remote_port = 80
}

forward "f" {
  selector    = {} # ERROR: Invalid selector
  remote_port = 80
}

forward "g" {
  selector    = { "bad key!" = "x" } # ERROR: Invalid selector
  remote_port = 80
}

forward "h" {
  selector    = { app = "-bad" } # ERROR: Invalid selector
  remote_port = 80
}

forward "i" {
  selector    = "app=i" # ERROR: Incorrect attribute value type
  remote_port = 80
}

forward "bad name" { # ERROR: Invalid forward name
  target      = "svc/x"
  remote_port = 80
}

forward "j" {
  target      = "pods/j"
  remote_port = 80
  open        = "swagger" # ERROR: Invalid open path
}
