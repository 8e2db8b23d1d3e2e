package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runDropout builds Sum(Dropout(x, p)) on a graph marked as training with
// st, and returns a function running it: the output and dSum/dx.
func runDropout(t *testing.T, x []float64, p float64, st *dropoutState) func() (y, dx []float64) {
	t.Helper()
	g := gorgonia.NewGraph()
	xv := tensor.New(tensor.WithShape(len(x)/4, 4), tensor.WithBacking(append([]float64(nil), x...)))
	xn := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(len(x)/4, 4), gorgonia.WithValue(xv), gorgonia.WithName("x"))
	unmark := markTraining(g, st)
	y, err := Dropout(xn, p)
	unmark()
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Sum(y)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(cost, xn); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	t.Cleanup(func() { vm.Close() })
	return func() ([]float64, []float64) {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		defer vm.Reset()
		g, err := xn.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), y.Value().Data().([]float64)...), append([]float64(nil), g.Data().([]float64)...)
	}
}

func TestDropoutOp(t *testing.T) {
	const n, p = 8000, 0.3
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float64, n)
	for i := range x {
		x[i] = 1 + rng.Float64()
	}
	st := &dropoutState{seed: 42, active: true}
	run := runDropout(t, x, p, st)
	y, dx := run()
	zeros := 0
	for i := range y {
		switch {
		case y[i] == 0:
			zeros++
			if dx[i] != 0 {
				t.Fatalf("element %d dropped but its gradient is %v", i, dx[i])
			}
		case math.Abs(y[i]-x[i]/(1-p)) > 1e-12 || math.Abs(dx[i]-1/(1-p)) > 1e-12:
			t.Fatalf("element %d: y %v dx %v, want %v and %v", i, y[i], dx[i], x[i]/(1-p), 1/(1-p))
		}
	}
	if f := float64(zeros) / n; math.Abs(f-p) > 0.03 {
		t.Errorf("dropped %.3f of the elements, want about %v", f, p)
	}
	again, _ := run()
	for i := range y {
		if y[i] != again[i] {
			t.Fatal("the same seed and step gave another mask")
		}
	}
	st.step = 1
	next, _ := run()
	same := 0
	for i := range y {
		if (y[i] == 0) == (next[i] == 0) {
			same++
		}
	}
	if same == n {
		t.Error("the next step has the same mask")
	}
	st.active = false
	off, dOff := run()
	for i := range x {
		if off[i] != x[i] || dOff[i] != 1 {
			t.Fatalf("inactive dropout changed element %d: %v (grad %v)", i, off[i], dOff[i])
		}
	}
}

func TestDropoutOutsideTraining(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"))
	y, err := Dropout(x, 0.5)
	if err != nil || y != x {
		t.Errorf("Dropout outside a training graph: %v, %v; want x itself", y, err)
	}
	for _, p := range []float64{-0.1, 1, math.NaN()} {
		if _, err := Dropout(x, p); err == nil {
			t.Errorf("Dropout(p=%v): no error", p)
		}
	}
}

// TestDropoutTraining: an MLP with dropout trains reproducibly, differently
// from one without, and evaluates as the same weights without dropout do.
func TestDropoutTraining(t *testing.T) {
	sp := digitsSplits(t)
	data := sp.Train
	base, err := MLP(data.Shape, []int{32}, data.Classes)
	if err != nil {
		t.Fatal(err)
	}
	drop, err := WithDropout(base, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	fit := func(m Model) *Weights {
		w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(3, 3)))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(m, w, Config{Batch: 32, Iterations: 30, EvalEvery: 30, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if _, err := tr.Fit(t.Context(), sp); err != nil {
			t.Fatal(err)
		}
		return tr.Weights()
	}
	a, b, plain := fit(drop), fit(drop), fit(base)
	if !a.Equal(b) {
		t.Error("two trainings with dropout and one seed differ")
	}
	if a.Equal(plain) {
		t.Error("dropout changed nothing")
	}
	eval := func(m Model, w *Weights) float64 {
		tr, err := NewTrainer(m, w.Clone(), Config{Batch: 32})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		loss, _, err := tr.Evaluate(sp.Test)
		if err != nil {
			t.Fatal(err)
		}
		return loss
	}
	if l1, l2 := eval(drop, a), eval(base, a); l1 != l2 {
		t.Errorf("evaluation with dropout %v, without %v: dropout must be off", l1, l2)
	}
	if _, err := WithDropout(base, 1); err == nil {
		t.Error("WithDropout(1): no error")
	}
	if _, err := WithDropout(WithInit(base, GlorotUniform{}), 0.5); err == nil {
		t.Error("WithDropout of a wrapped model: no error")
	}
}
