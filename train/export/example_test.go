package export_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/export"
	"gorgonia.org/tensor"
)

// A LeNet-300-100 ticket with 7% of its weights, exported with 5 bits per
// kept weight, is more than 40 times smaller than the dense float32 model,
// and runs from the file alone.
func ExampleSave() {
	m, err := train.LeNet300100([]int{1, 28, 28}, 10)
	if err != nil {
		log.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		log.Fatal(err)
	}
	params := w.Prunable()
	masks := prune.NewMasks(params)
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.93)}).Prune(masks, params); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "export")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lenet.shx")
	rep, err := export.Save(path, m, []int{1, 28, 28}, w, masks, export.Options{Bits: 5})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range rep.Layers {
		fmt.Printf("%s: %d of %d weights kept, positions as %s\n", l.Weight, l.Kept, l.Weights, l.Positions)
	}
	fmt.Println("more than 40x smaller:", rep.Ratio > 40)

	loaded, err := export.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	e, err := loaded.Engine(train.KernelsAuto)
	if err != nil {
		log.Fatal(err)
	}
	z, err := e.Run(make([]float32, 784), 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Name, loaded.Input, loaded.Bits, "bits,", len(z), "logits")
	// Output:
	// fc1.w: 11194 of 235200 weights kept, positions as gaps
	// fc2.w: 6921 of 30000 weights kept, positions as bitmap
	// fc3.w: 519 of 1000 weights kept, positions as bitmap
	// more than 40x smaller: true
	// lenet300100 [1 28 28] 5 bits, 10 logits
}

// A LeNet-5 ticket (conv layers too) with 5% of each layer's weights,
// exported with 8 bits per kept weight: the file describes the chain and
// runs from itself alone.
func ExampleEncode_conv() {
	m, err := train.LeNet5([]int{1, 28, 28}, 10)
	if err != nil {
		log.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		log.Fatal(err)
	}
	params := w.Prunable()
	masks := prune.NewMasks(params)
	if err := (prune.Layerwise{Scorer: prune.L1{}, Default: prune.Fraction(0.95)}).Prune(masks, params); err != nil {
		log.Fatal(err)
	}
	data, rep, err := export.Encode(m, []int{1, 28, 28}, w, masks, export.Options{Bits: 8})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range rep.Layers {
		fmt.Printf("%s %s: %d of %d weights kept\n", l.Kind, l.Weight, l.Kept, l.Weights)
	}
	fmt.Println("more than 10x smaller:", rep.Ratio > 10)
	loaded, err := export.Decode(data)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range loaded.Layers {
		fmt.Print(l.Kind, " ")
	}
	fmt.Println()
	// Output:
	// conv conv1.w: 8 of 150 weights kept
	// conv conv2.w: 120 of 2400 weights kept
	// dense fc1.w: 4704 of 94080 weights kept
	// dense fc2.w: 504 of 10080 weights kept
	// dense fc3.w: 42 of 840 weights kept
	// more than 10x smaller: true
	// conv maxpool conv maxpool flatten dense dense dense
}
