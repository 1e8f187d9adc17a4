package state

import (
	"encoding/json"

	"github.com/kpf-dev/kpf/runtime"
	"github.com/kpf-dev/kpf/runtime/kubectl/handle"
	"github.com/kpf-dev/kpf/runtime/proc"
)

// v1Forward is the part of a version-1 forward that version 2 changed: the
// handle was the kubectl process's pid and start time.
type v1Forward struct {
	Handle struct {
		PID       int    `json:"pid"`
		StartTime uint64 `json:"start_time"`
	} `json:"handle"`
}

// upgradeV1 turns the handles of a version-1 file into handles of the
// kubectl runtime (every version-1 forward was a kubectl process), so that
// no forward is lost: the kubectl runtime makes them (handle.NewV1 of the kubectl runtime)
// from the process (pid, start_time) and the forward's name. The log_path of version 1 is
// dropped: log paths are derived from the name.
func upgradeV1(b []byte, f *File) error {
	var v1 struct {
		Forwards map[string]v1Forward `json:"forwards"`
	}
	if err := json.Unmarshal(b, &v1); err != nil {
		return err
	}
	for name, old := range v1.Forwards {
		fw := f.Forwards[name]
		fw.Handle = runtime.Handle{}
		if old.Handle.PID > 0 {
			h, err := handle.NewV1(proc.ID{PID: old.Handle.PID, StartTime: old.Handle.StartTime}, name)
			if err != nil {
				return err
			}
			fw.Handle = h
		}
		f.Forwards[name] = fw
	}
	return nil
}
