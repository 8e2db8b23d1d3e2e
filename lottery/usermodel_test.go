package lottery_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shearsml/shears/lottery"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tanhNet is a model defined outside the library, as a user would write
// one: a hidden layer with tanh, built from Gorgonia's own operations.
type tanhNet struct {
	in, hidden, classes int
}

func (m tanhNet) Name() string { return "tanhnet" }

func (m tanhNet) Params() []train.ParamSpec {
	return []train.ParamSpec{
		{Name: "hidden.w", Shape: []int{m.in, m.hidden}, Prunable: true, Init: train.GlorotUniform{}},
		{Name: "hidden.b", Shape: []int{m.hidden}},
		{Name: "out.w", Shape: []int{m.hidden, m.classes}, Prunable: true, Init: train.GlorotUniform{}},
		{Name: "out.b", Shape: []int{m.classes}},
	}
}

func (m tanhNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	batch := x.Shape()[0]
	flat, err := gorgonia.Reshape(x, tensor.Shape{batch, m.in})
	if err != nil {
		return nil, err
	}
	h, err := gorgonia.Mul(flat, w[0])
	if err != nil {
		return nil, err
	}
	if h, err = gorgonia.BroadcastAdd(h, w[1], nil, []byte{0}); err != nil {
		return nil, err
	}
	if h, err = gorgonia.Tanh(h); err != nil {
		return nil, err
	}
	z, err := gorgonia.Mul(h, w[2])
	if err != nil {
		return nil, err
	}
	return gorgonia.BroadcastAdd(z, w[3], nil, []byte{0})
}

