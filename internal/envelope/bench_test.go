package envelope

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkRead compares Read (header first, then the declared payload)
// with the way it used to read, io.ReadAll then Decode, on a 32 MiB file.
func BenchmarkRead(b *testing.B) {
	file := Encode(magic, 1, bytes.Repeat([]byte{7}, 32<<20))
	b.Run("Read", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			if _, _, err := Read(bytes.NewReader(file), magic, "bench", 1, 1<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadAll+Decode", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			data, err := io.ReadAll(io.LimitReader(bytes.NewReader(file), 1<<30+1))
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := Decode(data, magic, "bench", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
