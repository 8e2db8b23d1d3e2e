package infer_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// chainTanh is not a chain: a dense layer, then Gorgonia's tanh.
type chainTanh struct{}

func (chainTanh) Name() string { return "chaintanh" }
func (chainTanh) Params() []train.ParamSpec {
	return []train.ParamSpec{{Name: "w", Shape: []int{4, 2}, Init: train.Zeros{}}, {Name: "b", Shape: []int{2}, Init: train.Zeros{}}}
}
func (chainTanh) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	h, err := train.Dense(x, w[0], w[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Tanh(h)
}

// strided is a chain with the geometry the built-in models do not use: a
// 3×3 conv with stride 2 and padding 1 (ReLU), a 3×3 max-pool, a 2×3 conv
// without padding or ReLU, then a dense output.
type strided struct{ c, h, w int }

func (s strided) Name() string { return "strided" }
func (s strided) Params() []train.ParamSpec {
	oh, ow := (s.h+2-3)/2+1, (s.w+2-3)/2+1
	oh, ow = oh/3-2+1, ow/3-3+1
	return []train.ParamSpec{
		{Name: "c1.w", Shape: []int{5, s.c, 3, 3}, Prunable: true, Init: train.GlorotNormal{}},
		{Name: "c1.b", Shape: []int{5}, Init: train.Zeros{}},
		{Name: "c2.w", Shape: []int{4, 5, 2, 3}, Prunable: true, Init: train.GlorotNormal{}},
		{Name: "c2.b", Shape: []int{4}, Init: train.Zeros{}},
		{Name: "fc.w", Shape: []int{4 * oh * ow, 3}, Prunable: true, Init: train.GlorotNormal{}},
		{Name: "fc.b", Shape: []int{3}, Init: train.Zeros{}},
	}
}
func (s strided) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	h, err := train.ConvReLU(x, w[0], w[1], 2, 1)
	if err != nil {
		return nil, err
	}
	if h, err = train.MaxPool(h, 3); err != nil {
		return nil, err
	}
	if h, err = train.Conv(h, w[2], w[3], 1, 0); err != nil {
		return nil, err
	}
	return train.Dense(h, w[4], w[5])
}

// models are every built-in model (on inputs small enough for a test) and
// strided.
func models(t testing.TB) map[string]struct {
	m     train.Model
	input []int
} {
	t.Helper()
	out := map[string]struct {
		m     train.Model
		input []int
	}{}
	add := func(name string, input []int, m train.Model, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out[name] = struct {
			m     train.Model
			input []int
		}{m, input}
	}
	m, err := train.MLP([]int{1, 8, 8}, []int{20, 12}, 10)
	add("mlp", []int{1, 8, 8}, m, err)
	m, err = train.LeNet300100([]int{1, 8, 8}, 10)
	add("lenet300100", []int{1, 8, 8}, m, err)
	m, err = train.LeNet5([]int{1, 12, 12}, 10)
	add("lenet5", []int{1, 12, 12}, m, err)
	m, err = train.Conv2([]int{3, 10, 9}, 10)
	add("conv2", []int{3, 10, 9}, m, err)
	m, err = train.Conv4([]int{2, 8, 8}, 10)
	add("conv4", []int{2, 8, 8}, m, err)
	m, err = train.Conv6([]int{1, 8, 8}, 10)
	add("conv6", []int{1, 8, 8}, m, err)
	add("strided", []int{2, 17, 20}, strided{2, 17, 20}, nil)
	return out
}

// weights returns seeded GlorotNormal weights with non-zero biases, and
// masks keeping remaining of each prunable weight (by magnitude, layer by
// layer), applied.
func weights(t testing.TB, m train.Model, remaining float64) (*train.Weights, *prune.Masks) {
	t.Helper()
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Params() {
		if !s.Prunable {
			b := w.Tensor(s.Name).Float32s()
			for i := range b {
				b[i] = float32(i%7-3) / 50
			}
		}
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if remaining < 1 {
		if err := (prune.Layerwise{Scorer: prune.L1{}, Default: prune.Fraction(1 - remaining)}).Prune(ms, params); err != nil {
			t.Fatal(err)
		}
		if err := ms.Apply(params); err != nil {
			t.Fatal(err)
		}
	}
	return w, ms
}

func randomInputs(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(3) > 0 {
			x[i] = rng.Float32()*2 - 0.5
		}
	}
	return x
}

