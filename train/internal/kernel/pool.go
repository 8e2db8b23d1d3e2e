package kernel

// MaxPool2Row pools one row of 2×2 windows with the AVX-512 kernel: for
// each j < len(y), the window top[2j], top[2j+1], bot[2j], bot[2j+1], in
// that order, gives y[j], its largest entry (the first largest wins; a NaN
// wins over numbers, the first NaN over later ones), and arg[j], its flat
// index: idx0+2j (+1) in the top row, idx0+w+2j (+1) in the bottom one. It
// returns false, and does nothing, without the AVX-512 kernels (see
// SetAVX512): the caller then runs the same comparisons in Go, which give
// the same results (no arithmetic, only comparisons).
func MaxPool2Row(top, bot, y []float32, arg []int32, idx0, w int32) bool {
	if !useAVX512 {
		return false
	}
	n := len(y)
	if n == 0 {
		return true
	}
	_, _, _ = top[2*n-1], bot[2*n-1], arg[n-1]
	maxPool2Row512(&top[0], &bot[0], &y[0], &arg[0], n, idx0, w)
	return true
}
