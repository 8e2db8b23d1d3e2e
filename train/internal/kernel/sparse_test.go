package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randMatrix returns n normal values, about a fifth of them zero (as after
// a ReLU) when zeros is set.
func randMatrix(rng *rand.Rand, n int, zeros bool) []float32 {
	s := make([]float32, n)
	for i := range s {
		if zeros && rng.IntN(5) == 0 {
			continue
		}
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v (%#x), dense kernel gives %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestPatternBitIdentical compares every sparse product with Sgemm on the
// masked dense matrix, bit for bit, over sizes that cross the 256-blocks of
// the inner index and batches that cross the 8- and 64-lane chunks, with
// the AVX2 kernels and (where the CPU has them) the AVX-512 ones.
func TestPatternBitIdentical(t *testing.T) {
	if !HasAVX2 {
		t.Skip("no AVX2/FMA")
	}
	defer SetAVX512(SetAVX512(false))
	for _, on := range []bool{false, true} {
		if on && !HasAVX512 {
			continue
		}
		SetAVX512(on)
		testPattern(t)
	}
}

func testPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := [][2]int{{784, 300}, {300, 100}, {100, 10}, {5, 3}, {257, 513}, {1, 1}}
	for _, sz := range sizes {
		k, n := sz[0], sz[1]
		for _, density := range []float64{1, 0.2, 0.07, 0.02, 0} {
			keep := make([]bool, k*n)
			w := make([]float32, k*n)
			for i := range w {
				if rng.Float64() < density {
					keep[i] = true
					w[i] = float32(rng.NormFloat64())
				}
			}
			p, err := NewPattern(k, n, func(i int) bool { return keep[i] })
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{1, 3, 8, 60, 64, 100, 300} {
				x := randMatrix(rng, batch*k, true)
				dz := randMatrix(rng, batch*n, false)
				bias := randMatrix(rng, n, false)
				// Forward
				want := make([]float32, batch*n)
				for i := 0; i < batch; i++ {
					copy(want[i*n:], bias)
				}
				got := append([]float32(nil), want...)
				got2 := append([]float32(nil), want...)
				Sgemm(false, false, batch, n, k, x, k, w, n, 1, want, n)
				p.Forward(got, x, w, batch)
				sameBits(t, "Forward", got, want)
				got3 := randMatrix(rng, batch*n, false)
				p.ForwardBias(got3, x, w, bias, batch)
				sameBits(t, "ForwardBias", got3, want)
				p.SetWeights(w)
				p.ForwardScatter(got2, x, batch)
				sameBits(t, "ForwardScatter", got2, want)
				// GradX
				wantX := randMatrix(rng, batch*k, false)
				gotX := randMatrix(rng, batch*k, false)
				Sgemm(false, true, batch, k, n, dz, n, w, n, 0, wantX, k)
				p.GradX(gotX, dz, w, batch)
				sameBits(t, "GradX", gotX, wantX)
				// GradW
				wantW := randMatrix(rng, k*n, false)
				Sgemm(true, false, k, n, batch, x, k, dz, n, 0, wantW, n)
				for i := range wantW {
					if !keep[i] {
						wantW[i] = 0
					}
				}
				gotW := randMatrix(rng, k*n, false)
				p.GradW(gotW, x, dz, batch)
				sameBits(t, "GradW", gotW, wantW)
				p.GradW(gotW, x, dz, batch) // the second call does not clear
				sameBits(t, "GradW again", gotW, wantW)
				sameBits(t, "KeptGrad", keptGrad(t, p), gatherAt(wantW, p.KeptOffsets()))
				p.GradW(nil, x, dz, batch)
				sameBits(t, "KeptGrad without dw", keptGrad(t, p), gatherAt(wantW, p.KeptOffsets()))
				if _, ok := p.KeptGrad(); ok {
					t.Fatal("KeptGrad: a second call says the gradient is new")
				}
				// An optimizer step through KeptValues, then the
				// products with the new weights.
				p.Forward(append([]float32(nil), got...), x, w, batch)
				vals := p.KeptValues(w)
				sameBits(t, "KeptValues", vals, gatherAt(w, p.KeptOffsets()))
				for q, o := range p.KeptOffsets() {
					vals[q] *= 0.5
					w[o] = vals[q]
				}
				Sgemm(false, true, batch, k, n, dz, n, w, n, 0, wantX, k)
				p.GradX(gotX, dz, w, batch)
				sameBits(t, "GradX after KeptValues", gotX, wantX)
			}
		}
	}
}

func keptGrad(t *testing.T, p *Pattern) []float32 {
	t.Helper()
	g, ok := p.KeptGrad()
	if !ok {
		t.Fatal("KeptGrad: GradW's gradient is not marked new")
	}
	return g
}

func gatherAt(a []float32, off []int32) []float32 {
	out := make([]float32, len(off))
	for q, o := range off {
		out[q] = a[o]
	}
	return out
}

func TestNewPatternRejects(t *testing.T) {
	if !HasAVX2 {
		t.Skip("no AVX2/FMA")
	}
	for _, sz := range [][2]int{{0, 1}, {1, 0}, {-1, 5}, {1 << 20, 1 << 20}} {
		if _, err := NewPattern(sz[0], sz[1], func(int) bool { return true }); err == nil {
			t.Errorf("NewPattern(%d, %d) accepted", sz[0], sz[1])
		}
	}
}
