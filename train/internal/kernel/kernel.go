// Package kernel holds the assembly kernels of package train (AVX2 and FMA
// on amd64), with pure-Go fallbacks elsewhere. It is separate from train
// because a package cannot have both cgo (train's openblas build) and
// assembly files.
package kernel
