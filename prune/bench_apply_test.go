package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// Benchmarks of Masks.Apply by size, against copy() of the same weights in
// the same run: bytes/s counts the weights' bytes once (b.SetBytes(n × 4)
// for float32), so Apply at memory bandwidth shows about copy's figure.
//
//	go test ./prune -run XXX -bench 'Apply|Copy' -benchtime 2x
//
// -short leaves out the 100M-weight sizes (400 MB each).

var benchApplySizes = []struct {
	name string
	n    int
	dt   tensor.Dtype
}{
	{"f32/1K", 1 << 10, tensor.Float32},
	{"f32/1M", 1 << 20, tensor.Float32},
	{"f32/100M", 100 << 20, tensor.Float32},
	{"f64/10M", 10 << 20, tensor.Float64},
}

// benchPatterns fill a mask's words: every weight kept, 75%, 50% and 12.5%
// kept at random (the first lottery rounds, a coin flip, a late round).
var benchPatterns = []struct {
	name string
	word func(r *rand.Rand) uint64
}{
	{"keep100", func(*rand.Rand) uint64 { return ^uint64(0) }},
	{"keep75", func(r *rand.Rand) uint64 { a := r.Uint64(); return a | r.Uint64() }},
	{"keep50", func(r *rand.Rand) uint64 { return r.Uint64() }},
	{"keep12", func(r *rand.Rand) uint64 { a, b := r.Uint64(), r.Uint64(); return a & b & r.Uint64() }},
}

// applyParallelMinDefault is applyParallelMin as the package sets it.
var applyParallelMinDefault = applyParallelMin

func benchParam(b *testing.B, n int, dt tensor.Dtype) Param {
	b.Helper()
	var t *tensor.Dense
	if dt == tensor.Float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = 1
		}
		t = tensor.New(tensor.WithShape(n), tensor.WithBacking(d))
	} else {
		d := make([]float64, n)
		for i := range d {
			d[i] = 1
		}
		t = tensor.New(tensor.WithShape(n), tensor.WithBacking(d))
	}
	return Param{Name: "w", Value: t}
}

func BenchmarkApply(b *testing.B) { benchApply(b, false) }

// BenchmarkApplySerial is BenchmarkApply on one goroutine for the sizes
// that Apply splits, to measure what the split gains on this machine.
func BenchmarkApplySerial(b *testing.B) {
	defer func(v int) { applyParallelMin = v }(applyParallelMin)
	applyParallelMin = math.MaxInt
	benchApply(b, true)
}

func benchApply(b *testing.B, largeOnly bool) {
	for _, sz := range benchApplySizes {
		if largeOnly && sz.n < 2*applyParallelMinDefault {
			continue
		}
		if testing.Short() && sz.n >= 100<<20 {
			continue
		}
		b.Run(sz.name, func(b *testing.B) {
			params := []Param{benchParam(b, sz.n, sz.dt)}
			for _, pat := range benchPatterns {
				b.Run(pat.name, func(b *testing.B) {
					ms := NewMasks(params)
					m := ms.At(0)
					rng := rand.New(rand.NewPCG(1, 2))
					for i := range m.bits {
						m.bits[i] = pat.word(rng)
					}
					m.clearTail()
					m.recount()
					b.SetBytes(int64(sz.n) * int64(sz.dt.Size()))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := ms.Apply(params); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(100*m.Remaining(), "%kept")
				})
			}
		})
	}
}

// BenchmarkCopy is the yardstick for BenchmarkApply: copy() of a slice of
// the same size and dtype.
func BenchmarkCopy(b *testing.B) {
	for _, sz := range benchApplySizes {
		if testing.Short() && sz.n >= 100<<20 {
			continue
		}
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n) * int64(sz.dt.Size()))
			if sz.dt == tensor.Float32 {
				src, dst := make([]float32, sz.n), make([]float32, sz.n)
				benchCopy(b, dst, src)
			} else {
				src, dst := make([]float64, sz.n), make([]float64, sz.n)
				benchCopy(b, dst, src)
			}
		})
	}
}

func benchCopy[T float32 | float64](b *testing.B, dst, src []T) {
	for i := range src {
		src[i] = 1
		dst[i] = 2
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(dst, src)
	}
	if fmt.Sprint(dst[len(dst)-1]) != "1" {
		b.Fatal("copy did not copy")
	}
}
