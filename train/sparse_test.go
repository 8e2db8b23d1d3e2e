package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runKernels trains model m from seed with masks pruning it globally to
// remaining (none when remaining is 1), with the given kernels, and returns
// the trainer's weights, optimizer state, per-step losses and result.
func runKernels(t *testing.T, m Model, data Splits, remaining float64, k Kernels, opt Optimizer, steps int, prunedMid bool) (*Weights, []*tensor.Dense, []float64, *Result, []string) {
	t.Helper()
	w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(7, 0)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, w, Config{Iterations: steps, EvalEvery: steps / 2, Optimizer: opt, Kernels: k, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	params := w.Prunable()
	ms := prune.NewMasks(params)
	prune1 := func() {
		if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(1 - remaining)}).Prune(ms, params); err != nil {
			t.Fatal(err)
		}
		if err := tr.SetMasks(ms); err != nil {
			t.Fatal(err)
		}
	}
	if remaining < 1 && !prunedMid {
		prune1()
	}
	var losses []float64
	tr.OnStep("loss", func(step int) error {
		if prunedMid && step == steps/3 && remaining < 1 {
			prune1()
		}
		return nil
	})
	res, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	losses = append(losses, res.Loss)
	for _, e := range res.Evals {
		losses = append(losses, e.ValLoss, e.TestLoss, e.ValAccuracy, e.TestAccuracy)
	}
	return w, tr.opt.Tensors(), losses, res, tr.SparseLayers()
}

func sameTensors(a, b []*tensor.Dense) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d tensors, %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Dtype() != b[i].Dtype() {
			return fmt.Errorf("tensor %d: dtypes differ", i)
		}
		if a[i].Dtype() == tensor.Float64 {
			if !slices.Equal(a[i].Float64s(), b[i].Float64s()) {
				return fmt.Errorf("tensor %d differs", i)
			}
			continue
		}
		x, y := a[i].Float32s(), b[i].Float32s()
		for j := range x {
			if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
				return fmt.Errorf("tensor %d differs at %d: %v, %v", i, j, x[j], y[j])
			}
		}
	}
	return nil
}

// TestSparseKernelsBitIdentical trains every built-in model with masks at
// several densities for a few hundred steps (fewer for the convolutional
// ones) with the dense and the sparse kernels, and requires weights,
// optimizer state, losses and accuracies to be equal bit for bit.
func TestSparseKernelsBitIdentical(t *testing.T) {
	if !kernel.HasAVX2 || !isGonum(gorgonia.WhichBLAS()) {
		t.Skip("the sparse kernels need the default build on an AVX2 CPU")
	}
	data, err := Load("digits", 180, 1)
	if err != nil {
		t.Fatal(err)
	}
	shape, classes := data.Train.Shape, data.Train.Classes
	mlp, _ := MLP(shape, []int{40}, classes)
	lenet, _ := LeNet300100(shape, classes)
	lenet5, _ := LeNet5(shape, classes)
	conv2, _ := Conv2(shape, classes)
	conv4, _ := Conv4(shape, classes)
	conv6, _ := Conv6(shape, classes)
	type tc struct {
		m          Model
		steps      int
		remaining  []float64
		opt        Optimizer
		prunedMid  bool
		wantSparse bool
	}
	cases := []tc{
		{lenet, 300, []float64{1, 0.5, 0.2, 0.07, 0.02}, nil, false, true},
		{lenet, 200, []float64{0.1}, Momentum{LR: 0.05, Nesterov: true, WeightDecay: 1e-4}, false, true},
		{lenet, 200, []float64{0.1}, Adam{WeightDecay: 1e-4}, true, true},
		{mlp, 300, []float64{0.3, 0.05}, nil, false, true},
		{lenet5, 60, []float64{0.07}, nil, false, true},
		{conv2, 30, []float64{0.07}, nil, false, true},
		{conv4, 20, []float64{0.2}, nil, false, true},
		{conv6, 20, []float64{0.05}, nil, false, true},
	}
	if testing.Short() {
		cases = cases[:2]
	}
	for _, c := range cases {
		for _, r := range c.remaining {
			name := fmt.Sprintf("%s/%v/%g/mid=%v", c.m.Name(), c.opt, r, c.prunedMid)
			wd, sd, ld, resD, spD := runKernels(t, c.m, data, r, KernelsDense, c.opt, c.steps, c.prunedMid)
			ws, ss, ls, _, spS := runKernels(t, c.m, data, r, KernelsSparse, c.opt, c.steps, c.prunedMid)
			if len(spD) != 0 {
				t.Errorf("%s: KernelsDense ran %v sparse", name, spD)
			}
			if r < 1 && c.wantSparse && len(spS) == 0 {
				t.Errorf("%s: KernelsSparse ran no layer sparse", name)
			}
			if !wd.Equal(ws) {
				t.Errorf("%s: weights differ between dense and sparse kernels", name)
			}
			if err := sameTensors(sd, ss); err != nil {
				t.Errorf("%s: optimizer state: %v", name, err)
			}
			if !slices.Equal(ld, ls) {
				t.Errorf("%s: losses differ: %v, %v", name, ld, ls)
			}
			if resD.Steps != c.steps || ld[0] == 0 {
				t.Errorf("%s: %d steps, loss %v", name, resD.Steps, ld[0])
			}
		}
	}
}

