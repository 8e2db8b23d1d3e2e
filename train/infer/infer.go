package infer

import (
	"errors"
	"fmt"
	"math"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/tensor"
)

// Layer is one dense layer given by its values: y = x·W + b, then a ReLU
// when ReLU is set. W is In×Out, row-major (Gorgonia's x·W layout), B has
// Out values, and Keep, when not nil, marks the kept entries of W (pruned
// entries are treated as zero whatever W holds there).
type Layer struct {
	In, Out int
	ReLU    bool
	W, B    []float32
	Keep    []bool
}

// Engine runs a chain of dense layers. It keeps its own copy of the
// weights, so later changes to the caller's values do not show. An Engine
// is not safe for concurrent use; give each goroutine its own.
type Engine struct {
	layers []layer
	buf    [2][]float32
	batch  int // the largest batch the buffers hold
}

type layer struct {
	in, out int
	relu    bool
	w, b    []float32       // w nil when sparse
	p       *kernel.Pattern // nil when dense
	kept    int
}

// New returns an Engine for model m (a chain of Dense/DenseReLU layers on
// examples of shape input), with weights w and, when masks is not nil, the
// pruning masks of the prunable weights; k chooses the kernels per layer.
// float64 weights are converted to float32.
func New(m train.Model, input []int, w *train.Weights, masks *prune.Masks, k train.Kernels) (*Engine, error) {
	if w == nil {
		return nil, errors.New("infer: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	dl, err := train.DenseLayers(m, input)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	layers := make([]Layer, len(dl))
	for i, d := range dl {
		l := Layer{In: d.In, Out: d.Out, ReLU: d.ReLU, W: values(w.Tensor(d.Weight)), B: values(w.Tensor(d.Bias))}
		if masks != nil {
			if mk := masks.Mask(d.Weight); mk != nil {
				if mk.Len() != d.In*d.Out {
					return nil, fmt.Errorf("infer: mask %q has %d entries, weight %d", d.Weight, mk.Len(), d.In*d.Out)
				}
				l.Keep = make([]bool, mk.Len())
				for j := range l.Keep {
					l.Keep[j] = mk.Keeps(j)
				}
			}
		}
		layers[i] = l
	}
	return FromLayers(layers, k)
}

// values returns t's values as float32 (a copy).
func values(t *tensor.Dense) []float32 {
	if t == nil {
		return nil
	}
	if t.Dtype() == tensor.Float64 {
		s := t.Float64s()
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = float32(v)
		}
		return out
	}
	return append([]float32(nil), t.Float32s()...)
}

// SparseAvailable reports whether this CPU and build run the sparse kernels
// (amd64 with AVX2 and FMA, without the purego tag); without them every
// layer runs dense.
func SparseAvailable() bool { return kernel.HasAVX2 }

// FromLayers returns an Engine for the chain of layers, which must fit
// (each layer's In the previous layer's Out); k chooses the kernels per
// layer by the density of its Keep. Without AVX2 and FMA every layer runs
// dense.
func FromLayers(layers []Layer, k train.Kernels) (*Engine, error) {
	if len(layers) == 0 {
		return nil, errors.New("infer: no layers")
	}
	e := &Engine{layers: make([]layer, len(layers))}
	for i, l := range layers {
		if l.In < 1 || l.Out < 1 || l.In > math.MaxInt32/l.Out {
			return nil, fmt.Errorf("infer: layer %d: size %d×%d", i, l.In, l.Out)
		}
		if i > 0 && l.In != layers[i-1].Out {
			return nil, fmt.Errorf("infer: layer %d takes %d inputs, layer %d gives %d", i, l.In, i-1, layers[i-1].Out)
		}
		if len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			return nil, fmt.Errorf("infer: layer %d: %d weights and %d biases, want %d×%d and %d", i, len(l.W), len(l.B), l.In, l.Out, l.Out)
		}
		if l.Keep != nil && len(l.Keep) != len(l.W) {
			return nil, fmt.Errorf("infer: layer %d: %d mask entries for %d weights", i, len(l.Keep), len(l.W))
		}
		kept := len(l.W)
		if l.Keep != nil {
			kept = 0
			for _, b := range l.Keep {
				if b {
					kept++
				}
			}
		}
		el := layer{in: l.In, out: l.Out, relu: l.ReLU, b: append([]float32(nil), l.B...), kept: kept}
		if l.Keep != nil && kernel.HasAVX2 && k.UseSparse(kept, len(l.W)) {
			p, err := kernel.NewPattern(l.In, l.Out, func(j int) bool { return l.Keep[j] })
			if err != nil {
				return nil, fmt.Errorf("infer: layer %d: %w", i, err)
			}
			p.SetWeights(l.W)
			el.p = p
		} else {
			el.w = append([]float32(nil), l.W...)
			if l.Keep != nil {
				for j, b := range l.Keep {
					if !b {
						el.w[j] = 0
					}
				}
			}
		}
		e.layers[i] = el
	}
	return e, nil
}

