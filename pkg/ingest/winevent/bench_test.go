package winevent

import (
	"path/filepath"
	"testing"
)

// BenchmarkParse measures throughput on real lines of every on-disk shape.
func BenchmarkParse(b *testing.B) {
	dir, ok := findSharedData()
	if !ok {
		b.Skip("shared/data not found beside the checkout")
	}
	var lines [][]byte
	var size int64
	for _, rel := range fuzzSeedFiles {
		eachLine(b, filepath.Join(dir, filepath.FromSlash(rel)), func(_ int, line []byte) bool {
			lines = append(lines, append([]byte(nil), line...))
			size += int64(len(line))
			return len(lines) < 2000
		})
	}
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
