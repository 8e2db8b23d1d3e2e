package train

import (
	"errors"
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Predictor runs a model's forward pass on batches of a fixed size: one
// compiled Gorgonia graph, bound to the weights (shared, not copied: later
// changes to the weights show in later runs). It is what latency is measured
// on (metrics.Latency) and how logits are compared (Logits). A Predictor is
// not safe for concurrent use; Close releases it.
type Predictor struct {
	model   Model
	batch   int
	classes int
	in      graphInput
	logits  *gorgonia.Node
	vm      *tape
	out     []float32
	x       *gorgonia.Node
	// view: every op is one of train's layers, which only read their
	// inputs, and the weights are float32: Run binds the caller's slice as
	// the input instead of copying it.
	view bool
}

// NewPredictor compiles m's forward pass with weights w for batches of batch
// examples of shape input.
func NewPredictor(m Model, w *Weights, batch int, input []int) (*Predictor, error) {
	if w == nil {
		return nil, errors.New("train: NewPredictor: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, err
	}
	if batch < 1 {
		return nil, fmt.Errorf("train: NewPredictor: batch %d, want at least 1", batch)
	}
	if _, err := checkInput(m.Name(), input); err != nil {
		return nil, err
	}
	p := &Predictor{model: m, batch: batch, in: newGraphInput(w.dtype, batch, input)}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, w.dtype, 1+len(input), gorgonia.WithShape(p.in.x.Shape()...), gorgonia.WithName("x"), gorgonia.WithValue(p.in.x))
	wn := weightNodes(g, w)
	logits, err := forward(m, g, x, wn, batch)
	if err != nil {
		return nil, err
	}
	p.logits, p.classes = logits, logits.Shape()[1]
	p.out = make([]float32, batch*p.classes)
	if p.vm, err = compile(m, gorgonia.Nodes{logits}); err != nil {
		return nil, err
	}
	p.x, p.view = x, p.in.x32 != nil && p.vm.has(x) && p.vm.only(func(op gorgonia.Op) bool {
		switch op.(type) {
		case *denseOp, *convOp, *maxPoolOp:
			return true
		}
		return false
	})
	return p, nil
}

// Batch returns the batch size; Classes the number of logits per example.
func (p *Predictor) Batch() int   { return p.batch }
func (p *Predictor) Classes() int { return p.classes }

// Run computes the logits of batch examples, x holding batch × features
// values example-major, and returns them (batch × Classes, example-major) in
// a slice that the next Run overwrites.
func (p *Predictor) Run(x []float32) ([]float32, error) {
	if len(x) != p.batch*p.in.f {
		return nil, fmt.Errorf("train: Predictor.Run: %d values, want %d examples × %d", len(x), p.batch, p.in.f)
	}
	if p.view {
		p.vm.set(p.x, tensor.New(tensor.WithShape(p.in.x.Shape()...), tensor.WithBacking(x)))
	} else {
		for i := 0; i < p.batch; i++ {
			p.in.setX(i, x[i*p.in.f:(i+1)*p.in.f])
		}
	}
	if err := p.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("train: model %q: %w", p.model.Name(), err)
	}
	zv := p.vm.value(p.logits)
	z, ok := zv.(*tensor.Dense)
	if !ok || z == nil || z.RequiresIterator() {
		return nil, fmt.Errorf("train: model %q: logits are %T, not a contiguous tensor", p.model.Name(), zv)
	}
	if z.Dtype() == tensor.Float32 {
		copy(p.out, floats[float32](z))
	} else {
		for i, v := range floats[float64](z) {
			p.out[i] = float32(v)
		}
	}
	return p.out, nil
}

// Close releases the compiled graph.
func (p *Predictor) Close() error {
	if p.vm == nil {
		return nil
	}
	err := p.vm.Close()
	p.vm = nil
	return err
}

// Logits returns the logits of every example of d (Len × classes,
// example-major), computed in batches of batch (the last one smaller).
func Logits(m Model, w *Weights, d *Dataset, batch int) ([]float32, error) {
	if d == nil || d.Len() == 0 {
		return nil, errors.New("train: Logits: empty data set")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	n, f := d.Len(), d.Features()
	batch = min(max(batch, 1), n)
	out := make([]float32, 0, n)
	run := func(start, size, count int) error {
		p, err := NewPredictor(m, w, size, d.Shape)
		if err != nil {
			return err
		}
		defer p.Close()
		for k := 0; k < count; k++ {
			z, err := p.Run(d.X[(start+k*size)*f : (start+(k+1)*size)*f])
			if err != nil {
				return err
			}
			out = append(out, z...)
		}
		return nil
	}
	full := n / batch
	if err := run(0, batch, full); err != nil {
		return nil, err
	}
	if rest := n - full*batch; rest > 0 {
		if err := run(full*batch, rest, 1); err != nil {
			return nil, err
		}
	}
	return out, nil
}
