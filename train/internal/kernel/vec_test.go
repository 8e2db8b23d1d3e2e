package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddF32 checks AddF32 against the plain loop, bit for bit, for lengths
// around the 32- and 8-entry steps, on a dst longer than src.
func TestAddF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 100, 252, 1000} {
		dst := make([]float32, n+3)
		src := make([]float32, n)
		for i := range dst {
			dst[i] = float32(rng.NormFloat64())
		}
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		want := append([]float32(nil), dst...)
		for i, v := range src {
			want[i] += v
		}
		AddF32(dst, src)
		for i := range want {
			if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want[i])
			}
		}
	}
}
