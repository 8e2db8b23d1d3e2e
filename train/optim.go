package train

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/tensor"
)

// Optimizer is a training algorithm: SGD, Momentum, Adam, or a user's own.
// An Optimizer value is a description (safe to share); NewState makes the
// per-parameter state that one Trainer updates.
//
// The built-in optimizers work on the tensors' backing slices in place,
// follow PyTorch's update rules (torch.optim.SGD and Adam, weight decay as
// an L2 term added to the gradient), and keep their state in plain tensors
// that snapshots and checkpoints copy.
type Optimizer interface {
	// LearningRate returns the base learning rate, which the Trainer's
	// LRSchedule scales at each step.
	LearningRate() float64
	// NewState returns zeroed state for params (their Values set; Grads may
	// be nil). The params' names, order and sizes are fixed for the life of
	// the state.
	NewState(params []prune.Param) (OptimizerState, error)
}

// OptimizerState is the mutable state of an Optimizer for one set of params.
type OptimizerState interface {
	// Update applies one step with learning rate lr: it changes every
	// params[i].Value in place from params[i].Grad. params are those given
	// to NewState (same order and sizes), with Grad set.
	Update(params []prune.Param, lr float64) error
	// Tensors returns the state's tensors (e.g. Adam's moments and step
	// count) in a fixed order, shared, not copied: snapshots copy them and
	// restores overwrite them in place. SGD has none.
	Tensors() []*tensor.Dense
}

// SGD is stochastic gradient descent: w ← w - LR·(g + WeightDecay·w).
type SGD struct {
	LR          float64 // learning rate; 0 means 0.1
	WeightDecay float64 // L2 penalty added to the gradient; 0 means none
}

// LearningRate implements Optimizer.
func (o SGD) LearningRate() float64 { return orDefault(o.LR, 0.1) }

// NewState implements Optimizer.
func (o SGD) NewState(params []prune.Param) (OptimizerState, error) {
	if err := checkOptParams(params); err != nil {
		return nil, err
	}
	if err := checkHyper("SGD", "WeightDecay", o.WeightDecay, 0, math.Inf(1)); err != nil {
		return nil, err
	}
	return &sgdState{wd: o.WeightDecay, sizes: paramSizes(params)}, nil
}

type sgdState struct {
	wd    float64
	sizes []int
}

func (s *sgdState) Tensors() []*tensor.Dense { return nil }

func (s *sgdState) Update(params []prune.Param, lr float64) error {
	if err := checkUpdate(params, s.sizes); err != nil {
		return err
	}
	for _, p := range params {
		if p.Value.Dtype() == tensor.Float32 {
			sgdStep(floats[float32](p.Value), floats[float32](p.Grad), float32(lr), float32(s.wd))
		} else {
			sgdStep(floats[float64](p.Value), floats[float64](p.Grad), lr, s.wd)
		}
	}
	return nil
}

func sgdStep[T float](w, g []T, lr, wd T) {
	g = g[:len(w)]
	if wd == 0 {
		for i := range w {
			w[i] -= lr * g[i]
		}
		return
	}
	for i := range w {
		w[i] -= lr * (g[i] + wd*w[i])
	}
}

// Momentum is SGD with momentum (PyTorch's rule, dampening 0):
// b ← Momentum·b + g', then w ← w - LR·b, or with Nesterov
// w ← w - LR·(g' + Momentum·b), where g' = g + WeightDecay·w.
type Momentum struct {
	LR          float64 // learning rate; 0 means 0.1
	Momentum    float64 // momentum factor in [0, 1); 0 means 0.9
	Nesterov    bool    // Nesterov's accelerated gradient
	WeightDecay float64 // L2 penalty added to the gradient; 0 means none
}

// LearningRate implements Optimizer.
func (o Momentum) LearningRate() float64 { return orDefault(o.LR, 0.1) }

// NewState implements Optimizer.
func (o Momentum) NewState(params []prune.Param) (OptimizerState, error) {
	if err := checkOptParams(params); err != nil {
		return nil, err
	}
	mu := orDefault(o.Momentum, 0.9)
	if err := checkHyper("Momentum", "Momentum", mu, 0, 1); err != nil {
		return nil, err
	}
	if err := checkHyper("Momentum", "WeightDecay", o.WeightDecay, 0, math.Inf(1)); err != nil {
		return nil, err
	}
	return &momentumState{mu: mu, nesterov: o.Nesterov, wd: o.WeightDecay, sizes: paramSizes(params), buf: zerosLike(params)}, nil
}

