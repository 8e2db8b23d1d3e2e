package prune_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A mask starts with every weight kept; pruning clears bits, and Apply zeroes
// the weights whose bits are clear.
func ExampleMasks_Apply() {
	w := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, -2, 3, -4, 5, -6}))
	params := []prune.Param{{Name: "w", Value: w}}

	masks := prune.NewMasks(params)
	m := masks.Mask("w")
	m.Set(1, false) // prune w[0][1]
	m.Set(5, false) // prune w[1][2]
	if err := masks.Apply(params); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Data())
	fmt.Printf("kept %d of %d, sparsity %.3f\n", masks.Kept(), masks.Total(), masks.Sparsity())
	// Output:
	// [1 0 3 -4 5 0]
	// kept 4 of 6, sparsity 0.333
}

// Masks write to a checksummed binary format and read back equal.
func ExampleMasks_WriteTo() {
	w := tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(make([]float64, 12)))
	b := tensor.New(tensor.WithShape(4), tensor.WithBacking(make([]float64, 4)))
	masks := prune.NewMasks([]prune.Param{{Name: "w", Value: w}, {Name: "b", Value: b}})
	for i := 0; i < 12; i += 3 {
		masks.Mask("w").Set(i, false)
	}

	var buf bytes.Buffer
	n, err := masks.WriteTo(&buf)
	if err != nil {
		log.Fatal(err)
	}
	got, err := prune.ReadMasks(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bytes:", n) // 20 header + 4 count + 27 for w + 18 for b + 4 checksum
	fmt.Println("names:", got.Names(), "shape of w:", got.Mask("w").Shape())
	fmt.Println("kept:", got.Kept(), "of", got.Total(), "equal:", got.Equal(masks))

	// A damaged file is rejected.
	data, _ := masks.MarshalBinary()
	data[30] ^= 1
	_, err = prune.ReadMasks(bytes.NewReader(data))
	fmt.Println(err != nil)
	// Output:
	// bytes: 73
	// names: [w b] shape of w: [3 4]
	// kept: 12 of 16 equal: true
	// true
}

// FromNodes takes the weight nodes of a Gorgonia graph; the Params share
// their values, so Apply prunes the graph's weights in place.
func ExampleFromNodes() {
	g := gorgonia.NewGraph()
	w := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithName("w"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{0.1, -3, 2, -0.2}))))
	params, err := prune.FromNodes(w)
	if err != nil {
		log.Fatal(err)
	}
	masks := prune.NewMasks(params)
	for i, x := range params[0].Value.Data().([]float64) {
		if x < 1 && x > -1 {
			masks.Mask("w").Set(i, false) // prune the small ones
		}
	}
	if err := masks.Apply(params); err != nil {
		log.Fatal(err)
	}
	fmt.Println(params[0].Name, params[0].Value.Shape(), "gradient:", params[0].Grad != nil)
	fmt.Println(w.Value().Data())
	// Output:
	// w (2, 2) gradient: false
	// [0 -3 2 0]
}

// OneShot prunes once; between Due steps the target holds.
func ExampleOneShot() {
	s := prune.OneShot{At: 2, Target: 0.9}
	for step := 0; step < 4; step++ {
		fmt.Println(step, s.Due(step), s.Sparsity(step))
	}
	// Output:
	// 0 false 0
	// 1 false 0
	// 2 true 0.9
	// 3 false 0.9
}

// Iterative pruning at 20% a round, as in the lottery-ticket experiments:
// the fraction remaining after each round, and the exact count left of a
// 266,200-weight network (LeNet-300-100) pruned with Fraction(0.2) each round.
func ExampleIterative() {
	s := prune.Iterative{Rate: 0.2, Rounds: 5}
	if err := s.Validate(); err != nil {
		log.Fatal(err)
	}
	for r := 0; r <= s.Rounds; r++ {
		fmt.Printf("round %d: due %-5v remaining %.4f kept %d\n", r, s.Due(r), s.Remaining(r), s.Kept(r, 266200))
	}
	// Output:
	// round 0: due false remaining 1.0000 kept 266200
	// round 1: due true  remaining 0.8000 kept 212960
	// round 2: due true  remaining 0.6400 kept 170368
	// round 3: due true  remaining 0.5120 kept 136294
	// round 4: due true  remaining 0.4096 kept 109035
	// round 5: due true  remaining 0.3277 kept 87228
}

// Gradual pruning (Zhu & Gupta 2017) from 0 to 80% sparsity, every 100 steps
// from step 1000, four times: fast at first, slowly at the end.
func ExampleGradual() {
	s := prune.Gradual{Initial: 0, Final: 0.8, Start: 1000, Every: 100, Steps: 4}
	if err := s.Validate(); err != nil {
		log.Fatal(err)
	}
	for step := 900; step <= 1500; step += 50 {
		if s.Due(step) {
			fmt.Printf("step %d: prune to %.4f\n", step, s.Sparsity(step))
		}
	}
	fmt.Printf("at step 1250: %.4g; from step %d on: %.4g\n", s.Sparsity(1250), s.End(), s.Sparsity(s.End()))
	// Output:
	// step 1000: prune to 0.0000
	// step 1100: prune to 0.4625
	// step 1200: prune to 0.7000
	// step 1300: prune to 0.7875
	// step 1400: prune to 0.8000
	// at step 1250: 0.7; from step 1400 on: 0.8
}

// A training loop asks a schedule for its target on the steps that are due
// and prunes to it; TargetSparsity counts against the whole group, so the
// counts follow the schedule exactly.
func ExampleTarget() {
	w := tensor.New(tensor.WithShape(100), tensor.WithBacking(make([]float32, 100)))
	params := []prune.Param{{Name: "w", Value: w}}
	for i := range 100 {
		w.Data().([]float32)[i] = float32(i + 1)
	}
	masks := prune.NewMasks(params)
	s := prune.Gradual{Final: 0.9, Every: 10, Steps: 3}
	for step := 0; step <= 40; step++ {
		if !s.Due(step) {
			continue
		}
		// Prune the smallest weights until Target(s, step) of them are pruned.
		n, err := prune.Target(s, step).ToPrune(masks.Kept(), masks.Total())
		if err != nil {
			log.Fatal(err)
		}
		for i := 0; i < w.Shape().TotalSize() && n > 0; i++ {
			if masks.Mask("w").Keeps(i) {
				masks.Mask("w").Set(i, false)
				n--
			}
		}
		fmt.Printf("step %d: %d kept\n", step, masks.Kept())
	}
	// Output:
	// step 0: 100 kept
	// step 10: 37 kept
	// step 20: 13 kept
	// step 30: 10 kept
}
