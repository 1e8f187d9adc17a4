package specfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
)

// FileRange is the first position of a file, for diagnostics about the file
// as a whole.
func FileRange(name string) *hcl.Range {
	return &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// Read reads dir/name, refusing a symlink that resolves outside
// dir, anything that is not a regular file and anything larger than
// MaxFileSize. The content of a refused file is never read.
func Read(dir, name string) ([]byte, hcl.Diagnostics) {
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, cannotRead(SpecKind, name, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, cannotRead(SpecKind, name, err)
		}
		root, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, cannotRead(SpecKind, name, err)
		}
		if !within(root, target) {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Spec file outside the workspace",
				Detail:   fmt.Sprintf("%s is a symbolic link to a file outside the workspace directory, so it is not read. Copy the file into the workspace, or link to a file inside it.", name),
				Subject:  FileRange(name),
			}}
		}
		path = target
	}
	return ReadLimited(SpecKind, path, name)
}

// What a file is, in diagnostics.
const (
	SpecKind = "spec"
	VarsKind = "variables"
)

// within reports whether path is root or below it (both cleaned, absolute).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// ReadLimited reads a regular file of at most MaxFileSize bytes; name is
// the file's name in diagnostics, kind says what it is.
func ReadLimited(kind, path, name string) ([]byte, hcl.Diagnostics) {
	// Opening a FIFO blocks until it has a writer: look before opening,
	// and open without blocking in case it changed in between.
	if fi, err := os.Stat(path); err != nil {
		return nil, cannotRead(kind, name, err)
	} else if !fi.Mode().IsRegular() {
		return nil, cannotRead(kind, name, errors.New("not a regular file"))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, cannotRead(kind, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, cannotRead(kind, name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, cannotRead(kind, name, errors.New("not a regular file"))
	}
	if fi.Size() > MaxFileSize {
		return nil, TooLarge(kind, name, fi.Size())
	}
	// The file may grow between Stat and read: read one byte past the cap.
	src := make([]byte, 0, fi.Size()+1)
	src, err = readAll(io.LimitReader(f, MaxFileSize+1), src)
	if err != nil {
		return nil, cannotRead(kind, name, err)
	}
	if len(src) > MaxFileSize {
		return nil, TooLarge(kind, name, int64(len(src)))
	}
	return src, nil
}

// readAll is io.ReadAll into buf, which is sized for the whole file.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func cannotRead(kind, name string, err error) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Cannot read " + kind + " file",
		Detail:   fmt.Sprintf("Reading %s: %s.", name, err),
		Subject:  FileRange(name),
	}}
}

func TooLarge(kind, name string, size int64) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  strings.ToUpper(kind[:1]) + kind[1:] + " file too large",
		Detail:   fmt.Sprintf("%s has %d bytes; kpf reads %s files of at most %d bytes (MaxFileSize).", name, size, kind, MaxFileSize),
		Subject:  FileRange(name),
	}}
}
