package spec

import (
	"bytes"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Prefetch starts reading and parsing the spec files of the workspace in
// dir on another goroutine, so that the next Load finds them parsed (and
// their top level decoded against the schema, which depends on nothing
// else either). It is
// for a command that lives for milliseconds and will load the workspace:
// kpf calls it from a package init (cmd/kpf/internal/prefetch), while the
// Go runtime still initialises the packages after this one on one core
// and the other core is idle (issue 20 point 11). Calls after the first do
// nothing; Prefetch itself returns at once.
//
// It is a head start, not a cache: Load still finds, checks and reads
// every file itself, and takes a prefetched parse only for a file of the
// same name whose bytes are the ones Load read; hclsyntax.ParseConfig of
// those bytes under that name, and decodeFile of its body, are what Load
// would have computed, since they depend on nothing else. A file that changed in between, a workspace
// other than the one loaded, or a file the prefetch refused (unreadable,
// nested too deeply) is read and parsed by Load as without a prefetch, with
// the same diagnostics. Only the first Load after Prefetch takes parses,
// and what it does not take is dropped: a later Load (a watch's reload)
// parses afresh. A Load that needs a file while the prefetch still parses
// it waits for that parse rather than making it twice.
func Prefetch(dir string) { early.start(dir) }

// early is the process's prefetch; tests replace it.
var early = new(prefetcher)

// prefetcher runs one prefetch and hands its parses out.
type prefetcher struct {
	once sync.Once

	mu sync.Mutex
	// done is closed when the prefetch has finished; nil until one starts.
	done   chan struct{}
	parsed map[string]*parsedFile // by file name, until taken
	taken  int                    // parses handed to Load, for tests
	// over: a Load has parsed its files; what it did not take is dropped.
	over bool
}

// parsedFile is one prefetched parse: the bytes parsed and the result,
// with the file's top level decoded when it parsed without errors.
type parsedFile struct {
	src     []byte
	file    *hcl.File
	diags   hcl.Diagnostics
	decoded decodedFile
}

// decodedFile is decodeFile's result; blocks is nil when there is none.
type decodedFile struct {
	blocks *fileBlocks
	diags  hcl.Diagnostics
}

// start runs the prefetch of dir on a goroutine, the first time only.
func (p *prefetcher) start(dir string) {
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

// prefetchFiles reads and parses the spec files of dir, several at once
// as parseFiles does (eachFile), with Load's checks (specFiles, readSpecFile,
// checkNesting). What fails a check is left out: Load reports it.
func prefetchFiles(dir string) map[string]*parsedFile {
	abs, primary, override, diags := specFiles(dir)
	if diags.HasErrors() {
		return nil
	}
	names := append(append([]string(nil), primary...), override...)
	files := make([]*parsedFile, len(names))
	eachFile(names, func(i int, name string) { files[i] = prefetchFile(abs, name) })
	parsed := make(map[string]*parsedFile, len(names))
	for i, name := range names {
		if files[i] != nil {
			parsed[name] = files[i]
		}
	}
	return parsed
}

// prefetchFile reads, parses and decodes one file, nil when Load's checks
// refuse it.
func prefetchFile(dir, name string) *parsedFile {
	src, diags := readSpecFile(dir, name)
	if diags.HasErrors() || checkNesting(src, name).HasErrors() {
		return nil
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	pf := &parsedFile{src: src, file: f, diags: diags}
	if !diags.HasErrors() { // else Load stops before decoding
		pf.decoded.blocks, pf.decoded.diags = decodeFile(f.Body)
	}
	return pf
}

// take returns the prefetched parse of the file name when it parsed the
// bytes src, and forgets it; nil when there is none (no prefetch, another
// file, other bytes, already taken). It waits for a prefetch still under
// way.
func (p *prefetcher) take(name string, src []byte) *parsedFile {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	<-done
	p.mu.Lock()
	defer p.mu.Unlock()
	pf := p.parsed[name]
	if pf == nil {
		return nil
	}
	delete(p.parsed, name)
	if !bytes.Equal(pf.src, src) {
		return nil
	}
	p.taken++
	return pf
}

// drop forgets, once a prefetch has started, every parse no Load took
// (another workspace's, a file that changed) and any it still makes: a
// long-running command does not keep them.
func (p *prefetcher) drop() {
	p.mu.Lock()
	if p.done != nil {
		p.parsed, p.over = nil, true
	}
	p.mu.Unlock()
}
