package prune_test

import (
	"fmt"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// GraSP keeps the weights of the largest w·Hg; Inverted keeps the others.
// The Hessian-gradient product goes in Grad (train.Trainer.HessianGradient
// computes it for a model).
func ExampleGraSP() {
	w := prune.Param{
		Name:  "w",
		Value: tensor.New(tensor.WithShape(4), tensor.WithBacking([]float64{1, -2, 3, -4})),
		Grad:  tensor.New(tensor.WithShape(4), tensor.WithBacking([]float64{0.5, 0.5, -1, -1})), // Hg
	}
	for _, s := range []prune.Scorer{prune.GraSP{}, prune.Inverted(prune.GraSP{})} {
		ms := prune.NewMasks([]prune.Param{w})
		if err := (prune.Global{Scorer: s, Amount: prune.Count(2)}).Prune(ms, []prune.Param{w}); err != nil {
			fmt.Println(err)
		}
		m := ms.Mask("w")
		fmt.Println(m.Keeps(0), m.Keeps(1), m.Keeps(2), m.Keeps(3))
	}
	// Output:
	// true false false true
	// false true true false
}
