package shears_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

// Structured pruning that shrinks the model: find the dependency groups of
// LeNet-300-100, remove half of every hidden layer's units with everything
// coupled to them, and compact the pruned model into smaller dense layers
// whose logits equal the masked model's.
func Example_compact() {
	data, err := train.Load("digits", 0, 1)
	if err != nil {
		log.Fatal(err)
	}
	shape := data.Train.Shape // [1 8 8]
	model, _ := train.LeNet300100(shape, 10)
	w, _ := train.NewWeights(model, tensor.Float32, rand.New(rand.NewPCG(1, 1)))

	groups, err := train.Groups(model, shape) // traced from the Gorgonia graph
	if err != nil {
		log.Fatal(err)
	}
	masks := prune.NewMasks(w.Prunable())
	gp := prune.Grouped{Groups: groups, Scorer: prune.L2{}, Amount: prune.Fraction(0.5)}
	if err := gp.Prune(masks, w.Params()); err != nil {
		log.Fatal(err)
	}
	masked, _ := metrics.AccountModel(groups, masks) // the next layers' rows count as pruned too
	small, err := train.Compact(model, w, masks, shape)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(small.Model)
	fmt.Printf("FLOPs: %d dense, %d after pruning (%.2f× fewer)\n", masked.Total.FLOPs, masked.Total.FLOPsNZ, masked.Total.TheoreticalSpeedup)
	// Output:
	// lenet300100-compact-cf0f4eb9(fc1.w[64 150] fc1.b[150] fc2.w[150 50] fc2.b[50] fc3.w[50 10] fc3.b[10])
	// FLOPs: 50200 dense, 17600 after pruning (2.85× fewer)
}