type momentumState struct {
	mu, wd   float64
	nesterov bool
	sizes    []int
	buf      []*tensor.Dense
	kept     [][]int32 // per param, the entries to update; nil: all (sparse.go)
	pat      []*kernel.Pattern
	kbuf     keptBuf
}

func (s *momentumState) Tensors() []*tensor.Dense { return s.buf }

func (s *momentumState) Update(params []prune.Param, lr float64) error {
	if err := checkUpdate(params, s.sizes); err != nil {
		return err
	}
	for i, p := range params {
		if i < len(s.kept) && s.kept[i] != nil && p.Value.Dtype() == tensor.Float32 {
			momentumKept(&s.kbuf, s.pat[i], floats[float32](p.Value), floats[float32](p.Grad), floats[float32](s.buf[i]), float32(lr), float32(s.mu), float32(s.wd), s.nesterov)
			continue
		}
		if p.Value.Dtype() == tensor.Float32 {
			momentumStep(floats[float32](p.Value), floats[float32](p.Grad), floats[float32](s.buf[i]), float32(lr), float32(s.mu), float32(s.wd), s.nesterov)
		} else {
			momentumStep(floats[float64](p.Value), floats[float64](p.Grad), floats[float64](s.buf[i]), lr, s.mu, s.wd, s.nesterov)
		}
	}
	return nil
}

func momentumStep[T float](w, g, b []T, lr, mu, wd T, nesterov bool) {
	g, b = g[:len(w)], b[:len(w)]
	for i := range w {
		d := g[i] + wd*w[i]
		m := mu*b[i] + d
		b[i] = m
		if nesterov {
			d += mu * m
		} else {
			d = m
		}
		w[i] -= lr * d
	}
}

// Adam is the Adam optimizer (Kingma & Ba 2015), PyTorch's formulation:
// m ← β1·m + (1-β1)·g', v ← β2·v + (1-β2)·g'², then
// w ← w - LR/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + Eps), where g' = g + WeightDecay·w
// and t counts the updates.
type Adam struct {
	LR          float64 // learning rate; 0 means 0.001
	Beta1       float64 // first-moment decay in [0, 1); 0 means 0.9
	Beta2       float64 // second-moment decay in [0, 1); 0 means 0.999
	Eps         float64 // added to the denominator; 0 means 1e-8
	WeightDecay float64 // L2 penalty added to the gradient; 0 means none
}

// LearningRate implements Optimizer.
func (o Adam) LearningRate() float64 { return orDefault(o.LR, 1e-3) }

// NewState implements Optimizer. Its Tensors are each param's first moment,
// then each param's second moment, then a one-element float64 tensor
// holding the number of updates done.
func (o Adam) NewState(params []prune.Param) (OptimizerState, error) {
	if err := checkOptParams(params); err != nil {
		return nil, err
	}
	s := &adamState{
		b1: orDefault(o.Beta1, 0.9), b2: orDefault(o.Beta2, 0.999), eps: orDefault(o.Eps, 1e-8), wd: o.WeightDecay,
		sizes: paramSizes(params), m: zerosLike(params), v: zerosLike(params),
		t: tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(1)),
	}
	for _, h := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{{"Beta1", s.b1, 0, 1}, {"Beta2", s.b2, 0, 1}, {"Eps", s.eps, 0, math.Inf(1)}, {"WeightDecay", s.wd, 0, math.Inf(1)}} {
		if err := checkHyper("Adam", h.name, h.v, h.lo, h.hi); err != nil {
			return nil, err
		}
	}
	s.all = append(append(append([]*tensor.Dense(nil), s.m...), s.v...), s.t)
	return s, nil
}

type adamState struct {
	b1, b2, eps, wd float64
	sizes           []int
	m, v            []*tensor.Dense
	t               *tensor.Dense
	all             []*tensor.Dense
	kept            [][]int32 // per param, the entries to update; nil: all (sparse.go)
	pat             []*kernel.Pattern
	cm, cv          [][]float32
	stale           bool
	kbuf            keptBuf
	k32             adamCoef[float32] // this step's coefficients
	k64             adamCoef[float64]
	j32             adamJob[float32] // the update under way
	j64             adamJob[float64]
	wg              sync.WaitGroup
}

