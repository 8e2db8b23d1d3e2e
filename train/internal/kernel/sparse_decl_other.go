//go:build !amd64 || purego

package kernel

// The sparse kernels exist on amd64 only; HasAVX2 is false elsewhere and
// NewPattern refuses to build a pattern, so these are never called (the
// exported wrappers of sparse.go check HasAVX2).

func spLanes64(nout, nblk int, ptr, idx *int32, val, x *float32, ldx int, out *float32, ldo int) {
	panic("kernel: no sparse kernel on this platform")
}

func spLanes8(nout, nblk int, ptr, idx *int32, val, x *float32, ldx int, out *float32, ldo int) {
	panic("kernel: no sparse kernel on this platform")
}

func spScatter(nrow int, ptr, idx *int32, val, x, acc *float32) {
	panic("kernel: no sparse kernel on this platform")
}

func transpose8(n8 int, a *float32, lda int, t *float32, ldt int) {
	panic("kernel: no sparse kernel on this platform")
}

func spGradT4(nset int, grp *int32, x, z *float32, nchunk int, out *float32) {
	panic("kernel: no sparse kernel on this platform")
}

func gather8(n8 int, dst, src *float32, idx *int32) {
	panic("kernel: no sparse kernel on this platform")
}

func reluGrad8(n8 int, y, dy, out *float32) {
	panic("kernel: no sparse kernel on this platform")
}

func relu8(n8 int, y *float32) {
	panic("kernel: no sparse kernel on this platform")
}

func colSum8(rows, n8 int, a *float32, lda int, out *float32) {
	panic("kernel: no sparse kernel on this platform")
}

func spLanes64x512(nout, nblk int, ptr, idx *int32, val, x *float32, ldx int, out *float32, ldo int) {
	panic("kernel: no sparse kernel on this platform")
}

func bcastRows(n, ld8 int, b, out *float32) {
	panic("kernel: no sparse kernel on this platform")
}
