package names

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrRefused is wrapped by the errors of Update for a hosts file kpf will
// not rewrite (a symbolic link, a read-only file): running as root would
// not change that.
var ErrRefused = errors.New("hosts file refused")

// ErrNeedsPrivilege is wrapped by the errors of Update when the user may
// not write the hosts file (or its directory): `sudo kpf hosts sync` can.
var ErrNeedsPrivilege = errors.New("no permission to write the hosts file")

// BackupSuffix names the copy of the previous hosts file Update keeps.
const BackupSuffix = ".kpf-backup"

// Update rewrites the hosts file at path to edit(its content) under a lock
// on its directory, re-reading the file under that lock: the new file is
// written to a temporary file in the same directory, synced, then renamed
// over path, so that a kill at any point leaves the old file or the new
// one, never a part. The previous content is kept in path+BackupSuffix
// (replaced the same way). Nothing is written when edit changes nothing.
// A missing file is read as empty and created (mode 0644).
func Update(path string, edit func(old []byte) []byte) (changed bool, err error) {
	if err := check(path); err != nil {
		return false, err
	}
	dir := filepath.Dir(path)
	unlock, err := lockDir(dir)
	if err != nil {
		return false, privilege(fmt.Errorf("locking %s: %w", dir, err))
	}
	defer unlock()
	// Again under the lock: the file may have been replaced meanwhile.
	if err := check(path); err != nil {
		return false, err
	}
	mode := fs.FileMode(0o644)
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return false, privilege(fmt.Errorf("reading the hosts file: %w", err))
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	next := edit(old)
	if bytes.Equal(old, next) {
		return false, nil
	}
	if old != nil {
		if err := replace(path+BackupSuffix, old, mode); err != nil {
			return false, privilege(fmt.Errorf("keeping a backup of the hosts file: %w", err))
		}
	}
	if err := replace(path, next, mode); err != nil {
		return false, privilege(fmt.Errorf("writing the hosts file: %w", err))
	}
	return true, nil
}

// Read returns the content of the hosts file at path ("" when missing).
func Read(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// check refuses a symbolic link and a file no one may write.
func check(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return privilege(fmt.Errorf("reading the hosts file: %w", err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		return fmt.Errorf("%w: %s is a symbolic link (to %s): kpf does not write through it, as the file it points to is managed elsewhere (on NixOS, add the names with networking.hosts, or point KPF_HOSTS_FILE at a file of your own)", ErrRefused, path, target)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrRefused, path)
	}
	if fi.Mode().Perm()&0o222 == 0 {
		return fmt.Errorf("%w: %s is read-only (mode %s): kpf does not override that; make it writable by its owner if kpf should keep the names there", ErrRefused, path, fi.Mode().Perm())
	}
	return nil
}

func privilege(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %w", ErrNeedsPrivilege, err)
	}
	return err
}

// replace writes data to a temporary file beside path, syncs it and
// renames it over path, then syncs the directory.
func replace(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".kpf-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
