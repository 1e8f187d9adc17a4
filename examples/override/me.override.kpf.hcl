# A personal override: *.override.kpf.hcl files merge attribute by attribute
# onto the blocks of the same name in kpf.hcl and *.kpf.hcl.
#
# This one is checked in only as an example. Keep your own override files
# out of git, e.g. with a line "*.override.kpf.hcl" in .gitignore.

# Port 9090 is taken on this machine by something else.
forward "grpc" {
  local_port = 19090
}

# I run redis locally, so I do not need the forward.
forward "redis" {
  enabled = false
}
