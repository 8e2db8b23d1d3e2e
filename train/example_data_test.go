package train_test

import (
	"fmt"
	"log"
	"math"

	"github.com/shearsml/shears/train"
)

// Digits needs no file: the data are compiled into the package.
func ExampleDigits() {
	d, err := train.Digits()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("examples:", d.Len())
	fmt.Println("shape:", d.Shape, "features:", d.Features())
	fmt.Println("classes:", d.Classes)
	// Output:
	// examples: 1797
	// shape: [1 8 8] features: 64
	// classes: 10
}

// Load splits the digits into training, validation and test sets; the
// seed chooses the validation set, the test set is the same for every seed.
func ExampleLoad() {
	s, err := train.Load("digits", 300, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Train.Name, s.Train.Len())
	fmt.Println(s.Val.Name, s.Val.Len())
	fmt.Println(s.Test.Name, s.Test.Len())
	// Output:
	// digits-train 1137
	// digits-val 300
	// digits-test 360
}

// Batch copies examples into buffers the caller reuses; the last batch is
// partial, not dropped.
func ExampleDataset_Batch() {
	s, err := train.Load("digits", 300, 1)
	if err != nil {
		log.Fatal(err)
	}
	d := s.Train
	const size = 500
	x := make([]float32, size*d.Features())
	y := make([]int, size)
	for start := 0; start < d.Len(); start += size {
		n := d.Batch(start, size, x, y)
		fmt.Printf("batch at %d: %d examples, %d values\n", start, n, n*d.Features())
	}
	// Output:
	// batch at 0: 500 examples, 32000 values
	// batch at 500: 500 examples, 32000 values
	// batch at 1000: 137 examples, 8768 values
}

// Standardize with the training set's statistics, applied to every set.
func ExampleDataset_Standardize() {
	s, err := train.Load("digits", 0, 1)
	if err != nil {
		log.Fatal(err)
	}
	mean, std := s.Train.MeanStd()
	s.Train.Standardize(mean, std)
	s.Test.Standardize(mean, std)
	m, sd := s.Train.MeanStd()
	fmt.Println("train mean near 0:", math.Abs(float64(m)) < 1e-4)
	fmt.Println("train std near 1:", math.Abs(float64(sd)-1) < 1e-4)
	// Output:
	// train mean near 0: true
	// train std near 1: true
}
