package train

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gorgoniaNet is a user's model made of Gorgonia's own ops: Conv2d, a bias
// by BroadcastAdd, Rectify, MaxPool2D, Reshape, Mul, optionally Dropout.
type gorgoniaNet struct {
	input   []int
	ch, hid int
	pad     int
	dropout bool
}

func (m gorgoniaNet) Name() string {
	if m.dropout {
		return "gorgonia-net-dropout"
	}
	return "gorgonia-net"
}
func (m gorgoniaNet) Params() []ParamSpec {
	c, h, w := m.input[0], m.input[1], m.input[2]
	oh, ow := (h+2*m.pad-3+1)/2, (w+2*m.pad-3+1)/2
	return []ParamSpec{
		{Name: "c.w", Shape: []int{m.ch, c, 3, 3}, Prunable: true, Init: GlorotNormal{}},
		{Name: "c.b", Shape: []int{m.ch}},
		{Name: "h.w", Shape: []int{m.ch * oh * ow, m.hid}, Prunable: true, Init: GlorotNormal{}},
		{Name: "h.b", Shape: []int{m.hid}},
		{Name: "o.w", Shape: []int{m.hid, 10}, Prunable: true, Init: GlorotNormal{}},
		{Name: "o.b", Shape: []int{10}},
	}
}

func (m gorgoniaNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	ch := w[0].Shape()[0]
	h, err := gorgonia.Conv2d(x, w[0], tensor.Shape{3, 3}, []int{m.pad, m.pad}, []int{1, 1}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	b, err := gorgonia.Reshape(w[1], tensor.Shape{1, ch, 1, 1})
	if err != nil {
		return nil, err
	}
	if h, err = gorgonia.BroadcastAdd(h, b, nil, []byte{0, 2, 3}); err != nil {
		return nil, err
	}
	if h, err = gorgonia.Rectify(h); err != nil {
		return nil, err
	}
	if h, err = gorgonia.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
		return nil, err
	}
	s := h.Shape()
	if h, err = gorgonia.Reshape(h, tensor.Shape{s[0], s[1] * s[2] * s[3]}); err != nil {
		return nil, err
	}
	for i := 2; i < len(w); i += 2 {
		if h, err = gorgonia.Mul(h, w[i]); err != nil {
			return nil, err
		}
		if h, err = gorgonia.BroadcastAdd(h, w[i+1], nil, []byte{0}); err != nil {
			return nil, err
		}
		if i+2 < len(w) {
			if h, err = gorgonia.Rectify(h); err != nil {
				return nil, err
			}
			if m.dropout {
				if h, err = gorgonia.Dropout(h, 0.5); err != nil {
					return nil, err
				}
			}
		}
	}
	return h, nil
}

// builtins returns every built-in model for the digits' shape.
func builtins(t testing.TB, shape []int) []Model {
	t.Helper()
	var ms []Model
	for _, f := range []func([]int, int) (Model, error){
		LeNet300100, LeNet5, Conv2, Conv4, Conv6,
		func(in []int, c int) (Model, error) { return MLP(in, []int{40, 30, 20}, c) },
	} {
		m, err := f(shape, 10)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

// randomBiases gives every bias values in [-0.5, 0.5), so that removed units
// output non-zero constants.
func randomBiases(w *Weights, rng *rand.Rand) {
	for i, name := range w.names {
		if w.prunable[i] {
			continue
		}
		v := floatsOf(w.Tensor(name))
		for j := range v {
			v[j] = rng.Float64() - 0.5
		}
		storeFloats(w.Tensor(name), v)
	}
}

func digitsTest(t testing.TB) *Dataset {
	t.Helper()
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// maxDiff returns the largest |a-b| and the largest |a|.
func maxDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i]-b[i])))
		scale = max(scale, math.Abs(float64(a[i])))
	}
	return diff, scale
}

