package prune

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Grouped prunes whole units of dependency groups (Trace): a unit's score
// counts every slice of every member of its group (the weight column or
// filter that computes it, its bias entry, the next layer's rows or input
// channel that read it), and a pruned unit loses its slice in every member
// that has a mask. Members without a mask (biases, in the built-in models)
// count in the score but are not changed: Compact removes them.
//
// Scores: L1 sums |w| over the group's elements; L2 is the Euclidean norm of
// all of them. Within a group these rank units as Torch-Pruning's
// MagnitudeImportance with p = 1 and 2 does (|w|^p summed per member, then
// reduced over the members). Random draws one number a unit; Taylor and a
// Scorer of the caller's sum their element scores. Only kept elements count
// in members with a mask.
//
// A unit is a candidate while some element of its producing members (Role
// Out) with a mask is kept. Per group (Global false) Amount counts the
// candidates of each group; with Global, the candidates of all groups are
// ranked together, each score divided by the mean score of its group (as
// Torch-Pruning's "mean" normalizer does, so that layers of different sizes
// compare), and Amount counts all of them. Counts
// are exact (before rounding to Multiple) and ties are broken by position:
// the earlier group, then the lower unit, is pruned first.
//
// MinUnits (at least 1, the zero value means 1) is the fewest units a group
// may keep: a per-group amount that would go below it is an error; Global
// never takes a group below it and returns an error when the amount cannot be
// met otherwise. Multiple (0 or 1: any) rounds every pruned group's kept
// count up to a multiple of it (8 suits SIMD kernels), pruning fewer units
// than asked. The group of the logits is left alone unless Output is set.
//
// Params must hold every member's Param that has a mask in ms (biases may be
// left out: they are then not scored). Nothing is changed when an error is
// returned.
type Grouped struct {
	Groups   Groups
	Scorer   Scorer
	Amount   Amount
	Global   bool
	MinUnits int
	Multiple int
	Output   bool
}

type unitScore struct {
	group, unit int
	score       float64
}

// Prune implements Pruner.
func (gp Grouped) Prune(ms *Masks, params []Param) error {
	if ms == nil {
		return errors.New("prune: Grouped: nil Masks")
	}
	if gp.Amount == nil {
		return errors.New("prune: Grouped: nil Amount")
	}
	if len(gp.Groups) == 0 {
		return errors.New("prune: Grouped: no groups")
	}
	if gp.MinUnits < 0 || gp.Multiple < 0 {
		return fmt.Errorf("prune: Grouped: MinUnits %d and Multiple %d must not be negative", gp.MinUnits, gp.Multiple)
	}
	floor := max(gp.MinUnits, 1)
	byName := make(map[string]Param, len(params))
	for _, p := range params {
		if err := p.validate(false); err != nil {
			return err
		}
		byName[p.Name] = p
	}
	alive, err := gp.Groups.alive(ms, byName)
	if err != nil {
		return err
	}
	// Candidates and their scores, group by group.
	var cands [][]unitScore
	var total, totalUnits int
	active := make([]bool, len(gp.Groups))
	for gi, g := range gp.Groups {
		cands = append(cands, nil)
		if g.Logits && !gp.Output || alive[gi] == nil {
			continue
		}
		scores, err := gp.scores(gi, ms, byName)
		if err != nil {
			return err
		}
		active[gi] = true
		for u := 0; u < g.Units; u++ {
			if alive[gi][u] {
				cands[gi] = append(cands[gi], unitScore{gi, u, scores[u]})
			}
		}
		total += len(cands[gi])
		totalUnits += g.Units
	}
	if totalUnits == 0 {
		return errors.New("prune: Grouped: no group has a mask on its producing weight")
	}
	byScore := func(a, b unitScore) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.group, b.group), cmp.Compare(a.unit, b.unit))
	}
	drop := make([][]unitScore, len(gp.Groups))
	if !gp.Global {
		for gi, c := range cands {
			if !active[gi] {
				continue
			}
			g := gp.Groups[gi]
			n, err := toPrune(gp.Amount, "Grouped: group "+g.Name, len(c), g.Units)
			if err != nil {
				return err
			}
			if len(c)-n < floor && n > 0 {
				return fmt.Errorf("prune: Grouped: group %s: pruning %d of its %d units would leave %d, below the minimum of %d", g.Name, n, len(c), len(c)-n, floor)
			}
			s := slices.Clone(c)
			slices.SortFunc(s, byScore)
			drop[gi] = s[:n]
		}
	} else {
		var all []unitScore
		for _, c := range cands {
			mean := 0.0
			for _, u := range c {
				mean += u.score
			}
			if len(c) > 0 {
				mean /= float64(len(c))
			}
			for _, u := range c {
				if mean > 0 {
					u.score /= mean
				}
				all = append(all, u)
			}
		}
		n, err := toPrune(gp.Amount, "Grouped", total, totalUnits)
		if err != nil {
			return err
		}
		slices.SortFunc(all, byScore)
		left := make([]int, len(cands))
		for gi, c := range cands {
			left[gi] = len(c)
		}
		taken := 0
		for _, u := range all {
			if taken == n {
				break
			}
			if left[u.group] <= floor {
				continue
			}
			left[u.group]--
			drop[u.group] = append(drop[u.group], u)
			taken++
		}
		if taken < n {
			return fmt.Errorf("prune: Grouped: cannot prune %d units without taking a group below %d units (at most %d)", n, floor, taken)
		}
	}
	if gp.Multiple > 1 {
		for gi, d := range drop {
			if len(d) == 0 {
				continue
			}
			keep := len(cands[gi]) - len(d)
			want := min((keep+gp.Multiple-1)/gp.Multiple*gp.Multiple, len(cands[gi]))
			// un-prune the best-scored of the dropped units (d is sorted by score)
			drop[gi] = d[:len(d)-(want-keep)]
		}
	}
	for gi, d := range drop {
		g := gp.Groups[gi]
		for _, m := range g.Members {
			mk := ms.Mask(m.Param)
			if mk == nil {
				continue
			}
			sp, _ := m.unitSplit(mk.shape, g.Units) // checked by alive
			for _, u := range d {
				sp.eachRange(u.unit, m.Block, mk.clearRange)
			}
			mk.recount()
		}
	}
	return nil
}

