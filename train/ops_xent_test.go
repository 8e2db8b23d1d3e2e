package train

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestXentMemo: the loss's gradient computed from the terms the loss kept
// (xentMemo) is the gradient computed from scratch, bit for bit, and so is
// the loss; rows holding NaN or infinities included, and a memo is used
// once, for the logits it was made from only.
func TestXentMemo(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	const batch, classes = 7, 10
	for _, special := range []float64{0, math.NaN(), math.Inf(1), math.Inf(-1), 1e30} {
		z := make([]float32, batch*classes)
		y := make([]float32, batch)
		for i := range z {
			z[i] = float32(rng.NormFloat64() * 5)
		}
		for i := range y {
			y[i] = float32(rng.IntN(classes))
		}
		if special != 0 {
			z[3*classes+rng.IntN(classes)] = float32(special)
		}
		var memo xentMemo
		lossM, err := xentLoss(z, y, batch, classes, &memo)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := xentLoss(z, y, batch, classes, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(loss) != math.Float64bits(lossM) && !(math.IsNaN(loss) && math.IsNaN(lossM)) {
			t.Errorf("%v: loss %v with the memo, %v without", special, lossM, loss)
		}
		other := append([]float32(nil), z...)
		if memo.rows(unsafe.Pointer(&other[0]), batch*classes) != nil {
			t.Fatal("the memo serves other logits")
		}
		mm := memo.rows(unsafe.Pointer(&z[0]), batch*classes)
		if mm == nil {
			t.Fatal("the memo does not serve its logits")
		}
		if memo.rows(unsafe.Pointer(&z[0]), batch*classes) != nil {
			t.Fatal("the memo serves twice")
		}
		got, want := make([]float32, batch*classes), make([]float32, batch*classes)
		if err := xentGrad(z, y, got, batch, classes, 1, mm); err != nil {
			t.Fatal(err)
		}
		if err := xentGrad(z, y, want, batch, classes, 1, nil); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: gradient [%d] = %v with the memo, %v without", special, i, got[i], want[i])
			}
		}
	}
}
