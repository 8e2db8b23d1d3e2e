package prune

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gtMLP is a 2-layer perceptron on a fixed regression batch:
// loss = mean((ReLU(x·W1)·W2 − y)²), with every value drawn from a seeded rng
// and bound with WithValue.
type gtMLP struct {
	g      *gorgonia.ExprGraph
	w1, w2 *gorgonia.Node
	loss   *gorgonia.Node
	vm     gorgonia.VM
}

func gtDense(dt tensor.Dtype, rng *rand.Rand, scale float64, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if dt == tensor.Float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * scale)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = rng.NormFloat64() * scale
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

func newGTMLP(t *testing.T, dt tensor.Dtype, seed uint64) *gtMLP {
	t.Helper()
	const batch, in, hidden, out = 64, 8, 16, 2
	rng := rand.New(rand.NewPCG(seed, 99))
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, dt, gorgonia.WithName("x"), gorgonia.WithValue(gtDense(dt, rng, 1, batch, in)))
	// The target is a fixed random linear map of x, so the task is learnable.
	teacher := gtDense(tensor.Float64, rng, 1, in, out).Data().([]float64)
	xd := x.Value().(*tensor.Dense)
	yv := tensor.New(tensor.Of(dt), tensor.WithShape(batch, out))
	for r := 0; r < batch; r++ {
		for c := 0; c < out; c++ {
			s := 0.0
			for k := 0; k < in; k++ {
				xv, err := xd.At(r, k)
				if err != nil {
					t.Fatal(err)
				}
				if dt == tensor.Float32 {
					s += float64(xv.(float32)) * teacher[k*out+c]
				} else {
					s += xv.(float64) * teacher[k*out+c]
				}
			}
			var v any = s
			if dt == tensor.Float32 {
				v = float32(s)
			}
			if err := yv.SetAt(v, r, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	y := gorgonia.NewMatrix(g, dt, gorgonia.WithName("y"), gorgonia.WithValue(yv))
	m := &gtMLP{g: g}
	m.w1 = gorgonia.NewMatrix(g, dt, gorgonia.WithName("w1"), gorgonia.WithValue(gtDense(dt, rng, 1/math.Sqrt(in), in, hidden)))
	m.w2 = gorgonia.NewMatrix(g, dt, gorgonia.WithName("w2"), gorgonia.WithValue(gtDense(dt, rng, 1/math.Sqrt(hidden), hidden, out)))
	h := gorgonia.Must(gorgonia.Rectify(gorgonia.Must(gorgonia.Mul(x, m.w1))))
	pred := gorgonia.Must(gorgonia.Mul(h, m.w2))
	m.loss = gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.Square(gorgonia.Must(gorgonia.Sub(pred, y))))))
	if _, err := gorgonia.Grad(m.loss, m.w1, m.w2); err != nil {
		t.Fatal(err)
	}
	m.vm = gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(m.w1, m.w2))
	t.Cleanup(func() { m.vm.Close() })
	return m
}

// run does a forward and backward pass and returns the loss.
func (m *gtMLP) run(t *testing.T) float64 {
	t.Helper()
	m.vm.Reset()
	if err := m.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	switch v := m.loss.Value().Data().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	t.Fatalf("loss of type %T", m.loss.Value().Data())
	return 0
}

