package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	kpfnames "github.com/kpf-dev/kpf/internal/names"
	"github.com/kpf-dev/kpf/internal/termtext"
	"github.com/kpf-dev/kpf/state"
)

// hostsFile is the hosts file kpf keeps the names in: $KPF_HOSTS_FILE, else
// the system's.
func (a *app) hostsFile() string {
	if p := a.getenv("KPF_HOSTS_FILE"); p != "" {
		return p
	}
	if goruntime.GOOS == "windows" {
		root := a.getenv("SystemRoot")
		if root == "" {
			root = `C:\Windows`
		}
		return filepath.Join(root, "System32", "drivers", "etc", "hosts")
	}
	return "/etc/hosts"
}

// hostsKey is the marker of st's block: the workspace it names, and the
// state directory whose state.json keeps it (gone: the block is stale).
func hostsKey(st *state.File) string {
	return st.Workspace + " (state " + st.Dir + ")"
}

// stateDirOfKey is the state directory a block's key names ("" if none).
func stateDirOfKey(key string) string {
	i := strings.LastIndex(key, " (state ")
	if i < 0 || !strings.HasSuffix(key, ")") {
		return ""
	}
	return key[i+len(" (state ") : len(key)-1]
}

// hostsEntries are the lines of st's block: each forward with hostnames,
// at the address it was started on.
func hostsEntries(st *state.File) []kpfnames.Entry {
	var out []kpfnames.Entry
	for _, n := range slices.Sorted(mapsKeys(st.Forwards)) {
		f := st.Forwards[n]
		if len(f.Hostnames) == 0 || f.Address == "" || slices.Contains(f.Sensitive, "Hostnames") || slices.Contains(f.Sensitive, "Address") {
			continue
		}
		out = append(out, kpfnames.Entry{Address: f.Address, Names: f.Hostnames})
	}
	return out
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// staleKey reports whether the block key belongs to a workspace whose
// state is gone (its state.json no longer exists).
func staleKey(key string) bool {
	dir := stateDirOfKey(key)
	if dir == "" || !filepath.IsAbs(dir) {
		return false // not a block this kpf wrote: not ours to judge
	}
	_, err := os.Lstat(filepath.Join(dir, state.StateFile))
	return errors.Is(err, os.ErrNotExist)
}

// keepHosts writes st's block of the hosts file (removing it when no
// forward has a name) and removes the blocks of workspaces whose state is
// gone. Where kpf may not write the file it says once, on stderr, what to
// run instead; nothing fails for it.
func (a *app) keepHosts(st *state.File) {
	entries := hostsEntries(st)
	path := a.hostsFile()
	key := hostsKey(st)
	if len(entries) == 0 {
		// Nothing to write: leave the file alone unless it has our block.
		text, err := kpfnames.Read(path)
		if err != nil || !slices.Contains(kpfnames.Keys(text), key) {
			return
		}
	}
	_, err := kpfnames.Update(path, func(old []byte) []byte {
		next := kpfnames.Edit(old, key, entries)
		for _, k := range kpfnames.Keys(next) {
			if k != key && staleKey(k) {
				next = kpfnames.Edit(next, k, nil)
			}
		}
		return next
	})
	if err == nil {
		a.hostsHinted = false
		return
	}
	if a.hostsHinted {
		return
	}
	a.hostsHinted = true
	msg := a.scrub.Scrub(err.Error())
	if errors.Is(err, kpfnames.ErrNeedsPrivilege) {
		fmt.Fprintf(a.io.Err, "Note: kpf may not write %s, so the forwards' names do not resolve yet; run\n    %s\nto write them (it touches only the hosts file and exits).\n", termtext.EscapeText(path), hostsSyncCommand())
		return
	}
	fmt.Fprintf(a.io.Err, "Warning: the forwards' names are not in the hosts file: %s\n", termtext.EscapeText(msg))
}

func hostsSyncCommand() string {
	if goruntime.GOOS == "windows" {
		return "kpf hosts sync   (in a terminal run as Administrator)"
	}
	return "sudo kpf hosts sync"
}

func (a *app) hostsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "Keep the forwards' names in the hosts file",
		Long: `kpf keeps one block per workspace in the hosts file (/etc/hosts, or
$KPF_HOSTS_FILE), giving each forward with hostnames the loopback address it
runs on. apply and destroy rewrite the block when kpf may write the file;
where it may not, they say to run ` + "`sudo kpf hosts sync`" + `.`,
	}
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Write the names of your workspaces into the hosts file, then exit",
		Long: `sync rewrites the hosts file's blocks of the invoking user's workspaces
(under sudo: $SUDO_USER's) from their state, removes the blocks of workspaces
whose state is gone, and exits. It touches only the hosts file (on macOS also
the loopback aliases of the forwards' addresses), starts nothing and reads no
spec: it is the one step that may need root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.hostsSync(cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(sync)
	return cmd
}

// invokingUserEnv is getenv for the user who ran sudo: their home, none of
// root's state directories.
func (a *app) invokingUserEnv() func(string) string {
	sudoUser := a.getenv("SUDO_USER")
	if os.Geteuid() != 0 || sudoUser == "" || sudoUser == "root" || a.getenv("KPF_STATE_DIR") != "" {
		return a.getenv
	}
	u, err := user.Lookup(sudoUser)
	if err != nil {
		return a.getenv
	}
	return func(k string) string {
		switch k {
		case "HOME":
			return u.HomeDir
		case "XDG_STATE_HOME":
			return ""
		}
		return a.getenv(k)
	}
}

func (a *app) hostsSync(out io.Writer) error {
	root, err := state.Root(a.invokingUserEnv())
	if err != nil {
		return err
	}
	files, lerr := state.List(root)
	blocks := map[string][]kpfnames.Entry{}
	var addrs []string
	for _, f := range files {
		a.hide(nil, f)
		e := hostsEntries(f)
		blocks[hostsKey(f)] = e
		for _, x := range e {
			addrs = append(addrs, x.Address)
		}
	}
	path := a.hostsFile()
	var removed int
	_, err = kpfnames.Update(path, func(old []byte) []byte {
		next := old
		removed = 0
		for _, k := range kpfnames.Keys(old) {
			if _, ours := blocks[k]; !ours && staleKey(k) {
				next = kpfnames.Edit(next, k, nil)
				removed++
			}
		}
		for _, k := range slices.Sorted(mapsKeys(blocks)) {
			next = kpfnames.Edit(next, k, blocks[k])
		}
		return next
	})
	if err != nil {
		if errors.Is(err, kpfnames.ErrNeedsPrivilege) {
			return fmt.Errorf("%w; run %s", err, hostsSyncCommand())
		}
		return err
	}
	if err := loopbackAliases(addrs); err != nil {
		return err
	}
	n := 0
	for _, e := range blocks {
		n += len(e)
	}
	fmt.Fprintf(out, "%s: %d names of %d workspaces written, %d stale blocks removed.\n", termtext.EscapeText(path), n, len(files), removed)
	if lerr != nil {
		fmt.Fprintf(a.io.Err, "Warning: %s\n", termtext.EscapeText(a.scrub.Scrub(lerr.Error())))
	}
	return nil
}

// reachHost is the host a running forward is reached at: its first name
// when the hosts file gives it the forward's address, else the address.
func (a *app) reachHost(f state.Forward) string {
	if len(f.Hostnames) == 0 || slices.Contains(f.Sensitive, "Hostnames") {
		return f.Address
	}
	text, err := kpfnames.Read(a.hostsFile())
	if err != nil {
		return f.Address
	}
	for _, l := range strings.Split(string(text), "\n") {
		fields := strings.Fields(strings.TrimSuffix(l, "\r"))
		if len(fields) > 1 && fields[0] == f.Address && slices.Contains(fields[1:], f.Hostnames[0]) {
			return f.Hostnames[0]
		}
	}
	return f.Address
}
