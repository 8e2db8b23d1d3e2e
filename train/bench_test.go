package train

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// synthetic returns n random examples of the given shape and classes.
func synthetic(n int, shape []int, classes int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := prod(shape)
	d := &Dataset{Name: "synthetic", X: make([]float32, n*f), Y: make([]int, n), Shape: append([]int(nil), shape...), Classes: classes}
	for i := range d.X {
		d.X[i] = rng.Float32()
	}
	for i := range d.Y {
		d.Y[i] = rng.IntN(classes)
	}
	return d
}

// BenchmarkTrainLeNet300100 measures one optimizer step (forward, backward,
// Adam update) of LeNet-300-100 (784-300-100-10, ReLU, softmax
// cross-entropy), float32, batch 60: the figure compared with PyTorch's
// (scripts/bench_torch_train.py). Run it with -cpu 1 for a one-thread
// comparison.
func BenchmarkTrainLeNet300100(b *testing.B) {
	d := synthetic(600, []int{1, 28, 28}, 10, 1)
	m, err := LeNet300100(d.Shape, 10)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		b.Fatal(err)
	}
	t, err := NewTrainer(m, w, Config{Batch: 60, Optimizer: Adam{LR: 1.2e-3}})
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	if err := t.ensureTrainGraph(d); err != nil {
		b.Fatal(err)
	}
	if _, err := t.trainStep(d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := t.trainStep(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(60*b.N)/b.Elapsed().Seconds(), "samples/s")
}
