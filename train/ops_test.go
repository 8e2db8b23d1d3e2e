package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lossAndGrads runs the training graph once on the first batch of d and
// returns the loss and a copy of every gradient.
func lossAndGrads(t *testing.T, tg *trainGraph, d *Dataset) (float64, [][]float64) {
	t.Helper()
	f := d.Features()
	for i := 0; i < tg.batch; i++ {
		tg.setRow(i, d.X[i*f:(i+1)*f], d.Y[i])
	}
	if err := tg.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	loss, err := scalar(tg.vm.value(tg.loss))
	if err != nil {
		t.Fatal(err)
	}
	var gs [][]float64
	for _, g := range tg.grads {
		gd := tg.vm.value(g).(*tensor.Dense)
		out := make([]float64, gd.Shape().TotalSize())
		if gd.Dtype() == tensor.Float32 {
			for i, v := range floats[float32](gd) {
				out[i] = float64(v)
			}
		} else {
			copy(out, floats[float64](gd))
		}
		gs = append(gs, out)
	}
	return loss, gs
}

// gradCheck compares the gradients of m's training graph, in float64, with
// central finite differences of the loss, on a few entries of each param.
func gradCheck(t *testing.T, m Model, shape []int, classes, batch int) {
	t.Helper()
	d := synthetic(batch, shape, classes, 5)
	w, err := NewWeights(m, tensor.Float64, rand.New(rand.NewPCG(2, 3)))
	if err != nil {
		t.Fatal(err)
	}
	// non-zero biases, so that their gradients are exercised at a generic point
	rng := rand.New(rand.NewPCG(9, 9))
	for i, name := range w.Names() {
		if !w.prunable[i] {
			for j := range w.Tensor(name).Float64s() {
				w.Tensor(name).Float64s()[j] = 0.1 * rng.NormFloat64()
			}
		}
	}
	tg, err := buildTrainGraph(m, w, batch, shape)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.vm.Close()
	_, grads := lossAndGrads(t, tg, d)
	const h = 1e-6
	for pi, name := range w.Names() {
		vals := w.Tensor(name).Float64s()
		for _, j := range []int{0, len(vals) / 3, len(vals) / 2, len(vals) - 1} {
			old := vals[j]
			vals[j] = old + h
			lp, _ := lossAndGrads(t, tg, d)
			vals[j] = old - h
			lm, _ := lossAndGrads(t, tg, d)
			vals[j] = old
			num := (lp - lm) / (2 * h)
			got := grads[pi][j]
			if math.Abs(num-got) > 1e-5*(1+math.Abs(num)) {
				t.Errorf("%s: d loss/d %s[%d] = %.9g, finite difference %.9g", m.Name(), name, j, got, num)
			}
		}
	}
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	mlp, err := MLP([]int{3, 4}, []int{7, 5}, 4)
	if err != nil {
		t.Fatal(err)
	}
	gradCheck(t, mlp, []int{3, 4}, 4, 5)
	lenet, err := LeNet5([]int{2, 8, 8}, 3)
	if err != nil {
		t.Fatal(err)
	}
	gradCheck(t, lenet, []int{2, 8, 8}, 3, 3)
	strided := &userModel{name: "strided", input: []int{2, 7, 7}, build: func(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
		h, err := Conv(x, w[0], w[1], 2, 1) // 7x7 → 4x4
		if err != nil {
			return nil, err
		}
		if h, err = MaxPool(h, 3); err != nil { // 4x4 → 1x1, window 3 (floor)
			return nil, err
		}
		return Dense(h, w[2], w[3])
	}, specs: []ParamSpec{
		{Name: "c.w", Shape: []int{3, 2, 3, 3}, Prunable: true, Init: GlorotNormal{}},
		{Name: "c.b", Shape: []int{3}},
		{Name: "d.w", Shape: []int{3, 4}, Prunable: true, Init: GlorotNormal{}},
		{Name: "d.b", Shape: []int{4}},
	}}
	gradCheck(t, strided, []int{2, 7, 7}, 4, 2)
}

// userModel is a Model built from a function, for tests.
type userModel struct {
	name  string
	input []int
	specs []ParamSpec
	build func(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error)
}

func (m *userModel) Name() string        { return m.name }
func (m *userModel) Params() []ParamSpec { return cloneSpecs(m.specs) }
func (m *userModel) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	return m.build(g, x, w)
}

// TestConvMatchesDirect compares the im2col convolution with a direct
// six-loop convolution, for strides and paddings.
func TestConvMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct{ b, ch, h, w, o, k, stride, pad int }{
		{2, 3, 5, 6, 4, 3, 1, 1}, {1, 1, 8, 8, 6, 5, 1, 2}, {2, 2, 7, 5, 3, 3, 2, 0}, {1, 2, 4, 4, 2, 2, 3, 1},
	} {
		xs, ws := []int{c.b, c.ch, c.h, c.w}, []int{c.o, c.ch, c.k, c.k}
		g, err := newConvGeom(xs, ws, c.stride, c.pad)
		if err != nil {
			t.Fatal(err)
		}
		x, w, b := make([]float64, prod(xs)), make([]float64, prod(ws)), make([]float64, c.o)
		for _, s := range [][]float64{x, w, b} {
			for i := range s {
				s[i] = rng.NormFloat64()
			}
		}
		y := make([]float64, c.b*c.o*g.OH*g.OW)
		convFwd(g, c.b, x, w, b, y, make([]float64, (g.colRows()+g.O)*convGroup(g)*g.colCols()), false)
		for n := 0; n < c.b; n++ {
			for o := 0; o < c.o; o++ {
				for i := 0; i < g.OH; i++ {
					for j := 0; j < g.OW; j++ {
						s := b[o]
						for ch := 0; ch < c.ch; ch++ {
							for ki := 0; ki < c.k; ki++ {
								for kj := 0; kj < c.k; kj++ {
									ih, iw := i*c.stride-c.pad+ki, j*c.stride-c.pad+kj
									if ih >= 0 && ih < c.h && iw >= 0 && iw < c.w {
										s += x[((n*c.ch+ch)*c.h+ih)*c.w+iw] * w[((o*c.ch+ch)*c.k+ki)*c.k+kj]
									}
								}
							}
						}
						got := y[((n*c.o+o)*g.OH+i)*g.OW+j]
						if math.Abs(got-s) > 1e-9*(1+math.Abs(s)) {
							t.Fatalf("%+v: y[%d,%d,%d,%d] = %v, want %v", c, n, o, i, j, got, s)
						}
					}
				}
			}
		}
	}
}

func TestOpsRejectBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 5), gorgonia.WithName("x"))
	w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(6, 3), gorgonia.WithName("w"))
	b := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(3), gorgonia.WithName("b"))
	if _, err := Dense(x, w, b); err == nil {
		t.Error("Dense accepted a [4,5] input for a [6,3] weight")
	}
	img := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 2, 3, 3), gorgonia.WithName("img"))
	k := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(4, 2, 5, 5), gorgonia.WithName("k"))
	kb := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(4), gorgonia.WithName("kb"))
	if _, err := Conv(img, k, kb, 1, 0); err == nil {
		t.Error("Conv accepted a 5x5 kernel on a 3x3 input")
	}
	if _, err := Conv(img, k, kb, 0, 2); err == nil {
		t.Error("Conv accepted stride 0")
	}
	if _, err := MaxPool(img, 4); err == nil {
		t.Error("MaxPool accepted a 4x4 window on a 3x3 input")
	}
	if _, err := Dense(nil, w, b); err == nil {
		t.Error("Dense accepted a nil node")
	}
	_ = fmt.Sprint()
}
