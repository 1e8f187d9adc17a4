// Package proc owns process identity and signalling for kpf's runtimes:
// reading a process's start time (Linux /proc/PID/stat, macOS sysctl
// kern.proc.pid), owner, session, executable, arguments and initial
// environment; deciding whether an ID still names the process kpf started
// (pid reuse and zombies count as gone); pinning a process before checking
// and signalling it (a pidfd on Linux, so nothing changes between the check
// and the signal); refusing outright pid 0 and 1, kpf itself and other
// users' processes (ErrNotOurs); finding the user's processes by an
// environment mark; and the OS attributes that detach a child into its own
// session so it outlives kpf.
//
// proc imports the standard library and golang.org/x/sys only. It must not
// import spec, state, reconcile or the runtimes, and it never starts
// processes itself.
package proc
