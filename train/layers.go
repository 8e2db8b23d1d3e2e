package train

import (
	"errors"
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Kernels chooses how the dense layers of a model compute their products
// when the layer's weight is pruned: with the dense matrix kernel, or with
// the sparse kernels that read only the kept entries. The results are the
// same bit for bit (see DESIGN: the sparse sums keep the dense kernel's
// order), so the choice changes the speed only.
type Kernels int

const (
	// KernelsAuto uses the sparse kernels for a layer whose weight keeps at
	// most SparseThreshold of its entries, the dense kernel otherwise.
	KernelsAuto Kernels = iota
	// KernelsDense always uses the dense kernel.
	KernelsDense
	// KernelsSparse uses the sparse kernels for every masked layer.
	KernelsSparse
)

// SparseThreshold is the density (fraction of a weight's entries kept) at
// or below which KernelsAuto uses the sparse kernels. It was measured on an
// AMD EPYC (Zen 4, AVX2 kernels) with LeNet-300-100's layers (784×300,
// 300×100): at batch 60 a training step's three products (forward, input
// gradient, weight gradient) cost the same with both kernels near 30% kept,
// and inference at batch 1 breaks even near 50%; 25% leaves a margin.
const SparseThreshold = 0.25

// String returns "auto", "dense" or "sparse".
func (k Kernels) String() string {
	switch k {
	case KernelsAuto:
		return "auto"
	case KernelsDense:
		return "dense"
	case KernelsSparse:
		return "sparse"
	}
	return fmt.Sprintf("Kernels(%d)", int(k))
}

// ParseKernels reads "auto", "dense" or "sparse".
func ParseKernels(s string) (Kernels, error) {
	switch s {
	case "auto", "":
		return KernelsAuto, nil
	case "dense":
		return KernelsDense, nil
	case "sparse":
		return KernelsSparse, nil
	}
	return 0, fmt.Errorf("train: kernels %q: want auto, dense or sparse", s)
}

// UseSparse reports whether k runs a layer that keeps kept of its total
// weights with the sparse kernels.
func (k Kernels) UseSparse(kept, total int) bool {
	switch k {
	case KernelsSparse:
		return true
	case KernelsDense:
		return false
	}
	return total > 0 && float64(kept) <= SparseThreshold*float64(total)
}

// DenseLayer is one fully connected layer, y = x·W + b, followed by a ReLU
// when ReLU is set: a step of a model whose forward pass is a chain of this
// package's Dense and DenseReLU ops. The inference path (package
// train/infer) and the compressed export (package train/export) run such
// chains without a graph.
type DenseLayer struct {
	Weight, Bias string // the names of the layer's params: W [In, Out], b [Out]
	In, Out      int
	ReLU         bool
}

// DenseLayers traces m's forward pass for examples of shape input and
// returns its layers, first to last, when the pass is a chain of Dense and
// DenseReLU ops from the (flattened) input to the logits, each reading a
// weight and a bias param of m; the built-in MLP and LeNet300100 are such
// chains. For any other model (convolutions, a user's own ops) it returns
// an error.
func DenseLayers(m Model, input []int) ([]DenseLayer, error) {
	specs, err := checkSpecs(m)
	if err != nil {
		return nil, err
	}
	if _, err := checkInput(m.Name(), input); err != nil {
		return nil, err
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 1+len(input), gorgonia.WithShape(append([]int{1}, input...)...), gorgonia.WithName("x"))
	nodes := make([]*gorgonia.Node, len(specs))
	param := make(map[*gorgonia.Node]int, len(specs))
	for i, s := range specs {
		nodes[i] = gorgonia.NewTensor(g, tensor.Float32, len(s.Shape), gorgonia.WithShape(s.Shape...), gorgonia.WithName(s.Name))
		param[nodes[i]] = i
	}
	out, err := forward(m, g, x, nodes, 1)
	if err != nil {
		return nil, err
	}
	var layers []DenseLayer
	for out != x {
		op, ok := out.Op().(*denseOp)
		if !ok {
			return nil, fmt.Errorf("train: model %q: %v is not a dense layer; only chains of Dense and DenseReLU run without a graph", m.Name(), out.Op())
		}
		ch := g.From(out.ID())
		if ch.Len() != 3 {
			return nil, fmt.Errorf("train: model %q: a dense layer has %d inputs", m.Name(), ch.Len())
		}
		var in [3]*gorgonia.Node
		for i := 0; ch.Next(); i++ {
			in[i] = ch.Node().(*gorgonia.Node)
		}
		wi, okW := param[in[1]]
		bi, okB := param[in[2]]
		if !okW || !okB {
			return nil, fmt.Errorf("train: model %q: a dense layer's weight or bias is not a param", m.Name())
		}
		ws := specs[wi].Shape
		layers = append(layers, DenseLayer{Weight: specs[wi].Name, Bias: specs[bi].Name, In: ws[0], Out: ws[1], ReLU: op.relu})
		if len(layers) > len(specs) {
			return nil, errors.New("train: DenseLayers: the chain does not end")
		}
		out = in[0]
	}
	for i, j := 0, len(layers)-1; i < j; i, j = i+1, j-1 {
		layers[i], layers[j] = layers[j], layers[i]
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("train: model %q: no dense layers", m.Name())
	}
	return layers, nil
}
