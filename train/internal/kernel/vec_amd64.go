//go:build amd64 && !purego

package kernel

// addAVX2 is AddF32 on n entries, n a multiple of 8 (vec_amd64.s).
//
//go:noescape
func addAVX2(dst, src *float32, n int)

// maxPool2Row512 is MaxPool2Row on n ≥ 1 windows (pool_amd64.s).
//
//go:noescape
func maxPool2Row512(top, bot, y *float32, arg *int32, n int, idx0, w int32)
