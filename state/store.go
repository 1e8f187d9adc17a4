package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kpf-dev/kpf/internal/safefs"
)

// File names inside a workspace's state directory.
const (
	StateFile = "state.json"
	LockFile  = "lock"
	LogsDir   = "logs"
)

// MaxFileSize is the largest state.json kpf reads or writes, in bytes.
// 1,000 forwards take about 0.6 MiB (1.9 MiB with every name at its
// longest, selectors and a long last error each); a larger file is not one
// kpf wrote, and reading it whole would cost several times its size in
// memory.
const MaxFileSize = 8 << 20

// Store is one workspace's state directory. It is safe for concurrent use
// within a process; across processes, hold Lock while changing state.
type Store struct {
	dir string
	// readOnly: opened by OpenReadOnly; Save and Lock refuse.
	readOnly bool
	mu       sync.Mutex // serialises Save
}

// errReadOnly is the error of Save and Lock on a read-only Store.
var errReadOnly = errors.New("the state was opened read-only")

// Open opens (creating 0700 if needed) the state directory dir and its logs
// directory. The directory above dir (the state root) must be this user's
// and writable by no one else; dir and its logs directory must be real
// directories of this user, never symbolic links (they are not followed);
// one others can read or write is tightened to 0700.
func Open(dir string) (*Store, error) {
	root := filepath.Dir(dir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating state root: %w", err)
	}
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	// The root may be reached through a link; the store names its real
	// place, so that every kpf names a workspace the same way (the kubectl
	// runtime marks its processes with it).
	if real, err := filepath.EvalSymlinks(root); err == nil {
		dir = filepath.Join(real, filepath.Base(dir))
	}
	for _, d := range []string{dir, filepath.Join(dir, LogsDir)} {
		if err := ownDir(d, true); err != nil {
			return nil, err
		}
	}
	return &Store{dir: dir}, nil
}

// OpenReadOnly opens the state directory dir for commands that change
// nothing (status, plan, logs, open, completion): it creates, tightens and
// locks nothing. A missing root or directory is a workspace without state
// (Load returns an empty File); an existing one is checked as Open checks
// it. Save and Lock of the Store it returns fail.
func OpenReadOnly(dir string) (*Store, error) {
	root := filepath.Dir(dir)
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return &Store{dir: dir, readOnly: true}, nil
	}
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		dir = filepath.Join(real, filepath.Base(dir))
	}
	if err := ownDir(dir, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return &Store{dir: dir, readOnly: true}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path is the path of state.json.
func (s *Store) Path() string { return filepath.Join(s.dir, StateFile) }

// LogPath is the log file of forward name (logs/NAME.log).
func (s *Store) LogPath(name string) string {
	n := safeName(name)
	if n == "" || n == "." || n == ".." {
		n = "_"
	}
	return filepath.Join(s.dir, LogsDir, n+".log")
}

// Load reads state.json. A missing file is an empty File. A corrupt file or
// one written by a newer kpf is an error naming the path; it is left as is,
// and Save refuses to overwrite it.
func (s *Store) Load() (*File, error) {
	return readFile(s.Path())
}

func readFile(path string) (*File, error) {
	b, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Version: Version, Forwards: map[string]Forward{}, Dir: filepath.Dir(path)}, nil
	}
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (left untouched; move it away to start afresh): %w", path, err)
	}
	if f.Version == 1 {
		if err := upgradeV1(b, &f); err != nil {
			return nil, fmt.Errorf("state file %s (version 1) is corrupt (left untouched; move it away to start afresh): %w", path, err)
		}
	}
	switch {
	case f.Version > Version:
		return nil, fmt.Errorf("state file %s was written by a newer kpf (version %d, this kpf knows %d); left untouched", path, f.Version, Version)
	case f.Version < 1:
		return nil, fmt.Errorf("state file %s is corrupt (left untouched; move it away to start afresh): no version", path)
	}
	if f.Forwards == nil {
		f.Forwards = map[string]Forward{}
	}
	f.Dir = filepath.Dir(path)
	return &f, nil
}

// readLimited reads the state file at path, never through a link, never
// blocking on a FIFO, and never more than MaxFileSize bytes.
func readLimited(path string) ([]byte, error) {
	f, err := safefs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	if fi.Size() > MaxFileSize {
		return nil, tooLarge(path, fi.Size())
	}
	// It may grow between Stat and read: read one byte past the cap.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, tooLarge(path, int64(len(b)))
	}
	return b, nil
}

// tooLarge is the error of a state file over MaxFileSize.
func tooLarge(path string, size int64) error {
	return fmt.Errorf("state file %s has %d bytes, more than the %d (%d MiB) kpf reads: kpf writes under 1 MiB for 1,000 forwards, so this is not its file; left untouched, move it away to start afresh",
		path, size, MaxFileSize, MaxFileSize>>20)
}

// Save writes f atomically: a temp file (0600) in the same directory,
// written and fsynced, renamed over state.json, then the directory fsynced.
// It refuses to overwrite a state file it cannot load.
func (s *Store) Save(f *File) error {
	if s.readOnly {
		return fmt.Errorf("saving state in %s: %w", s.dir, errReadOnly)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := readFile(s.Path()); err != nil {
		return fmt.Errorf("refusing to save state: %w", err)
	}
	out := *f
	out.Version = Version
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	b = append(b, '\n')
	if len(b) > MaxFileSize {
		return fmt.Errorf("refusing to save state: %d forwards take %d bytes, more than the %d a state file may have; split the workspace", len(out.Forwards), len(b), MaxFileSize)
	}
	if err := safefs.WriteFileAtomic(s.Path(), b); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

// List loads the state file of every workspace under root (for `kpf status
// --all`), sorted by name then workspace path. Workspaces whose state cannot
// be read are skipped and reported in the returned error, alongside the
// files that could be read. A missing root is no workspaces.
func List(root string) ([]*File, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing workspaces: %w", err)
	}
	// A root others can write could hold workspaces they planted.
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	var files []*File
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(root, e.Name(), StateFile)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		f, err := readFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].Name != files[j].Name {
			return files[i].Name < files[j].Name
		}
		return strings.Compare(files[i].Workspace, files[j].Workspace) < 0
	})
	return files, errors.Join(errs...)
}
