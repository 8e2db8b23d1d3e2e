package train

import (
	"fmt"
	"strings"

	"gorgonia.org/gorgonia"
)

// MLP returns a fully connected network: the input (of any shape, flattened)
// goes through dense layers of the hidden sizes, each followed by a ReLU,
// then a dense output layer of classes logits. Layers are named fc1, fc2, ...
// in order, the output layer last; each has a weight "fcK.w" [in, out]
// (prunable, GlorotNormal) and a bias "fcK.b" [out] (not prunable, zeros).
//
// hidden may be empty (a linear classifier). It returns an error for an
// empty or non-positive input shape, a hidden size below 1, or fewer than 2
// classes.
func MLP(input []int, hidden []int, classes int) (Model, error) {
	name := "mlp"
	for _, h := range hidden {
		name += fmt.Sprintf("-%d", h)
	}
	return newMLP(name, input, hidden, classes)
}

// LeNet300100 returns the LeNet-300-100 of LeCun et al. (1998) as used by
// Frankle & Carbin (2019): MLP(input, [300, 100], classes), with params
// fc1.w [in,300], fc1.b [300], fc2.w [300,100], fc2.b [100], fc3.w
// [100,classes], fc3.b [classes].
func LeNet300100(input []int, classes int) (Model, error) {
	return newMLP("lenet300100", input, []int{300, 100}, classes)
}

func newMLP(name string, input []int, hidden []int, classes int) (Model, error) {
	in, err := checkInput(name, input)
	if err != nil {
		return nil, err
	}
	if classes < 2 {
		return nil, fmt.Errorf("train: %s: %d classes, want at least 2", name, classes)
	}
	m := &mlp{name: name, input: append([]int(nil), input...)}
	sizes := append(append([]int{in}, hidden...), classes)
	for i := 1; i < len(sizes); i++ {
		if sizes[i] < 1 {
			return nil, fmt.Errorf("train: %s: hidden layer %d has size %d", name, i, sizes[i])
		}
		l := fmt.Sprintf("fc%d", i)
		m.specs = append(m.specs,
			ParamSpec{Name: l + ".w", Shape: []int{sizes[i-1], sizes[i]}, Prunable: true, Init: GlorotNormal{}},
			ParamSpec{Name: l + ".b", Shape: []int{sizes[i]}, Init: Zeros{}})
	}
	return m, nil
}

type mlp struct {
	name    string
	input   []int
	specs   []ParamSpec
	dropout float64 // after each hidden layer; see WithDropout
}

func (m *mlp) Name() string { return m.name }

func (m *mlp) Params() []ParamSpec { return cloneSpecs(m.specs) }

func (m *mlp) String() string {
	parts := make([]string, 0, len(m.specs)/2)
	for i := 0; i < len(m.specs); i += 2 {
		parts = append(parts, fmt.Sprint(m.specs[i].Shape[1]))
	}
	return fmt.Sprintf("%s(%v→%s)", m.name, m.input, strings.Join(parts, "→"))
}

func (m *mlp) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkForward(m.name, len(m.specs), x, w, m.input); err != nil {
		return nil, err
	}
	h := x
	var err error
	for i := 0; i < len(w); i += 2 {
		last := i+2 == len(w)
		if last {
			h, err = Dense(h, w[i], w[i+1])
		} else if h, err = DenseReLU(h, w[i], w[i+1]); err == nil {
			h, err = Dropout(h, m.dropout)
		}
		if err != nil {
			return nil, fmt.Errorf("train: %s: layer fc%d: %w", m.name, i/2+1, err)
		}
	}
	return h, nil
}

func cloneSpecs(specs []ParamSpec) []ParamSpec {
	out := make([]ParamSpec, len(specs))
	for i, s := range specs {
		s.Shape = append([]int(nil), s.Shape...)
		out[i] = s
	}
	return out
}
