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
		if isRefused(err) {
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

// Create opens path for writing, empty, creating it with perm: os.Create
// through OpenFile. It truncates only once the file is known to be a
// regular file of its own (O_TRUNC would act before any check).
func Create(path string, perm os.FileMode) (*os.File, error) {
	f, err := OpenFile(path, os.O_WRONLY|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("truncating %s: %w", path, err)
	}
	return f, nil
}

// Append opens path for appending, creating it with perm, through OpenFile.
func Append(path string, perm os.FileMode) (*os.File, error) {
	return OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm)
}

// ErrNotDir is wrapped by MkdirAll's error when path is a symbolic link or
// not a directory.
var ErrNotDir = errors.New("not a directory (symbolic links are refused)")

// MkdirAll is os.MkdirAll whose last element must end up a directory of
// its own, not a symbolic link to one elsewhere.
func MkdirAll(path string, perm os.FileMode) error {
	if err := os.MkdirAll(path, perm); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %w", path, ErrNotDir)
	}
	return nil
}