// alive reports, for each group with a mask on some producing member, which
// units are still kept; nil for the others. It checks every member against
// the masks and params.
func (gs Groups) alive(ms *Masks, params map[string]Param) ([][]bool, error) {
	out := make([][]bool, len(gs))
	for gi, g := range gs {
		if g.Units < 1 {
			return nil, fmt.Errorf("prune: group %s has %d units", g.Name, g.Units)
		}
		for _, m := range g.Members {
			mk := ms.Mask(m.Param)
			p, hasP := params[m.Param]
			if mk == nil {
				if hasP {
					if _, err := m.unitSplit(p.Shape(), g.Units); err != nil {
						return nil, fmt.Errorf("prune: group %s: %w", g.Name, err)
					}
				}
				continue
			}
			if !hasP {
				return nil, fmt.Errorf("prune: group %s: param %q has a mask but is not among the params", g.Name, m.Param)
			}
			if mk.n != p.Size() || !slices.Equal(mk.shape, p.Shape()) {
				return nil, fmt.Errorf("prune: group %s: param %q has shape %v but its mask %v", g.Name, m.Param, p.Shape(), mk.shape)
			}
			sp, err := m.unitSplit(mk.shape, g.Units)
			if err != nil {
				return nil, fmt.Errorf("prune: group %s: %w", g.Name, err)
			}
			if m.Role != Out {
				continue
			}
			if out[gi] == nil {
				out[gi] = make([]bool, g.Units)
			}
			for u := 0; u < g.Units; u++ {
				sp.eachRange(u, m.Block, func(lo, hi int) {
					if !out[gi][u] && mk.anyKept(lo, hi) {
						out[gi][u] = true
					}
				})
			}
		}
	}
	return out, nil
}

// scores returns the importance of every unit of group gi.
func (gp Grouped) scores(gi int, ms *Masks, params map[string]Param) ([]float64, error) {
	g := gp.Groups[gi]
	scorer := orL1(gp.Scorer)
	out := make([]float64, g.Units)
	if r, ok := scorer.(Random); ok {
		if r.Rand == nil {
			return nil, fmt.Errorf("prune: Grouped: group %s: Random scorer has a nil Rand", g.Name)
		}
		for u := range out {
			out[u] = r.Rand.Float64()
		}
		return out, nil
	}
	_, l2 := scorer.(L2)
	for _, m := range g.Members {
		p, ok := params[m.Param]
		if !ok {
			continue
		}
		if _, isTaylor := scorer.(Taylor); isTaylor && p.Grad == nil && ms.Mask(m.Param) == nil {
			continue // an unmasked bias without a gradient
		}
		es := make([]float64, p.Size())
		if err := scoreInto(scorer, p, es); err != nil {
			return nil, err
		}
		mk := ms.Mask(m.Param)
		sp, err := m.unitSplit(p.Shape(), g.Units)
		if err != nil {
			return nil, fmt.Errorf("prune: group %s: %w", g.Name, err)
		}
		for u := range out {
			sp.eachRange(u, m.Block, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if mk != nil && !mk.keeps(i) {
						continue
					}
					if l2 {
						out[u] += es[i] * es[i]
					} else {
						out[u] += es[i]
					}
				}
			})
		}
	}
	if l2 {
		for u := range out {
			out[u] = math.Sqrt(out[u])
		}
	}
	return out, nil
}
