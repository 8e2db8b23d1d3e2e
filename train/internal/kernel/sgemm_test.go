package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func refGemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				var av, bv float32
				if tA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if tB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = s + float64(beta)*float64(c[i*ldc+j])
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	if !HasAVX2 {
		t.Skip("no AVX2/FMA")
	}
	defer SetAVX512(SetAVX512(false))
	for _, on := range []bool{false, true} {
		if on && !HasAVX512 {
			continue
		}
		SetAVX512(on)
		t.Run(Path(), testSgemm)
	}
}

func testSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {60, 300, 784}, {784, 300, 60}, {60, 784, 300}, {13, 5, 257}, {97, 1030, 9}, {5, 3, 600}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.5} {
					lda, ldb, ldc := k+1, n+2, n+3
					if tA {
						lda = m + 1
					}
					if tB {
						ldb = k + 2
					}
					rows := func(r, ld int) []float32 {
						s := make([]float32, r*ld)
						for i := range s {
							s[i] = float32(rng.NormFloat64())
						}
						return s
					}
					ar, br := m, k
					if tA {
						ar = k
					}
					if tB {
						br = n
					}
					a, b, c := rows(ar, lda), rows(br, ldb), rows(m, ldc)
					want := refGemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
					c0 := append([]float32(nil), c...)
					if !Sgemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc) {
						t.Fatal("Sgemm refused valid arguments")
					}
					for i := 0; i < m; i++ {
						for j := 0; j < ldc; j++ {
							got := c[i*ldc+j]
							if j >= n {
								if got != c0[i*ldc+j] {
									t.Fatalf("%v tA=%v tB=%v: wrote outside the matrix at (%d,%d)", sz, tA, tB, i, j)
								}
								continue
							}
							w := want[i*n+j]
							if math.Abs(float64(got)-w) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(w)) {
								t.Fatalf("%v tA=%v tB=%v beta=%v: c[%d,%d] = %v, want %v", sz, tA, tB, beta, i, j, got, w)
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmPathsIdentical checks that the AVX-512 and AVX2 kernels give
// bit-identical products, over sizes that cover full and edge tiles of both
// and several 256-blocks of k, all transpositions and betas, on inputs that
// make rounding differences likely (wide magnitudes, cancellations).
func TestSgemmPathsIdentical(t *testing.T) {
	if !HasAVX512 {
		t.Skip("no AVX-512")
	}
	defer SetAVX512(SetAVX512(false))
	rng := rand.New(rand.NewPCG(5, 6))
	val := func() float32 {
		return float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(20)-10)))
	}
	sizes := [][3]int{{1, 1, 1}, {12, 32, 256}, {13, 33, 257}, {60, 300, 784}, {784, 300, 60}, {60, 100, 300}, {6, 1024, 27}, {25, 1050, 520}, {5, 3, 513}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.75} {
					ar, ac, br, bc := m, k, k, n
					if tA {
						ar, ac = k, m
					}
					if tB {
						br, bc = n, k
					}
					a, b, c := make([]float32, ar*ac), make([]float32, br*bc), make([]float32, m*n)
					for _, s := range [][]float32{a, b, c} {
						for i := range s {
							s[i] = val()
						}
					}
					c2 := append([]float32(nil), c...)
					SetAVX512(false)
					Sgemm(tA, tB, m, n, k, a, ac, b, bc, beta, c, n)
					SetAVX512(true)
					Sgemm(tA, tB, m, n, k, a, ac, b, bc, beta, c2, n)
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(c2[i]) {
							t.Fatalf("%v tA=%v tB=%v beta=%v: c[%d] = %v (AVX2), %v (AVX-512)", sz, tA, tB, beta, i, c[i], c2[i])
						}
					}
				}
			}
		}
	}
}

func TestSgemmRejects(t *testing.T) {
	if Sgemm(false, false, 2, 2, 2, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2) {
		t.Error("accepted a too-short a")
	}
	if Sgemm(false, false, 2, 2, 2, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2) {
		t.Error("accepted lda < k")
	}
}

func BenchmarkSgemm(b *testing.B) {
	defer SetAVX512(SetAVX512(false))
	for _, on := range []bool{false, true} {
		if on && !HasAVX512 {
			continue
		}
		SetAVX512(on)
		benchSgemm(b)
	}
}

func benchSgemm(b *testing.B) {
	for _, sz := range [][3]int{{60, 300, 784}, {784, 300, 60}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		tA := sz[0] == 784
		b.Run(fmt.Sprintf("%s/%dx%dx%d", Path(), m, n, k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Sgemm(tA, false, m, n, k, a, map[bool]int{false: k, true: m}[tA], bb, n, 0, c, n)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
