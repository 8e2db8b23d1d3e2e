package kernel

import "math"

// The elementwise kernels of a dense layer's training step, and the gather
// the sparse kernels read their operands with.

// gather sets dst[q] = src[idx[q]] for q < len(idx); every idx[q] must be
// an index of src (the callers' patterns guarantee it).
func gather(dst, src []float32, idx []int32) {
	n := len(idx)
	if n == 0 {
		return
	}
	_ = dst[n-1]
	n8 := n / 8
	if n8 > 0 && HasAVX2 {
		gather8(n8, &dst[0], &src[0], &idx[0])
	} else {
		n8 = 0
	}
	for q := n8 * 8; q < n; q++ {
		dst[q] = src[idx[q]]
	}
}

// ReLUGrad sets out[i] = dy[i] where y[i] > 0 and +0 elsewhere (NaN
// included): the gradient through a ReLU whose output is y.
func ReLUGrad(y, dy, out []float32) {
	n := len(y)
	dy, out = dy[:n], out[:n]
	start := 0
	if n >= 8 && HasAVX2 {
		reluGrad8(n/8, &y[0], &dy[0], &out[0])
		start = n &^ 7
	}
	for i := start; i < n; i++ {
		keep := uint32(0)
		if y[i] > 0 {
			keep = ^uint32(0)
		}
		out[i] = math.Float32frombits(math.Float32bits(dy[i]) & keep)
	}
}

// ReLU sets y[i] = +0 where y[i] < 0, leaving -0 and NaN as they are.
func ReLU(y []float32) {
	n := len(y)
	start := 0
	if n >= 8 && HasAVX2 {
		relu8(n/8, &y[0])
		start = n &^ 7
	}
	for i := start; i < n; i++ {
		keep := ^uint32(0)
		if y[i] < 0 {
			keep = 0
		}
		y[i] = math.Float32frombits(math.Float32bits(y[i]) & keep)
	}
}

// ColSum sets out[j] to the sum over i of a[i·n+j], for a [rows, n]:
// added in increasing i to +0, one column at a time as a loop over the rows
// would.
func ColSum(a, out []float32, rows, n int) {
	out = out[:n]
	if rows > 0 {
		_ = a[rows*n-1]
	}
	start := 0
	if n >= 8 && rows > 0 && HasAVX2 {
		colSum8(rows, n/8, &a[0], n*4, &out[0])
		start = n &^ 7
	}
	for j := start; j < n; j++ {
		s := float32(0)
		for i := 0; i < rows; i++ {
			s += a[i*n+j]
		}
		out[j] = s
	}
}
