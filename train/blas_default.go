//go:build !openblas

package train

// SetBLASThreads sets the number of threads OpenBLAS uses, in a build with
// the openblas tag. In the default, pure-Go build it does nothing.
func SetBLASThreads(n int) {}

const openblas = false

// BLAS names the build: "go" by default (float32 products by this
// package's AVX2 kernel where the CPU has AVX2 and FMA, by gonum's pure-Go
// BLAS elsewhere), "openblas" with the openblas build tag. Backend says
// which code runs.
const BLAS = "go"