func TestKernelsAutoChoice(t *testing.T) {
	if !kernel.HasAVX2 || !isGonum(gorgonia.WhichBLAS()) {
		t.Skip("the sparse kernels need the default build on an AVX2 CPU")
	}
	m, _ := LeNet300100([]int{1, 8, 8}, 10)
	w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	// fc1 to 10%, fc2 to 50%, fc3 untouched
	amounts := map[string]prune.Amount{"fc1.w": prune.Fraction(0.9), "fc2.w": prune.Fraction(0.5), "fc3.w": prune.Count(0)}
	if err := (prune.Layerwise{Scorer: prune.L1{}, Amounts: amounts}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		k    Kernels
		want []string
	}{{KernelsAuto, []string{"fc1.w"}}, {KernelsDense, nil}, {KernelsSparse, []string{"fc1.w", "fc2.w", "fc3.w"}}} {
		tr, err := NewTrainer(m, w, Config{Kernels: c.k})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.SetMasks(ms); err != nil {
			t.Fatal(err)
		}
		if got := tr.SparseLayers(); !slices.Equal(got, c.want) {
			t.Errorf("%v: sparse layers %v, want %v", c.k, got, c.want)
		}
		if err := tr.SetMasks(nil); err != nil {
			t.Fatal(err)
		}
		if got := tr.SparseLayers(); len(got) != 0 {
			t.Errorf("%v: without masks, sparse layers %v", c.k, got)
		}
		tr.Close()
	}
	if _, err := NewTrainer(m, w, Config{Kernels: 7}); err == nil {
		t.Error("NewTrainer accepted Kernels(7)")
	}
	for _, s := range []string{"auto", "dense", "sparse"} {
		k, err := ParseKernels(s)
		if err != nil || k.String() != s {
			t.Errorf("ParseKernels(%q) = %v, %v", s, k, err)
		}
	}
	if _, err := ParseKernels("fast"); err == nil {
		t.Error("ParseKernels accepted fast")
	}
}

// TestSparseSnapshot: a masked run stopped at a snapshot and resumed in a
// new trainer ends with the weights and optimizer state of an
// uninterrupted run, with either kernels, and the two kernels agree.
func TestSparseSnapshot(t *testing.T) {
	if !kernel.HasAVX2 || !isGonum(gorgonia.WhichBLAS()) {
		t.Skip("the sparse kernels need the default build on an AVX2 CPU")
	}
	data, err := Load("digits", 180, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := LeNet300100(data.Train.Shape, data.Train.Classes)
	var finals []*Weights
	var states [][]*tensor.Dense
	for _, k := range []Kernels{KernelsDense, KernelsSparse} {
		newTrainer := func(iters int) (*Trainer, *prune.Masks) {
			w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(2, 0)))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(m, w, Config{Iterations: iters, Kernels: k, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			params := w.Prunable()
			ms := prune.NewMasks(params)
			if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.9)}).Prune(ms, params); err != nil {
				t.Fatal(err)
			}
			if err := tr.SetMasks(ms); err != nil {
				t.Fatal(err)
			}
			return tr, ms
		}
		whole, _ := newTrainer(120)
		if _, err := whole.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		first, _ := newTrainer(60)
		if _, err := first.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		snap := first.Snapshot()
		second, _ := newTrainer(120)
		if err := second.Restore(snap); err != nil {
			t.Fatal(err)
		}
		if _, err := second.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		if !whole.Weights().Equal(second.Weights()) {
			t.Errorf("%v: resumed weights differ from the uninterrupted run's", k)
		}
		if err := sameTensors(whole.opt.Tensors(), second.opt.Tensors()); err != nil {
			t.Errorf("%v: resumed optimizer state: %v", k, err)
		}
		finals = append(finals, whole.Weights())
		states = append(states, whole.opt.Tensors())
		for _, tr := range []*Trainer{whole, first, second} {
			tr.Close()
		}
	}
	if !finals[0].Equal(finals[1]) {
		t.Error("dense and sparse kernels end with different weights")
	}
	if err := sameTensors(states[0], states[1]); err != nil {
		t.Errorf("dense and sparse optimizer states: %v", err)
	}
}

