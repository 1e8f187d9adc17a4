# Apps find their forwards: outputs evaluated against what runs, and an env
# file kept current. Against the local test cluster (see examples/demo):
#   kpf apply -C examples/outputs --wait       # returns once both forwards serve
#   kpf output -C examples/outputs             # DATABASE_URL, WEB_URL, ...
#   eval "$(kpf env -C examples/outputs)"      # KPF_WEB_PORT, DATABASE_URL, ...
#   kpf run -C examples/outputs -- sh -c 'curl -s "$WEB_URL"'
#   docker compose: env_file: [examples/outputs/.env.kpf]
#   direnv (.envrc): dotenv_if_exists .env.kpf
#   kpf destroy -C examples/outputs             # also removes .env.kpf

kpf {
  name     = "outputs"
  env_file = ".env.kpf"                 # rewritten on every apply and port move; 0600
}

variable "context" {
  type    = string
  default = "kpf-local"
}

variable "db_password" {
  type      = string
  default   = "not-a-real-password"
  sensitive = true                      # outputs using it are sensitive too
}

defaults {
  context   = var.context
  namespace = "demo"
}

forward "web" {
  target      = "service/web"
  remote_port = "http"                  # no local_port: kpf picks one and keeps it
  open        = "/"

  health {
    http = "/healthz"
  }
}

forward "db" {
  target      = "statefulset/db"
  local_port  = 15432                   # moves to a free port if 15432 is taken
  remote_port = 5432
}

output "WEB_URL" {
  value       = forward.web.url
  description = "the web UI, wherever its forward runs"
}

output "DATABASE_URL" {
  value       = "postgres://app:${var.db_password}@${forward.db.address}/shop?sslmode=disable"
  description = "the database, through its forward"
}

output "PGHOST" {
  value = forward.db.host
}

output "PGPORT" {
  value = forward.db.port
}
