package specfile

import (
	"bytes"
	"path/filepath"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Prefetch starts reading and parsing the spec files of the workspace in
// dir on another goroutine (Early.Start), so that the next spec.Load finds
// them parsed. It is for a command that lives for milliseconds and will
// load the workspace: kpf calls it from a package init
// (cmd/kpf/internal/prefetch), while the Go runtime still initialises the
// packages after this one on one core and the other core is idle (issue 20
// point 11). Calls after the first do nothing; Prefetch itself returns at
// once.
//
// It is a head start, not a cache: spec.Load still finds, checks and reads
// every file itself, and takes a prefetched parse only for a file of the
// same name whose bytes are the ones it read (Prefetcher.Take);
// hclsyntax.ParseConfig of those bytes under that name is what Load would
// have computed, since it depends on nothing else. A file that changed in
// between, a workspace other than the one loaded, or a file the prefetch
// refused (unreadable, nested too deeply) is read and parsed by Load as
// without a prefetch, with the same diagnostics. Only the first Load after
// Prefetch takes parses, and what it does not take is dropped
// (Prefetcher.Drop): a later Load (a watch's reload) parses afresh. A Load
// that needs a file while the prefetch still parses it waits for that
// parse rather than making it twice.
func Prefetch(dir string) { Early.Start(dir) }

// Early is the process's prefetch, which spec.Load takes from; tests
// replace it.
var Early = new(Prefetcher)

// Prefetcher runs one prefetch and hands its parses out.
type Prefetcher struct {
	once sync.Once

	mu sync.Mutex
	// done is closed when the prefetch has finished; nil until one starts.
	done   chan struct{}
	parsed map[string]*parsedFile // by file name, until taken
	taken  int                    // parses handed out
	// over: a Load has parsed its files; what it did not take is dropped.
	over bool
}

// parsedFile is one prefetched parse: the bytes parsed and the result.
type parsedFile struct {
	src   []byte
	file  *hcl.File
	diags hcl.Diagnostics
}

// Start runs the prefetch of dir on a goroutine, the first time only.
func (p *Prefetcher) Start(dir string) {
	p.once.Do(func() {
		done := make(chan struct{})
		p.mu.Lock()
		p.done = done
		p.mu.Unlock()
		go func() {
			defer close(done)
			parsed := prefetchFiles(dir)
			p.mu.Lock()
			if !p.over {
				p.parsed = parsed
			}
			p.mu.Unlock()
		}()
	})
}

// prefetchFiles reads and parses the spec files of dir, several at once as
// spec.Load does, with Load's checks (Read, CheckNesting). What fails a
// check is left out: Load reports it.
func prefetchFiles(dir string) map[string]*parsedFile {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	primary, override, err := WorkspaceFiles(abs)
	if err != nil {
		return nil
	}
	names := append(append([]string(nil), primary...), override...)
	files := make([]*parsedFile, len(names))
	if len(names) == 1 { // on this goroutine
		files[0] = prefetchFile(abs, names[0])
	} else {
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() { files[i] = prefetchFile(abs, name) })
		}
		wg.Wait()
	}
	parsed := make(map[string]*parsedFile, len(names))
	for i, name := range names {
		if files[i] != nil {
			parsed[name] = files[i]
		}
	}
	return parsed
}

// prefetchFile reads and parses one file, nil when Load's checks refuse
// it.
func prefetchFile(dir, name string) *parsedFile {
	src, diags := Read(dir, name)
	if diags.HasErrors() || CheckNesting(src, name).HasErrors() {
		return nil
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	return &parsedFile{src: src, file: f, diags: diags}
}

// Take returns the prefetched parse of the file name when it parsed the
// bytes src, and forgets it; ok is false when there is none (no prefetch,
// another file, other bytes, already taken). It waits for a prefetch still
// under way.
func (p *Prefetcher) Take(name string, src []byte) (f *hcl.File, diags hcl.Diagnostics, ok bool) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil, nil, false
	}
	<-done
	p.mu.Lock()
	defer p.mu.Unlock()
	pf := p.parsed[name]
	if pf == nil {
		return nil, nil, false
	}
	delete(p.parsed, name)
	if !bytes.Equal(pf.src, src) {
		return nil, nil, false
	}
	p.taken++
	return pf.file, pf.diags, true
}

// Drop forgets, once a prefetch has started, every parse no Load took
// (another workspace's, a file that changed) and any it still makes: a
// long-running command does not keep them.
func (p *Prefetcher) Drop() {
	p.mu.Lock()
	if p.done != nil {
		p.parsed, p.over = nil, true
	}
	p.mu.Unlock()
}

// Wait waits for a prefetch that has started to finish.
func (p *Prefetcher) Wait() {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Stats returns how many parses were taken and how many are left.
func (p *Prefetcher) Stats() (taken, left int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taken, len(p.parsed)
}
