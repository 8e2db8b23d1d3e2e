package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gradient information for pruning at initialisation: the Hessian-gradient
// product of GraSP and the data-free gradients of SynFlow. SNIP needs only
// the gradient of the loss, Trainer.Gradients.

// HessianStep is the length of the finite-difference step of
// HessianGradient, relative to the norm of the prunable weights.
const HessianStep = 1e-3

// HessianGradient returns the prunable tensors (Value shared with the live
// weights) with Grad set to Hg: the Hessian of the mean training loss with
// respect to the prunable weights, times its gradient g, both over the same
// batches consecutive batches of d that Gradients averages over. GraSP
// (Wang et al. 2020) scores weights by w·Hg (prune.GraSP).
//
// Gorgonia cannot differentiate a gradient a second time through this
// package's fused ops, so Hg is a central finite difference of gradients,
//
//	Hg ≈ (∇L(θ + εg) − ∇L(θ − εg)) / 2ε,  ε = HessianStep·max(‖θ‖, 1)/‖g‖,
//
// exact for a quadratic loss and accurate to O(ε²‖g‖²) otherwise (ReLU
// kinks crossed by the step are averaged over). Only the prunable weights
// move, so this is the block of the Hessian GraSP uses. The weights are
// restored bit for bit before it returns, also on error. A zero gradient
// gives Hg = 0. The Grad tensors are new, owned by the caller.
func (t *Trainer) HessianGradient(d *Dataset, batches int) ([]prune.Param, error) {
	g0, err := t.Gradients(d, batches)
	if err != nil {
		return nil, err
	}
	var gn, wn float64
	for _, p := range g0 {
		v, g := values64(p.Value), values64(p.Grad)
		for i := range v {
			wn += v[i] * v[i]
			gn += g[i] * g[i]
		}
	}
	gn, wn = math.Sqrt(gn), math.Sqrt(wn)
	out := make([]prune.Param, len(g0))
	for i, p := range g0 {
		out[i] = prune.Param{Name: p.Name, Value: p.Value, Grad: tensor.New(tensor.Of(t.w.dtype), tensor.WithShape(p.Value.Shape().Clone()...))}
	}
	if gn == 0 {
		return out, nil
	}
	eps := HessianStep * math.Max(wn, 1) / gn
	saved := t.w.Clone()
	defer func() { _ = t.w.CopyFrom(saved) }()
	grad := func(sign float64) ([]prune.Param, error) {
		if err := t.w.CopyFrom(saved); err != nil {
			return nil, err
		}
		for _, p := range g0 {
			addScaled(p.Value, p.Grad, sign*eps)
		}
		return t.Gradients(d, batches)
	}
	plus, err := grad(1)
	if err != nil {
		return nil, fmt.Errorf("train: HessianGradient: %w", err)
	}
	minus, err := grad(-1)
	if err != nil {
		return nil, fmt.Errorf("train: HessianGradient: %w", err)
	}
	for i := range out {
		a, b := values64(plus[i].Grad), values64(minus[i].Grad)
		hg := make([]float64, len(a))
		for j := range a {
			hg[j] = (a[j] - b[j]) / (2 * eps)
		}
		storeFloats(out[i].Grad, hg)
	}
	return out, nil
}

// values64 returns a float64 copy of a float32 or float64 tensor's values.
func values64(t *tensor.Dense) []float64 {
	if t.Dtype() == tensor.Float32 {
		s := floats[float32](t)
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out
	}
	return append([]float64(nil), floats[float64](t)...)
}

// addScaled adds a·g to w in place.
func addScaled(w, g *tensor.Dense, a float64) {
	if w.Dtype() == tensor.Float32 {
		ws, gs := floats[float32](w), floats[float32](g)
		for i := range ws {
			ws[i] = float32(float64(ws[i]) + a*float64(gs[i]))
		}
		return
	}
	ws, gs := floats[float64](w), floats[float64](g)
	for i := range ws {
		ws[i] += a * gs[i]
	}
}

// SynFlowParams returns what the SynFlow scorer (prune.SynFlow) needs: for
// each prunable tensor of w, a Param whose Value is |w| with the weights
// masks prunes set to 0, and whose Grad is ∂R/∂w at those values, where R
// is the sum of the logits of m for one all-ones example of the given shape
// with every parameter (biases too) replaced by its absolute value (Tanaka
// et al. 2020; their code's "linearize"). No data is involved. masks may be
// nil (nothing pruned). w is not changed; the returned tensors are new.
//
// R grows with the product of the layers' weight norms: for deep networks
// float32 can overflow, and an infinite or NaN R is an error (use float64
// weights).
func SynFlowParams(m Model, w *Weights, masks *prune.Masks, input []int) (ps []prune.Param, err error) {
	if w == nil {
		return nil, errors.New("train: SynFlowParams: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, err
	}
	if _, err := checkInput(m.Name(), input); err != nil {
		return nil, err
	}
	abs := w.Clone()
	for _, t := range abs.tensors {
		v := values64(t)
		for i := range v {
			v[i] = math.Abs(v[i])
		}
		storeFloats(t, v)
	}
	if masks != nil {
		if err := masks.Apply(abs.Prunable()); err != nil {
			return nil, fmt.Errorf("train: SynFlowParams: %w", err)
		}
	}
	dt := w.dtype
	in := newGraphInput(dt, 1, input)
	if in.x32 != nil {
		for i := range in.x32 {
			in.x32[i] = 1
		}
	} else {
		for i := range in.x64 {
			in.x64[i] = 1
		}
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, dt, 1+len(input), gorgonia.WithShape(in.x.Shape()...), gorgonia.WithName("x"), gorgonia.WithValue(in.x))
	wn := weightNodes(g, abs)
	logits, err := forward(m, g, x, wn, 1)
	if err != nil {
		return nil, err
	}
	var r *gorgonia.Node
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("train: model %q: summing the logits panicked: %v", m.Name(), p)
			}
		}()
		r, err = gorgonia.Sum(logits)
	}()
	if err != nil {
		return nil, fmt.Errorf("train: SynFlowParams: %w", err)
	}
	var one *gorgonia.Node
	if dt == tensor.Float32 {
		one = gorgonia.NewConstant(float32(1))
	} else {
		one = gorgonia.NewConstant(float64(1))
	}
	one = g.AddNode(one)
	grads, err := backprop(m, r, one, wn)
	if err != nil {
		return nil, err
	}
	vm, err := compile(m, append(gorgonia.Nodes{r}, grads...))
	if err != nil {
		return nil, err
	}
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, fmt.Errorf("train: SynFlowParams: %w", err)
	}
	rv, err := scalar(vm.value(r))
	if err != nil {
		return nil, fmt.Errorf("train: SynFlowParams: R: %w", err)
	}
	if math.IsNaN(rv) || math.IsInf(rv, 0) {
		return nil, nonFinitef("train: SynFlowParams: R = %v overflows %v (use float64 weights)", rv, dt)
	}
	for i, name := range abs.names {
		if !abs.prunable[i] {
			continue
		}
		gd, ok := vm.value(grads[i]).(*tensor.Dense)
		if !ok || gd == nil || gd.Dtype() != dt || gd.RequiresIterator() {
			return nil, fmt.Errorf("train: SynFlowParams: gradient of %q is %T, not a contiguous %v tensor", name, vm.value(grads[i]), dt)
		}
		ps = append(ps, prune.Param{Name: name, Value: abs.tensors[i], Grad: gd.Clone().(*tensor.Dense)})
	}
	return ps, nil
}
