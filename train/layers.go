package train

import (
	"fmt"
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
// AMD EPYC (AVX-512) with whole LeNet-300-100 training steps at the levels
// of the README's lottery protocol (BenchmarkLotteryLevels, batch 60): with
// the hidden layers at 33% and 26% kept the sparse step is 7% and 20%
// faster than the dense one, at 41% 5% slower; inference at batch 1 breaks
// even near 50%.
const SparseThreshold = 0.35

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

// DenseLayers traces m's forward pass for examples of shape input and
// returns its layers, first to last, when the pass is a chain of Dense and
// DenseReLU ops from the (flattened) input to the logits, each reading a
// weight and a bias param of m; the built-in MLP and LeNet300100 are such
// chains. For any other model it returns an error. Chain describes the
// wider family of chains with convolutions and pools (every built-in
// model); DenseLayers is Chain restricted to dense layers.
func DenseLayers(m Model, input []int) ([]DenseLayer, error) {
	layers, err := Chain(m, input)
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		if l.Kind != LayerDense {
			return nil, fmt.Errorf("train: model %q has a %v layer; DenseLayers takes chains of Dense and DenseReLU only (see Chain)", m.Name(), l.Kind)
		}
	}
	return layers, nil
}
