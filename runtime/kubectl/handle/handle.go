package handle

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// Runtime is the kubectl runtime's name, in its handles.
const Runtime = "kubectl"

// Data is what a kubectl handle remembers: the process (pid and start
// time, so a reused pid is never taken for it), the forward's name, from
// which its log path is derived, and what the process ran, checked before
// any signal.
type Data struct {
	proc.ID
	Name string `json:"name"`
	// Exe is the process's executable, Args a digest of its arguments
	// (after argv[0]) and Boot the boot it ran under, as seen once it was
	// ready. Handles from before they were recorded (state version 1) have
	// none, and are checked conservatively instead (see owns).
	Exe  string `json:"exe,omitempty"`
	Args string `json:"args,omitempty"`
	Boot string `json:"boot,omitempty"`
}

// NewV1 makes the handle of process id running forward name, with no
// record of what the process runs (as a handle upgraded from state version
// 1): it is checked conservatively (an executable named kubectl*, running
// port-forward).
func NewV1(id proc.ID, name string) (runtime.Handle, error) {
	return New(Data{ID: id, Name: name})
}

// New makes the handle that d describes.
func New(d Data) (runtime.Handle, error) {
	data, err := runtime.NewData(d)
	if err != nil {
		return runtime.Handle{}, err
	}
	return runtime.Handle{Runtime: Runtime, ID: strconv.Itoa(d.PID), Data: data}, nil
}

// ArgsDigest identifies a process's arguments (after argv[0]).
func ArgsDigest(args []string) string {
	h := sha256.New()
	for _, a := range args {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Identify records what the ready process d names runs. What cannot be
// read stays empty and is checked conservatively later.
func Identify(d Data) Data {
	p, err := proc.Describe(d.ID)
	if err != nil {
		return d
	}
	d.Exe = p.Exe
	if len(p.Args) > 0 {
		d.Args = ArgsDigest(p.Args[1:])
	}
	d.Boot, _ = proc.BootID()
	return d
}

// Owns reports whether p is the process d recorded: same boot, same
// executable, same arguments. For a handle that recorded none of these (state
// version 1), p must run an executable named kubectl* with port-forward as
// its first argument. A process that does not match is another program
// that reuses the pid: never signalled.
func (d Data) Owns(p proc.Process) bool {
	if p.UID != os.Getuid() {
		return false
	}
	if d.Boot != "" {
		if b, err := proc.BootID(); err == nil && b != d.Boot {
			return false
		}
	}
	if d.Exe != "" {
		if p.Exe != d.Exe {
			return false
		}
	} else if !strings.HasPrefix(filepath.Base(p.Exe), "kubectl") {
		return false
	}
	if d.Args != "" {
		return len(p.Args) > 0 && ArgsDigest(p.Args[1:]) == d.Args
	}
	return len(p.Args) > 1 && p.Args[1] == "port-forward"
}

// Decode returns the process and forward name h names.
func Decode(h runtime.Handle) (Data, error) {
	var d Data
	err := h.DecodeData(Runtime, "kubectl forward", &d)
	return d, err
}
