//go:build amd64 && !purego

package kernel

import "testing"

// TestLimit checks what each SHEARS_CPU value leaves of the CPU's features.
func TestLimit(t *testing.T) {
	for _, c := range []struct {
		env                  string
		avx2, avx512         bool
		wantAVX2, wantAVX512 bool
	}{
		{"", true, true, true, true},
		{"avx2", true, true, true, false},
		{"generic", true, true, false, false},
		{"avx512", true, false, true, false}, // cannot add what the CPU lacks
		{"AVX2", true, true, true, true},     // unknown: unchanged
		{"avx2", false, false, false, false},
	} {
		a2, a5 := limit(c.env, c.avx2, c.avx512)
		if a2 != c.wantAVX2 || a5 != c.wantAVX512 {
			t.Errorf("SHEARS_CPU=%q on avx2=%v avx512=%v: got %v %v, want %v %v", c.env, c.avx2, c.avx512, a2, a5, c.wantAVX2, c.wantAVX512)
		}
	}
}
