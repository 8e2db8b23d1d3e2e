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
