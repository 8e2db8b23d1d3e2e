package kernel

// AddF32 adds src to dst entry by entry: dst[i] += src[i] for i < len(src)
// (dst must be at least as long). Each sum is one float32 addition, so the
// result is the same as the plain Go loop's, bit for bit, on every path.
func AddF32(dst, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if HasAVX2 {
		n = len(src) &^ 7
		if n > 0 {
			addAVX2(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] += src[i]
	}
}
