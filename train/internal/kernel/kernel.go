// Package kernel holds the assembly kernels of package train (AVX2 and FMA
// on amd64; AVX-512 versions where the CPU and OS support them: the matrix
// product, Adam and 2×2 max pooling), with pure-Go fallbacks elsewhere. It
// is separate from train because a package cannot have both cgo (train's
// openblas build) and assembly files.
package kernel
