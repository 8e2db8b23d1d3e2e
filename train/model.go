package train

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// Model describes a network: its parameters and how to build its forward pass
// on a Gorgonia graph. The built-in models (MLP, LeNet300100, LeNet5, Conv2,
// Conv4, Conv6) implement it, and so can a user's own network: a Trainer, and
// everything built on it, runs any Model.
//
// A Model holds no weights and no graph: it is a description, safe to share
// between goroutines and trainers. Weights live in a *Weights (NewWeights);
// each Trainer builds its own graph by calling Forward.
//
// A user's own model, here a linear classifier made of Gorgonia's ops (the
// runnable ExampleModel trains it):
//
//	type linear struct{ in, classes int }
//
//	func (m linear) Name() string { return "linear" }
//
//	func (m linear) Params() []train.ParamSpec {
//		return []train.ParamSpec{
//			{Name: "w", Shape: []int{m.in, m.classes}, Prunable: true, Init: train.GlorotUniform{}},
//			{Name: "b", Shape: []int{m.classes}},
//		}
//	}
//
//	func (m linear) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
//		// x is [batch, 1, 8, 8]: flatten it, then x·W + b.
//		flat, err := gorgonia.Reshape(x, tensor.Shape{x.Shape()[0], m.in})
//		if err != nil {
//			return nil, err
//		}
//		z, err := gorgonia.Mul(flat, w[0])
//		if err != nil {
//			return nil, err
//		}
//		return gorgonia.BroadcastAdd(z, w[1], nil, []byte{0})
//	}
//
// and its training:
//
//	m := linear{in: 64, classes: 10}
//	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
//	t, err := train.NewTrainer(m, w, train.Config{Epochs: 10, Optimizer: train.Adam{LR: 1e-2}})
//	res, err := t.Fit(ctx, data)
type Model interface {
	// Name returns a short identifier, e.g. "lenet300100".
	Name() string
	// Params returns the model's parameters, in a fixed order. Names must be
	// unique and stable: weights, masks and checkpoints are matched by name.
	Params() []ParamSpec
	// Forward builds the forward pass on g. x has shape [batch]+input shape
	// (e.g. [60,1,28,28]); w holds one node per Params() entry, in order,
	// already bound to values of the ParamSpec's shape. Forward returns the
	// logits, shape [batch, classes]; the trainer adds the softmax
	// cross-entropy loss. Forward may be called several times, on different
	// graphs and batch sizes (training, evaluation), and must build the same
	// function each time.
	Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error)
}

// ParamSpec describes one parameter tensor of a Model.
type ParamSpec struct {
	// Name is unique in the model and stable, e.g. "fc1.w", "fc1.b", "conv1.w".
	Name string
	// Shape: a dense weight is [in, out] (Gorgonia's x·W layout), a bias
	// [out], a convolution kernel [out, in, kh, kw].
	Shape []int
	// Prunable marks the tensors that pruning applies to: weights yes,
	// biases no, in the built-in models.
	Prunable bool
	// Init fills the initial values; nil means zeros.
	Init Initializer
}

// MaxParams bounds the number of weights of a model (all its params
// together), checked before anything is allocated: 2^30, 4 GiB of float32.
const MaxParams = 1 << 30

// maxElems bounds the number of elements of a tensor or an example.
const maxElems = math.MaxInt32

// size returns the number of elements of s, or an error for an empty or
// negative shape.
func (s ParamSpec) size() (int, error) {
	if len(s.Shape) == 0 {
		return 0, fmt.Errorf("train: param %q: empty shape", s.Name)
	}
	n := 1
	for _, d := range s.Shape {
		if d <= 0 {
			return 0, fmt.Errorf("train: param %q: shape %v has a dimension below 1", s.Name, s.Shape)
		}
		if n > maxElems/d {
			return 0, fmt.Errorf("train: param %q: shape %v is too large", s.Name, s.Shape)
		}
		n *= d
	}
	return n, nil
}

// checkSpecs validates the parameter list of a model: non-empty, unique
// names, valid shapes.
func checkSpecs(m Model) ([]ParamSpec, error) {
	if m == nil {
		return nil, errors.New("train: nil Model")
	}
	specs := m.Params()
	if len(specs) == 0 {
		return nil, fmt.Errorf("train: model %q has no params", m.Name())
	}
	seen := make(map[string]bool, len(specs))
	total := 0
	for _, s := range specs {
		if s.Name == "" {
			return nil, fmt.Errorf("train: model %q: a param has an empty name", m.Name())
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("train: model %q: param name %q appears twice", m.Name(), s.Name)
		}
		seen[s.Name] = true
		n, err := s.size()
		if err != nil {
			return nil, err
		}
		if total += n; total > MaxParams {
			return nil, fmt.Errorf("train: model %q has more than MaxParams (%d) weights", m.Name(), MaxParams)
		}
	}
	return specs, nil
}

// WithInit returns m with the initializer of every prunable parameter
// replaced by init (biases keep theirs). For example
// WithInit(m, KaimingNormal{}) gives the initialisation OpenLTH uses, where
// the built-in models default to GlorotNormal (Frankle & Carbin 2019).
func WithInit(m Model, init Initializer) Model {
	return initModel{Model: m, init: init}
}

type initModel struct {
	Model
	init Initializer
}

func (m initModel) Params() []ParamSpec {
	ps := m.Model.Params()
	out := make([]ParamSpec, len(ps))
	for i, p := range ps {
		p.Shape = append([]int(nil), p.Shape...)
		if p.Prunable {
			p.Init = m.init
		}
		out[i] = p
	}
	return out
}

// checkInput validates the shape of one example and returns its size.
func checkInput(model string, input []int) (int, error) {
	if len(input) == 0 {
		return 0, fmt.Errorf("train: %s: empty input shape", model)
	}
	n := 1
	for _, d := range input {
		if d <= 0 {
			return 0, fmt.Errorf("train: %s: input shape %v has a dimension below 1", model, input)
		}
		if n > maxElems/d {
			return 0, fmt.Errorf("train: %s: input shape %v is too large", model, input)
		}
		n *= d
	}
	return n, nil
}

// checkForward checks the arguments a Trainer passes to Forward.
func checkForward(model string, nparams int, x *gorgonia.Node, w []*gorgonia.Node, input []int) error {
	if x == nil {
		return fmt.Errorf("train: %s: nil input node", model)
	}
	if len(w) != nparams {
		return fmt.Errorf("train: %s: %d weight nodes for %d params", model, len(w), nparams)
	}
	for i, n := range w {
		if n == nil {
			return fmt.Errorf("train: %s: weight node %d is nil", model, i)
		}
	}
	s := x.Shape()
	if len(s) != len(input)+1 {
		return fmt.Errorf("train: %s: input node shape %v, want [batch]+%v", model, s, input)
	}
	for i, d := range input {
		if s[i+1] != d {
			return fmt.Errorf("train: %s: input node shape %v, want [batch]+%v", model, s, input)
		}
	}
	return nil
}
