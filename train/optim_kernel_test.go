package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/train/internal/kernel"
)

// adamInputs returns w, g, m, v of n entries: normal values, with some
// entries (every 5th, 7th, 11th) in or near the denormal range, zeros of
// both signs, and NaN and Inf gradients.
func adamInputs(rng *rand.Rand, n int) (w, g, m, v []float32) {
	mk := func(scale float64) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64() * scale)
		}
		return s
	}
	w, g, m, v = mk(1), mk(0.1), mk(0.01), mk(0.001)
	tiny := math.Float32frombits(0x00800000)
	for i := range v {
		v[i] = float32(math.Abs(float64(v[i])))
		switch {
		case i%5 == 1:
			g[i] = tiny * float32(rng.Float64()*2-1) // denormal gradient
		case i%7 == 2:
			m[i], v[i] = tiny*1.05, tiny*1.2 // moments about to decay below normal
			g[i] = 0
		case i%11 == 3:
			g[i] = float32(rng.NormFloat64() * 1e-20) // squares underflow
		case i%13 == 4:
			g[i] = float32(math.Copysign(0, -1))
		case i == 29:
			g[i] = float32(math.NaN())
		case i == 30:
			g[i] = float32(math.Inf(-1))
		}
	}
	return w, g, m, v
}

func bitsEqual(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

// TestAdamKernelMatchesGo checks that the assembly Adam kernels (AVX2 and,
// where the CPU has it, AVX-512) give bit-identical weights and moments to
// adamElem, with and without weight decay, over lengths that exercise the
// tails, on inputs with denormals, underflows, signed zeros, NaN and Inf.
func TestAdamKernelMatchesGo(t *testing.T) {
	paths := []bool{false}
	if kernel.HasAVX512 {
		paths = append(paths, true)
	}
	defer kernel.SetAVX512(kernel.SetAVX512(false))
	for _, avx512 := range paths {
		kernel.SetAVX512(avx512)
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 64, 1000} {
			for _, wd := range []float64{0, 1e-2} {
				w, g, m, v := adamInputs(rng, n)
				w2, g2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
				k := newAdamCoef[float32](0.9, 0.999, 1.2e-3/0.1, 1/math.Sqrt(0.001), 1e-8, wd)
				for step := 0; step < 3; step++ {
					adamStep(w, g, m, v, &k)
					for i := range w2 {
						w2[i], m2[i], v2[i] = adamElem(w2[i], g2[i], m2[i], v2[i], &k)
					}
				}
				for i := range w {
					if !bitsEqual(w[i], w2[i]) || !bitsEqual(m[i], m2[i]) || !bitsEqual(v[i], v2[i]) {
						t.Fatalf("%s n=%d wd=%v: entry %d: kernel w=%v m=%v v=%v, Go w=%v m=%v v=%v", kernel.Path(), n, wd, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
					}
				}
				for i := range m {
					if isDenormal(m[i]) || isDenormal(v[i]) {
						t.Fatalf("%s n=%d: entry %d: denormal moment m=%g v=%g", kernel.Path(), n, i, m[i], v[i])
					}
				}
			}
		}
	}
}

func isDenormal(x float32) bool { return x != 0 && math.Float32bits(x)&0x7f800000 == 0 }

func TestFlushTiny(t *testing.T) {
	tiny32 := math.Float32frombits(0x00800000)
	for _, c := range []struct{ in, want float32 }{
		{tiny32, tiny32}, {-tiny32, -tiny32}, {tiny32 / 2, 0}, {-tiny32 / 2, 0}, {math.Float32frombits(1), 0},
		{1, 1}, {float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := flushTiny(c.in); !bitsEqual(got, c.want) {
			t.Errorf("flushTiny(%g) = %g, want %g", c.in, got, c.want)
		}
	}
	if got := flushTiny(float32(math.NaN())); got == got {
		t.Errorf("flushTiny(NaN) = %v, want NaN", got)
	}
	tiny64 := math.Float64frombits(0x0010000000000000)
	if flushTiny(tiny64/2) != 0 || flushTiny(tiny64) != tiny64 || flushTiny(1e-300) != 1e-300 {
		t.Error("flushTiny(float64) does not flush below 2⁻¹⁰²² exactly")
	}
}

// TestAdamMomentsReachZero checks that the moments of a weight whose
// gradient stays zero (a pruned weight) reach exactly zero, never lingering
// as denormals, in float32 and float64.
func TestAdamMomentsReachZero(t *testing.T) {
	w, g := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, make([]float32, 9)
	m, v := make([]float32, 9), make([]float32, 9)
	for i := range m {
		m[i], v[i] = 0.5, 0.25
	}
	k := newAdamCoef[float32](0.9, 0.999, 1e-3, 1, 1e-8, 0)
	for step := 0; step < 100000 && (m[0] != 0 || v[0] != 0); step++ {
		adamStep(w, g, m, v, &k)
		for i := range m {
			if isDenormal(m[i]) || isDenormal(v[i]) {
				t.Fatalf("step %d: entry %d: denormal moment m=%g v=%g", step, i, m[i], v[i])
			}
		}
	}
	if m[0] != 0 || v[0] != 0 {
		t.Errorf("moments m=%g v=%g, want 0 after 100000 steps of zero gradient", m[0], v[0])
	}
}

// BenchmarkAdam times Adam's update of LeNet-300-100's 266,610 float32
// weights with normal gradients, and with denormal gradients on moments
// that start in the denormal range (as after many steps of tiny or zero
// gradients): the two speeds should match, since the moments are flushed
// to zero. It runs the kernel path in use (AVX-512 where the CPU has it) and
// AVX2.
func BenchmarkAdam(b *testing.B) {
	const n = 266610
	paths := []bool{false}
	if kernel.HasAVX512 {
		paths = append(paths, true)
	}
	defer kernel.SetAVX512(kernel.SetAVX512(false))
	for _, avx512 := range paths {
		for _, denorm := range []bool{false, true} {
			kernel.SetAVX512(avx512)
			name := fmt.Sprintf("%s/normal", kernel.Path())
			rng := rand.New(rand.NewPCG(1, 1))
			w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
				g[i] = float32(rng.NormFloat64() * 1e-2)
				m[i], v[i] = g[i], g[i]*g[i]
			}
			if denorm {
				name = fmt.Sprintf("%s/denormal", kernel.Path())
				for i := range g {
					g[i] = math.Float32frombits(uint32(rng.IntN(0x7fffff)) + 1) // denormal
					m[i], v[i] = g[i]*20, g[i]*30
				}
			}
			k := newAdamCoef[float32](0.9, 0.999, 1.2e-3, 1, 1e-8, 0)
			b.Run(name, func(b *testing.B) {
				kernel.SetAVX512(avx512)
				for i := 0; i < b.N; i++ {
					adamStep(w, g, m, v, &k)
				}
			})
		}
	}
}
