package prune

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Unstructured prunes each Param on its own: for every Param, Amount is
// evaluated against that Param's kept and total entry counts, and that many of
// its kept entries with the lowest scores are pruned.
//
// A nil Scorer means L1{}. Amount must be set.
//
// Selection takes linear time, with no sort: a radix select over the scores'
// bit patterns, usually two passes over the weights, on up to GOMAXPROCS
// goroutines; ties are broken by position (the lower flat index is pruned
// first). L1 and L2 (one ranking by |w|) and Taylor are computed on the fly,
// with no copy of the weights and 256 KiB of histogram per goroutine. Any
// other Scorer (Random, a ScoreFunc) is asked once per Param and its scores
// are kept until the masks are written: 8 bytes a weight of the Params pruned.
type Unstructured struct {
	Scorer Scorer
	Amount Amount
}

// Global ranks the kept entries of all Params together and prunes the
// lowest-scoring ones, wherever they are. Amount is evaluated against the
// kept and total counts summed over all Params: Global{L1{}, Fraction(0.2)}
// prunes 20% of the weights still kept, as torch.nn.utils.prune's
// global_unstructured with L1Unstructured does.
//
// Scores of different Params must be comparable for a global ranking to make
// sense; L1 on weights of similar scale is the usual choice.
//
// Ties are broken by position: the entry in the earlier Param, then at the
// lower flat index, is pruned first. A nil Scorer means L1{}. Amount must be
// set. Time and memory are as for Unstructured: linear time, nothing per
// weight for L1, L2 and Taylor, 8 bytes a weight for other Scorers. 100M
// float32 weights take a few tenths of a second (BenchmarkGlobal).
type Global struct {
	Scorer Scorer
	Amount Amount
}

// Layerwise prunes each Param on its own, as Unstructured, at a rate of its
// own: Amounts[name] for the Param of that name, Default for the others. A
// Param whose Amount is nil (no entry in Amounts and a nil Default, or an
// entry holding nil) is left alone: not scored, not checked, not pruned.
//
// Every name in Amounts must be the name of one of the Params: a name that
// matches none is an error, so that a typo cannot silently prune nothing.
//
// The lottery-ticket recipe prunes hidden layers at 20% and the output layer
// at 10% a round: Layerwise{Default: Fraction(0.2), Amounts:
// map[string]Amount{"w3": Fraction(0.1)}}.
//
// A nil Scorer means L1{}.
type Layerwise struct {
	Scorer  Scorer
	Default Amount
	Amounts map[string]Amount
}

// Prune implements Pruner.
func (u Unstructured) Prune(ms *Masks, params []Param) error {
	if u.Amount == nil {
		return errors.New("prune: Unstructured: nil Amount")
	}
	amounts := make([]Amount, len(params))
	for i := range amounts {
		amounts[i] = u.Amount
	}
	return pruneEach(ms, params, u.Scorer, amounts)
}

// Prune implements Pruner.
func (l Layerwise) Prune(ms *Masks, params []Param) error {
	ms, err := ms.forParams(params, false)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(l.Amounts))
	for name := range l.Amounts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.ContainsFunc(params, func(p Param) bool { return p.Name == name }) {
			return fmt.Errorf("prune: Layerwise: Amounts names param %q, but no param has that name", name)
		}
	}
	amounts := make([]Amount, len(params))
	for i, p := range params {
		if a, ok := l.Amounts[p.Name]; ok {
			amounts[i] = a
		} else {
			amounts[i] = l.Default
		}
	}
	return pruneEach(ms, params, l.Scorer, amounts)
}

// Prune implements Pruner.
func (g Global) Prune(ms *Masks, params []Param) error {
	if g.Amount == nil {
		return errors.New("prune: Global: nil Amount")
	}
	scorer := orL1(g.Scorer)
	kind := classify(scorer)
	ms, err := ms.forParams(params, kind == kindTaylor)
	if err != nil {
		return err
	}
	k, err := toPrune(g.Amount, "Global (all params)", ms.Kept(), ms.Total())
	if err != nil {
		return err
	}
	w, err := planSelection(kind, scorer, params, ms.masks, k)
	if err != nil {
		return err
	}
	w.write()
	return nil
}

