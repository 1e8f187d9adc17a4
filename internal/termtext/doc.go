// Package termtext makes text from outside kpf (names and contexts from
// state files, kubectl's and the cluster's messages, forward logs) safe to
// print on a terminal: control characters, C1 controls, bidirectional
// overrides and invalid UTF-8 are shown as Go escapes (\x1b, \u202e)
// instead of reaching the terminal, where an escape sequence could change
// the title, move the cursor or hide text.
//
// termtext imports only the standard library; it must not import anything
// of kpf.
package termtext
