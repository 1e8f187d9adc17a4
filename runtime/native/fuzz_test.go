package native

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzRequest feeds arbitrary bytes to the agent's request reader: it
// must not panic, must never accept more than MaxRequest bytes, and what
// it accepts must be a request that encodes again. The seed corpus is in
// testdata/fuzz/FuzzRequest; `make fuzz` runs it for FUZZTIME.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		`{"protocol":1,"op":"hello"}` + "\n",
		`{"protocol":1,"op":"status","ids":["a-1","b-2"],"state_dir":"/tmp/ws"}` + "\n",
		`{"protocol":1,"op":"events","id":"a-1","since":3,"follow":true}`,
		`{"protocol":1,"op":"start","forward":{"Name":"api","Target":"service/api","LocalPort":8080,"RemotePort":"80"},"kubeconfig":{}}` + "\n",
		"\n",
		`{"protocol":"1"}` + "\n",
		`[1,2,3]` + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := readRequest(bufio.NewReader(bytes.NewReader(b)))
		line, _, _ := bytes.Cut(b, []byte("\n"))
		if len(line) > MaxRequest && !errors.Is(err, errRequestTooLarge) {
			t.Fatalf("a %d-byte line: %v", len(line), err)
		}
		if err != nil {
			return
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatalf("an accepted request does not encode: %+v: %v", req, err)
		}
	})
}
