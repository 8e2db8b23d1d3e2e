//go:build !amd64 || purego

package kernel

func addAVX2(dst, src *float32, n int) {
	panic("kernel: no AVX2 add on this platform")
}
