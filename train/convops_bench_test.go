package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkConvOps times each convolution op of LeNet-5's and Conv-2's
// layers on a batch of 60, one at a time, on float32.
func BenchmarkConvOps(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	rnd := func(s ...int) *tensor.Dense {
		d := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(s...))
		for i := range d.Float32s() {
			d.Float32s()[i] = float32(rng.NormFloat64())
		}
		return d
	}
	for _, c := range []struct {
		name            string
		c, h, o, k, pad int
	}{
		{"lenet5.conv1", 1, 28, 6, 5, 2},
		{"lenet5.conv2", 6, 14, 16, 5, 2},
		{"conv2.conv1", 3, 32, 64, 3, 1},
		{"conv2.conv2", 64, 32, 64, 3, 1},
	} {
		const batch = 60
		x, w, bias := rnd(batch, c.c, c.h, c.h), rnd(c.o, c.c, c.k, c.k), rnd(c.o)
		dz := rnd(batch, c.o, c.h, c.h)
		y := rnd(batch, c.o, c.h, c.h)
		pool := &maxPoolOp{size: 2}
		for _, o := range []struct {
			name string
			op   interface {
				Do(...gorgonia.Value) (gorgonia.Value, error)
			}
			in []gorgonia.Value
		}{
			{"fwd", &convOp{stride: 1, pad: c.pad, relu: true}, []gorgonia.Value{x, w, bias}},
			{"gradW", &convGradWOp{stride: 1, pad: c.pad, wShape: w.Shape().Clone()}, []gorgonia.Value{x, dz}},
			{"gradX", &convGradXOp{stride: 1, pad: c.pad, xShape: x.Shape().Clone()}, []gorgonia.Value{dz, w}},
			{"pool", pool, []gorgonia.Value{y}},
			{"reluGrad", &reluGradOp{dims: 4}, []gorgonia.Value{y, dz}},
			{"chanSum", &chanSumOp{}, []gorgonia.Value{dz}},
		} {
			b.Run(fmt.Sprintf("%s/%s", c.name, o.name), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, err := o.op.Do(o.in...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
