//go:build !amd64 || purego

package kernel

// HasAVX2 and HasAVX512 are false: the kernels are for amd64 only.
const HasAVX2, HasAVX512 = false, false

// SetAVX512 does nothing on this platform and returns false.
func SetAVX512(on bool) bool { return false }

// Path names the kernels in use: "go" (none) on this platform.
func Path() string { return "go" }

// AdamF32 does nothing on this platform and returns 0.
func AdamF32(w, g, m, v []float32, k *AdamCoef, decay bool) int { return 0 }

func sgemm6x16(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int) {
	panic("kernel: no sgemm kernel on this platform")
}

func sgemm12x32(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int) {
	panic("kernel: no sgemm kernel on this platform")
}

// useAVX512 is false: there is no AVX-512 kernel on this platform.
const useAVX512 = false
