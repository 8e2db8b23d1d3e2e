//go:build amd64 && !purego

package kernel

import "os"

// cpuid and xgetbv are in cpu_amd64.s.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// HasAVX2 reports whether the CPU and the operating system support AVX2 and
// FMA3, which the kernels use; without them every function here does
// nothing and returns 0 (the caller falls back to Go). HasAVX512 reports
// AVX-512F besides. The environment variable SHEARS_CPU, read once at start,
// limits both to an older CPU's, to measure or test its paths on this one:
// SHEARS_CPU=avx2 turns AVX-512 off, SHEARS_CPU=generic every assembly
// kernel (the Go code runs).
var HasAVX2, HasAVX512 = cpuFeatures(os.Getenv("SHEARS_CPU"))

// cpuFeatures returns the CPU's features as limited by a SHEARS_CPU value.
func cpuFeatures(env string) (avx2, avx512 bool) {
	avx2, avx512 = features()
	return limit(env, avx2, avx512)
}

// limit applies a SHEARS_CPU value to the features avx2 and avx512; an
// empty or unknown value leaves them as they are.
func limit(env string, avx2, avx512 bool) (bool, bool) {
	switch env {
	case "avx2":
		return avx2, false
	case "generic":
		return false, false
	}
	return avx2, avx512
}

// features reads CPUID and XCR0. AVX2 needs FMA, AVX2, OSXSAVE and the XMM
// and YMM state enabled by the OS (XCR0 bits 1, 2); AVX-512 needs AVX512F
// besides, and the opmask and ZMM state enabled (XCR0 bits 5, 6, 7).
func features() (avx2, avx512 bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false
	}
	xcr0, _ := xgetbv()
	if xcr0&6 != 6 {
		return false, false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	avx2 = ebx7&(1<<5) != 0
	avx512 = avx2 && ebx7&(1<<16) != 0 && xcr0&0xe6 == 0xe6
	return avx2, avx512
}

// useAVX512 selects the AVX-512 kernels; SetAVX512 changes it.
var useAVX512 = HasAVX512

// SetAVX512 selects the AVX-512 kernels (on) or the AVX2 ones (off) and
// returns the previous setting. On a CPU without AVX-512 it does nothing
// and returns false. Both give bit-identical results (see Sgemm and
// AdamF32); tests and benchmarks use it to compare them. It is not safe to
// call while kernels run.
func SetAVX512(on bool) bool {
	prev := useAVX512
	useAVX512 = on && HasAVX512
	return prev
}

// Path names the kernels in use: "avx512", "avx2" or "go" (none: the
// callers use Go code).
func Path() string {
	switch {
	case useAVX512:
		return "avx512"
	case HasAVX2:
		return "avx2"
	}
	return "go"
}

//go:noescape
func adamAVX2(w, grad, m, v *float32, n int, k *AdamCoef, decay bool)

//go:noescape
func adamAVX512(w, grad, m, v *float32, n int, k *AdamCoef, decay bool)

// AdamF32 runs Adam's update (see adam_amd64.s) over the first entries of
// w, g, m and v (a multiple of 8 or 16) and returns how many it did; the
// caller does the rest with the same formula in Go. decay says whether k's
// weight decay is non-zero.
func AdamF32(w, g, m, v []float32, k *AdamCoef, decay bool) int {
	if !HasAVX2 {
		return 0
	}
	if useAVX512 {
		if n := len(w) &^ 15; n > 0 {
			_, _, _ = g[n-1], m[n-1], v[n-1]
			adamAVX512(&w[0], &g[0], &m[0], &v[0], n, k, decay)
			return n
		}
	}
	n := len(w) &^ 7
	if n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX2(&w[0], &g[0], &m[0], &v[0], n, k, decay)
	return n
}

//go:noescape
func sgemm6x16(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int)

//go:noescape
func sgemm12x32(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int)
