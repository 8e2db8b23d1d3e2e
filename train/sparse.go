package train

import (
	"fmt"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file connects the sparse kernels (train/internal/kernel, Pattern) to
// the Trainer: which masked dense layers run sparse (Config.Kernels), the
// ops of each graph that read them, and the optimizer updates restricted to
// kept weights.

// sparseFwd is Dense's forward pass with the sparse kernels: the bias, then
// the kept weights' products in the dense kernel's order, then the ReLU.
func sparseFwd(p *kernel.Pattern, x, w, b, y []float32, batch int, relu bool) {
	p.ForwardBias(y, x, w, b, batch)
	if relu {
		kernel.ReLU(y) // as denseFwd: y < 0 becomes +0; -0 and NaN stay
	}
}

// denseRef is a Dense or DenseReLU op of a graph and the index of its
// weight in the Trainer's Weights.
type denseRef struct {
	op *denseOp
	wi int
}

// denseRefs finds the dense ops of g whose weight is one of the weight
// nodes wn (in Weights order).
func denseRefs(g *gorgonia.ExprGraph, wn []*gorgonia.Node) []denseRef {
	idx := make(map[*gorgonia.Node]int, len(wn))
	for i, n := range wn {
		idx[n] = i
	}
	var refs []denseRef
	for _, n := range g.AllNodes() {
		op, ok := n.Op().(*denseOp)
		if !ok {
			continue
		}
		ch := g.From(n.ID())
		if ch.Len() != 3 {
			continue
		}
		ch.Next()
		ch.Next()
		if wi, ok := idx[ch.Node().(*gorgonia.Node)]; ok {
			refs = append(refs, denseRef{op: op, wi: wi})
		}
	}
	return refs
}

// sparseAvailable reports whether the sparse kernels can run: float32
// weights, and the dense products on this package's AVX2 or AVX-512 kernel
// (whose order the sparse kernels keep; with OpenBLAS or another BLAS, or
// without AVX2, every layer runs dense).
func (t *Trainer) sparseAvailable() bool {
	return t.w.dtype == tensor.Float32 && isGonum(gorgonia.WhichBLAS()) && kernel.HasAVX2
}

// planSparse builds the sparse pattern of every masked dense weight that
// Config.Kernels runs sparse, attaches them to the graphs built so far, and
// tells the optimizer which entries it updates. The optimizer state of
// pruned entries is set to zero whatever the kernels (it would only decay
// towards zero, and never reaches the kept weights), so that the state, like
// the weights, does not depend on the kernels.
func (t *Trainer) planSparse() error {
	t.sparse = make([]*kernel.Pattern, len(t.params))
	masks := make([]*prune.Mask, len(t.params))
	if t.masks != nil {
		for i, wi := range t.maskIdx {
			masks[wi] = t.masks.At(i)
		}
	}
	for wi, mk := range masks {
		if mk == nil || !t.sparseAvailable() {
			continue
		}
		s := t.params[wi].Value.Shape()
		if len(s) != 2 || !t.cfg.Kernels.UseSparse(mk.Kept(), mk.Len()) {
			continue
		}
		p, err := kernel.NewPattern(s[0], s[1], mk.Keeps)
		if err != nil {
			return fmt.Errorf("train: sparse kernels for %q: %w", t.params[wi].Name, err)
		}
		t.sparse[wi] = p
	}
	if t.tg != nil {
		t.attachSparse(t.tg.dense)
	}
	for _, eg := range t.evals {
		t.attachSparse(eg.dense)
	}
	ks, compact := t.opt.(keptState)
	if compact {
		ks.setKept(masks, t.sparse)
	}
	t.keptGrads(compact)
	return nil
}

// keptGrads tells the sparse layers' weight gradients to compute the kept
// entries only (the pattern's KeptGrad, which the built-in optimizers read)
// when on, and the whole gradient tensor as well when off (for an optimizer
// of the caller's, and for Gradients).
func (t *Trainer) keptGrads(on bool) {
	for _, p := range t.sparse {
		if p != nil {
			p.GradKeptOnly = on
		}
	}
}

// fullGrads makes the sparse layers compute whole gradient tensors until
// the function it returns is called (Gradients reads them).
func (t *Trainer) fullGrads() func() {
	_, compact := t.opt.(keptState)
	t.keptGrads(false)
	return func() { t.keptGrads(compact) }
}

// attachSparse points each dense op of a graph at its weight's pattern (nil:
// dense).
func (t *Trainer) attachSparse(refs []denseRef) {
	for _, r := range refs {
		r.op.sparse = nil
		if r.wi < len(t.sparse) {
			r.op.sparse = t.sparse[r.wi]
		}
	}
}

// SparseLayers returns the names of the weights whose dense layers run with
// the sparse kernels under the masks in force and Config.Kernels.
func (t *Trainer) SparseLayers() []string {
	var names []string
	for wi, p := range t.sparse {
		if p != nil {
			names = append(names, t.params[wi].Name)
		}
	}
	return names
}

// keptState is an optimizer state that can update the kept entries of a
// param only. setKept gets, per param, its mask (nil when unmasked) and
// its sparse kernels (nil: update every entry); it sets the state of
// pruned entries to zero. Its updates of a param with sparse kernels read
// the gradient from the pattern (KeptGrad), not from the param's Grad.
type keptState interface {
	setKept(masks []*prune.Mask, sparse []*kernel.Pattern)
}

// keptIndex lists the kept entries of each param that updates kept entries
// only (nil for the others), in its pattern's order (KeptOffsets), and
// zeroes the pruned entries of state.
func keptIndex(masks []*prune.Mask, sparse []*kernel.Pattern, state ...[]*tensor.Dense) [][]int32 {
	kept := make([][]int32, len(masks))
	for i, mk := range masks {
		if mk == nil {
			continue
		}
		for _, st := range state {
			if i < len(st) {
				mk.ApplyTo(st[i]) // sizes checked by SetMasks
			}
		}
		if i < len(sparse) && sparse[i] != nil {
			kept[i] = sparse[i].KeptOffsets()
		}
	}
	return kept
}

func (s *adamState) setKept(masks []*prune.Mask, sparse []*kernel.Pattern) {
	s.sync()
	s.kept = keptIndex(masks, sparse, s.m, s.v)
	s.pat = sparse
	s.cm, s.cv = make([][]float32, len(s.kept)), make([][]float32, len(s.kept))
	s.stale = true
}

// The moments of a param updated at kept entries only live in compact
// arrays (cm, cv, in the order of kept), which a step reads and writes
// sequentially; m and v hold them after sync, which Tensors calls. After
// Tensors, whose caller may write new moments into m and v (a checkpoint
// being restored), the next Update gathers the compact arrays again.

// sync copies the compact moments into m and v, unless m and v are newer
// (stale: Tensors was called since the last Update).
func (s *adamState) sync() {
	if s.stale {
		return
	}
	for i, idx := range s.kept {
		if idx == nil || s.cm[i] == nil {
			continue
		}
		m, v := floats[float32](s.m[i]), floats[float32](s.v[i])
		for q, j := range idx {
			m[j], v[j] = s.cm[i][q], s.cv[i][q]
		}
	}
}

// gather copies m and v into the compact moments.
func (s *adamState) gather() {
	for i, idx := range s.kept {
		if idx == nil || s.m[i].Dtype() != tensor.Float32 {
			continue
		}
		if len(s.cm[i]) != len(idx) {
			s.cm[i], s.cv[i] = make([]float32, len(idx)), make([]float32, len(idx))
		}
		m, v := floats[float32](s.m[i]), floats[float32](s.v[i])
		for q, j := range idx {
			s.cm[i][q], s.cv[i][q] = m[j], v[j]
		}
	}
	s.stale = false
}

func (s *momentumState) setKept(masks []*prune.Mask, sparse []*kernel.Pattern) {
	s.kept = keptIndex(masks, sparse, s.buf)
	s.pat = sparse
}

// keptBuf holds the gathered entries of a kept-only update.
type keptBuf struct {
	g, b []float32
}

// keptGrad returns the kept entries of a param's gradient: the pattern's
// (GradW computed them), or gathered from the whole gradient g.
func keptGrad(buf *keptBuf, p *kernel.Pattern, g []float32) []float32 {
	if kg, ok := p.KeptGrad(); ok {
		return kg
	}
	off := p.KeptOffsets()
	buf.g = grow32(buf.g, len(off))
	for q, o := range off {
		buf.g[q] = g[o]
	}
	return buf.g
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// adamKept runs adamStep on the kept entries of one float32 param, whose
// moments are the compact m and v (in the pattern's order): it updates the
// pattern's copy of the kept weights (KeptValues) from the kept gradient,
// with the same code as the dense update (so each entry gets the same
// bits), and writes them to w. Pruned entries, whose gradient and moments
// are zero, would not change under the dense update either.
func adamKept(buf *keptBuf, p *kernel.Pattern, w, g, m, v []float32, k *adamCoef[float32]) {
	wk := p.KeptValues(w)
	adamStep(wk, keptGrad(buf, p, g), m, v, k)
	scatter(w, wk, p.KeptOffsets())
}

// scatter sets w[off[q]] = vals[q].
func scatter(w, vals []float32, off []int32) {
	vals = vals[:len(off)]
	for q, o := range off {
		w[o] = vals[q]
	}
}

// momentumKept is adamKept for momentumStep, with the whole momentum buffer b.
func momentumKept(buf *keptBuf, p *kernel.Pattern, w, g, b []float32, lr, mu, wd float32, nesterov bool) {
	off := p.KeptOffsets()
	wk := p.KeptValues(w)
	gk := keptGrad(buf, p, g)
	buf.b = grow32(buf.b, len(off))
	for q, o := range off {
		buf.b[q] = b[o]
	}
	momentumStep(wk, gk, buf.b, lr, mu, wd, nesterov)
	scatter(w, wk, off)
	scatter(b, buf.b, off)
}
