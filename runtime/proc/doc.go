// Package proc owns process identity and signalling for kpf's runtimes:
// reading a process's start time (Linux /proc/PID/stat, macOS sysctl
// kern.proc.pid), deciding whether a ID still names the process
// kpf started (pid reuse and zombies count as gone), signalling only after
// re-verifying that identity, and the OS attributes that detach a child into
// its own session so it outlives kpf.
//
// proc imports runtime for Handle only. It must not import spec, state,
// reconcile or the kubectl runtime, and it never starts processes itself.
package proc
