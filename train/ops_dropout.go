package train

import (
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dropout, seeded (Srivastava et al. 2014; inverted, as PyTorch's): in the
// training graph a Trainer builds, each element of x is zeroed with
// probability p and the others are scaled by 1/(1−p), with a new mask at
// every step; in evaluation graphs, in the graphs Trainer.Gradients and
// the scorers use, and in graphs no Trainer built (train.Fingerprint, a
// user's own), Dropout returns x itself. The masks are drawn from a PCG
// stream of (Config.Seed, step, the op's index in the graph): the same seed
// gives the same masks on every run, never the clock (unlike Gorgonia's
// Dropout). p must be in [0, 1); p = 0 returns x.
//
// Pruning removes weights for good; dropout silences units for one step.
func Dropout(x *gorgonia.Node, p float64) (*gorgonia.Node, error) {
	if x == nil {
		return nil, errors.New("train: Dropout: nil node")
	}
	if !(p >= 0 && p < 1) {
		return nil, fmt.Errorf("train: Dropout: probability %v is not in [0, 1)", p)
	}
	if p == 0 {
		return x, nil
	}
	st := trainingState(x.Graph())
	if st == nil {
		return x, nil
	}
	op := &dropoutOp{state: st, index: st.ops, p: p, dims: x.Dims()}
	st.ops++
	return gorgonia.ApplyOp(op, x)
}

// dropoutState is the dropout context of one training graph: the seed and
// step the trainer sets before each run, and whether dropout is on.
type dropoutState struct {
	seed   uint64
	step   int
	active bool
	ops    int
}

// training graphs under construction, with their dropout state.
var (
	trainingMu     sync.Mutex
	trainingGraphs = map[*gorgonia.ExprGraph]*dropoutState{}
)

// markTraining registers g as a training graph while its forward pass is
// built; the returned function unregisters it.
func markTraining(g *gorgonia.ExprGraph, st *dropoutState) func() {
	trainingMu.Lock()
	trainingGraphs[g] = st
	trainingMu.Unlock()
	return func() {
		trainingMu.Lock()
		delete(trainingGraphs, g)
		trainingMu.Unlock()
	}
}

func trainingState(g *gorgonia.ExprGraph) *dropoutState {
	trainingMu.Lock()
	defer trainingMu.Unlock()
	return trainingGraphs[g]
}

// dropoutOp multiplies x by a fresh mask of 0 and 1/(1−p) per run; its
// gradient op multiplies by the same mask.
type dropoutOp struct {
	opKit
	state *dropoutState
	index int
	p     float64
	dims  int
	scale []float64 // the mask of the last run
}

func (op *dropoutOp) Arity() int    { return 1 }
func (op *dropoutOp) Type() hm.Type { return hm.NewFnType(tensorT(op.dims), tensorT(op.dims)) }
func (op *dropoutOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *dropoutOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	if err := wantDims(in[0], 0, 1, true, "x"); err != nil {
		return nil, err
	}
	return append(dst, in[0]...), nil
}
func (op *dropoutOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shears.dropout{%v,%d,%d,%p}", op.p, op.index, op.dims, op.state)
}
func (op *dropoutOp) Hashcode() uint32 { return hashOf(op) }
func (op *dropoutOp) String() string   { return fmt.Sprintf("Dropout(%v)", op.p) }

func (op *dropoutOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, dropoutKernel[float32], dropoutKernel[float64])
}

func dropoutKernel[T float](op *dropoutOp, a *args[T]) error {
	x := a.in[0]
	if len(op.scale) != len(x) {
		op.scale = make([]float64, len(x))
	}
	if op.state.active {
		rng := rand.New(rand.NewPCG(op.state.seed^0x5d1e0b0a7f4c3e21, uint64(op.state.step)<<16|uint64(op.index)))
		keep := 1 / (1 - op.p)
		for i := range op.scale {
			if rng.Float64() < op.p {
				op.scale[i] = 0
			} else {
				op.scale[i] = keep
			}
		}
	} else {
		for i := range op.scale {
			op.scale[i] = 1
		}
	}
	scaleBy(x, op.scale, a.out)
	return nil
}

func scaleBy[T float](x []T, s []float64, out []T) {
	for i, v := range x {
		out[i] = T(float64(v) * s[i])
	}
}

func (op *dropoutOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op *dropoutOp) SymDiff(in gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&dropoutGradOp{fwd: op}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx}, nil
}

// dropoutGradOp: dy times the forward op's last mask.
type dropoutGradOp struct {
	opKit
	fwd *dropoutOp
}

func (op *dropoutGradOp) Arity() int { return 1 }
func (op *dropoutGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(op.fwd.dims), tensorT(op.fwd.dims))
}
func (op *dropoutGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *dropoutGradOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	if err := wantDims(in[0], 0, 1, true, "dy"); err != nil {
		return nil, err
	}
	return append(dst, in[0]...), nil
}
func (op *dropoutGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shears.dropoutGrad{%p}", op.fwd)
}
func (op *dropoutGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *dropoutGradOp) String() string   { return "DropoutGrad" }
func (op *dropoutGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, dropoutGradKernel[float32], dropoutGradKernel[float64])
}

func dropoutGradKernel[T float](op *dropoutGradOp, a *args[T]) error {
	if n := len(a.in[0]); n != len(op.fwd.scale) {
		return fmt.Errorf("train: %v: gradient of %d elements, mask of %d", op, n, len(op.fwd.scale))
	}
	scaleBy(a.in[0], op.fwd.scale, a.out)
	return nil
}

// WithDropout returns a copy of a built-in model (MLP, LeNet300100,
// LeNet5, Conv2, Conv4, Conv6) that applies Dropout with probability p
// after every hidden fully connected layer (Frankle & Carbin 2019 train
// Conv-2/4/6 so). A user's model calls Dropout in its own Forward instead:
// WithDropout refuses it.
func WithDropout(m Model, p float64) (Model, error) {
	if !(p >= 0 && p < 1) || math.IsNaN(p) {
		return nil, fmt.Errorf("train: dropout %v is not in [0, 1)", p)
	}
	switch mm := m.(type) {
	case *mlp:
		c := *mm
		c.dropout = p
		return &c, nil
	case *convNet:
		c := *mm
		c.dropout = p
		return &c, nil
	}
	if m == nil {
		return nil, errors.New("train: WithDropout: nil Model")
	}
	return nil, fmt.Errorf("train: model %q is not a built-in model: call Dropout in its Forward", m.Name())
}
