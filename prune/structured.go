package prune

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Structured prunes whole slices of each Param along Dim: slice i is every
// element whose index on Dim is i (a row of a matrix for Dim 0, a column for
// Dim 1, a filter of an out×in×kh×kw convolution kernel for Dim 0). Gorgonia's
// x·W layout puts a dense layer's output units on Dim 1.
//
// Each Param is pruned on its own. The candidates are the slices that still
// keep at least one element; Amount counts slices and is evaluated against the
// number of candidate slices and the size of Dim. The candidates with the
// lowest scores lose every element. This is torch.nn.utils.prune's
// ln_structured, repeated applications included: a slice's score only counts
// its kept elements, as torch computes the norm of the masked weights.
//
// Slice scores: L1 is the sum of |w| over the slice's kept elements, L2 their
// Euclidean norm, Taylor the sum of |w·g|, Random one draw a slice. A Scorer
// of the caller's that implements SliceScorer is asked through ScoreSlices and
// sees the weights as they are (call Masks.Apply first so that pruned weights
// count as zero); any other Scorer is asked for element scores, summed over
// each slice's kept elements.
//
// Ties are broken by position: the lower slice index is pruned first. Dim
// must lie in [0, rank) for every Param (a vector has only Dim 0); a negative
// Dim is an error. A nil Scorer means L1{}; Amount must be set.
type Structured struct {
	Scorer Scorer
	Dim    int
	Amount Amount
}

// NM keeps at most N of every M consecutive entries along Dim: each run of
// entries whose index on Dim goes from g·M to g·M+M-1 (all other indices
// fixed) keeps its N highest-scoring entries among those still kept, and loses
// the rest. Groups with N or fewer kept entries are left as they are.
//
// For 2:4 sparsity of a dense layer computing x·W with W of shape [in, out]
// (Gorgonia's layout), use N=2, M=4, Dim=0: the groups run along the input
// dimension, which is what sparse tensor cores want for that product. For a
// PyTorch-style [out, in] weight, use Dim=1.
//
// N must lie in [1, M], and M must divide the size of Dim of every Param.
// Ties are broken by position: the lower index on Dim is pruned first. A nil
// Scorer means L1{}; Random and Scorers of the caller's are asked once per
// Param and their scores kept (8 bytes a weight).
type NM struct {
	N, M   int
	Scorer Scorer
	Dim    int
}

