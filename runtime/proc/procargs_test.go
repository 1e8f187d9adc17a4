package proc

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestParseProcargs2(t *testing.T) {
	t.Parallel()
	mk := func(argc uint32, body string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, argc)
		return append(b, body...)
	}
	tests := []struct {
		name string
		in   []byte
		exe  string
		args []string
		env  []string
		err  bool
	}{
		{"full", mk(2, "/usr/local/bin/kubectl\x00\x00\x00\x00kubectl\x00port-forward\x00A=1\x00KPF_FORWARD=api\x00\x00ptr_munge=\x00"),
			"/usr/local/bin/kubectl", []string{"kubectl", "port-forward"}, []string{"A=1", "KPF_FORWARD=api"}, false},
		{"no env", mk(1, "/bin/sleep\x00sleep\x00"), "/bin/sleep", []string{"sleep"}, nil, false},
		{"truncated args", mk(3, "/bin/x\x00x\x00"), "", nil, nil, true},
		{"no exe", mk(1, "/bin/x"), "", nil, nil, true},
		{"short", []byte{1, 0}, "", nil, nil, true},
	}
	for _, tc := range tests {
		exe, args, env, err := parseProcargs2(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if exe != tc.exe || !reflect.DeepEqual(args, tc.args) || !reflect.DeepEqual(env, tc.env) {
			t.Errorf("%s: got %q %q %q", tc.name, exe, args, env)
		}
	}
}
