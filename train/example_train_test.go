package train_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The built-in models name their parameters stably; weights are prunable,
// biases are not.
func ExampleLeNet300100() {
	m, err := train.LeNet300100([]int{1, 28, 28}, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range m.Params() {
		fmt.Println(p.Name, p.Shape, p.Prunable)
	}
	// Output:
	// fc1.w [784 300] true
	// fc1.b [300] false
	// fc2.w [300 100] true
	// fc2.b [100] false
	// fc3.w [100 10] true
	// fc3.b [10] false
}

// Conv-2/4/6 fit any input size and channel count the pools allow.
func ExampleConv6() {
	m, err := train.Conv6([]int{3, 32, 32}, 10)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(m.Params()), m.Params()[12].Name, m.Params()[12].Shape)
	_, err = train.Conv6([]int{1, 4, 4}, 10)
	fmt.Println(err)
	// Output:
	// 18 fc1.w [4096 256]
	// train: conv6: input [1 4 4] is too small: the pool after conv6 leaves nothing (need at least 8x8)
}

// Training LeNet-300-100 on the digits, the lottery-ticket setting (Adam,
// learning rate 1.2e-3, batches of 60), takes about a second.
func ExampleTrainer() {
	data, err := train.Load("digits", 180, 1) // 180 validation examples, seed 1
	if err != nil {
		log.Fatal(err)
	}
	m, err := train.LeNet300100(data.Train.Shape, data.Train.Classes)
	if err != nil {
		log.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		log.Fatal(err)
	}
	t, err := train.NewTrainer(m, w, train.Config{Iterations: 500, EvalEvery: 100})
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	res, err := t.Fit(context.Background(), data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("evaluations:", len(res.Evals))
	fmt.Println("test accuracy at least 95%:", res.Final.TestAccuracy >= 0.95)
	fmt.Println("early-stopping iteration is one of them:", res.Best.Iteration%100 == 0)
	// Output:
	// evaluations: 5
	// test accuracy at least 95%: true
	// early-stopping iteration is one of them: true
}

// linear is a user-defined model: a Gorgonia graph of the user's own, here a
// linear classifier built from Gorgonia's ops. Any Model trains, prunes and
// runs in lottery experiments like the built-in ones.
type linear struct{ in, classes int }

func (m linear) Name() string { return "linear" }

func (m linear) Params() []train.ParamSpec {
	return []train.ParamSpec{
		{Name: "w", Shape: []int{m.in, m.classes}, Prunable: true, Init: train.GlorotUniform{}},
		{Name: "b", Shape: []int{m.classes}},
	}
}

func (m linear) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	// x is [batch, 1, 8, 8]: flatten it, then x·W + b.
	flat, err := gorgonia.Reshape(x, tensor.Shape{x.Shape()[0], m.in})
	if err != nil {
		return nil, err
	}
	z, err := gorgonia.Mul(flat, w[0])
	if err != nil {
		return nil, err
	}
	return gorgonia.BroadcastAdd(z, w[1], nil, []byte{0})
}

func ExampleModel() {
	data, err := train.Load("digits", 0, 1)
	if err != nil {
		log.Fatal(err)
	}
	m := linear{in: 64, classes: 10}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		log.Fatal(err)
	}
	t, err := train.NewTrainer(m, w, train.Config{Epochs: 10, Optimizer: train.Adam{LR: 1e-2}})
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	res, err := t.Fit(context.Background(), data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("steps:", res.Steps)
	fmt.Println("test accuracy at least 90%:", res.Final.TestAccuracy >= 0.9)
	// Output:
	// steps: 240
	// test accuracy at least 90%: true
}

// Masks set on a trainer stay in force: the pruned weights are zero after
// training, under any optimizer.
func ExampleTrainer_SetMasks() {
	data, err := train.Load("digits", 180, 1)
	if err != nil {
		log.Fatal(err)
	}
	m, _ := train.LeNet300100(data.Train.Shape, 10)
	w, _ := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	t, err := train.NewTrainer(m, w, train.Config{Iterations: 200})
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	// prune 80% of every layer by magnitude, then train the survivors
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if err := (prune.Unstructured{Scorer: prune.L1{}, Amount: prune.Fraction(0.8)}).Prune(ms, params); err != nil {
		log.Fatal(err)
	}
	if err := t.SetMasks(ms); err != nil {
		log.Fatal(err)
	}
	if _, err := t.Fit(context.Background(), data); err != nil {
		log.Fatal(err)
	}
	zeros := 0
	for _, p := range params {
		for _, v := range p.Value.Float32s() {
			if v == 0 {
				zeros++
			}
		}
	}
	fmt.Printf("sparsity %.2f, zero weights %d of %d\n", ms.Sparsity(), zeros, ms.Total())
	// Output:
	// sparsity 0.80, zero weights 40160 of 50200
}

// A snapshot keeps weights, optimizer state and step; restoring it resumes
// training exactly (the batches and the learning rate depend on the step).
func ExampleTrainer_Snapshot() {
	data, _ := train.Load("digits", 0, 1)
	m, _ := train.LeNet300100(data.Train.Shape, 10)
	w, _ := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	t, _ := train.NewTrainer(m, w, train.Config{Iterations: 20})
	defer t.Close()
	t.Fit(context.Background(), data)
	s := t.Snapshot() // at step 20

	t.SetStep(0) // train 20 more steps from here...
	t.Fit(context.Background(), data)
	fmt.Println("changed:", !t.Weights().Equal(s.Weights))

	if err := t.Restore(s); err != nil { // ...and go back
		log.Fatal(err)
	}
	fmt.Println("step:", t.Step(), "restored:", t.Weights().Equal(s.Weights))
	// Output:
	// changed: true
	// step: 20 restored: true
}