// A user's own model runs the whole experiment: levels, controls, resume.
func TestUserModel(t *testing.T) {
	data, err := train.Load("digits", 200, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := tanhNet{in: 64, hidden: 24, classes: 10}
	exp := lottery.Experiment{
		Train:    lottery.Training{Iterations: 40, Batch: 32, EvalEvery: 20},
		Levels:   2,
		Controls: []string{lottery.ArmReinit, lottery.ArmRandom},
		Workers:  2,
	}
	dir := t.TempDir()
	opts := lottery.Options{Model: model, Data: data}
	res, err := lottery.Run(context.Background(), dir, exp, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Experiment.Model != "custom:tanhnet" || res.Experiment.Data.Source != "custom" {
		t.Errorf("labels %q, %q", res.Experiment.Model, res.Experiment.Data.Source)
	}
	if len(res.Rows) != 1+2*3 {
		t.Fatalf("%d rows", len(res.Rows))
	}
	hid, out := 64*24, 24*10
	for _, r := range res.Results {
		if r.Final.TestAccuracy < 0.3 {
			t.Errorf("%s: test accuracy %v", r.Key(), r.Final.TestAccuracy)
		}
		if len(r.Layers) != 2 || r.Layers[0].Name != "hidden.w" || r.Layers[1].Name != "out.w" {
			t.Errorf("%s: layers %+v", r.Key(), r.Layers)
		}
	}
	// Level 2: hidden.w keeps 0.8², out.w 0.9², rounded half to even each time.
	keep := func(n int, rate float64, levels int) int {
		for range levels {
			n -= int(roundHalfEven(rate * float64(n)))
		}
		return n
	}
	last := res.Results[len(res.Results)-3]
	if last.Level != 2 || last.Layers[0].Kept != keep(hid, 0.2, 2) || last.Layers[1].Kept != keep(out, 0.1, 2) {
		t.Errorf("level 2 ticket keeps %+v", last.Layers)
	}
	ms, err := prune.LoadMasks(filepath.Join(dir, res.Hash, "trial-0", "level-2", "ticket", "masks.shm"))
	if err != nil {
		t.Fatal(err)
	}
	if ms.Kept() != last.Layers[0].Kept+last.Layers[1].Kept {
		t.Errorf("mask file keeps %d", ms.Kept())
	}
	// Without the model, the description cannot run: it names a custom model.
	if _, err := lottery.Run(context.Background(), dir, res.Experiment, lottery.Options{Data: data}); err == nil {
		t.Error("a custom model without Options.Model ran")
	}
	// With it, everything is already done.
	again, err := lottery.Run(context.Background(), dir, exp, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again.Rows {
		if again.Rows[i] != res.Rows[i] {
			t.Errorf("row %d changed", i)
		}
	}
}

func roundHalfEven(x float64) float64 {
	f := float64(int(x))
	switch d := x - f; {
	case d > 0.5 || (d == 0.5 && int(f)%2 == 1):
		return f + 1
	}
	return f
}

// Run an experiment on the embedded digits data, then read its results.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "lottery-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	exp := lottery.Experiment{
		Model:    "mlp:32",
		Train:    lottery.Training{Iterations: 30, Batch: 32, EvalEvery: 10},
		Levels:   2,
		Controls: []string{lottery.ArmRandom},
	}
	res, err := lottery.Run(context.Background(), dir, exp, lottery.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Rows {
		fmt.Printf("level %d %-6s remaining %.4f\n", r.Level, r.Arm, r.Remaining)
	}
	// Output:
	// level 0 ticket remaining 1.0000
	// level 1 ticket remaining 0.8133
	// level 1 random remaining 0.8133
	// level 2 ticket remaining 0.6626
	// level 2 random remaining 0.6626
}

// The hash identifies what decides an experiment's numbers; defaults written
// out and the extent of the sweep leave it unchanged.
func ExampleExperiment_Hash() {
	a := lottery.Experiment{}
	b := lottery.Experiment{Model: "lenet300100", Train: lottery.Training{LR: 1.2e-3, Batch: 60}, Levels: 20, Trials: 5}
	c := lottery.Experiment{Seed: 1}
	fmt.Println(a.Hash() == b.Hash(), a.Hash() == c.Hash())
	// Output: true false
}

// A sweep split over three machines: each runs the trials t with t mod 3 = i.
func ExampleParseShard() {
	s, err := lottery.ParseShard("1/3")
	if err != nil {
		fmt.Println(err)
		return
	}
	for t := range 7 {
		if s.Owns(t) {
			fmt.Print(t, " ")
		}
	}
	fmt.Println()
	// Output: 1 4
}

// linearNet is tanhNet with the activation removed: the same name, params
// and label, another function.
type linearNet struct{ tanhNet }

func (m linearNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	batch := x.Shape()[0]
	flat, err := gorgonia.Reshape(x, tensor.Shape{batch, m.in})
	if err != nil {
		return nil, err
	}
	h, err := gorgonia.Mul(flat, w[0])
	if err != nil {
		return nil, err
	}
	if h, err = gorgonia.BroadcastAdd(h, w[1], nil, []byte{0}); err != nil {
		return nil, err
	}
	z, err := gorgonia.Mul(h, w[2])
	if err != nil {
		return nil, err
	}
	return gorgonia.BroadcastAdd(z, w[3], nil, []byte{0})
}

// TestUserModelGraphInHash: a user's model whose Forward changed, under the
// same name and label, gets another hash and does not reuse the old
// results; the same model reuses them.
func TestUserModelGraphInHash(t *testing.T) {
	e := lottery.Experiment{Data: lottery.Data{Val: 100}, Train: lottery.Training{Iterations: 10, EvalEvery: 5}, Workers: 1}
	dir := t.TempDir()
	first, err := lottery.Run(context.Background(), dir, e, lottery.Options{Model: tanhNet{64, 16, 10}})
	if err != nil {
		t.Fatal(err)
	}
	if first.Experiment.Graph == "" {
		t.Fatal("the run's description has no graph fingerprint")
	}
	again, err := lottery.Run(context.Background(), dir, e, lottery.Options{Model: tanhNet{64, 16, 10}})
	if err != nil || again.Hash != first.Hash {
		t.Fatalf("the same model again: %v, hash %s then %s", err, first.Hash, again.Hash)
	}
	_, err = lottery.Run(context.Background(), dir, e, lottery.Options{Model: linearNet{tanhNet{64, 16, 10}}})
	if err == nil {
		t.Fatal("a model without its activation reused the folder of the one with it")
	}
	other, err := lottery.Run(context.Background(), t.TempDir(), e, lottery.Options{Model: linearNet{tanhNet{64, 16, 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if other.Hash == first.Hash || other.Experiment.Model != first.Experiment.Model {
		t.Errorf("changed Forward: hash %s (label %s), the original's %s (label %s)", other.Hash, other.Experiment.Model, first.Hash, first.Experiment.Model)
	}
	// The description written by the first run, with the changed model.
	_, err = lottery.Run(context.Background(), t.TempDir(), first.Experiment, lottery.Options{Model: linearNet{tanhNet{64, 16, 10}}})
	if err == nil {
		t.Error("a description recording another graph ran")
	}
}
