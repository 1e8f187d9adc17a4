# Names: reach services by their in-cluster names and ports, as kubefwd
# does, with no forwarder running as root. Each named forward gets a
# loopback address of its own (127.77.x.y), so web and api below both bind
# port 80; kpf writes their names into a block of the hosts file.
#   make cluster-up && export KUBECONFIG=...   # as printed by cluster-up
#   kpf apply -C examples/names                 # says to run `sudo kpf hosts sync`
#   sudo kpf hosts sync                         # when kpf may not write /etc/hosts
#   curl http://web/  curl http://web.demo.svc.cluster.local/
#   kpf destroy -C examples/names               # removes the block (or: sudo kpf hosts sync)
# KPF_HOSTS_FILE=/some/file points kpf at another hosts file.

kpf {
  name = "names"
}

defaults {
  context   = "kpf-local"
  namespace = "demo"
  # NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local of each service.
  hostnames = "service"
}

forward "web" {
  target      = "service/web"
  remote_port = 80
}

forward "api" {
  target      = "service/api"
  remote_port = 8080
}

forward "db" {
  target      = "service/db"
  remote_port = 5432
  # Listed names instead of the derived ones.
  hostnames = ["db", "postgres"]
}
