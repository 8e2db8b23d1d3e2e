package train

import (
	"errors"
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graphInput holds the input tensor of a graph and its backing slice.
type graphInput struct {
	x   *tensor.Dense
	x32 []float32
	x64 []float64
	f   int // features per example
}

func newGraphInput(dt tensor.Dtype, batch int, shape []int) graphInput {
	s := append([]int{batch}, shape...)
	in := graphInput{x: tensor.New(tensor.Of(dt), tensor.WithShape(s...)), f: prod(shape)}
	if dt == tensor.Float32 {
		in.x32 = in.x.Float32s()
	} else {
		in.x64 = in.x.Float64s()
	}
	return in
}

// setX copies one example into row i of the input.
func (in *graphInput) setX(i int, x []float32) {
	if in.x32 != nil {
		copy(in.x32[i*in.f:(i+1)*in.f], x)
		return
	}
	row := in.x64[i*in.f : (i+1)*in.f]
	for j, v := range x {
		row[j] = float64(v)
	}
}

// weightNodes binds every weight tensor to a new node of g (sharing memory).
func weightNodes(g *gorgonia.ExprGraph, w *Weights) []*gorgonia.Node {
	nodes := make([]*gorgonia.Node, len(w.names))
	for i, name := range w.names {
		t := w.tensors[i]
		nodes[i] = gorgonia.NewTensor(g, w.dtype, t.Dims(), gorgonia.WithShape(t.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(t))
	}
	return nodes
}

// forward builds the model on g and checks the logits' shape.
func forward(m Model, g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node, batch int) (logits *gorgonia.Node, err error) {
	defer func() {
		// Gorgonia panics on some graph-building mistakes (type errors);
		// report them as errors.
		if r := recover(); r != nil {
			logits, err = nil, fmt.Errorf("train: model %q: building the graph panicked: %v", m.Name(), r)
		}
	}()
	logits, err = m.Forward(g, x, w)
	if err != nil {
		return nil, fmt.Errorf("train: model %q: %w", m.Name(), err)
	}
	if logits == nil {
		return nil, fmt.Errorf("train: model %q: Forward returned no logits", m.Name())
	}
	if s := logits.Shape(); len(s) != 2 || s[0] != batch || s[1] < 2 {
		return nil, fmt.Errorf("train: model %q: logits have shape %v, want [%d, classes ≥ 2]", m.Name(), s, batch)
	}
	if logits.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("train: model %q: logits are %v, the weights %v", m.Name(), logits.Dtype(), x.Dtype())
	}
	return logits, nil
}

// trainGraph is the training graph: input, labels, weights, loss and
// gradients, ordered into one tape.
type trainGraph struct {
	shape   []int
	batch   int
	classes int
	in      graphInput
	y       *tensor.Dense
	y32     []float32
	y64     []float64
	loss    *gorgonia.Node
	grads   []*gorgonia.Node
	vm      *tape
	dense   []denseRef    // the dense layers, for the sparse kernels
	dropout *dropoutState // of the Dropout ops of the forward pass
}

func (tg *trainGraph) setRow(i int, x []float32, label int) {
	tg.in.setX(i, x)
	if tg.y32 != nil {
		tg.y32[i] = float32(label)
	} else {
		tg.y64[i] = float64(label)
	}
}

// ensureTrainGraph builds the training graph for d's example shape, or
// rebuilds it if the shape changed.
func (t *Trainer) ensureTrainGraph(d *Dataset) error {
	if t.tg != nil && slices.Equal(t.tg.shape, d.Shape) {
		return t.checkClasses(d, t.tg.classes)
	}
	if t.tg != nil {
		t.tg.vm.Close()
		t.tg = nil
	}
	tg, err := buildTrainGraph(t.model, t.w, t.cfg.Batch, d.Shape)
	if err != nil {
		return err
	}
	t.tg = tg
	t.attachSparse(tg.dense)
	return t.checkClasses(d, tg.classes)
}

func (t *Trainer) checkClasses(d *Dataset, classes int) error {
	if d.Classes > classes {
		return fmt.Errorf("train: data set %q has %d classes, model %q only %d outputs", d.Name, d.Classes, t.model.Name(), classes)
	}
	return nil
}

func buildTrainGraph(m Model, w *Weights, batch int, shape []int) (*trainGraph, error) {
	dt := w.dtype
	tg := &trainGraph{shape: append([]int(nil), shape...), batch: batch, in: newGraphInput(dt, batch, shape)}
	tg.y = tensor.New(tensor.Of(dt), tensor.WithShape(batch))
	if dt == tensor.Float32 {
		tg.y32 = tg.y.Float32s()
	} else {
		tg.y64 = tg.y.Float64s()
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, dt, 1+len(shape), gorgonia.WithShape(tg.in.x.Shape()...), gorgonia.WithName("x"), gorgonia.WithValue(tg.in.x))
	y := gorgonia.NewVector(g, dt, gorgonia.WithShape(batch), gorgonia.WithName("y"), gorgonia.WithValue(tg.y))
	wn := weightNodes(g, w)
	tg.dropout = &dropoutState{}
	unmark := markTraining(g, tg.dropout)
	logits, err := forward(m, g, x, wn, batch)
	unmark()
	if err != nil {
		return nil, err
	}
	tg.classes = logits.Shape()[1]
	if tg.loss, err = crossEntropy(logits, y); err != nil {
		return nil, err
	}
	var one *gorgonia.Node
	if dt == tensor.Float32 {
		one = gorgonia.NewConstant(float32(1))
	} else {
		one = gorgonia.NewConstant(float64(1))
	}
	one = g.AddNode(one)
	if tg.grads, err = backprop(m, tg.loss, one, wn); err != nil {
		return nil, err
	}
	outputs := append(gorgonia.Nodes{tg.loss}, tg.grads...)
	if tg.vm, err = compile(m, outputs); err != nil {
		return nil, err
	}
	tg.dense = denseRefs(g, wn)
	return tg, nil
}

func backprop(m Model, loss, one *gorgonia.Node, wn []*gorgonia.Node) (grads gorgonia.Nodes, err error) {
	defer func() {
		if r := recover(); r != nil {
			grads, err = nil, fmt.Errorf("train: model %q: differentiation panicked: %v", m.Name(), r)
		}
	}()
	grads, err = gorgonia.Backpropagate(gorgonia.Nodes{loss}, gorgonia.Nodes{one}, wn)
	if err != nil {
		return nil, fmt.Errorf("train: model %q: differentiation: %w", m.Name(), err)
	}
	if len(grads) != len(wn) {
		return nil, fmt.Errorf("train: model %q: %d gradients for %d params", m.Name(), len(grads), len(wn))
	}
	return grads, nil
}

// compile orders only the part of the graph that outputs need (dropping,
// for instance, the gradient of the input images that differentiation
// builds) into a tape.
func compile(m Model, outputs gorgonia.Nodes) (*tape, error) {
	vm, err := newTape(outputs)
	if err != nil {
		return nil, fmt.Errorf("train: model %q: compile: %w", m.Name(), err)
	}
	return vm, nil
}

// evalGraph is a forward-only graph for one batch size.
type evalGraph struct {
	shape   []int
	classes int
	in      graphInput
	logits  *gorgonia.Node
	vm      *tape
	dense   []denseRef // the dense layers, for the sparse kernels
}

func (eg *evalGraph) setRow(i int, x []float32) { eg.in.setX(i, x) }

// maxEvalGraphs bounds the number of evaluation graphs a trainer keeps.
const maxEvalGraphs = 8

// evalGraph returns the evaluation graph for batches of size examples of
// d's shape, building it on first use.
func (t *Trainer) evalGraph(d *Dataset, size int) (*evalGraph, error) {
	if eg, ok := t.evals[size]; ok && slices.Equal(eg.shape, d.Shape) {
		if d.Classes > eg.classes {
			return nil, fmt.Errorf("train: data set %q has %d classes, model %q only %d outputs", d.Name, d.Classes, t.model.Name(), eg.classes)
		}
		return eg, nil
	}
	if old, ok := t.evals[size]; ok {
		old.vm.Close()
		delete(t.evals, size)
	}
	if len(t.evals) >= maxEvalGraphs {
		for k, e := range t.evals {
			if k != t.cfg.EvalBatch {
				e.vm.Close()
				delete(t.evals, k)
			}
		}
	}
	if size < 1 {
		return nil, errors.New("train: empty evaluation batch")
	}
	eg := &evalGraph{shape: append([]int(nil), d.Shape...), in: newGraphInput(t.w.dtype, size, d.Shape)}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, t.w.dtype, 1+len(d.Shape), gorgonia.WithShape(eg.in.x.Shape()...), gorgonia.WithName("x"), gorgonia.WithValue(eg.in.x))
	wn := weightNodes(g, t.w)
	logits, err := forward(t.model, g, x, wn, size)
	if err != nil {
		return nil, err
	}
	eg.logits = logits
	eg.classes = logits.Shape()[1]
	if d.Classes > eg.classes {
		return nil, fmt.Errorf("train: data set %q has %d classes, model %q only %d outputs", d.Name, d.Classes, t.model.Name(), eg.classes)
	}
	if eg.vm, err = compile(t.model, gorgonia.Nodes{logits}); err != nil {
		return nil, err
	}
	eg.dense = denseRefs(g, wn)
	t.attachSparse(eg.dense)
	t.evals[size] = eg
	return eg, nil
}
