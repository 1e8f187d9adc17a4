package names

import (
	"bytes"
	"strings"
)

// Entry is one line of a managed block: an address and its names.
type Entry struct {
	Address string
	Names   []string
}

const (
	beginPrefix = "# BEGIN kpf workspace "
	endPrefix   = "# END kpf workspace "
	beginNote   = "# (managed by kpf: `kpf hosts sync` rewrites this block; edits here are lost)"
)

// Edit returns text with the managed block of workspace key replaced by
// entries: at the place of its first block (every other block of key, a
// duplicate, is dropped), else at the end; entries empty removes it. Lines
// outside the blocks of key are kept byte for byte; the block's lines end
// in CRLF when the file's first line does. A BEGIN marker of key without
// its END is dropped alone (the lines after it are not kpf's to remove).
func Edit(text []byte, key string, entries []Entry) []byte {
	eol := "\n"
	if i := bytes.IndexByte(text, '\n'); i > 0 && text[i-1] == '\r' {
		eol = "\r\n"
	}
	lines := splitLines(text)
	begin, end := beginPrefix+key, endPrefix+key
	var out bytes.Buffer
	out.Grow(len(text) + 64*len(entries))
	written := false
	writeBlock := func() {
		if written || len(entries) == 0 {
			written = true
			return
		}
		written = true
		out.WriteString(begin + eol)
		out.WriteString(beginNote + eol)
		for _, e := range entries {
			out.WriteString(e.Address + "\t" + strings.Join(e.Names, " ") + eol)
		}
		out.WriteString(end + eol)
	}
	for i := 0; i < len(lines); i++ {
		if trimEOL(lines[i]) != begin {
			out.WriteString(lines[i])
			continue
		}
		j := i + 1
		for j < len(lines) && trimEOL(lines[j]) != end && trimEOL(lines[j]) != begin {
			j++
		}
		if j == len(lines) || trimEOL(lines[j]) == begin {
			continue // a BEGIN without its END: drop the marker alone
		}
		// The last line of a block always ends in a newline; the foreign
		// line before it did too.
		writeBlock()
		i = j
	}
	if !written && len(entries) > 0 {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteString(eol)
		}
		writeBlock()
	}
	return out.Bytes()
}

// Keys lists the workspaces that have a complete block in text, in order,
// each once.
func Keys(text []byte) []string {
	lines := splitLines(text)
	var out []string
	seen := map[string]bool{}
	for i, l := range lines {
		key, ok := strings.CutPrefix(trimEOL(l), beginPrefix)
		if !ok || seen[key] {
			continue
		}
		for _, m := range lines[i+1:] {
			m = trimEOL(m)
			if m == endPrefix+key {
				seen[key] = true
				out = append(out, key)
				break
			}
			if strings.HasPrefix(m, beginPrefix) {
				break
			}
		}
	}
	return out
}

// splitLines splits text after each '\n', keeping it.
func splitLines(text []byte) []string {
	s := string(text)
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func trimEOL(l string) string {
	l = strings.TrimSuffix(l, "\n")
	return strings.TrimSuffix(l, "\r")
}
