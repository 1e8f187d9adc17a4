variable "1st" { # ERROR: Invalid variable name
  default = 1
}

output "a b" { # ERROR: Invalid output name
  value = 1
}

forward "no/slash" { # ERROR: Invalid forward name
  target      = "svc/a"
  remote_port = 80
}
