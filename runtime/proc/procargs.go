package proc

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// parseProcargs2 parses macOS's kern.procargs2 answer: argc (32 bits, host
// order: little-endian on every Mac kpf builds for), the executable path,
// NUL padding, argc NUL-terminated arguments, then the environment up to
// the first empty string. It is plain byte parsing, built everywhere so
// that it is tested everywhere.
func parseProcargs2(b []byte) (exe string, args, env []string, err error) {
	if len(b) < 4 {
		return "", nil, nil, errors.New("procargs2: too short")
	}
	argc := int(binary.LittleEndian.Uint32(b))
	rest := b[4:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", nil, nil, errors.New("procargs2: no executable path")
	}
	exe, rest = string(rest[:i]), rest[i:]
	for len(rest) > 0 && rest[0] == 0 {
		rest = rest[1:]
	}
	next := func() (string, bool) {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return "", false
		}
		s := string(rest[:i])
		rest = rest[i+1:]
		return s, true
	}
	for range argc {
		s, ok := next()
		if !ok {
			return "", nil, nil, errors.New("procargs2: truncated arguments")
		}
		args = append(args, s)
	}
	for {
		s, ok := next()
		if !ok || s == "" {
			break
		}
		env = append(env, s)
	}
	return exe, args, env, nil
}
