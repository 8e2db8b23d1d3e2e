//go:build amd64 && !purego

package kernel

// addAVX2 is AddF32 on n entries, n a multiple of 8 (vec_amd64.s).
//
//go:noescape
func addAVX2(dst, src *float32, n int)