// checkEquivalent compares the logits of the masked model with the
// compacted model's on every example of d.
func checkEquivalent(t *testing.T, m Model, w *Weights, ms *prune.Masks, d *Dataset) *Compacted {
	t.Helper()
	before := w.Clone()
	c, err := Compact(m, w, ms, d.Shape)
	if err != nil {
		t.Fatalf("%s: Compact: %v", m.Name(), err)
	}
	if !w.Equal(before) {
		t.Fatalf("%s: Compact changed the weights", m.Name())
	}
	masked := w.Clone()
	if ms != nil {
		for _, n := range ms.Names() {
			if err := ms.Mask(n).ApplyTo(masked.Tensor(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, err := Logits(m, masked, d, 97)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Logits(c.Model, c.Weights, d, 60)
	if err != nil {
		t.Fatalf("%s: logits of the compacted model: %v", m.Name(), err)
	}
	diff, scale := maxDiff(want, got)
	if diff > 1e-5*max(scale, 1) {
		t.Errorf("%s: compacted logits differ by %g (largest logit %g)", m.Name(), diff, scale)
	}
	if err := c.Weights.Matches(c.Model); err != nil {
		t.Errorf("%s: compacted weights do not match the compacted model: %v", m.Name(), err)
	}
	return c
}

func TestCompactGroupedEveryModel(t *testing.T) {
	d := digitsTest(t)
	models := append(builtins(t, d.Shape), gorgoniaNet{input: d.Shape, ch: 8, hid: 24, pad: 1}, gorgoniaNet{input: d.Shape, ch: 6, hid: 16})
	for i, m := range models {
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		w, err := NewWeights(m, tensor.Float32, rng)
		if err != nil {
			t.Fatal(err)
		}
		randomBiases(w, rng)
		gs, err := Groups(m, d.Shape)
		if err != nil {
			t.Fatalf("%s: %v", m.Name(), err)
		}
		ms := prune.NewMasks(w.Prunable())
		if err := (prune.Grouped{Groups: gs, Scorer: prune.L2{}, Amount: prune.Fraction(0.5)}).Prune(ms, w.Params()); err != nil {
			t.Fatalf("%s: %v", m.Name(), err)
		}
		c := checkEquivalent(t, m, w, ms, d)
		// every hidden group lost half its units, the logits none
		for _, g := range gs {
			want := g.Units / 2
			if g.Logits {
				want = 0
			}
			if got := len(c.Removed[g.Name]); got != want {
				t.Errorf("%s: group %s: removed %d units, want %d", m.Name(), g.Name, got, want)
			}
		}
		if c.Weights.Count() >= w.Count()*6/10 && m.Name() != "lenet5" {
			t.Errorf("%s: compacted to %d weights of %d", m.Name(), c.Weights.Count(), w.Count())
		}
		// the compacted masks are all kept: group pruning leaves no sparsity
		if c.Masks.Sparsity() != 0 {
			t.Errorf("%s: compacted masks are %.3f sparse, want 0", m.Name(), c.Masks.Sparsity())
		}
	}
}

func TestGroupsLeNet(t *testing.T) {
	m, _ := LeNet300100([]int{1, 8, 8}, 10)
	gs, err := Groups(m, []int{1, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	got := gs.String()
	want := "fc1.w: 300 units: fc1.w[out dim 1] fc1.b[out dim 0] fc2.w[in dim 0]\n" +
		"fc2.w: 100 units: fc2.w[out dim 1] fc2.b[out dim 0] fc3.w[in dim 0]\n" +
		"fc3.w: 10 units (logits): fc3.w[out dim 1] fc3.b[out dim 0]\n"
	if got != want {
		t.Errorf("groups:\n%s\nwant:\n%s", got, want)
	}
	m5, _ := LeNet5([]int{1, 8, 8}, 10)
	gs, err = Groups(m5, []int{1, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	// conv2's 16 channels of 2×2 pixels feed 4 rows of fc1.w each.
	if !strings.Contains(gs.String(), "conv2.w: 16 units: conv2.w[out dim 0] conv2.b[out dim 0] fc1.w[in dim 0 ×4]") ||
		!strings.Contains(gs.String(), "conv1.w: 6 units: conv1.w[out dim 0] conv1.b[out dim 0] conv2.w[in dim 1]") {
		t.Errorf("lenet5 groups:\n%s", gs)
	}
	// the same from Gorgonia's own ops
	gs, err = Groups(gorgoniaNet{input: []int{1, 8, 8}, ch: 8, hid: 24, pad: 1}, []int{1, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	want = "c.w: 8 units: c.w[out dim 0] c.b[out dim 0] h.w[in dim 0 ×16]\n" +
		"h.w: 24 units: h.w[out dim 1] h.b[out dim 0] o.w[in dim 0]\n" +
		"o.w: 10 units (logits): o.w[out dim 1] o.b[out dim 0]\n"
	if gs.String() != want {
		t.Errorf("gorgonia net groups:\n%s\nwant:\n%s", gs, want)
	}
	// Dropout passes units through (Gorgonia's runs in training mode, so
	// only the groups are compared).
	gd, err := Groups(gorgoniaNet{input: []int{1, 8, 8}, ch: 8, hid: 24, pad: 1, dropout: true}, []int{1, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	if gd.String() != want {
		t.Errorf("gorgonia net with dropout groups:\n%s\nwant:\n%s", gd, want)
	}
}

// Structured masks on the computing weights only (prune.Structured): the
// removed units' constant outputs relu(b) are folded into the next biases.
func TestCompactFoldsConstants(t *testing.T) {
	d := digitsTest(t)
	for i, m := range []Model{builtins(t, d.Shape)[0], builtins(t, d.Shape)[5], gorgoniaNet{input: d.Shape, ch: 6, hid: 16}} {
		rng := rand.New(rand.NewPCG(uint64(i), 3))
		w, _ := NewWeights(m, tensor.Float32, rng)
		randomBiases(w, rng)
		ms := prune.NewMasks(w.Prunable())
		for _, p := range w.Prunable() {
			if p.Name == "fc3.w" || p.Name == "o.w" || p.Name == "fc4.w" {
				continue // the output layer
			}
			dim := 0 // a conv kernel's filters
			if len(p.Shape()) == 2 {
				dim = 1 // a dense weight's output units
			}
			one := prune.NewMasks([]prune.Param{p})
			if err := (prune.Structured{Scorer: prune.L1{}, Dim: dim, Amount: prune.Fraction(0.5)}).Prune(one, []prune.Param{p}); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < one.At(0).Len(); j++ {
				ms.Mask(p.Name).Set(j, one.At(0).Keeps(j))
			}
		}
		c := checkEquivalent(t, m, w, ms, d)
		if len(c.Removed) == 0 {
			t.Errorf("%s: nothing removed", m.Name())
		}
	}
}

func TestCompactBadInput(t *testing.T) {
	d := digitsTest(t)
	ms := builtins(t, d.Shape)
	lenet, conv2 := ms[0], ms[2]
	rng := rand.New(rand.NewPCG(7, 7))
	w, _ := NewWeights(lenet, tensor.Float32, rng)
	randomBiases(w, rng)

	// Masks of another model.
	wc, _ := NewWeights(conv2, tensor.Float32, rng)
	if _, err := Compact(lenet, w, prune.NewMasks(wc.Prunable()), d.Shape); err == nil || !strings.Contains(err.Error(), "conv1.w") {
		t.Errorf("masks of conv2 on lenet300100: %v", err)
	}
	// Weights of another model.
	if _, err := Compact(lenet, wc, nil, d.Shape); err == nil {
		t.Error("weights of conv2 on lenet300100: no error")
	}
	// A whole layer pruned.
	masks := prune.NewMasks(w.Prunable())
	for j := 0; j < masks.Mask("fc2.w").Len(); j++ {
		masks.Mask("fc2.w").Set(j, false)
	}
	before := masks.Clone()
	if _, err := Compact(lenet, w, masks, d.Shape); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("fc2.w entirely pruned: %v", err)
	}
	if !masks.Equal(before) {
		t.Error("Compact changed the masks")
	}
	// A filter of a padded convolution with a non-zero constant output: the
	// next convolution cannot fold it.
	randomBiases(wc, rng)
	cm := prune.NewMasks(wc.Prunable())
	for i := 0; i < 3*3; i++ { // filter 0 of conv1 (1 input channel)
		cm.Mask("conv1.w").Set(i, false)
	}
	bias := wc.Tensor("conv1.b").Float32s()
	bias[0] = 0.25
	if _, err := Compact(conv2, wc, cm, d.Shape); err == nil || !strings.Contains(err.Error(), "padded") {
		t.Errorf("a padded conv reading a constant channel: %v", err)
	}
	bias[0] = -0.25 // relu(-0.25) = 0: nothing to fold
	c, err := Compact(conv2, wc, cm, d.Shape)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Weights.Tensor("conv1.w").Shape()[0]; got != 63 {
		t.Errorf("conv1 keeps %d filters, want 63", got)
	}
	// An op the tracer does not know.
	if _, err := Groups(tanhNet{}, d.Shape); err == nil || !strings.Contains(err.Error(), "Concat") {
		t.Errorf("a model with Concat: %v", err)
	}
}

// tanhNet concatenates a hidden layer with itself: an op the tracer does not
// know.
type tanhNet struct{}

func (tanhNet) Name() string { return "concat-net" }
func (tanhNet) Params() []ParamSpec {
	return []ParamSpec{{Name: "a.w", Shape: []int{64, 8}, Prunable: true}, {Name: "b.w", Shape: []int{16, 10}, Prunable: true}}
}
func (tanhNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	x, err := gorgonia.Reshape(x, tensor.Shape{x.Shape()[0], 64})
	if err != nil {
		return nil, err
	}
	h, err := gorgonia.Mul(x, w[0])
	if err != nil {
		return nil, err
	}
	if h, err = gorgonia.Concat(1, h, h); err != nil {
		return nil, err
	}
	return gorgonia.Mul(h, w[1])
}

// Unstructured masks: only the units that happen to be entirely dead go,
// the rest stays as masks, and the logits do not change.
func TestCompactUnstructured(t *testing.T) {
	d := digitsTest(t)
	m := builtins(t, d.Shape)[0]
	rng := rand.New(rand.NewPCG(8, 8))
	w, _ := NewWeights(m, tensor.Float32, rng)
	randomBiases(w, rng)
	ms := prune.NewMasks(w.Prunable())
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.5)}).Prune(ms, w.Prunable()); err != nil {
		t.Fatal(err)
	}
	// kill unit 7 of fc1 (its column) and unit 3 of fc2 (its row in fc3)
	for r := 0; r < 64; r++ {
		ms.Mask("fc1.w").Set(r*300+7, false)
	}
	for c := 0; c < 10; c++ {
		ms.Mask("fc3.w").Set(3*10+c, false)
	}
	c := checkEquivalent(t, m, w, ms, d)
	if !slices.Equal(c.Removed["fc1.w"], []int{7}) || !slices.Equal(c.Removed["fc2.w"], []int{3}) {
		t.Errorf("removed %v", c.Removed)
	}
	if c.Masks.Sparsity() < 0.4 {
		t.Errorf("the compacted masks are %.2f sparse: the unstructured sparsity was lost", c.Masks.Sparsity())
	}
}

// The compacted model trains, saves and loads like any other.
func TestCompactedTrainsSavesLoads(t *testing.T) {
	data, err := Load("digits", 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := builtins(t, data.Train.Shape)[1] // lenet5
	w, _ := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	gs, _ := Groups(m, data.Train.Shape)
	ms := prune.NewMasks(w.Prunable())
	if err := (prune.Grouped{Groups: gs, Amount: prune.Fraction(0.5)}).Prune(ms, w.Params()); err != nil {
		t.Fatal(err)
	}
	c, err := Compact(m, w, ms, data.Train.Shape)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(c.Model, c.Weights, Config{Iterations: 30, EvalEvery: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.SetMasks(c.Masks); err != nil {
		t.Fatalf("the compacted masks do not fit the compacted weights: %v", err)
	}
	before := c.Weights.Clone()
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if c.Weights.Equal(before) {
		t.Error("training did not change the compacted weights")
	}
	path := filepath.Join(t.TempDir(), "c.weights")
	if err := c.Weights.Save(path); err != nil {
		t.Fatal(err)
	}
	lw, err := LoadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := Resize(m, lw)
	if err != nil {
		t.Fatal(err)
	}
	if rm.Name() != c.Model.Name() || rm.Name() == m.Name() || !strings.HasPrefix(rm.Name(), "lenet5-compact-") {
		t.Errorf("names: original %q, compacted %q, resized %q", m.Name(), c.Model.Name(), rm.Name())
	}
	a, err := Logits(c.Model, c.Weights, data.Test, 50)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Logits(rm, lw, data.Test, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("the reloaded compacted model gives other logits")
	}
	if _, err := Resize(builtins(t, data.Train.Shape)[0], lw); err == nil {
		t.Error("Resize of lenet300100 with lenet5's weights: no error")
	}
}

// On Fashion-MNIST (Debian's dataset-fashion-mnist), when installed.
func TestCompactFashionMNIST(t *testing.T) {
	const dir = "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not installed (apt-get install dataset-fashion-mnist)", dir)
	}
	if testing.Short() {
		t.Skip("-short")
	}
	data, err := Load(dir, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	test, err := data.Test.Subset(seq(1000))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []Model{builtins(t, test.Shape)[0], builtins(t, test.Shape)[1]} {
		rng := rand.New(rand.NewPCG(uint64(i), 5))
		w, _ := NewWeights(m, tensor.Float32, rng)
		randomBiases(w, rng)
		gs, err := Groups(m, test.Shape)
		if err != nil {
			t.Fatal(err)
		}
		ms := prune.NewMasks(w.Prunable())
		if err := (prune.Grouped{Groups: gs, Scorer: prune.L2{}, Amount: prune.Fraction(0.5)}).Prune(ms, w.Params()); err != nil {
			t.Fatal(err)
		}
		checkEquivalent(t, m, w, ms, test)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