// Tensors returns the moments and the step count; for params updated at
// kept entries only, the moments are copied in from their compact form
// (sparse.go) on each call.
func (s *adamState) Tensors() []*tensor.Dense {
	s.sync()
	s.stale = s.kept != nil
	return s.all
}

func (s *adamState) Update(params []prune.Param, lr float64) error {
	if err := checkUpdate(params, s.sizes); err != nil {
		return err
	}
	count := s.t.Float64s()
	count[0]++
	t := count[0]
	bc1 := 1 - math.Pow(s.b1, t)
	bc2 := 1 - math.Pow(s.b2, t)
	step := lr / bc1
	inv := 1 / math.Sqrt(bc2)
	s.k32 = newAdamCoef[float32](s.b1, s.b2, step, inv, s.eps, s.wd)
	s.k64 = newAdamCoef[float64](s.b1, s.b2, step, inv, s.eps, s.wd)
	for i, p := range params {
		if i < len(s.kept) && s.kept[i] != nil && p.Value.Dtype() == tensor.Float32 {
			if s.stale {
				s.gather()
			}
			adamKept(&s.kbuf, s.pat[i], floats[float32](p.Value), floats[float32](p.Grad), s.cm[i], s.cv[i], &s.k32)
			continue
		}
		if p.Value.Dtype() == tensor.Float32 {
			s.j32 = adamJob[float32]{floats[float32](p.Value), floats[float32](p.Grad), floats[float32](s.m[i]), floats[float32](s.v[i]), &s.k32}
			n := len(s.j32.w)
			parallel(&s.j32, n, workers(n, minParallelElems), &s.wg)
		} else {
			s.j64 = adamJob[float64]{floats[float64](p.Value), floats[float64](p.Grad), floats[float64](s.m[i]), floats[float64](s.v[i]), &s.k64}
			n := len(s.j64.w)
			parallel(&s.j64, n, workers(n, minParallelElems), &s.wg)
		}
	}
	s.j32, s.j64 = adamJob[float32]{}, adamJob[float64]{}
	return nil
}

// adamJob updates a range of one param's entries: each entry on its own,
// so the split does not change the numbers.
type adamJob[T float] struct {
	w, g, m, v []T
	k          *adamCoef[T]
}

func (j *adamJob[T]) runRange(_, lo, hi int) {
	adamStep(j.w[lo:hi], j.g[lo:hi], j.m[lo:hi], j.v[lo:hi], j.k)
}

// newAdamCoef returns the coefficients in T; the complements 1-b are
// computed in T, from b rounded to T.
func newAdamCoef[T float](b1, b2, step, inv, eps, wd float64) adamCoef[T] {
	return adamCoef[T]{b1: T(b1), c1: 1 - T(b1), b2: T(b2), c2: 1 - T(b2), step: T(step), inv: T(inv), eps: T(eps), wd: T(wd)}
}

// adamCoef holds the coefficients of one Adam step, in the parameters'
// dtype: the decays b1, b2 and their complements c1 = 1-b1, c2 = 1-b2, the
// bias-corrected step lr/(1-b1ᵗ), inv = 1/√(1-b2ᵗ), eps and the weight decay.
type adamCoef[T float] struct{ b1, c1, b2, c2, step, inv, eps, wd T }

// adamElem is Adam's update of one entry: it returns the new weight, first
// and second moments from the weight w, its gradient g and the moments m and
// v. It is the one formula every Adam path follows bit for bit: the dense
// Go loop, the AVX2 and AVX-512 kernels (train/internal/kernel), and any
// code that updates a subset of the entries (kept entries only) must call it
// or match it exactly.
//
// Every operation is rounded to T (the explicit conversions forbid fused
// multiply-adds), in this order:
//
//	d = g + wd·w (d = g when wd is 0);  d = flushTiny(d)
//	m = b1·m + c1·d;                    m = flushTiny(m)
//	v = b2·v + (c2·d)·d;                v = flushTiny(v)
//	w = w - (step·m) / (√v·inv + eps)
//
// flushTiny makes values below the smallest normal number of T zero, so that
// moments decaying geometrically (the gradient of a pruned weight is zero
// for good) reach zero instead of lingering as denormals, which many CPUs
// handle a hundred times slower; and denormal gradients count as zero.
// PyTorch's torch.set_flush_denormal(True) does the same to these numbers
// (and to every other result).
func adamElem[T float](w, g, m, v T, k *adamCoef[T]) (T, T, T) {
	d := g
	if k.wd != 0 {
		d = g + T(k.wd*w)
	}
	d = flushTiny(d)
	m = flushTiny(T(k.b1*m) + T(k.c1*d))
	v = flushTiny(T(k.b2*v) + T(T(k.c2*d)*d))
	den := T(T(math.Sqrt(float64(v)))*k.inv) + k.eps
	return w - T(k.step*m)/den, m, v
}

