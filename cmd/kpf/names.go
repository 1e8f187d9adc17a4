package main

import (
	"fmt"

	kpfnames "github.com/kpf-dev/kpf/internal/names"
	"github.com/kpf-dev/kpf/spec"
	"github.com/kpf-dev/kpf/state"
)

// assignAddresses gives each named forward of ws without an address
// (AutoAddress) its loopback address, in ws.Forwards and in each of lists:
// the address st records while it is free, else one derived from the
// workspace and the forward's name that no other workspace's state holds.
func (a *app) assignAddresses(ws *spec.Workspace, st *state.File, lists ...[]spec.Forward) error {
	var wants []kpfnames.Want
	for _, f := range ws.Forwards {
		if !f.AutoAddress {
			continue
		}
		w := kpfnames.Want{Name: f.Name}
		if st != nil {
			if p, ok := st.Forwards[f.Name]; ok {
				w.Prior = p.Address
			}
		}
		wants = append(wants, w)
	}
	if len(wants) == 0 {
		return nil
	}
	taken, err := a.otherAddresses(ws.Dir)
	if err != nil {
		return err
	}
	got, err := kpfnames.Assign(ws.Dir, wants, taken)
	if err != nil {
		return fmt.Errorf("assigning loopback addresses: %w", err)
	}
	for _, fs := range append(lists, ws.Forwards) {
		for i := range fs {
			if addr, ok := got[fs[i].Name]; ok && fs[i].AutoAddress {
				fs[i].Address = addr
			}
		}
	}
	return nil
}

// otherAddresses are the addresses the state of the workspaces other than
// dir records (unreadable ones are skipped: their forwards are not ours to
// judge).
func (a *app) otherAddresses(dir string) (map[string]bool, error) {
	root, err := state.Root(a.getenv)
	if err != nil {
		return nil, err
	}
	files, _ := state.List(root)
	taken := map[string]bool{}
	for _, f := range files {
		if f.Workspace == dir {
			continue
		}
		for _, fw := range f.Forwards {
			if kpfnames.InRange(fw.Address) {
				taken[fw.Address] = true
			}
		}
	}
	return taken, nil
}
