package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamKernelMatchesGo checks that the assembly Adam kernel (where the CPU
// has one) gives bit-identical results to the Go loop, with and without
// weight decay, over lengths that exercise the tail.
func TestAdamKernelMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 8, 9, 31, 64, 1000} {
		for _, wd := range []float32{0, 1e-2} {
			mk := func(scale float64) []float32 {
				s := make([]float32, n)
				for i := range s {
					s[i] = float32(rng.NormFloat64() * scale)
				}
				return s
			}
			w, g, m, v := mk(1), mk(0.1), mk(0.01), mk(0.001)
			for i := range v {
				v[i] = float32(math.Abs(float64(v[i])))
			}
			w2, g2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
			step, inv := float32(1.2e-3/0.1), float32(1/math.Sqrt(0.001))
			adamStep(w, g, m, v, step, 0.9, 0.999, inv, 1e-8, wd)
			// reference: the Go loop alone
			c1, c2 := 1-float32(0.9), 1-float32(0.999)
			for i := range w2 {
				d := g2[i]
				if wd != 0 {
					d = g2[i] + float32(wd*w2[i])
				}
				mi := float32(0.9*m2[i]) + float32(c1*d)
				vi := float32(0.999*v2[i]) + float32(float32(c2*d)*d)
				m2[i], v2[i] = mi, vi
				den := float32(float32(math.Sqrt(float64(vi)))*inv) + 1e-8
				w2[i] -= float32(step*mi) / den
			}
			for i := range w {
				if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || m[i] != m2[i] || v[i] != v2[i] {
					t.Fatalf("n=%d wd=%v: entry %d: kernel w=%v m=%v v=%v, Go w=%v m=%v v=%v", n, wd, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
				}
			}
		}
	}
}
