package train_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

// The dependency groups of LeNet-5: a filter of conv2 is its kernel, its
// bias entry and, after the flatten, the 2×2 block of fc1's rows that its
// pooled pixels feed.
func ExampleGroups() {
	m, _ := train.LeNet5([]int{1, 8, 8}, 10)
	groups, err := train.Groups(m, []int{1, 8, 8})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(groups)
	// Output:
	// conv1.w: 6 units: conv1.w[out dim 0] conv1.b[out dim 0] conv2.w[in dim 1]
	// conv2.w: 16 units: conv2.w[out dim 0] conv2.b[out dim 0] fc1.w[in dim 0 ×4]
	// fc1.w: 120 units: fc1.w[out dim 1] fc1.b[out dim 0] fc2.w[in dim 0]
	// fc2.w: 84 units: fc2.w[out dim 1] fc2.b[out dim 0] fc3.w[in dim 0]
	// fc3.w: 10 units (logits): fc3.w[out dim 1] fc3.b[out dim 0]
}

// Compact a Conv-2 whose filters and units were halved by group pruning.
func ExampleCompact() {
	shape := []int{1, 8, 8}
	m, _ := train.Conv2(shape, 10)
	w, _ := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	groups, _ := train.Groups(m, shape)
	masks := prune.NewMasks(w.Prunable())
	if err := (prune.Grouped{Groups: groups, Amount: prune.Fraction(0.5)}).Prune(masks, w.Params()); err != nil {
		log.Fatal(err)
	}
	c, err := train.Compact(m, w, masks, shape)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"conv1.w", "conv2.w", "fc1.w", "fc2.w", "fc3.w"} {
		fmt.Println(name, c.Weights.Tensor(name).Shape(), "removed", len(c.Removed[name]))
	}
	fmt.Printf("%d weights of %d\n", c.Weights.Count(), w.Count())
	// Output:
	// conv1.w (32, 1, 3, 3) removed 32
	// conv2.w (32, 32, 3, 3) removed 32
	// fc1.w (512, 128) removed 128
	// fc2.w (128, 128) removed 128
	// fc3.w (128, 10) removed 0
	// 93034 weights of 368330
}
