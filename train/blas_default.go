//go:build !openblas

package train

// SetBLASThreads sets the number of threads OpenBLAS uses, in a build with
// the openblas tag. In the default, pure-Go build it does nothing.
func SetBLASThreads(n int) {}

const openblas = false
