//go:build !openblas

package train

// BLAS names the BLAS that Gorgonia and this package's ops use: "gonum"
// (pure Go) in the default build; "openblas" with the openblas build tag.
const BLAS = "gonum"

// SetBLASThreads sets the number of threads OpenBLAS uses, in a build with
// the openblas tag. In the default, pure-Go build it does nothing.
func SetBLASThreads(n int) {}
