// Package handle builds and reads the kubectl runtime's handles: the
// process (pid and start time), the forward's name, and what the process
// ran. It is apart from package kubectl, which runs kubectl, so that state
// can upgrade version-1 handles through it (state must not reach os/exec).
// It must not import os/exec (TestPackageLayers).
package handle
