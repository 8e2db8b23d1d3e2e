package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// specials are values whose handling the elementwise kernels must match
// bit for bit: zeros of both signs, NaN, infinities, denormals.
var specials = []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(1), math.Float32frombits(0x80000001), 1, -1}

func specialMatrix(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		if rng.IntN(3) == 0 {
			s[i] = specials[rng.IntN(len(specials))]
		} else {
			s[i] = float32(rng.NormFloat64())
		}
	}
	return s
}

// TestElementwiseKernels compares ReLUGrad, ReLU, ColSum and gather with
// plain loops, bit for bit, over lengths that cross the 8-lane vectors.
func TestElementwiseKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 300, 6000} {
		y, dy := specialMatrix(rng, n), specialMatrix(rng, n)
		want, got := make([]float32, n), specialMatrix(rng, n)
		for i := range y {
			if y[i] > 0 {
				want[i] = dy[i]
			}
		}
		ReLUGrad(y, dy, got)
		sameBits(t, "ReLUGrad", got, want)

		got = append([]float32(nil), y...)
		for i, v := range y {
			if v < 0 {
				y[i] = 0
			}
		}
		ReLU(got)
		sameBits(t, "ReLU", got, y)

		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(rng.IntN(n))
		}
		got = make([]float32, n)
		gather(got, dy, idx)
		for i, j := range idx {
			want[i] = dy[j]
		}
		sameBits(t, "gather", got, want)
	}
	for _, sz := range [][2]int{{1, 1}, {60, 300}, {60, 100}, {7, 13}, {3, 8}, {0, 9}} {
		rows, n := sz[0], sz[1]
		a := specialMatrix(rng, rows*n)
		want, got := make([]float32, n), specialMatrix(rng, n)
		for i := 0; i < rows; i++ {
			for j := 0; j < n; j++ {
				want[j] += a[i*n+j]
			}
		}
		ColSum(a, got, rows, n)
		sameBits(t, "ColSum", got, want)
	}
}
