package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// poolRef is MaxPool2Row's contract in Go: maxPool's comparisons.
func poolRef(top, bot, y []float32, arg []int32, idx0, w int32) {
	for j := range y {
		vals := [4]float32{top[2*j], top[2*j+1], bot[2*j], bot[2*j+1]}
		idx := [4]int32{idx0 + int32(2*j), idx0 + int32(2*j) + 1, idx0 + w + int32(2*j), idx0 + w + int32(2*j) + 1}
		mx, best := vals[0], idx[0]
		for k := 1; k < 4; k++ {
			if v := vals[k]; v > mx || (v != v && mx == mx) {
				mx, best = v, idx[k]
			}
		}
		y[j], arg[j] = mx, best
	}
}

// TestMaxPool2Row checks the AVX-512 pooling against poolRef, bit for bit,
// on every row length from 1 to 40 (full and partial groups of 16), with
// ties, NaN, ±Inf and signed zeros, and that it reads and writes nothing
// past its slices' ends.
func TestMaxPool2Row(t *testing.T) {
	if !HasAVX512 {
		t.Skip("no AVX-512")
	}
	defer SetAVX512(SetAVX512(true))
	rng := rand.New(rand.NewPCG(7, 7))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, 1, -1, 2}
	for n := 1; n <= 40; n++ {
		for trial := 0; trial < 20; trial++ {
			top, bot := make([]float32, 2*n), make([]float32, 2*n)
			for i := range top {
				if trial%2 == 0 {
					top[i], bot[i] = special[rng.IntN(len(special))], special[rng.IntN(len(special))]
				} else {
					top[i], bot[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				}
			}
			// y and arg inside longer slices: the entries past n must stay
			ybuf, abuf := make([]float32, n+16), make([]int32, n+16)
			for i := range ybuf {
				ybuf[i], abuf[i] = -7, -7
			}
			y, arg := ybuf[:n], abuf[:n]
			want, wantArg := make([]float32, n), make([]int32, n)
			idx0, w := int32(rng.IntN(1000)), int32(2*n+rng.IntN(5))
			poolRef(top, bot, want, wantArg, idx0, w)
			if !MaxPool2Row(top, bot, y, arg, idx0, w) {
				t.Fatal("MaxPool2Row did nothing with AVX-512 on")
			}
			for j := 0; j < n; j++ {
				if math.Float32bits(y[j]) != math.Float32bits(want[j]) || arg[j] != wantArg[j] {
					t.Fatalf("n=%d trial %d window %d (%v %v / %v %v): got %v at %d, want %v at %d", n, trial, j,
						top[2*j], top[2*j+1], bot[2*j], bot[2*j+1], y[j], arg[j], want[j], wantArg[j])
				}
			}
			for i := n; i < len(ybuf); i++ {
				if ybuf[i] != -7 || abuf[i] != -7 {
					t.Fatalf("n=%d: wrote past the end at %d", n, i)
				}
			}
		}
	}
	SetAVX512(false)
	if MaxPool2Row(make([]float32, 2), make([]float32, 2), make([]float32, 1), make([]int32, 1), 0, 2) {
		t.Error("MaxPool2Row ran with AVX-512 off")
	}
}
