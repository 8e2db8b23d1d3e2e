package kernel

import "math"

// AdamCoef holds the coefficients of one Adam step for the assembly
// kernels: b1, 1-b1, b2, 1-b2, step, inv, eps, wd, then the float32
// exponent mask used to flush values below the smallest normal float32 to
// zero. Fill it with Set.
type AdamCoef [9]float32

// Set fills k with the coefficients of one Adam step: b1, c1 = 1-b1, b2,
// c2 = 1-b2, step = lr/(1-b1ᵗ), inv = 1/√(1-b2ᵗ), eps and the weight decay
// wd, in float32.
func (k *AdamCoef) Set(b1, c1, b2, c2, step, inv, eps, wd float32) {
	*k = AdamCoef{b1, c1, b2, c2, step, inv, eps, wd, math.Float32frombits(0x7f800000)}
}
