package train

import "github.com/shearsml/shears/prune"

// The fused ops tell prune.Trace how they couple units (prune.Coupler), so
// that dependency groups are found in graphs built from them.

var (
	_ prune.Coupler = (*denseOp)(nil)
	_ prune.Coupler = (*convOp)(nil)
	_ prune.Coupler = (*maxPoolOp)(nil)
)

// Coupling implements prune.Coupler: inputs x, w [in, out], b [out].
func (op *denseOp) Coupling() prune.Coupling {
	return prune.Coupling{Layer: true, Input: 0, Weight: 1, Bias: 2, InDim: 0, OutDim: 1, Flatten: true, ReLU: op.relu}
}

// Coupling implements prune.Coupler: inputs x, w [out, in, kh, kw], b [out].
func (op *convOp) Coupling() prune.Coupling {
	return prune.Coupling{Layer: true, Input: 0, Weight: 1, Bias: 2, InDim: 1, OutDim: 0, Padded: op.pad > 0, ReLU: op.relu}
}

// Coupling implements prune.Coupler: channels pass through.
func (op *maxPoolOp) Coupling() prune.Coupling { return prune.Coupling{} }
