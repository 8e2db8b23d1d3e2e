package prune_test

import (
	"fmt"
	"strings"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// printMask prints a mask of a matrix row by row, 1 = kept.
func printMask(m *prune.Mask) {
	shape := m.Shape()
	cols := shape[len(shape)-1]
	var b strings.Builder
	for i := range m.Len() {
		if m.Keeps(i) {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
		if (i+1)%cols == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	fmt.Printf("%s:\n%s", m.Name(), b.String())
}

func ExampleUnstructured() {
	w := tensor.New(tensor.WithShape(2, 4), tensor.WithBacking([]float32{
		0.5, -0.1, 0.3, -0.7,
		0.2, 0.05, -0.9, 0.4,
	}))
	params := []prune.Param{{Name: "w", Value: w}}
	masks := prune.NewMasks(params)

	// Prune the 25% of weights of least magnitude: 2 of 8.
	if err := (prune.Unstructured{Scorer: prune.L1{}, Amount: prune.Fraction(0.25)}).Prune(masks, params); err != nil {
		fmt.Println(err)
		return
	}
	printMask(masks.Mask("w"))

	// Masks only record the choice; Apply zeroes the pruned weights.
	if err := masks.Apply(params); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Data())
	// Output:
	// w:
	// 1 0 1 1
	// 1 0 1 1
	// [0.5 0 0.3 -0.7 0.2 0 -0.9 0.4]
}

func ExampleGlobal() {
	// A layer of small weights and a layer of large ones: one ranking over
	// both takes most of what it prunes from the first.
	small := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0.1, -0.2, 0.3, -0.05, 0.15, 0.25}))
	large := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, -2, 0.12, 3, -0.5, 2.5}))
	params := []prune.Param{{Name: "small", Value: small}, {Name: "large", Value: large}}
	masks := prune.NewMasks(params)

	// Two rounds of 20% of what is still kept: 12 → 10 → 8.
	for range 2 {
		if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.2)}).Prune(masks, params); err != nil {
			fmt.Println(err)
			return
		}
	}
	printMask(masks.Mask("small"))
	printMask(masks.Mask("large"))
	fmt.Printf("kept %d of %d\n", masks.Kept(), masks.Total())
	// Output:
	// small:
	// 0 1 1
	// 0 0 1
	// large:
	// 1 1 0
	// 1 1 1
	// kept 8 of 12
}

func ExampleLayerwise() {
	hidden := tensor.New(tensor.WithShape(2, 5), tensor.WithBacking([]float64{
		0.9, -0.1, 0.4, 0.3, -0.6,
		0.2, 0.8, -0.7, 0.05, 0.5,
	}))
	out := tensor.New(tensor.WithShape(5, 2), tensor.WithBacking([]float64{
		0.3, -0.2, 0.1, 0.7, -0.4, 0.6, 0.9, -0.8, 0.25, 0.35,
	}))
	params := []prune.Param{{Name: "hidden", Value: hidden}, {Name: "out", Value: out}}
	masks := prune.NewMasks(params)

	// The lottery-ticket rates: 20% of hidden layers, 10% of the output layer.
	lw := prune.Layerwise{
		Scorer:  prune.L1{},
		Default: prune.Fraction(0.2),
		Amounts: map[string]prune.Amount{"out": prune.Fraction(0.1)},
	}
	if err := lw.Prune(masks, params); err != nil {
		fmt.Println(err)
		return
	}
	printMask(masks.Mask("hidden"))
	printMask(masks.Mask("out"))

	// A name that is not a param is an error, not a silent no-op.
	lw.Amounts = map[string]prune.Amount{"outt": prune.Fraction(0.1)}
	fmt.Println(lw.Prune(masks, params))
	// Output:
	// hidden:
	// 1 0 1 1 1
	// 1 1 1 0 1
	// out:
	// 1 1
	// 0 1
	// 1 1
	// 1 1
	// 1 1
	// prune: Layerwise: Amounts names param "outt", but no param has that name
}

func ExampleStructured() {
	// A dense layer computing x·W with W of shape [in=3, out=4]: the output
	// units are the columns, Dim 1.
	w := tensor.New(tensor.WithShape(3, 4), tensor.WithBacking([]float32{
		0.1, 0.9, -0.2, 0.5,
		-0.1, 0.8, 0.3, -0.4,
		0.05, -0.7, 0.1, 0.6,
	}))
	params := []prune.Param{{Name: "W", Value: w}}
	masks := prune.NewMasks(params)

	// Remove the output unit whose column has the smallest Euclidean norm.
	if err := (prune.Structured{Scorer: prune.L2{}, Dim: 1, Amount: prune.Count(1)}).Prune(masks, params); err != nil {
		fmt.Println(err)
		return
	}
	printMask(masks.Mask("W"))

	// Pruning again considers only the 3 columns still kept: half of them,
	// round(1.5) = 2 (half to even, as Python rounds).
	if err := (prune.Structured{Scorer: prune.L2{}, Dim: 1, Amount: prune.Fraction(0.5)}).Prune(masks, params); err != nil {
		fmt.Println(err)
		return
	}
	printMask(masks.Mask("W"))
	// Output:
	// W:
	// 0 1 1 1
	// 0 1 1 1
	// 0 1 1 1
	// W:
	// 0 1 0 0
	// 0 1 0 0
	// 0 1 0 0
}

func ExampleNM() {
	// W of shape [in=4, out=2] for x·W; 2:4 sparsity groups the 4 inputs of
	// each output (Dim 0) and keeps the 2 largest of every group.
	w := tensor.New(tensor.WithShape(4, 2), tensor.WithBacking([]float32{
		0.1, -0.8,
		-0.5, 0.2,
		0.3, 0.1,
		0.9, -0.4,
	}))
	params := []prune.Param{{Name: "W", Value: w}}
	masks := prune.NewMasks(params)
	if err := (prune.NM{N: 2, M: 4, Scorer: prune.L1{}, Dim: 0}).Prune(masks, params); err != nil {
		fmt.Println(err)
		return
	}
	printMask(masks.Mask("W"))
	fmt.Printf("sparsity %.2f\n", masks.Sparsity())
	// Output:
	// W:
	// 0 1
	// 1 0
	// 0 0
	// 1 1
	// sparsity 0.50
}

// Pruning a subset of layers: the masks cover every layer (as a Trainer
// needs them), the pruner is given only the Params to prune.
func ExamplePruner_subset() {
	w1 := tensor.New(tensor.WithShape(1, 4), tensor.WithBacking([]float32{0.1, 0.2, 0.3, 0.4}))
	w2 := tensor.New(tensor.WithShape(1, 4), tensor.WithBacking([]float32{0.5, 0.6, 0.7, 0.8}))
	w3 := tensor.New(tensor.WithShape(1, 4), tensor.WithBacking([]float32{0.9, 0.01, 0.02, 0.03}))
	all := []prune.Param{{Name: "w1", Value: w1}, {Name: "w2", Value: w2}, {Name: "w3", Value: w3}}
	masks := prune.NewMasks(all)

	// Half of the weights of w1 and w3 together, ranked globally; w2 untouched.
	subset := []prune.Param{all[2], all[0]}
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.5)}).Prune(masks, subset); err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range masks.Names() {
		printMask(masks.Mask(name))
	}
	// Output:
	// w1:
	// 0 1 1 1
	// w2:
	// 1 1 1 1
	// w3:
	// 1 0 0 0
}
