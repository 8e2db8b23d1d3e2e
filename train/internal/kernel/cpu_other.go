//go:build !amd64 || purego

package kernel

// HasAVX2 is false: the kernels are for amd64 only.
const HasAVX2 = false

// AdamF32 does nothing on this platform and returns 0.
func AdamF32(w, g, m, v []float32, k *[8]float32) int { return 0 }

func sgemm6x16(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int) {
	panic("kernel: no sgemm kernel on this platform")
}