// Inputs returns the number of values of one example; Classes the number
// of logits.
func (e *Engine) Inputs() int { return e.layers[0].in }

// Classes returns the number of logits per example.
func (e *Engine) Classes() int { return e.layers[len(e.layers)-1].out }

// Sparse reports, per layer, whether the layer runs with the sparse
// kernels.
func (e *Engine) Sparse() []bool {
	out := make([]bool, len(e.layers))
	for i, l := range e.layers {
		out[i] = l.p != nil
	}
	return out
}

// Run computes the logits of batch examples, x holding batch·Inputs()
// values example-major, and returns them (batch·Classes(), example-major) in
// a slice that the next Run overwrites.
func (e *Engine) Run(x []float32, batch int) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("infer: batch %d, want at least 1", batch)
	}
	if len(x) != batch*e.Inputs() {
		return nil, fmt.Errorf("infer: %d values, want %d examples × %d", len(x), batch, e.Inputs())
	}
	if batch > e.batch {
		widest := 0
		for _, l := range e.layers {
			widest = max(widest, l.out)
		}
		e.buf[0] = make([]float32, batch*widest)
		e.buf[1] = make([]float32, batch*widest)
		e.batch = batch
	}
	in := x
	for i := range e.layers {
		l := &e.layers[i]
		y := e.buf[i%2][:batch*l.out]
		for r := 0; r < batch; r++ {
			copy(y[r*l.out:], l.b)
		}
		switch {
		case l.p != nil && batch < 8:
			l.p.ForwardScatter(y, in, batch)
		case l.p != nil:
			l.p.Forward(y, in, nil, batch)
		default:
			gemm(batch, l.out, l.in, in, l.w, y)
		}
		if l.relu {
			for j, v := range y {
				if v < 0 {
					y[j] = 0
				}
			}
		}
		in = y
	}
	return in, nil
}

// gemm computes y += x·w, x batch×k, w k×n, with the AVX2 kernel (the order
// the sparse kernels keep) or, without it, a plain loop (which, unlike
// gonum's Sgemm, starts no goroutines and allocates nothing).
func gemm(batch, n, k int, x, w, y []float32) {
	if kernel.Sgemm(false, false, batch, n, k, x, k, w, n, 1, y, n) {
		return
	}
	for i := 0; i < batch; i++ {
		yi := y[i*n : (i+1)*n]
		for l, v := range x[i*k : (i+1)*k] {
			if v == 0 {
				continue
			}
			for j, wv := range w[l*n : (l+1)*n] {
				yi[j] += v * wv
			}
		}
	}
}

// Accuracy returns the fraction of d's examples whose largest logit (the
// first of equal ones) is their label, running batches of at most batch
// examples.
func (e *Engine) Accuracy(d *train.Dataset, batch int) (float64, error) {
	if err := d.Validate(); err != nil {
		return 0, fmt.Errorf("infer: %w", err)
	}
	if d.Features() != e.Inputs() {
		return 0, fmt.Errorf("infer: dataset %q has %d features per example, the model takes %d", d.Name, d.Features(), e.Inputs())
	}
	if batch < 1 {
		return 0, fmt.Errorf("infer: batch %d, want at least 1", batch)
	}
	n, f, c := d.Len(), e.Inputs(), e.Classes()
	right := 0
	for s := 0; s < n; s += batch {
		b := min(batch, n-s)
		z, err := e.Run(d.X[s*f:(s+b)*f], b)
		if err != nil {
			return 0, err
		}
		for i := 0; i < b; i++ {
			row := z[i*c : (i+1)*c]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == d.Y[s+i] {
				right++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	return float64(right) / float64(n), nil
}
