// Package term drives a program in a real terminal for end-to-end tests:
// each Session is a tmux server of its own (a private socket, killed when
// the test ends) with one window of a given size. Tests type keys, resize
// the window and read the screen as the user would see it.
//
// It owns nothing of kpf and imports no kpf package; it needs tmux on the
// PATH (Start skips the test without it).
package term
