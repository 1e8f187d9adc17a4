package state

import "testing"

// BenchmarkSave measures an atomic save (temp file, fsync, rename, dir
// fsync) of a 100-forward state file.
func BenchmarkSave(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	f := sample(100)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(f); err != nil {
			b.Fatal(err)
		}
	}
}