func (m *gtMLP) params(t *testing.T) []Param {
	t.Helper()
	ps, err := FromNodes(m.w1, m.w2)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestGorgoniaTraining prunes a trained MLP and trains it on with SGD,
// momentum and Adam, keeping the masks in force the documented way:
// ApplyGrad before each solver step, Apply after it. Pruned weights must stay
// exactly 0, kept ones must move, and the loss must fall.
func TestGorgoniaTraining(t *testing.T) {
	steps := 300
	if testing.Short() {
		steps = 100
	}
	solvers := []struct {
		name string
		dt   tensor.Dtype
		make func() gorgonia.Solver
		// drifts: without Apply after the step, the solver's state moves
		// pruned weights (momentum and Adam carry velocity from before
		// pruning); plain SGD does not, since their gradients are 0.
		drifts bool
	}{
		{"sgd", tensor.Float64, func() gorgonia.Solver { return gorgonia.NewVanillaSolver(gorgonia.WithLearnRate(0.02)) }, false},
		{"momentum", tensor.Float32, func() gorgonia.Solver {
			return gorgonia.NewMomentum(gorgonia.WithLearnRate(0.01), gorgonia.WithMomentum(0.9))
		}, true},
		{"adam", tensor.Float64, func() gorgonia.Solver { return gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.005)) }, true},
	}
	for i, sv := range solvers {
		t.Run(sv.name, func(t *testing.T) {
			m := newGTMLP(t, sv.dt, uint64(i+1))
			solver := sv.make()
			learnables := gorgonia.NodesToValueGrads(gorgonia.Nodes{m.w1, m.w2})
			// Dense training first, so the solver has state for every weight.
			for s := 0; s < 20; s++ {
				m.run(t)
				if err := solver.Step(learnables); err != nil {
					t.Fatal(err)
				}
			}

			params := m.params(t)
			masks := NewMasks(params)
			if err := (Global{Scorer: L1{}, Amount: Fraction(0.5)}).Prune(masks, params); err != nil {
				t.Fatal(err)
			}
			if got, want := masks.Kept(), masks.Total()-int(math.RoundToEven(0.5*float64(masks.Total()))); got != want {
				t.Fatalf("kept %d after pruning half, want %d", got, want)
			}
			if err := masks.Apply(params); err != nil {
				t.Fatal(err)
			}
			pruned := gtSnapshot(params)
			lossAfterPrune := m.run(t)

			// Control: a step with ApplyGrad but without Apply after it.
			if err := masks.ApplyGrad(m.params(t)); err != nil {
				t.Fatal(err)
			}
			if err := solver.Step(learnables); err != nil {
				t.Fatal(err)
			}
			if drifted := gtCountPrunedNonzero(masks, m.params(t)); sv.drifts != (drifted > 0) {
				t.Fatalf("without Apply after the step, %d pruned weights are nonzero; expected drift: %v", drifted, sv.drifts)
			}
			if err := masks.Apply(m.params(t)); err != nil {
				t.Fatal(err)
			}
			// hadGrad records the kept weights that ever got a nonzero
			// gradient (a ReLU unit that never fires gets none).
			hadGrad := make([][]bool, len(params))
			for k, p := range params {
				hadGrad[k] = make([]bool, p.Size())
			}
			loss := lossAfterPrune
			for s := 0; s < steps; s++ {
				loss = m.run(t)
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					t.Fatalf("step %d: loss %v", s, loss)
				}
				ps := m.params(t) // picks up this run's gradients
				if err := masks.ApplyGrad(ps); err != nil {
					t.Fatal(err)
				}
				for k, p := range ps {
					for j, g := range gtFloats(p.Grad) {
						if !masks.At(k).Keeps(j) && g != 0 {
							t.Fatalf("step %d: pruned gradient %s[%d] = %v after ApplyGrad", s, p.Name, j, g)
						}
						hadGrad[k][j] = hadGrad[k][j] || g != 0
					}
				}
				if err := solver.Step(learnables); err != nil {
					t.Fatal(err)
				}
				if err := masks.Apply(ps); err != nil {
					t.Fatal(err)
				}
				if n := gtCountPrunedNonzero(masks, ps); n != 0 {
					t.Fatalf("step %d: %d pruned weights are nonzero", s, n)
				}
			}
			final := m.run(t)

			// Pruned weights are exactly +0; every kept weight that had a
			// gradient has moved, and most had one.
			params = m.params(t)
			moved, kept, withGrad := 0, 0, 0
			for k, p := range params {
				for j, w := range gtFloats(p.Value) {
					if !masks.At(k).Keeps(j) {
						if w != 0 || math.Signbit(w) {
							t.Fatalf("pruned weight %s[%d] = %v", p.Name, j, w)
						}
						continue
					}
					kept++
					if w != pruned[k][j] {
						moved++
					}
					if hadGrad[k][j] {
						withGrad++
						if w == pruned[k][j] {
							t.Errorf("kept weight %s[%d] had gradients but did not change", p.Name, j)
						}
					}
				}
			}
			if withGrad < kept/2 {
				t.Errorf("only %d of %d kept weights ever had a gradient", withGrad, kept)
			}
			if !(final < 0.9*lossAfterPrune) {
				t.Errorf("loss %v after training, %v after pruning: it did not fall", final, lossAfterPrune)
			}
			t.Logf("%s: loss %.4g after pruning, %.4g after %d steps; %d of %d kept weights moved", sv.name, lossAfterPrune, final, steps, moved, kept)
		})
	}
}

func gtFloats(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic("gtFloats: dtype")
}

func gtSnapshot(ps []Param) [][]float64 {
	out := make([][]float64, len(ps))
	for i, p := range ps {
		out[i] = gtFloats(p.Value)
	}
	return out
}

func gtCountPrunedNonzero(ms *Masks, ps []Param) int {
	n := 0
	for k, p := range ps {
		for j, w := range gtFloats(p.Value) {
			if !ms.At(k).Keeps(j) && (w != 0 || math.Signbit(w)) {
				n++
			}
		}
	}
	return n
}
