package infer_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/tensor"
)

// BenchmarkInfer runs LeNet-300-100 on 28×28 inputs (half the pixels zero,
// as in Fashion-MNIST) with its GlorotNormal weights pruned globally by
// magnitude to 7% kept, at batch 1 and 60, with the dense kernel and with
// KernelsAuto (sparse on every layer at this density), side by side:
// compare the two rows of a batch size. Reports examples/s.
func BenchmarkInfer(b *testing.B) {
	m, err := train.LeNet300100([]int{1, 28, 28}, 10)
	if err != nil {
		b.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		b.Fatal(err)
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.93)}).Prune(ms, params); err != nil {
		b.Fatal(err)
	}
	if err := ms.Apply(params); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 0))
	x := make([]float32, 60*784)
	for i := range x {
		if rng.IntN(2) == 0 {
			x[i] = rng.Float32()
		}
	}
	for _, batch := range []int{1, 60} {
		for _, k := range []train.Kernels{train.KernelsDense, train.KernelsAuto} {
			e, err := infer.New(m, []int{1, 28, 28}, w, ms, k)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("batch=%d/%v", batch, k), func(b *testing.B) {
				for b.Loop() {
					if _, err := e.Run(x[:batch*784], batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}
