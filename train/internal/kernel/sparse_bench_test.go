package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPattern times the three products of a 784×300 layer at batch 60
// (LeNet-300-100's first layer) with the sparse kernels at several
// densities, and with Sgemm ("dense").
func BenchmarkPattern(b *testing.B) {
	if !HasAVX2 {
		b.Skip("no AVX2/FMA")
	}
	const k, n = 784, 300
	for _, batch := range []int{1, 60} {
		rng := rand.New(rand.NewPCG(1, 1))
		x := randMatrix(rng, batch*k, true)
		dz := randMatrix(rng, batch*n, false)
		y, dx, dw := make([]float32, batch*n), make([]float32, batch*k), make([]float32, k*n)
		w := randMatrix(rng, k*n, false)
		b.Run(fmt.Sprintf("batch=%d/dense/fwd", batch), func(b *testing.B) {
			for b.Loop() {
				Sgemm(false, false, batch, n, k, x, k, w, n, 1, y, n)
			}
		})
		if batch > 1 {
			b.Run(fmt.Sprintf("batch=%d/dense/gradx", batch), func(b *testing.B) {
				for b.Loop() {
					Sgemm(false, true, batch, k, n, dz, n, w, n, 0, dx, k)
				}
			})
			b.Run(fmt.Sprintf("batch=%d/dense/gradw", batch), func(b *testing.B) {
				for b.Loop() {
					Sgemm(true, false, k, n, batch, x, k, dz, n, 0, dw, n)
				}
			})
		}
		for _, d := range []float64{0.2, 0.07, 0.02} {
			p, _ := NewPattern(k, n, func(int) bool { return rng.Float64() < d })
			p.SetWeights(w)
			b.Run(fmt.Sprintf("batch=%d/%g/fwd", batch, d), func(b *testing.B) {
				for b.Loop() {
					p.Forward(y, x, w, batch)
				}
			})
			if batch == 1 {
				b.Run(fmt.Sprintf("batch=%d/%g/scatter", batch, d), func(b *testing.B) {
					for b.Loop() {
						p.ForwardScatter(y, x, batch)
					}
				})
				continue
			}
			b.Run(fmt.Sprintf("batch=%d/%g/gradx", batch, d), func(b *testing.B) {
				for b.Loop() {
					p.GradX(dx, dz, w, batch)
				}
			})
			b.Run(fmt.Sprintf("batch=%d/%g/gradw", batch, d), func(b *testing.B) {
				for b.Loop() {
					p.GradW(dw, x, dz, batch)
				}
			})
		}
	}
}

// BenchmarkStepProducts times the three products of a training step
// (forward, input gradient, weight gradient; batch 60) of LeNet-300-100's
// two hidden layers, with Sgemm ("dense") and with the sparse kernels at
// densities around the break-even point that SparseThreshold (package
// train) is set from.
func BenchmarkStepProducts(b *testing.B) {
	if !HasAVX2 {
		b.Skip("no AVX2/FMA")
	}
	const batch = 60
	for _, sz := range [][2]int{{784, 300}, {300, 100}} {
		k, n := sz[0], sz[1]
		rng := rand.New(rand.NewPCG(1, 1))
		x := randMatrix(rng, batch*k, true)
		dz := randMatrix(rng, batch*n, false)
		y, dx, dw := make([]float32, batch*n), make([]float32, batch*k), make([]float32, k*n)
		w := randMatrix(rng, k*n, false)
		b.Run(fmt.Sprintf("%dx%d/dense", k, n), func(b *testing.B) {
			for b.Loop() {
				Sgemm(false, false, batch, n, k, x, k, w, n, 1, y, n)
				Sgemm(false, true, batch, k, n, dz, n, w, n, 0, dx, k)
				Sgemm(true, false, k, n, batch, x, k, dz, n, 0, dw, n)
			}
		})
		for _, d := range []float64{0.1, 0.2, 0.3, 0.4, 0.5} {
			p, _ := NewPattern(k, n, func(int) bool { return rng.Float64() < d })
			b.Run(fmt.Sprintf("%dx%d/%g", k, n, d), func(b *testing.B) {
				for b.Loop() {
					p.Forward(y, x, w, batch)
					p.GradX(dx, dz, w, batch)
					p.GradW(nil, x, dz, batch)
				}
			})
		}
	}
}
