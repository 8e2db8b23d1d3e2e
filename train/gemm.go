package train

import (
	"fmt"
	"unsafe"

	"github.com/shearsml/shears/train/internal/kernel"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
)

func isGonum(b gorgonia.BLAS) bool {
	_, ok := b.(gonum.Implementation)
	return ok
}

// gemm computes c = op(a)·op(b) + beta·c for row-major matrices, where op(a)
// is m×k and op(b) is k×n (transposed when tA, tB).
//
// float32 products use this package's AVX-512 or AVX2/FMA kernels when
// Gorgonia uses its default BLAS (gonum's pure Go) and the CPU has them
// (the two give bit-identical results); otherwise
// they, and every float64 product, use the BLAS Gorgonia uses
// (gorgonia.WhichBLAS: OpenBLAS with the openblas build tag, or whatever the
// program passed to gorgonia.Use).
func gemm[T float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	impl := gorgonia.WhichBLAS()
	if isF32[T]() && isGonum(impl) && kernel.Sgemm(tA, tB, m, n, k, as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc) {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	var z T
	if unsafe.Sizeof(z) == 4 {
		impl.Sgemm(ta, tb, m, n, k, 1, as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc)
		return
	}
	impl.Dgemm(ta, tb, m, n, k, 1, as64(a), lda, as64(b), ldb, float64(beta), as64(c), ldc)
}

// ownGemm reports whether gemm computes products of T with this package's
// kernels, whose sum for an output element does not depend on the
// product's other sizes (so that splitting a product by rows or columns
// leaves its numbers unchanged).
func ownGemm[T float]() bool {
	return isF32[T]() && isGonum(gorgonia.WhichBLAS()) && kernel.HasAVX2
}

func as32[T float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func as64[T float](s []T) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// isF32 reports whether T is float32.
func isF32[T float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// Backend names what computes the float32 matrix products of this package's
// ops: "openblas" (a build with the openblas tag), "go-avx512" or "go-avx2"
// (the default build's assembly kernels, on amd64 with AVX-512, or with
// AVX2 and FMA; both give the same numbers, bit for bit) or "gonum"
// (gonum's pure-Go BLAS, on other CPUs; its numbers differ in the last
// bits, as Go has no float32 fused multiply-add). After a program's own gorgonia.Use with
// another BLAS, it is that BLAS's Go type.
func Backend() string {
	impl := gorgonia.WhichBLAS()
	switch {
	case openblas && !isGonum(impl):
		return "openblas"
	case isGonum(impl) && kernel.HasAVX2:
		return "go-" + kernel.Path()
	case isGonum(impl):
		return "gonum"
	}
	return fmt.Sprintf("%T", impl)
}
