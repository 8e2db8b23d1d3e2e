package prune

import (
	"fmt"
	"math"
)

// Schedule says how sparse a model should be as training goes on. A training
// loop asks it, at each step, whether to prune (Due) and to what sparsity
// (Sparsity), and prunes with TargetSparsity(s.Sparsity(step)) — or
// Target(s, step) — on the steps that are due:
//
//	if s.Due(step) {
//		err := prune.Global{Scorer: prune.L1{}, Amount: prune.Target(s, step)}.Prune(masks, params)
//		...
//		err = masks.Apply(params)
//	}
//
// A step is whatever the loop counts, from 0: an iteration, an epoch, or
// for Iterative a pruning round (a lottery-ticket level).
//
// Sparsity never decreases with step, lies in [0, 1], is 0 before the first
// pruning step and stays at the last value after the final one; between
// pruning steps it holds the value of the last one. Since pruners never
// revive weights and TargetSparsity prunes nothing once a group is sparse
// enough, asking for the current target on a step that is not due is
// harmless too.
type Schedule interface {
	// Sparsity returns the fraction of the weights that should be pruned once
	// the pruning of step, if step is due, is done.
	Sparsity(step int) float64
	// Due reports whether the schedule prunes at step.
	Due(step int) bool
	// Validate returns an error when the schedule's settings are out of
	// range; Sparsity and Due are meaningless then.
	Validate() error
}

// Target returns the amount that brings a group of weights to s's sparsity
// at step: TargetSparsity(s.Sparsity(step)).
func Target(s Schedule, step int) TargetSparsity {
	return TargetSparsity(s.Sparsity(step))
}

func checkSparsity(kind, field string, x float64) error {
	if math.IsNaN(x) || x < 0 || x > 1 {
		return fmt.Errorf("prune: %s: %s %v is not in [0, 1]", kind, field, x)
	}
	return nil
}

// OneShot prunes once, at step At, to the sparsity Target. The zero value
// prunes nothing at step 0.
type OneShot struct {
	// At is the step at which to prune, at least 0.
	At int
	// Target is the fraction of weights pruned from step At on, in [0, 1].
	Target float64
}

// Sparsity implements Schedule: 0 before At, Target from At on.
func (o OneShot) Sparsity(step int) float64 {
	if step < o.At {
		return 0
	}
	return o.Target
}

// Due implements Schedule: true at step At only.
func (o OneShot) Due(step int) bool { return step == o.At }

// Validate implements Schedule.
func (o OneShot) Validate() error {
	if o.At < 0 {
		return fmt.Errorf("prune: OneShot: At %d is negative", o.At)
	}
	return checkSparsity("OneShot", "Target", o.Target)
}

// Iterative prunes a fixed fraction, Rate, of the weights still kept in each
// of Rounds rounds, as iterative magnitude pruning and the lottery-ticket
// experiments do (Frankle & Carbin 2019 prune 20% a round). Its steps are
// rounds: round 0 is the dense model, rounds 1 to Rounds each prune, so
// after round r the sparsity is 1 − (1 − Rate)^r.
//
// To reproduce the exact counts of pruning Rate of what is left each round,
// the way PyTorch composes prunes, prune with Amount() (Fraction(Rate)) on
// each due round; Kept gives the counts that leaves. Target(s, r) reaches
// the nominal sparsity instead; the two differ by rounding, at most a weight
// or so per round and group.
type Iterative struct {
	// Rate is the fraction of the weights still kept that each round prunes,
	// in (0, 1).
	Rate float64
	// Rounds is the number of pruning rounds, at least 1.
	Rounds int
}

// rounds clamps round to [0, Rounds].
func (it Iterative) rounds(round int) int {
	return max(0, min(round, it.Rounds))
}

// Sparsity implements Schedule: 1 − (1 − Rate)^r after round r (r clamped to
// [0, Rounds]).
func (it Iterative) Sparsity(round int) float64 {
	return 1 - it.Remaining(round)
}

// Remaining returns the fraction of the weights kept after round:
// (1 − Rate)^r, with r clamped to [0, Rounds]. Remaining(0) is 1.
func (it Iterative) Remaining(round int) float64 {
	return math.Pow(1-it.Rate, float64(it.rounds(round)))
}