// flushTiny returns 0 for x of magnitude below the smallest normal number
// of T (denormals and zeros), and x otherwise (NaN and Inf included).
func flushTiny[T float](x T) T {
	tiny := T(math.Float64frombits(0x0010000000000000)) // 2⁻¹⁰²²
	if isF32[T]() {
		tiny = T(math.Float32frombits(0x00800000)) // 2⁻¹²⁶
	}
	if x > -tiny && x < tiny {
		return 0
	}
	return x
}

// adamStep updates every entry of w, m and v with adamElem, the float32
// entries by the assembly kernel where the CPU has one.
func adamStep[T float](w, g, m, v []T, k *adamCoef[T]) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	start := 0
	if isF32[T]() {
		var kc kernel.AdamCoef
		kc.Set(float32(k.b1), float32(k.c1), float32(k.b2), float32(k.c2), float32(k.step), float32(k.inv), float32(k.eps), float32(k.wd))
		start = kernel.AdamF32(as32(w), as32(g), as32(m), as32(v), &kc, k.wd != 0)
	}
	for i := start; i < n; i++ {
		w[i], m[i], v[i] = adamElem(w[i], g[i], m[i], v[i], k)
	}
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func checkHyper(opt, name string, v, lo, hi float64) error {
	if math.IsNaN(v) || v < lo || v >= hi {
		return fmt.Errorf("train: %s: %s = %v is outside [%v, %v)", opt, name, v, lo, hi)
	}
	return nil
}

func checkOptParams(params []prune.Param) error {
	if len(params) == 0 {
		return errors.New("train: optimizer: no params")
	}
	for _, p := range params {
		if p.Value == nil {
			return fmt.Errorf("train: optimizer: param %q has a nil Value", p.Name)
		}
		if dt := p.Value.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
			return fmt.Errorf("train: optimizer: param %q has dtype %v", p.Name, dt)
		}
		if p.Value.RequiresIterator() {
			return fmt.Errorf("train: optimizer: param %q is not contiguous", p.Name)
		}
	}
	return nil
}

func paramSizes(params []prune.Param) []int {
	s := make([]int, len(params))
	for i, p := range params {
		s[i] = p.Value.Shape().TotalSize()
	}
	return s
}

func zerosLike(params []prune.Param) []*tensor.Dense {
	out := make([]*tensor.Dense, len(params))
	for i, p := range params {
		out[i] = tensor.New(tensor.Of(p.Value.Dtype()), tensor.WithShape(p.Value.Shape()...))
	}
	return out
}

// checkUpdate checks the params given to Update against the state's sizes.
// It does not allocate.
func checkUpdate(params []prune.Param, sizes []int) error {
	if len(params) != len(sizes) {
		return fmt.Errorf("train: optimizer: %d params, the state has %d", len(params), len(sizes))
	}
	for i, p := range params {
		if p.Value == nil || p.Grad == nil {
			return fmt.Errorf("train: optimizer: param %q: nil Value or Grad", p.Name)
		}
		if p.Value.Shape().TotalSize() != sizes[i] || p.Grad.Shape().TotalSize() != sizes[i] {
			return fmt.Errorf("train: optimizer: param %q: %d values and %d gradients, the state has %d", p.Name, p.Value.Shape().TotalSize(), p.Grad.Shape().TotalSize(), sizes[i])
		}
		if p.Grad.Dtype() != p.Value.Dtype() {
			return fmt.Errorf("train: optimizer: param %q: gradient dtype %v, value dtype %v", p.Name, p.Grad.Dtype(), p.Value.Dtype())
		}
	}
	return nil
}
