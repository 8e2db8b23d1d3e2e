package kernel

import (
	"math/rand/v2"
	"testing"
)

// TestForwardT: ForwardT on transposed operands gives Forward's result,
// transposed, bit for bit, over sizes crossing the 256-blocks and lane
// counts crossing the 8- and 64-lane chunks.
func TestForwardT(t *testing.T) {
	if !HasAVX2 {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(11, 0))
	for _, sz := range [][2]int{{27, 6}, {150, 16}, {576, 64}, {300, 7}} {
		k, n := sz[0], sz[1]
		keep := make([]bool, k*n)
		for i := range keep {
			keep[i] = rng.IntN(10) == 0
		}
		p, err := NewPattern(k, n, func(i int) bool { return keep[i] })
		if err != nil {
			t.Fatal(err)
		}
		w := randMatrix(rng, k*n, false)
		p.SetWeights(w)
		for _, batch := range []int{3, 8, 64, 77, 200} {
			ld := lanes(batch)
			x := randMatrix(rng, batch*k, true)
			y := randMatrix(rng, batch*n, false)
			xT := make([]float32, k*ld)
			yT := make([]float32, n*ld)
			transpose(xT, x, batch, k, ld)
			transpose(yT, y, batch, n, ld)
			p.Forward(y, x, nil, batch)
			p.ForwardT(yT, xT, ld)
			got := make([]float32, batch*n)
			untranspose(got, yT, batch, n, ld)
			sameBits(t, "ForwardT", got, y)
		}
	}
}