// TestSparseGradients: with the sparse kernels, whose weight gradients a
// training step keeps at the kept entries only (for the built-in
// optimizers), Trainer.Gradients still returns whole gradient tensors, the
// same bit for bit as with the dense kernels, and training after it goes on
// as with the dense kernels; with SGD (no kept-only update) as well.
func TestSparseGradients(t *testing.T) {
	if !kernel.HasAVX2 || !isGonum(gorgonia.WhichBLAS()) {
		t.Skip("the sparse kernels need the default build on an AVX2 CPU")
	}
	data, err := Load("digits", 180, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := LeNet300100(data.Train.Shape, data.Train.Classes)
	for _, opt := range []Optimizer{Adam{}, SGD{LR: 0.05}, Momentum{}} {
		var grads [][]prune.Param
		var finals []*Weights
		for _, k := range []Kernels{KernelsDense, KernelsSparse} {
			w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(5, 0)))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(m, w, Config{Iterations: 40, Optimizer: opt, Kernels: k, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			params := w.Prunable()
			ms := prune.NewMasks(params)
			if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.93)}).Prune(ms, params); err != nil {
				t.Fatal(err)
			}
			if err := tr.SetMasks(ms); err != nil {
				t.Fatal(err)
			}
			if k == KernelsSparse && len(tr.SparseLayers()) == 0 {
				t.Fatalf("%v: no layer runs sparse", opt)
			}
			if _, err := tr.Fit(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			g, err := tr.Gradients(data.Train, 2)
			if err != nil {
				t.Fatal(err)
			}
			nonzero := false
			for _, p := range g {
				for _, v := range p.Grad.Float32s() {
					nonzero = nonzero || v != 0
				}
			}
			if !nonzero {
				t.Fatalf("%v, %v: Gradients are all zero", opt, k)
			}
			if err := tr.SetIterations(80); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Fit(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			grads = append(grads, g)
			finals = append(finals, w)
			tr.Close()
		}
		for i := range grads[0] {
			if err := sameTensors([]*tensor.Dense{grads[0][i].Grad}, []*tensor.Dense{grads[1][i].Grad}); err != nil {
				t.Errorf("%v: Gradients of %s: %v", opt, grads[0][i].Name, err)
			}
		}
		if !finals[0].Equal(finals[1]) {
			t.Errorf("%v: weights after Gradients differ between the kernels", opt)
		}
	}
}

// BenchmarkLotteryLevels times a LeNet-300-100 training step (batch 60,
// Adam, one thread) at each level of the README's Fashion-MNIST lottery
// protocol (layer-wise magnitude pruning: 20% of each hidden layer and 10% of
// the output layer per level), with KernelsAuto and KernelsDense: the
// per-level arithmetic behind a whole lottery run's speed-up; and with
// KernelsSparse, which runs every masked layer sparse, for the break-even
// density that SparseThreshold is set from.
func BenchmarkLotteryLevels(b *testing.B) {
	d := synthetic(600, []int{1, 28, 28}, 10, 1)
	m, err := LeNet300100(d.Shape, 10)
	if err != nil {
		b.Fatal(err)
	}
	for level := 0; level <= 12; level++ {
		for _, k := range []Kernels{KernelsAuto, KernelsDense, KernelsSparse} {
			if level == 0 && k == KernelsSparse {
				continue // no masks: dense
			}
			b.Run(fmt.Sprintf("level=%d/%v", level, k), func(b *testing.B) {
				w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
				if err != nil {
					b.Fatal(err)
				}
				t, err := NewTrainer(m, w, Config{Batch: 60, Optimizer: Adam{LR: 1.2e-3}, Kernels: k})
				if err != nil {
					b.Fatal(err)
				}
				defer t.Close()
				if level > 0 {
					params := w.Prunable()
					ms := prune.NewMasks(params)
					hidden := prune.Fraction(1 - math.Pow(0.8, float64(level)))
					amounts := map[string]prune.Amount{"fc1.w": hidden, "fc2.w": hidden, "fc3.w": prune.Fraction(1 - math.Pow(0.9, float64(level)))}
					if err := (prune.Layerwise{Scorer: prune.L1{}, Amounts: amounts}).Prune(ms, params); err != nil {
						b.Fatal(err)
					}
					if err := t.SetMasks(ms); err != nil {
						b.Fatal(err)
					}
				}
				if err := t.ensureTrainGraph(d); err != nil {
					b.Fatal(err)
				}
				if _, err := t.trainStep(d); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := t.trainStep(d); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