// sameOrder: the graph's products use this package's kernels, whose sums
// the engine keeps in the same order; the logits are then equal bit for
// bit. With another BLAS (gonum's pure Go on a CPU without AVX2, OpenBLAS)
// the sums round differently.
var sameOrder = strings.HasPrefix(train.Backend(), "go-")

// TestChainsMatchPredictor runs every built-in model and strided, with
// masks at several densities, through the engine with each kernel choice
// and through train.Predictor (the Gorgonia graph) on the same float32
// weights: the logits are equal bit for bit where both use this package's
// kernels (they sum in the same order), else within 1e-4·(1+|z|) (float32
// rounding of sums of a few hundred terms of order 1 in another order).
func TestChainsMatchPredictor(t *testing.T) {
	for name, c := range models(t) {
		for _, remaining := range []float64{1, 0.3, 0.05} {
			w, ms := weights(t, c.m, remaining)
			f := 1
			for _, d := range c.input {
				f *= d
			}
			for _, batch := range []int{1, 5} {
				p, err := train.NewPredictor(c.m, w, batch, c.input)
				if err != nil {
					t.Fatal(err)
				}
				x := randomInputs(batch*f, uint64(batch))
				want, err := p.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				p.Close()
				for _, k := range []train.Kernels{train.KernelsDense, train.KernelsSparse, train.KernelsAuto} {
					e, err := infer.New(c.m, c.input, w, ms, k)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if k == train.KernelsSparse && remaining < 1 && sparseOK {
						for i, l := range e.Layers() {
							if l.Weight != "" && !e.Sparse()[i] {
								t.Errorf("%s: layer %d (%s) not sparse under KernelsSparse", name, i, l.Weight)
							}
						}
					}
					got, err := e.Run(x, batch)
					if err != nil {
						t.Fatal(err)
					}
					for i := range want {
						if sameOrder && math.Float32bits(got[i]) != math.Float32bits(want[i]) ||
							math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("%s remaining %v batch %d %v: logit %d is %v, the graph's %v", name, remaining, batch, k, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestConvNoAllocs: once warm, Run allocates nothing on conv models, dense
// or sparse, at batch 1 and 60.
func TestConvNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items)")
	}
	for _, name := range []string{"lenet5", "conv2", "strided"} {
		c := models(t)[name]
		w, ms := weights(t, c.m, 0.05)
		for _, k := range []train.Kernels{train.KernelsDense, train.KernelsSparse} {
			e, err := infer.New(c.m, c.input, w, ms, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{60, 1} {
				x := randomInputs(batch*e.Inputs(), 1)
				if _, err := e.Run(x, batch); err != nil {
					t.Fatal(err)
				}
				if n := testing.AllocsPerRun(20, func() { e.Run(x, batch) }); n != 0 {
					t.Errorf("%s %v batch %d: %v allocations per run", name, k, batch, n)
				}
			}
		}
	}
}

// TestFromLayersRejectsGeometry: FromLayers refuses conv chains whose
// description does not fit their values or each other.
func TestFromLayersRejectsGeometry(t *testing.T) {
	conv := infer.Layer{ChainLayer: train.ChainLayer{Kind: train.LayerConv, Weight: "c", Bias: "cb", In: 1, Out: 2, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1},
		W: make([]float32, 18), B: make([]float32, 2)}
	pool := infer.Layer{ChainLayer: train.ChainLayer{Kind: train.LayerMaxPool, In: 2, Out: 2, H: 4, W: 4, KH: 2, KW: 2, Stride: 2}}
	flat := infer.Layer{ChainLayer: train.ChainLayer{Kind: train.LayerFlatten, In: 2, H: 2, W: 2, Out: 8}}
	dense := infer.Layer{ChainLayer: train.ChainLayer{Weight: "d", In: 8, Out: 3}, W: make([]float32, 24), B: make([]float32, 3)}
	if _, err := infer.FromLayers([]infer.Layer{conv, pool, flat, dense}, train.KernelsAuto); err != nil {
		t.Fatalf("a good chain: %v", err)
	}
	short := conv
	short.W = short.W[:17]
	withVals := pool
	withVals.B = make([]float32, 2)
	noFlat := []infer.Layer{conv, pool, dense}
	for name, ls := range map[string][]infer.Layer{
		"short kernel": {short, pool, flat, dense},
		"pool values":  {conv, withVals, flat, dense},
		"no flatten":   noFlat,
	} {
		if _, err := infer.FromLayers(ls, train.KernelsAuto); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// ExampleNew runs a LeNet-5 with 5% of its weights kept per layer, with
// the kernels KernelsAuto chooses.
func ExampleNew_conv() {
	m, _ := train.LeNet5([]int{1, 28, 28}, 10)
	w, _ := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	params := w.Prunable()
	masks := prune.NewMasks(params)
	_ = prune.Layerwise{Scorer: prune.L1{}, Default: prune.Fraction(0.95)}.Prune(masks, params)
	_ = masks.Apply(params)
	e, err := infer.New(m, []int{1, 28, 28}, w, masks, train.KernelsAuto)
	if err != nil {
		panic(err)
	}
	var kinds []string
	for _, l := range e.Layers() {
		kinds = append(kinds, l.Kind.String())
	}
	fmt.Println(strings.Join(kinds, " "))
	z, _ := e.Run(make([]float32, 2*e.Inputs()), 2)
	fmt.Println(len(z), e.Classes())
	// Output:
	// conv maxpool conv maxpool flatten dense dense dense
	// 20 10
}

// TestReLUAndPoolEdges: the engine's branch-free ReLU and its pools keep
// the graph's treatment of -0, NaN and infinities: a one-channel 2×2 image
// of those values, pooled by a 2×2 window after a 1×1 conv with ReLU,
// against the graph's.
func TestReLUAndPoolEdges(t *testing.T) {
	nan := float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	vals := []float32{negz, 0, -1, 2, nan, -nan, inf, -inf, 1e-45, -1e-45}
	m := edgeNet{}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	w.Tensor("c.w").Float32s()[0] = 1
	w.Tensor("c.b").Float32s()[0] = negz // a -0 bias keeps -0 inputs -0
	w.Tensor("fc.w").Float32s()[0] = 1
	w.Tensor("fc.w").Float32s()[1] = -1
	e, err := infer.New(m, []int{1, 2, 2}, w, nil, train.KernelsDense)
	if err != nil {
		t.Fatal(err)
	}
	p, err := train.NewPredictor(m, w, 1, []int{1, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, a := range vals {
		for _, b := range vals {
			x := []float32{a, b, b, a}
			want, err := p.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Run(x, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("%v: logit %d: engine %v (%#x), graph %v (%#x)", x, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
}

// edgeNet: a 1×1 conv with ReLU, a 2×2 max-pool, a 1→2 dense layer.
type edgeNet struct{}

func (edgeNet) Name() string { return "edge" }
func (edgeNet) Params() []train.ParamSpec {
	return []train.ParamSpec{
		{Name: "c.w", Shape: []int{1, 1, 1, 1}, Init: train.Zeros{}}, {Name: "c.b", Shape: []int{1}, Init: train.Zeros{}},
		{Name: "fc.w", Shape: []int{1, 2}, Init: train.Zeros{}}, {Name: "fc.b", Shape: []int{2}, Init: train.Zeros{}},
	}
}
func (edgeNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	h, err := train.ConvReLU(x, w[0], w[1], 1, 0)
	if err != nil {
		return nil, err
	}
	if h, err = train.MaxPool(h, 2); err != nil {
		return nil, err
	}
	return train.Dense(h, w[2], w[3])
}
