// Package names gives forwards with hostnames a name on the laptop, as in
// the cluster, without running the forwarding agent with privilege:
//
//   - Assign gives each named forward without an address a loopback
//     address of its own in 127.77.0.0/16, derived from the workspace path
//     and forward name, kept once recorded in state, and never one another
//     workspace's state holds; so every named forward can bind its
//     service's own port (Linux and Windows route all of 127.0.0.0/8;
//     macOS needs an alias per address, which `kpf hosts sync` adds).
//   - Edit rewrites the managed block of one workspace in a hosts file's
//     text (pure: lines outside the blocks are kept byte for byte, CRLF is
//     kept where the file uses it).
//   - Update applies Edit to a hosts file under a lock, re-reading the file
//     under that lock, replacing it atomically (a temporary file in the same
//     directory, then rename) after keeping a backup; a symbolic link or a
//     read-only file is refused with an explanation, never written through.
//
// names imports only the standard library; the callers (cmd/kpf) turn
// workspaces and state into Blocks.
package names
