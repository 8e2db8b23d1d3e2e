package prune

import (
	"fmt"
	"math"
)

// Amount says how much a pruner removes from one group of candidates: the
// entries (or slices) of one Param for Unstructured, Layerwise and
// Structured, or of all Params for Global.
//
// ToPrune receives the number of candidates still kept and the total number
// in the group (kept and pruned), and returns how many more to prune. It
// returns an error, never a clamped value, when the amount cannot be met.
type Amount interface {
	ToPrune(kept, total int) (int, error)
}

// Fraction prunes that fraction of the candidates still kept, counted as
// round-half-to-even(f × kept): Python's round, as torch.nn.utils.prune
// counts. Fraction(0.2) applied twice keeps 64% of the weights. It must lie
// in [0, 1].
type Fraction float64

// ToPrune implements Amount.
func (f Fraction) ToPrune(kept, total int) (int, error) {
	x := float64(f)
	if math.IsNaN(x) || x < 0 || x > 1 {
		return 0, fmt.Errorf("fraction %v is not in [0, 1]", x)
	}
	if kept < 0 || kept > total {
		return 0, fmt.Errorf("kept count %d is not in [0, %d]", kept, total)
	}
	return int(math.RoundToEven(x * float64(kept))), nil
}

// Count prunes exactly that many more candidates. It must lie in
// [0, candidates still kept].
type Count int

// ToPrune implements Amount.
func (c Count) ToPrune(kept, total int) (int, error) {
	if c < 0 {
		return 0, fmt.Errorf("count %d is negative", int(c))
	}
	if int(c) > kept {
		return 0, fmt.Errorf("count %d is more than the %d still kept", int(c), kept)
	}
	return int(c), nil
}

// TargetSparsity prunes until that fraction of the whole group (kept and
// already pruned) is pruned: round-half-to-even(s × total) entries in all.
// When the group is already at least that sparse it prunes nothing, so a
// schedule can ask for its current target at every step. It must lie in
// [0, 1].
type TargetSparsity float64

// ToPrune implements Amount.
func (s TargetSparsity) ToPrune(kept, total int) (int, error) {
	x := float64(s)
	if math.IsNaN(x) || x < 0 || x > 1 {
		return 0, fmt.Errorf("target sparsity %v is not in [0, 1]", x)
	}
	if kept < 0 || kept > total {
		return 0, fmt.Errorf("kept count %d is not in [0, %d]", kept, total)
	}
	want := int(math.RoundToEven(x * float64(total)))
	if n := want - (total - kept); n > 0 {
		return n, nil
	}
	return 0, nil
}

// toPrune evaluates a against a group and names the group in errors.
func toPrune(a Amount, what string, kept, total int) (int, error) {
	if a == nil {
		return 0, fmt.Errorf("prune: %s: nil Amount", what)
	}
	n, err := a.ToPrune(kept, total)
	if err != nil {
		return 0, fmt.Errorf("prune: %s: %w", what, err)
	}
	if n < 0 || n > kept {
		return 0, fmt.Errorf("prune: %s: amount asks to prune %d of %d still kept", what, n, kept)
	}
	return n, nil
}