// pruneEach prunes params[i] by amounts[i] (skipping nil amounts), each on
// its own. It plans every Param before writing any mask.
func pruneEach(ms *Masks, params []Param, scorer Scorer, amounts []Amount) error {
	scorer = orL1(scorer)
	kind := classify(scorer)
	ms, err := ms.forParams(params, false)
	if err != nil {
		return err
	}
	var plans []writer
	for i, p := range params {
		if amounts[i] == nil {
			continue
		}
		if kind == kindTaylor {
			if err := p.validate(true); err != nil {
				return err
			}
		}
		m := ms.masks[i]
		k, err := toPrune(amounts[i], fmt.Sprintf("param %q", p.Name), m.kept, m.n)
		if err != nil {
			return err
		}
		w, err := planSelection(kind, scorer, params[i:i+1], ms.masks[i:i+1], k)
		if err != nil {
			return err
		}
		plans = append(plans, w)
	}
	for _, w := range plans {
		w.write()
	}
	return nil
}

// writer is a planned change of masks.
type writer interface{ write() }

// scoreKind says how a Scorer's scores are read.
type scoreKind int

const (
	kindCustom scoreKind = iota // asked once, scores kept
	kindAbs                     // |w|, recomputed at will
	kindTaylor                  // |w·g|, recomputed at will
)

func classify(s Scorer) scoreKind {
	switch s.(type) {
	case L1, *L1, L2, *L2:
		return kindAbs
	case Taylor, *Taylor:
		return kindTaylor
	}
	return kindCustom
}

func orL1(s Scorer) Scorer {
	if s == nil {
		return L1{}
	}
	return s
}

// planSelection plans pruning the k lowest-scoring kept entries of params
// (validated, with grads when kind is kindTaylor), ranked together.
func planSelection(kind scoreKind, scorer Scorer, params []Param, masks []*Mask, k int) (writer, error) {
	switch kind {
	case kindAbs:
		all32 := true
		for _, p := range params {
			all32 = all32 && isFloat32(p.Value)
		}
		if all32 {
			return asWriter(selectLowest[uint32](newAbs32Keys(params), masks, k))
		}
		return asWriter(selectLowest[uint64](newAbs64Keys(params), masks, k))
	case kindTaylor:
		return asWriter(selectLowest[uint64](newTaylorKeys(params), masks, k))
	}
	scores := make([][]float64, len(params))
	for i, p := range params {
		scores[i] = make([]float64, p.Size())
		if err := scoreInto(scorer, p, scores[i]); err != nil {
			return nil, err
		}
	}
	return asWriter(selectLowest[uint64](&storedKeys{scores: scores}, masks, k))
}

func asWriter[K ukey](c *cut[K], err error) (writer, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

// scoreInto asks scorer for p's scores and checks that they are finite.
func scoreInto(scorer Scorer, p Param, dst []float64) error {
	if err := checkRandom(scorer, p); err != nil {
		return err
	}
	if err := scorer.Score(p, dst); err != nil {
		return fmt.Errorf("prune: param %q: scorer failed: %w", p.Name, err)
	}
	return checkScores(p, "score of element", dst)
}

// checkRandom reports a Random scorer without a Rand.
func checkRandom(scorer Scorer, p Param) error {
	var r *Random
	switch s := scorer.(type) {
	case Random:
		r = &s
	case *Random:
		r = s
	}
	if r != nil && r.Rand == nil {
		return fmt.Errorf("prune: param %q: Random scorer has a nil Rand", p.Name)
	}
	return nil
}

// checkScores reports the first NaN or infinite score.
func checkScores(p Param, what string, scores []float64) error {
	for i, x := range scores {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("prune: param %q: %s %d is %v", p.Name, what, i, x)
		}
	}
	return nil
}
