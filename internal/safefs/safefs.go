package safefs

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotRegular is wrapped by OpenFile's error when path is a symbolic link
// or not a regular file (a FIFO, a device, a directory).
var ErrNotRegular = errors.New("not a regular file (symbolic links, FIFOs and devices are refused)")

// OpenFile is os.OpenFile that never follows a symbolic link at path (the
// last element), never blocks opening a FIFO, and refuses anything but a
// regular file. flag and perm are os.OpenFile's.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|noFollow|nonBlock, perm)
	if err != nil {
		if isLoop(err) {
			return nil, fmt.Errorf("opening %s: %w", path, ErrNotRegular)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("opening %s: %w", path, ErrNotRegular)
	}
	return f, nil
}

// ReadFile is os.ReadFile through OpenFile.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
