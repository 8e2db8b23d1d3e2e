package train

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Groups returns the dependency groups of m (prune.Trace) for examples of the
// given shape, e.g. [1, 8, 8]: the graph m.Forward builds on a fresh
// Gorgonia graph with unbound parameter nodes is walked, so no data is
// needed. The built-in models and a user's Model built from train's layers
// or from Gorgonia's Mul, BroadcastAdd, Rectify, Conv2d, MaxPool2D, Reshape
// and Dropout all work; an op the tracer does not know is an error naming it.
func Groups(m Model, input []int) (prune.Groups, error) {
	specs, err := checkSpecs(m)
	if err != nil {
		return nil, err
	}
	if _, err := checkInput(m.Name(), input); err != nil {
		return nil, err
	}
	const batch = 2 // not 1, so that the batch axis is never mistaken for a unit axis
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 1+len(input), gorgonia.WithShape(append([]int{batch}, input...)...), gorgonia.WithName("x"))
	wn := make([]*gorgonia.Node, len(specs))
	for i, s := range specs {
		wn[i] = gorgonia.NewTensor(g, tensor.Float32, len(s.Shape), gorgonia.WithShape(s.Shape...), gorgonia.WithName(s.Name))
	}
	logits, err := forward(m, g, x, wn, batch)
	if err != nil {
		return nil, err
	}
	gs, err := prune.Trace(logits, wn...)
	if err != nil {
		return nil, fmt.Errorf("train: model %q: %w", m.Name(), err)
	}
	return gs, nil
}

// Compacted is a model physically shrunk by Compact.
type Compacted struct {
	// Model has the original's params, names and Forward, with smaller
	// shapes, and is named after the original and its shapes (e.g.
	// "lenet300100-compact-1a2b3c4d"); it trains, saves and loads like any
	// Model (Resize rebuilds it from the original and saved Weights).
	Model Model
	// Weights are the kept slices of the masked weights, with removed
	// units' constant outputs folded into the next layers' biases.
	Weights *Weights
	// Masks are the masks of the kept slices, one per tensor of
	// Weights.Prunable() (all kept where ms had none): what unstructured
	// sparsity is left, ready for Trainer.SetMasks.
	Masks *prune.Masks
	// Groups are the dependency groups of the original model; Removed
	// lists, for each group's Name, the units removed (ascending).
	Groups  prune.Groups
	Removed map[string][]int
}

