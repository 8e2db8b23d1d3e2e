package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Scorer rates the importance of each element of a Param: a larger score is
// more important, so the lowest scores are pruned first.
//
// Score writes one score per element into dst (len(dst) == p.Size()), in
// flat (row-major) order. Scores must be finite: pruners reject NaN and Inf.
type Scorer interface {
	Score(p Param, dst []float64) error
}

// SliceScorer is implemented by scorers that rate whole slices (rows,
// columns, filters) in their own way. dst has one entry per index along dim.
// Structured pruning uses it when present and otherwise sums the element
// scores of each slice.
type SliceScorer interface {
	ScoreSlices(p Param, dim int, dst []float64) error
}

// ScoreFunc adapts a function to a Scorer.
type ScoreFunc func(p Param, dst []float64) error

// Score implements Scorer.
func (f ScoreFunc) Score(p Param, dst []float64) error { return f(p, dst) }

// L1 scores an element by |w| and a slice by the sum of |w| over it, as
// torch.nn.utils.prune's l1_unstructured and ln_structured(n=1).
type L1 struct{}

// L2 scores an element by |w| and a slice by its Euclidean norm, as
// torch.nn.utils.prune's ln_structured(n=2). For single elements L1 and L2
// rank alike.
type L2 struct{}

// Taylor scores an element by |w·g|, the first-order Taylor estimate of the
// change in loss when it is removed (Molchanov et al. 2019). Every Param needs
// a Grad.
type Taylor struct{}

// Random scores elements (and slices) uniformly at random from Rand, which
// must be set: the same seed gives the same mask.
type Random struct {
	Rand *rand.Rand
}

// Score implements Scorer.
func (L1) Score(p Param, dst []float64) error { return absScores(p, dst) }

// Score implements Scorer.
func (L2) Score(p Param, dst []float64) error { return absScores(p, dst) }

func absScores(p Param, dst []float64) error {
	if err := p.validate(false); err != nil {
		return err
	}
	if len(dst) != p.Size() {
		return fmt.Errorf("prune: param %q: %d scores for %d elements", p.Name, len(dst), p.Size())
	}
	if isFloat32(p.Value) {
		for i, x := range data32(p.Value) {
			dst[i] = math.Abs(float64(x))
		}
		return nil
	}
	for i, x := range data64(p.Value) {
		dst[i] = math.Abs(x)
	}
	return nil
}

// Score implements Scorer.
func (Taylor) Score(p Param, dst []float64) error {
	if err := p.validate(true); err != nil {
		return err
	}
	if len(dst) != p.Size() {
		return fmt.Errorf("prune: param %q: %d scores for %d elements", p.Name, len(dst), p.Size())
	}
	if isFloat32(p.Value) {
		v, g := data32(p.Value), data32(p.Grad)
		for i := range dst {
			dst[i] = math.Abs(float64(v[i]) * float64(g[i]))
		}
		return nil
	}
	v, g := data64(p.Value), data64(p.Grad)
	for i := range dst {
		dst[i] = math.Abs(v[i] * g[i])
	}
	return nil
}

// Score implements Scorer.
func (r Random) Score(p Param, dst []float64) error {
	if r.Rand == nil {
		return fmt.Errorf("prune: param %q: Random scorer has a nil Rand", p.Name)
	}
	if len(dst) != p.Size() {
		return fmt.Errorf("prune: param %q: %d scores for %d elements", p.Name, len(dst), p.Size())
	}
	for i := range dst {
		dst[i] = r.Rand.Float64()
	}
	return nil
}
