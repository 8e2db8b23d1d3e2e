package shears_test

import (
	"fmt"
	"log"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Prune the weight nodes of a Gorgonia graph: half of all weights, ranked by
// |w| across both layers, then zero them.
func Example() {
	g := gorgonia.NewGraph()
	w1 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithName("fc1.w"), gorgonia.WithShape(2, 3),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0.9, -0.1, 0.4, -0.7, 0.05, 0.3}))))
	w2 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithName("fc2.w"), gorgonia.WithShape(3, 2),
		gorgonia.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float32{0.2, -0.8, 0.6, 0.01, -0.5, 0.15}))))

	params, err := prune.FromNodes(w1, w2)
	if err != nil {
		log.Fatal(err)
	}
	masks := prune.NewMasks(params)
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.5)}).Prune(masks, params); err != nil {
		log.Fatal(err)
	}
	if err := masks.Apply(params); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("kept %d of %d weights\n", masks.Kept(), masks.Total())
	fmt.Println("fc1.w:", w1.Value().Data())
	fmt.Println("fc2.w:", w2.Value().Data())
	// Output:
	// kept 6 of 12 weights
	// fc1.w: [0.9 0 0.4 -0.7 0 0]
	// fc2.w: [0 -0.8 0.6 0 -0.5 0]
}