// Compact returns a physically smaller model equivalent to m with weights w
// and masks ms (nil: none) applied, for examples of shape input.
//
// A unit (a dense output, a convolution filter) is removed, wherever its
// dependency group reaches (Groups), when it is dead: every masked weight
// slice that computes it is entirely pruned, or every weight slice that
// reads it is masked and entirely pruned. Structured masks (prune.Grouped,
// prune.Structured) kill whole units; with unstructured masks only units
// that happen to be entirely dead are removed, and the rest stays as masks
// (Compacted.Masks). A unit whose computing weights are pruned still outputs
// a constant (relu of its bias): Compact adds that constant, times the
// reading weights, to the next layer's bias, so that the logits do not change
// (up to float32 rounding). It refuses, with an error, where that cannot be
// exact: a non-zero constant read by a zero-padded convolution, or passed
// through an op whose effect the tracer does not model. prune.Grouped masks
// the reading weights too, so it never needs the fold.
//
// The logits' units are never removed. Masks that name a tensor m does not
// have or have another shape, weights that do not match m, and masks that
// would remove every unit of a layer are errors; w and ms are never changed.
func Compact(m Model, w *Weights, ms *prune.Masks, input []int) (*Compacted, error) {
	if w == nil {
		return nil, errors.New("train: Compact: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, fmt.Errorf("train: Compact: %w", err)
	}
	if ms != nil {
		for _, name := range ms.Names() {
			t := w.Tensor(name)
			if t == nil {
				return nil, fmt.Errorf("train: Compact: mask %q names no tensor of model %q", name, m.Name())
			}
			if mk := ms.Mask(name); !slices.Equal(mk.Shape(), t.Shape()) {
				return nil, fmt.Errorf("train: Compact: mask %q has shape %v, the tensor %v", name, mk.Shape(), []int(t.Shape()))
			}
		}
	}
	groups, err := Groups(m, input)
	if err != nil {
		return nil, err
	}
	masked := w.Clone()
	if ms != nil {
		for _, name := range ms.Names() {
			if err := ms.Mask(name).ApplyTo(masked.Tensor(name)); err != nil {
				return nil, fmt.Errorf("train: Compact: %w", err)
			}
		}
	}
	mask := func(name string) *prune.Mask {
		if ms == nil {
			return nil
		}
		return ms.Mask(name)
	}
	// Which units go (prune.Groups.Dead), and the fold of the constant
	// output of those whose readers still read them.
	removed := make([][]bool, len(groups))
	for gi, g := range groups {
		if removed[gi], err = groups.Dead(gi, ms); err != nil {
			return nil, fmt.Errorf("train: Compact: %w", err)
		}
		n := 0
		for _, r := range removed[gi] {
			if r {
				n++
			}
		}
		if n == g.Units {
			return nil, fmt.Errorf("train: Compact: every unit of %s is pruned: the layer would be empty", g.Name)
		}
		if n == 0 {
			continue
		}
		for _, mb := range g.Members {
			if mb.Role != prune.In {
				continue
			}
			vals := floatsOf(masked.Tensor(mb.Param))
			for u, r := range removed[gi] {
				if r {
					if err := fold(groups, masked, g, mb, u, vals); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	// The kept indices of every (param, dim).
	keep := map[string][][]int{}
	for _, name := range w.names {
		shape := w.Tensor(name).Shape()
		k := make([][]int, len(shape))
		for d, n := range shape {
			k[d] = make([]int, n)
			for i := range k[d] {
				k[d][i] = i
			}
		}
		keep[name] = k
	}
	out := map[string][]int{}
	for gi, g := range groups {
		for u, r := range removed[gi] {
			if r {
				out[g.Name] = append(out[g.Name], u)
			}
		}
		for _, mb := range g.Members {
			k := keep[mb.Param]
			drop := make([]bool, len(k[mb.Dim]))
			for u, r := range removed[gi] {
				if r {
					for i := u * mb.Block; i < (u+1)*mb.Block; i++ {
						drop[i] = true
					}
				}
			}
			var kept []int
			for _, i := range k[mb.Dim] {
				if !drop[i] {
					kept = append(kept, i)
				}
			}
			k[mb.Dim] = kept
		}
	}
	cw := &Weights{dtype: w.dtype, index: make(map[string]int, len(w.names))}
	specs := m.Params()
	var newMasks []*prune.Mask
	for i, name := range w.names {
		t := masked.tensors[i]
		shape := t.Shape()
		k := keep[name]
		ns := make([]int, len(k))
		for d := range k {
			ns[d] = len(k[d])
		}
		nt := tensor.New(tensor.Of(w.dtype), tensor.WithShape(ns...))
		if w.dtype == tensor.Float32 {
			gather(t.Float32s(), shape, k, nt.Float32s())
		} else {
			gather(t.Float64s(), shape, k, nt.Float64s())
		}
		cw.add(name, nt, w.prunable[i])
		specs[i].Shape = ns
		if !w.prunable[i] {
			continue
		}
		nm, err := prune.NewMask(name, ns)
		if err != nil {
			return nil, fmt.Errorf("train: Compact: %w", err)
		}
		newMasks = append(newMasks, nm)
		if mk := mask(name); mk != nil {
			bits := make([]bool, mk.Len())
			for j := range bits {
				bits[j] = mk.Keeps(j)
			}
			nb := make([]bool, nt.Shape().TotalSize())
			gather(bits, shape, k, nb)
			for j, b := range nb {
				if !b {
					nm.Set(j, false)
				}
			}
		}
	}
	cm := newResized(m, specs)
	nms, err := prune.NewMasksOf(newMasks...)
	if err != nil {
		return nil, fmt.Errorf("train: Compact: %w", err)
	}
	return &Compacted{Model: cm, Weights: cw, Masks: nms, Groups: groups, Removed: out}, nil
}

// eachUnitElem calls f with the flat index of every element of unit u of mb
// in a tensor of the given shape, until f returns false.
func eachUnitElem(shape []int, mb prune.Member, u, units int, f func(i int) bool) {
	outer, inner := prod(shape[:mb.Dim]), prod(shape[mb.Dim+1:])
	size := shape[mb.Dim]
	for o := 0; o < outer; o++ {
		lo := (o*size + u*mb.Block) * inner
		for i := lo; i < lo+mb.Block*inner; i++ {
			if !f(i) {
				return
			}
		}
	}
}

// fold adds the constant output of unit u of group g, as reader mb sees it,
// times mb's weights (vals, as float64), to the bias of the layer mb feeds.
func fold(groups prune.Groups, w *Weights, g prune.Group, mb prune.Member, u int, vals []float64) error {
	shape := []int(w.Tensor(mb.Param).Shape())
	zero := true
	eachUnitElem(shape, mb, u, g.Units, func(i int) bool {
		zero = vals[i] == 0
		return zero
	})
	if zero {
		return nil // the reader ignores the unit
	}
	c := 0.0
	for _, s := range mb.Steps {
		switch s.Kind {
		case prune.StepBias:
			b := w.Tensor(s.Param)
			if b == nil || b.Shape().TotalSize() != g.Units {
				return fmt.Errorf("train: Compact: %s unit %d: bias %q does not have %d entries", g.Name, u, s.Param, g.Units)
			}
			c += floatsOf(b)[u]
		case prune.StepReLU:
			c = max(c, 0)
		default:
			if c != 0 {
				return fmt.Errorf("train: Compact: %s unit %d outputs a constant through %v, which cannot be folded into %s", g.Name, u, s, mb.Param)
			}
		}
	}
	if c == 0 {
		return nil
	}
	if mb.Padded {
		return fmt.Errorf("train: Compact: %s unit %d outputs the constant %g, which the zero-padded convolution %s cannot fold into its bias (prune it with prune.Grouped, which prunes %s's slice too)", g.Name, u, c, mb.Param, mb.Param)
	}
	if mb.Next < 0 || mb.Next >= len(groups) {
		return fmt.Errorf("train: Compact: %s unit %d: %s feeds no traced layer", g.Name, u, mb.Param)
	}
	next := groups[mb.Next]
	var bias string
	for _, o := range next.Members {
		if o.Role == prune.Out && o.Param != mb.Param {
			if bias != "" {
				return fmt.Errorf("train: Compact: %s unit %d: layer %s has two biases", g.Name, u, next.Name)
			}
			bias = o.Param
		}
	}
	bt := w.Tensor(bias)
	if bias == "" || bt == nil || bt.Shape().TotalSize() != next.Units {
		return fmt.Errorf("train: Compact: %s unit %d outputs the constant %g but layer %s has no bias to fold it into", g.Name, u, c, next.Name)
	}
	acc := make([]float64, next.Units)
	strides := make([]int, len(shape))
	s := 1
	for d := len(shape) - 1; d >= 0; d-- {
		strides[d] = s
		s *= shape[d]
	}
	eachUnitElem(shape, mb, u, g.Units, func(i int) bool {
		j := i / strides[mb.NextDim] % shape[mb.NextDim]
		acc[j] += vals[i]
		return true
	})
	bv := floatsOf(bt)
	for j, a := range acc {
		bv[j] += c * a
	}
	storeFloats(bt, bv)
	return nil
}

// floatsOf returns t's values as float64 (a copy).
func floatsOf(t *tensor.Dense) []float64 {
	if t.Dtype() == tensor.Float32 {
		s := floats[float32](t)
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out
	}
	return slices.Clone(floats[float64](t))
}

// storeFloats writes v into t, rounding to t's dtype.
func storeFloats(t *tensor.Dense, v []float64) {
	if t.Dtype() == tensor.Float32 {
		s := floats[float32](t)
		for i := range s {
			s[i] = float32(v[i])
		}
		return
	}
	copy(floats[float64](t), v)
}

// gather copies the elements of src (of the given shape) whose index on
// every dim d is in keep[d] into dst, in row-major order.
func gather[T any](src []T, shape []int, keep [][]int, dst []T) {
	if len(shape) == 0 {
		return
	}
	strides := make([]int, len(shape))
	s := 1
	for d := len(shape) - 1; d >= 0; d-- {
		strides[d] = s
		s *= shape[d]
	}
	last := len(shape) - 1
	pos := 0
	var rec func(d, base int)
	rec = func(d, base int) {
		if d == last {
			if len(keep[d]) == shape[d] {
				pos += copy(dst[pos:], src[base:base+shape[d]])
				return
			}
			for _, i := range keep[d] {
				dst[pos] = src[base+i]
				pos++
			}
			return
		}
		for _, i := range keep[d] {
			rec(d+1, base+i*strides[d])
		}
	}
	rec(0, 0)
}

// resized is a Model with another's Forward and smaller param shapes.
type resized struct {
	Model
	name  string
	specs []ParamSpec
}

func (r *resized) Name() string        { return r.name }
func (r *resized) Params() []ParamSpec { return cloneSpecs(r.specs) }
func (r *resized) String() string {
	parts := make([]string, len(r.specs))
	for i, s := range r.specs {
		parts[i] = fmt.Sprintf("%s%v", s.Name, s.Shape)
	}
	return fmt.Sprintf("%s(%s)", r.name, strings.Join(parts, " "))
}

// Resize returns m with the param shapes of w (same names, order and
// prunable flags): the model of a Compact result, rebuilt from the original
// model and the compacted weights read back from a file. Forward must build
// its graph from the shapes of the weight nodes, as the built-in models and
// models made of train's layers or Gorgonia's ops do.
func Resize(m Model, w *Weights) (Model, error) {
	specs, err := checkSpecs(m)
	if err != nil {
		return nil, err
	}
	if w == nil || len(w.names) != len(specs) {
		return nil, fmt.Errorf("train: Resize: the weights do not have model %q's %d params", m.Name(), len(specs))
	}
	for i := range specs {
		if w.names[i] != specs[i].Name || w.prunable[i] != specs[i].Prunable || len(w.tensors[i].Shape()) != len(specs[i].Shape) {
			return nil, fmt.Errorf("train: Resize: weight %d (%q) does not match model %q's param %q", i, w.names[i], m.Name(), specs[i].Name)
		}
		specs[i].Shape = slices.Clone([]int(w.tensors[i].Shape()))
	}
	return newResized(m, specs), nil
}

// newResized returns m with the given param specs, named after m and the
// shapes (so that results kept by model name, as lottery's are, never mix
// two sizes of one model).
func newResized(m Model, specs []ParamSpec) *resized {
	if inner, ok := m.(*resized); ok {
		m = inner.Model
	}
	h := fnv.New32a()
	for _, s := range specs {
		fmt.Fprintf(h, "%s%v;", s.Name, s.Shape)
	}
	return &resized{Model: m, name: fmt.Sprintf("%s-compact-%08x", m.Name(), h.Sum32()), specs: specs}
}
