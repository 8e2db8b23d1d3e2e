//go:build openblas

package train

// With the openblas build tag, importing this package makes Gorgonia (and
// the matrix products of this package's ops) use OpenBLAS through gonum's
// cgo bindings, gonum.org/v1/netlib/blas/netlib, linked with -lopenblas
// (Debian: apt install libopenblas-dev). No environment variable is needed:
// the cgo directive below adds the library to the link.
//
// OpenBLAS is limited to one thread at start-up (openblas_set_num_threads),
// so that a Trainer uses one core, like the one-thread PyTorch figure it is
// compared with, and so that trainers running in parallel goroutines do not
// oversubscribe the machine. Call SetBLASThreads to change it.

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
*/
import "C"

import (
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
)

func init() {
	C.openblas_set_num_threads(1)
	gorgonia.Use(netlib.Implementation{})
}

const openblas = true

// BLAS names the build: "openblas" with the openblas build tag, "go"
// otherwise. Backend says which code runs.
const BLAS = "openblas"

// SetBLASThreads sets the number of threads OpenBLAS uses (1 at start-up).
// It is a process-wide setting. In the default, pure-Go build it does
// nothing.
func SetBLASThreads(n int) {
	if n < 1 {
		n = 1
	}
	C.openblas_set_num_threads(C.int(n))
}
