package infer_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/tensor"
)

// sparseOK: the sparse kernels run (amd64 with AVX2 and FMA, default build).
var sparseOK = infer.SparseAvailable()

// trained returns LeNet-300-100 trained briefly on the digits, and masks
// pruned globally to the given fraction of weights kept (masks applied).
func trained(t testing.TB, remaining float64) (train.Model, *train.Weights, *prune.Masks, train.Splits) {
	t.Helper()
	data, err := train.Load("digits", 180, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := train.LeNet300100(data.Train.Shape, data.Train.Classes)
	if err != nil {
		t.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.NewTrainer(m, w, train.Config{Iterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if remaining < 1 {
		if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(1 - remaining)}).Prune(ms, params); err != nil {
			t.Fatal(err)
		}
		if err := ms.Apply(params); err != nil {
			t.Fatal(err)
		}
	}
	return m, w, ms, data
}

// TestDenseSparseSame runs a ticket with dense and sparse kernels at batch
// sizes on both sides of the scatter/lane switch: the logits are equal bit
// for bit, and the accuracy equals the Trainer's.
func TestDenseSparseSame(t *testing.T) {
	for _, remaining := range []float64{1, 0.2, 0.07, 0.02} {
		m, w, ms, data := trained(t, remaining)
		dense, err := infer.New(m, data.Train.Shape, w, ms, train.KernelsDense)
		if err != nil {
			t.Fatal(err)
		}
		sparse, err := infer.New(m, data.Train.Shape, w, ms, train.KernelsSparse)
		if err != nil {
			t.Fatal(err)
		}
		auto, err := infer.New(m, data.Train.Shape, w, ms, train.KernelsAuto)
		if err != nil {
			t.Fatal(err)
		}
		fc1 := ms.Mask("fc1.w")
		if got, want := auto.Sparse()[0], sparseOK && fc1.Remaining() <= train.SparseThreshold; got != want {
			t.Errorf("remaining %v: auto runs fc1 (%.3f kept) sparse = %v, want %v", remaining, fc1.Remaining(), got, want)
		}
		if sparse.Sparse()[0] != sparseOK || dense.Sparse()[0] {
			t.Errorf("forced kernels not used: sparse %v, dense %v", sparse.Sparse(), dense.Sparse())
		}
		f := dense.Inputs()
		for _, batch := range []int{1, 5, 8, 60, 67} {
			x := data.Test.X[:batch*f]
			zd, err := dense.Run(x, batch)
			if err != nil {
				t.Fatal(err)
			}
			zd = append([]float32(nil), zd...)
			zs, err := sparse.Run(x, batch)
			if err != nil {
				t.Fatal(err)
			}
			for i := range zd {
				if math.Float32bits(zd[i]) != math.Float32bits(zs[i]) {
					t.Fatalf("remaining %v batch %d: logit %d dense %v sparse %v", remaining, batch, i, zd[i], zs[i])
				}
			}
		}
		tr, err := train.NewTrainer(m, w, train.Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := tr.Evaluate(data.Test)
		tr.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*infer.Engine{dense, sparse} {
			got, err := e.Accuracy(data.Test, 60)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("remaining %v: accuracy %v, the trainer's %v", remaining, got, want)
			}
		}
	}
}

// TestNoAllocs: once warm, Run allocates nothing, dense or sparse, at batch
// 1 and 60.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items)")
	}
	m, w, ms, data := trained(t, 0.07)
	for _, k := range []train.Kernels{train.KernelsDense, train.KernelsSparse} {
		e, err := infer.New(m, data.Train.Shape, w, ms, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{60, 1} {
			x := data.Test.X[:batch*e.Inputs()]
			if _, err := e.Run(x, batch); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(50, func() { e.Run(x, batch) }); n != 0 {
				t.Errorf("%v batch %d: %v allocations per run", k, batch, n)
			}
		}
	}
}

func TestRejects(t *testing.T) {
	m, w, ms, data := trained(t, 0.5)
	e, err := infer.New(m, data.Train.Shape, w, ms, train.KernelsAuto)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(make([]float32, 10), 1); err == nil {
		t.Error("Run accepted a short input")
	}
	if _, err := e.Run(nil, 0); err == nil {
		t.Error("Run accepted batch 0")
	}
	if _, err := infer.New(m, []int{1, 28, 28}, w, ms, train.KernelsAuto); err == nil {
		t.Error("New accepted an input shape the weights do not fit")
	}
	if _, err := infer.New(chainTanh{}, []int{4}, nil, nil, train.KernelsAuto); err == nil {
		t.Error("New accepted nil weights")
	}
	dl := func(in, out int) train.ChainLayer { return train.ChainLayer{Weight: "w", In: in, Out: out} }
	bad := []infer.Layer{{ChainLayer: dl(2, 2), W: make([]float32, 4), B: make([]float32, 2)}, {ChainLayer: dl(3, 2), W: make([]float32, 6), B: make([]float32, 2)}}
	if _, err := infer.FromLayers(bad, train.KernelsAuto); err == nil {
		t.Error("FromLayers accepted layers that do not fit")
	}
	if _, err := infer.FromLayers([]infer.Layer{{ChainLayer: dl(2, 2), W: make([]float32, 3), B: make([]float32, 2)}}, train.KernelsAuto); err == nil {
		t.Error("FromLayers accepted a short weight")
	}
}
