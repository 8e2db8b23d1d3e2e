package train

import (
	"math"
	"testing"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// refStep is PyTorch's update for one scalar weight, in float64.
type refState struct{ buf, m, v float64 }

func refUpdate(opt Optimizer, st *refState, w, g float64, t int, lr float64) float64 {
	switch o := opt.(type) {
	case SGD:
		return w - lr*(g+o.WeightDecay*w)
	case Momentum:
		mu := orDefault(o.Momentum, 0.9)
		d := g + o.WeightDecay*w
		st.buf = mu*st.buf + d
		if o.Nesterov {
			d += mu * st.buf
		} else {
			d = st.buf
		}
		return w - lr*d
	case Adam:
		b1, b2, eps := orDefault(o.Beta1, 0.9), orDefault(o.Beta2, 0.999), orDefault(o.Eps, 1e-8)
		d := g + o.WeightDecay*w
		st.m = b1*st.m + (1-b1)*d
		st.v = b2*st.v + (1-b2)*d*d
		bc1, bc2 := 1-math.Pow(b1, float64(t)), 1-math.Pow(b2, float64(t))
		return w - lr/bc1*st.m/(math.Sqrt(st.v)/math.Sqrt(bc2)+eps)
	}
	panic("unknown optimizer")
}

// TestOptimizersMatchPyTorchRules runs each optimizer for a few steps on
// fixed gradients and compares with PyTorch's update rules in float64.
func TestOptimizersMatchPyTorchRules(t *testing.T) {
	w0 := []float64{0.5, -1.25, 2, 0, 1e-3, -0.1, 3, 0.7, 0.2}
	grads := [][]float64{
		{0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8, 0.01},
		{-0.3, 0.1, 0.2, -0.1, 0.5, 0.05, 0.7, -0.8, 0.02},
		{0.2, 0.2, -0.2, 0.3, 0.1, -0.6, 0.1, 0.1, -0.03},
	}
	for _, opt := range []Optimizer{
		SGD{LR: 0.1}, SGD{LR: 0.05, WeightDecay: 0.01},
		Momentum{LR: 0.1}, Momentum{LR: 0.1, Momentum: 0.5, Nesterov: true, WeightDecay: 0.01},
		Adam{}, Adam{LR: 0.01, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1},
	} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			val := tensor.New(tensor.Of(dt), tensor.WithShape(len(w0)))
			grad := tensor.New(tensor.Of(dt), tensor.WithShape(len(w0)))
			set := func(tt *tensor.Dense, v []float64) {
				for i, x := range v {
					if dt == tensor.Float32 {
						tt.Float32s()[i] = float32(x)
					} else {
						tt.Float64s()[i] = x
					}
				}
			}
			set(val, w0)
			params := []prune.Param{{Name: "p", Value: val, Grad: grad}}
			st, err := opt.NewState(params)
			if err != nil {
				t.Fatal(err)
			}
			ref := append([]float64(nil), w0...)
			rs := make([]refState, len(w0))
			for step, g := range grads {
				set(grad, g)
				lr := opt.LearningRate() * (1 + 0.5*float64(step)) // a changing rate
				if err := st.Update(params, lr); err != nil {
					t.Fatal(err)
				}
				for i := range ref {
					ref[i] = refUpdate(opt, &rs[i], ref[i], g[i], step+1, lr)
				}
			}
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 2e-6
			}
			for i := range ref {
				var got float64
				if dt == tensor.Float32 {
					got = float64(val.Float32s()[i])
				} else {
					got = val.Float64s()[i]
				}
				if math.Abs(got-ref[i]) > tol*(1+math.Abs(ref[i])) {
					t.Errorf("%T%+v %v: w[%d] = %.10g, want %.10g", opt, opt, dt, i, got, ref[i])
				}
			}
		}
	}
}

func TestOptimizerDefaultsAndErrors(t *testing.T) {
	if (SGD{}).LearningRate() != 0.1 || (Momentum{}).LearningRate() != 0.1 || (Adam{}).LearningRate() != 1e-3 {
		t.Error("default rates")
	}
	p := []prune.Param{{Name: "p", Value: tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(3))}}
	for _, o := range []Optimizer{SGD{WeightDecay: -1}, Momentum{Momentum: 1}, Momentum{Momentum: -0.5}, Adam{Beta2: 1}, Adam{Eps: -1}} {
		if _, err := o.NewState(p); err == nil {
			t.Errorf("%T%+v accepted", o, o)
		}
	}
	if _, err := (Adam{}).NewState(nil); err == nil {
		t.Error("no params accepted")
	}
	st, _ := (Adam{}).NewState(p)
	if len(st.Tensors()) != 3 {
		t.Errorf("Adam state has %d tensors, want m, v and the count", len(st.Tensors()))
	}
	if err := st.Update(p, 0.1); err == nil {
		t.Error("Update without gradients accepted")
	}
	p[0].Grad = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(4))
	if err := st.Update(p, 0.1); err == nil {
		t.Error("Update with a gradient of another size accepted")
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s    LRSchedule
		step int
		want float64
	}{
		{Constant{}, 1000, 1},
		{Step{Every: 10}, 9, 1},
		{Step{Every: 10}, 10, 0.1},
		{Step{Every: 10, Gamma: 0.5}, 25, 0.25},
		{Step{}, 1000, 1},
		{MultiStep{Milestones: []int{5, 8}}, 4, 1},
		{MultiStep{Milestones: []int{5, 8}}, 5, 0.1},
		{MultiStep{Milestones: []int{5, 8}, Gamma: 0.5}, 9, 0.25},
		{Warmup{Steps: 4}, 0, 0.25},
		{Warmup{Steps: 4}, 2, 0.75},
		{Warmup{Steps: 4}, 3, 1},
		{Warmup{Steps: 4, Then: Step{Every: 2, Gamma: 0.5}}, 2, 0.75 * 0.5},
		{Warmup{Steps: 4, Then: Step{Every: 2, Gamma: 0.5}}, 6, 0.125},
	} {
		if got := c.s.Rate(1, c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%T%+v at %d: %v, want %v", c.s, c.s, c.step, got, c.want)
		}
	}
}