// Prune implements Pruner.
func (s Structured) Prune(ms *Masks, params []Param) error {
	if s.Amount == nil {
		return errors.New("prune: Structured: nil Amount")
	}
	scorer := orL1(s.Scorer)
	kind := classify(scorer)
	ms, err := ms.forParams(params, false)
	if err != nil {
		return err
	}
	type plan struct {
		m                  *Mask
		outer, size, inner int
		drop               []int
	}
	plans := make([]plan, 0, len(params))
	for i, p := range params {
		m := ms.masks[i]
		g, err := splitDim(p, s.Dim)
		if err != nil {
			return err
		}
		alive := make([]bool, g.size)
		nAlive := 0
		for sl := range g.size {
			for o := range g.outer {
				base := (o*g.size + sl) * g.inner
				if m.anyKept(base, base+g.inner) {
					alive[sl] = true
					nAlive++
					break
				}
			}
		}
		k, err := toPrune(s.Amount, fmt.Sprintf("param %q", p.Name), nAlive, g.size)
		if err != nil {
			return err
		}
		scores := make([]float64, g.size)
		if err := sliceScores(scorer, kind, p, m, s.Dim, g, scores); err != nil {
			return err
		}
		order := make([]int, 0, nAlive)
		for sl, ok := range alive {
			if ok {
				order = append(order, sl)
			}
		}
		slices.SortFunc(order, func(a, b int) int {
			if c := cmp.Compare(scores[a], scores[b]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		plans = append(plans, plan{m, g.outer, g.size, g.inner, order[:k]})
	}
	for _, pl := range plans {
		for _, sl := range pl.drop {
			for o := range pl.outer {
				base := (o*pl.size + sl) * pl.inner
				pl.m.clearRange(base, base+pl.inner)
			}
		}
		pl.m.recount()
	}
	return nil
}

// Prune implements Pruner.
func (nm NM) Prune(ms *Masks, params []Param) error {
	if nm.N < 1 || nm.M < 1 || nm.N > nm.M {
		return fmt.Errorf("prune: NM: N=%d, M=%d: need 1 <= N <= M", nm.N, nm.M)
	}
	scorer := orL1(nm.Scorer)
	kind := classify(scorer)
	ms, err := ms.forParams(params, false)
	if err != nil {
		return err
	}
	geoms := make([]dimSplitT, len(params))
	stored := make([][]float64, len(params))
	for i, p := range params {
		g, err := splitDim(p, nm.Dim)
		if err != nil {
			return err
		}
		if g.size%nm.M != 0 {
			return fmt.Errorf("prune: param %q: M=%d does not divide the size %d of Dim %d", p.Name, nm.M, g.size, nm.Dim)
		}
		geoms[i] = g
		switch kind {
		case kindCustom:
			stored[i] = make([]float64, p.Size())
			if err := scoreInto(scorer, p, stored[i]); err != nil {
				return err
			}
		default:
			if err := checkBuiltin(kind, p); err != nil {
				return err
			}
		}
	}
	if nm.N == nm.M {
		return nil
	}
	type member struct {
		score float64
		j     int
	}
	group := make([]member, 0, nm.M)
	for i, p := range params {
		m, g := ms.masks[i], geoms[i]
		score := elementScore(kind, p, stored[i])
		for o := range g.outer {
			for in := range g.inner {
				for g0 := 0; g0 < g.size; g0 += nm.M {
					group = group[:0]
					for j := g0; j < g0+nm.M; j++ {
						idx := (o*g.size+j)*g.inner + in
						if m.keeps(idx) {
							group = append(group, member{score(idx), j})
						}
					}
					if len(group) <= nm.N {
						continue
					}
					slices.SortFunc(group, func(a, b member) int {
						if c := cmp.Compare(a.score, b.score); c != 0 {
							return c
						}
						return cmp.Compare(a.j, b.j)
					})
					for _, e := range group[:len(group)-nm.N] {
						m.prune((o*g.size+e.j)*g.inner + in)
					}
				}
			}
		}
	}
	return nil
}

// dimSplitT describes a Param's shape as outer × size × inner around a Dim.
type dimSplitT struct{ outer, size, inner int }

func splitDim(p Param, dim int) (dimSplitT, error) {
	shape := p.Value.Shape()
	if dim < 0 || dim >= len(shape) {
		return dimSplitT{}, fmt.Errorf("prune: param %q: Dim %d is out of range for shape %v", p.Name, dim, []int(shape))
	}
	g := dimSplitT{outer: 1, size: shape[dim], inner: 1}
	for _, d := range shape[:dim] {
		g.outer *= d
	}
	for _, d := range shape[dim+1:] {
		g.inner *= d
	}
	return g, nil
}

// checkBuiltin reports a NaN or infinite weight (and, for Taylor, gradient
// or product) of p. For Taylor it also requires a Grad.
func checkBuiltin(kind scoreKind, p Param) error {
	ps := []Param{p}
	if kind == kindTaylor {
		if err := p.validate(true); err != nil {
			return err
		}
		return checkSource[uint64](newTaylorKeys(ps), ps)
	}
	return checkFinite(p)
}

// checkSource reports the first element of params whose key is over the
// source's limit.
func checkSource[K ukey](src keySource[K], params []Param) error {
	var buf [64]K
	lim := src.limit()
	for s, p := range params {
		n := p.Size()
		for off := 0; off < n; off += 64 {
			keys := buf[:min(64, n-off)]
			src.fill(s, off, keys)
			for j, k := range keys {
				if k > lim {
					return src.invalid(s, off+j)
				}
			}
		}
	}
	return nil
}

// elementScore returns a function giving the score of element i of p.
func elementScore(kind scoreKind, p Param, stored []float64) func(i int) float64 {
	switch {
	case kind == kindCustom:
		return func(i int) float64 { return stored[i] }
	case kind == kindAbs && isFloat32(p.Value):
		v := data32(p.Value)
		return func(i int) float64 { return math.Abs(float64(v[i])) }
	case kind == kindAbs:
		v := data64(p.Value)
		return func(i int) float64 { return math.Abs(v[i]) }
	case isFloat32(p.Value):
		v, g := data32(p.Value), data32(p.Grad)
		return func(i int) float64 { return math.Abs(float64(v[i]) * float64(g[i])) }
	default:
		v, g := data64(p.Value), data64(p.Grad)
		return func(i int) float64 { return math.Abs(v[i] * g[i]) }
	}
}

// sliceScores writes the score of every slice of p along g's Dim into dst,
// counting only the elements m keeps for the built-in scorers.
func sliceScores(scorer Scorer, kind scoreKind, p Param, m *Mask, dim int, g dimSplitT, dst []float64) error {
	switch kind {
	case kindAbs, kindTaylor:
		if err := checkBuiltin(kind, p); err != nil {
			return err
		}
		builtinSliceScores(scorer, p, m, g, dst)
	default:
		if ss, ok := scorer.(SliceScorer); ok {
			if err := checkRandom(scorer, p); err != nil {
				return err
			}
			if err := ss.ScoreSlices(p, dim, dst); err != nil {
				return fmt.Errorf("prune: param %q: slice scorer failed: %w", p.Name, err)
			}
			break
		}
		es := make([]float64, p.Size())
		if err := scoreInto(scorer, p, es); err != nil {
			return err
		}
		clear(dst)
		for o := range g.outer {
			for sl := range g.size {
				base := (o*g.size + sl) * g.inner
				for i := base; i < base+g.inner; i++ {
					if m.keeps(i) {
						dst[sl] += es[i]
					}
				}
			}
		}
	}
	return checkScores(p, "score of slice", dst)
}

// builtinSliceScores computes L1, L2 or Taylor slice scores over the
// elements m keeps (every element when m is nil). Each slice is summed in
// increasing flat index, in float64, so float32 and float64 weights of equal
// values score alike.
func builtinSliceScores(scorer Scorer, p Param, m *Mask, g dimSplitT, dst []float64) {
	op := opAbs
	switch scorer.(type) {
	case L2, *L2:
		op = opSquare
	case Taylor, *Taylor:
		op = opTaylor
	}
	clear(dst)
	if isFloat32(p.Value) {
		var gr []float32
		if op == opTaylor {
			gr = data32(p.Grad)
		}
		sliceSums(data32(p.Value), gr, op, m, g, dst)
	} else {
		var gr []float64
		if op == opTaylor {
			gr = data64(p.Grad)
		}
		sliceSums(data64(p.Value), gr, op, m, g, dst)
	}
	if op == opSquare {
		for i, x := range dst {
			dst[i] = math.Sqrt(x)
		}
	}
}

const (
	opAbs = iota
	opSquare
	opTaylor
)

func sliceSums[T float32 | float64](v, gr []T, op int, m *Mask, g dimSplitT, dst []float64) {
	for o := range g.outer {
		for sl := range g.size {
			base := (o*g.size + sl) * g.inner
			sum := dst[sl]
			for i := base; i < base+g.inner; i++ {
				if m != nil && !m.keeps(i) {
					continue
				}
				x := float64(v[i])
				switch op {
				case opAbs:
					sum += math.Abs(x)
				case opSquare:
					sum += x * x
				default:
					sum += math.Abs(x * float64(gr[i]))
				}
			}
			dst[sl] = sum
		}
	}
}

// ScoreSlices implements SliceScorer: the sum of |w| over each slice along
// dim, counting every element (Structured counts only kept ones).
func (L1) ScoreSlices(p Param, dim int, dst []float64) error {
	return scoreSlicesBuiltin(L1{}, p, dim, dst)
}

// ScoreSlices implements SliceScorer: the Euclidean norm of each slice along
// dim, counting every element (Structured counts only kept ones).
func (L2) ScoreSlices(p Param, dim int, dst []float64) error {
	return scoreSlicesBuiltin(L2{}, p, dim, dst)
}

// ScoreSlices implements SliceScorer: the sum of |w·g| over each slice along
// dim, counting every element (Structured counts only kept ones).
func (Taylor) ScoreSlices(p Param, dim int, dst []float64) error {
	return scoreSlicesBuiltin(Taylor{}, p, dim, dst)
}

// ScoreSlices implements SliceScorer: one uniform draw from r.Rand per slice
// along dim, in slice order.
func (r Random) ScoreSlices(p Param, dim int, dst []float64) error {
	if r.Rand == nil {
		return fmt.Errorf("prune: param %q: Random scorer has a nil Rand", p.Name)
	}
	if err := p.validate(false); err != nil {
		return err
	}
	g, err := splitDim(p, dim)
	if err != nil {
		return err
	}
	if len(dst) != g.size {
		return fmt.Errorf("prune: param %q: %d slice scores for %d slices along Dim %d", p.Name, len(dst), g.size, dim)
	}
	for i := range dst {
		dst[i] = r.Rand.Float64()
	}
	return nil
}

func scoreSlicesBuiltin(s Scorer, p Param, dim int, dst []float64) error {
	kind := classify(s)
	if err := p.validate(kind == kindTaylor); err != nil {
		return err
	}
	g, err := splitDim(p, dim)
	if err != nil {
		return err
	}
	if len(dst) != g.size {
		return fmt.Errorf("prune: param %q: %d slice scores for %d slices along Dim %d", p.Name, len(dst), g.size, dim)
	}
	builtinSliceScores(s, p, nil, g, dst)
	return nil
}

// keeps reports whether element i is kept; i must be in range.
func (m *Mask) keeps(i int) bool { return m.bits[i>>6]>>(uint(i)&63)&1 == 1 }

// anyKept reports whether any element in [lo, hi) is kept.
func (m *Mask) anyKept(lo, hi int) bool {
	for lo < hi {
		w, b := lo>>6, uint(lo)&63
		n := min(64-int(b), hi-lo)
		word := m.bits[w] >> b
		if n < 64 {
			word &= 1<<uint(n) - 1
		}
		if word != 0 {
			return true
		}
		lo += n
	}
	return false
}

// clearRange prunes every element in [lo, hi); call recount afterwards.
func (m *Mask) clearRange(lo, hi int) {
	for lo < hi {
		w, b := lo>>6, uint(lo)&63
		n := min(64-int(b), hi-lo)
		sel := ^uint64(0)
		if n < 64 {
			sel = (1<<uint(n) - 1) << b
		}
		m.bits[w] &^= sel
		lo += n
	}
}
