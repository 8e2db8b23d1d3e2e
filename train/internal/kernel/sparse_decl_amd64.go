//go:build amd64 && !purego

package kernel

//go:noescape
func spLanes64(nout, nblk int, ptr, idx *int32, val, x *float32, ldx int, out *float32, ldo int)

//go:noescape
func spLanes8(nout, nblk int, ptr, idx *int32, val, x *float32, ldx int, out *float32, ldo int)

//go:noescape
func spScatter(nrow int, ptr, idx *int32, val, x, acc *float32)

//go:noescape
func transpose8(n8 int, a *float32, lda int, t *float32, ldt int)

//go:noescape
func spGradT4(nset int, grp *int32, x, z *float32, nchunk int, out *float32)

//go:noescape
func gather8(n8 int, dst, src *float32, idx *int32)

//go:noescape
func reluGrad8(n8 int, y, dy, out *float32)

//go:noescape
func relu8(n8 int, y *float32)

//go:noescape
func colSum8(rows, n8 int, a *float32, lda int, out *float32)

//go:noescape
func spLanes64x512(nout, nblk int, ptr, idx *int32, val, x *float32, ldx int, out *float32, ldo int)

//go:noescape
func bcastRows(n, ld8 int, b, out *float32)
