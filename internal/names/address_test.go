package names

import (
	"fmt"
	"testing"
)

func TestAssign(t *testing.T) {
	first, err := Assign("/ws/a", []Want{{Name: "api"}, {Name: "web"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ws    string
		wants []Want
		taken map[string]bool
		check func(t *testing.T, got map[string]string)
	}{
		{
			name: "stable across runs", ws: "/ws/a", wants: []Want{{Name: "web"}, {Name: "api"}},
			check: func(t *testing.T, got map[string]string) {
				if got["api"] != first["api"] || got["web"] != first["web"] {
					t.Errorf("got %v, first run %v", got, first)
				}
			},
		},
		{
			name: "prior kept", ws: "/ws/a", wants: []Want{{Name: "api", Prior: "127.77.1.2"}},
			check: func(t *testing.T, got map[string]string) {
				if got["api"] != "127.77.1.2" {
					t.Errorf("api = %s, want its prior 127.77.1.2", got["api"])
				}
			},
		},
		{
			name: "prior outside the range replaced", ws: "/ws/a", wants: []Want{{Name: "api", Prior: "127.0.0.1"}},
			check: func(t *testing.T, got map[string]string) {
				if got["api"] != first["api"] {
					t.Errorf("api = %s, want %s", got["api"], first["api"])
				}
			},
		},
		{
			name: "another workspace's address is skipped", ws: "/ws/a", wants: []Want{{Name: "api"}},
			taken: map[string]bool{first["api"]: true},
			check: func(t *testing.T, got map[string]string) {
				if got["api"] == first["api"] || got["api"] == "" {
					t.Errorf("api = %q, must not be the taken %s", got["api"], first["api"])
				}
			},
		},
		{
			name: "prior held by another workspace is given up", ws: "/ws/a", wants: []Want{{Name: "api", Prior: "127.77.1.2"}},
			taken: map[string]bool{"127.77.1.2": true},
			check: func(t *testing.T, got map[string]string) {
				if got["api"] == "127.77.1.2" {
					t.Error("api kept an address another workspace holds")
				}
			},
		},
		{
			name: "many forwards, all distinct and in range", ws: "/ws/b", wants: func() []Want {
				var w []Want
				for i := range 2000 {
					w = append(w, Want{Name: fmt.Sprintf("f%d", i)})
				}
				return w
			}(),
			check: func(t *testing.T, got map[string]string) {
				seen := map[string]bool{}
				for n, a := range got {
					if seen[a] {
						t.Fatalf("%s: address %s given twice", n, a)
					}
					seen[a] = true
				}
				if len(got) != 2000 {
					t.Errorf("%d addresses, want 2000", len(got))
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Assign(tc.ws, tc.wants, tc.taken)
			if err != nil {
				t.Fatal(err)
			}
			for n, a := range got {
				if a == "" {
					t.Fatalf("%s: no address", n)
				}
			}
			tc.check(t, got)
		})
	}
}
