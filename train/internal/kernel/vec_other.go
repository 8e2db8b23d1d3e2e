//go:build !amd64 || purego

package kernel

func addAVX2(dst, src *float32, n int) {
	panic("kernel: no AVX2 add on this platform")
}

func maxPool2Row512(top, bot, y *float32, arg *int32, n int, idx0, w int32) {
	panic("kernel: no AVX-512 pooling on this platform")
}
