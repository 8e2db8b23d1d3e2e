package infer_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"slices"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/tensor"
)

// A pruned LeNet-300-100 runs with the sparse kernels on its layers that keep
// at most 25% of their weights (on amd64 with AVX2; Sparse says which) and
// gives the same logits as with the dense kernel.
func ExampleNew() {
	m, err := train.LeNet300100([]int{1, 8, 8}, 10)
	if err != nil {
		log.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		log.Fatal(err)
	}
	params := w.Prunable()
	masks := prune.NewMasks(params)
	// keep 10% of the weights, the largest
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.9)}).Prune(masks, params); err != nil {
		log.Fatal(err)
	}
	auto, err := infer.New(m, []int{1, 8, 8}, w, masks, train.KernelsAuto)
	if err != nil {
		log.Fatal(err)
	}
	dense, err := infer.New(m, []int{1, 8, 8}, w, masks, train.KernelsDense)
	if err != nil {
		log.Fatal(err)
	}
	x := make([]float32, 2*64) // two examples
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	za, err := auto.Run(x, 2)
	if err != nil {
		log.Fatal(err)
	}
	za = slices.Clone(za)
	zd, err := dense.Run(x, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logits:", len(za), "equal:", slices.Equal(za, zd))
	// Output:
	// logits: 20 equal: true
}