// Due implements Schedule: true for rounds 1 to Rounds.
func (it Iterative) Due(round int) bool { return round >= 1 && round <= it.Rounds }

// Amount returns the amount each round prunes: Fraction(Rate) of the weights
// still kept.
func (it Iterative) Amount() Fraction { return Fraction(it.Rate) }

// Kept returns how many of a group of total weights are left after round
// when each round prunes Fraction(Rate) of what is left, rounded half to
// even as Fraction counts: the exact count Unstructured (per Param) or
// Global (over all) leave. round is clamped to [0, Rounds].
func (it Iterative) Kept(round, total int) int {
	kept := max(total, 0)
	for r := 0; r < it.rounds(round); r++ {
		kept -= int(math.RoundToEven(it.Rate * float64(kept)))
	}
	return kept
}

// Validate implements Schedule.
func (it Iterative) Validate() error {
	if math.IsNaN(it.Rate) || it.Rate <= 0 || it.Rate >= 1 {
		return fmt.Errorf("prune: Iterative: Rate %v is not in (0, 1)", it.Rate)
	}
	if it.Rounds < 1 {
		return fmt.Errorf("prune: Iterative: Rounds %d is less than 1", it.Rounds)
	}
	return nil
}

// Gradual is the gradual pruning schedule of Zhu & Gupta (2017, "To prune,
// or not to prune"): starting at step Start, it prunes every Every steps,
// Steps times after the first, and the sparsity follows a cubic from Initial
// to Final:
//
//	s = Final + (Initial − Final)·(1 − k/Steps)³  at step Start + k·Every, k = 0..Steps
//
// so it prunes fast early, while there are many redundant weights, and
// slowly as it nears Final, reached at step End(). Before Start the sparsity
// is 0 (nothing has been pruned yet); at Start it is Initial.
type Gradual struct {
	// Initial is the sparsity at step Start, in [0, Final]; usually 0.
	Initial float64
	// Final is the sparsity from step End() on, in [Initial, 1].
	Final float64
	// Start is the first pruning step (t₀ in the paper), at least 0.
	Start int
	// Every is the number of steps between pruning steps (Δt), at least 1.
	Every int
	// Steps is the number of pruning steps after Start (n), at least 1.
	Steps int
}

// End returns the last pruning step, Start + Steps·Every, from which on the
// sparsity is Final.
func (g Gradual) End() int { return g.Start + g.Steps*g.Every }

// Sparsity implements Schedule: 0 before Start, the cubic's value at the
// last pruning step at or before step, and Final from End() on.
func (g Gradual) Sparsity(step int) float64 {
	if step < g.Start || g.Every < 1 || g.Steps < 1 {
		return 0
	}
	k := (step - g.Start) / g.Every
	switch {
	case k == 0:
		return g.Initial
	case k >= g.Steps:
		return g.Final
	}
	f := 1 - float64(k)/float64(g.Steps)
	return g.Final + (g.Initial-g.Final)*f*f*f
}

// Due implements Schedule: true at Start, Start+Every, ..., End().
func (g Gradual) Due(step int) bool {
	if step < g.Start || g.Every < 1 || step > g.End() {
		return false
	}
	return (step-g.Start)%g.Every == 0
}

// Validate implements Schedule.
func (g Gradual) Validate() error {
	if err := checkSparsity("Gradual", "Initial", g.Initial); err != nil {
		return err
	}
	if err := checkSparsity("Gradual", "Final", g.Final); err != nil {
		return err
	}
	if g.Initial > g.Final {
		return fmt.Errorf("prune: Gradual: Initial %v is more than Final %v (pruning cannot revive weights)", g.Initial, g.Final)
	}
	if g.Start < 0 {
		return fmt.Errorf("prune: Gradual: Start %d is negative", g.Start)
	}
	if g.Every < 1 {
		return fmt.Errorf("prune: Gradual: Every %d is less than 1", g.Every)
	}
	if g.Steps < 1 {
		return fmt.Errorf("prune: Gradual: Steps %d is less than 1", g.Steps)
	}
	if g.Steps > (math.MaxInt-g.Start)/g.Every {
		return fmt.Errorf("prune: Gradual: Start %d + Steps %d × Every %d overflows", g.Start, g.Steps, g.Every)
	}
	return nil
}
