//go:build amd64 && !purego

package kernel

// cpuid and xgetbv are in cpu_amd64.s.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// HasAVX2 reports whether the CPU and the operating system support AVX2 and
// FMA3, which the kernels use; without them every function here does
// nothing and returns 0 (the caller falls back to Go).
var HasAVX2 = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}()

//go:noescape
func adamAVX(w, grad, m, v *float32, n int, k *[8]float32)

// AdamF32 runs one Adam step (see adam_amd64.s) over the largest multiple
// of 8 entries of w and returns how many it did; the caller does the rest.
// k = {b1, 1-b1, b2, 1-b2, step, inv, eps, wd}.
func AdamF32(w, g, m, v []float32, k *[8]float32) int {
	n := len(w) &^ 7
	if !HasAVX2 || n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX(&w[0], &g[0], &m[0], &v[0], n, k)
	return n
}

//go:noescape
func sgemm6x16(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int)
