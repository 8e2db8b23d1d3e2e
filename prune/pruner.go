package prune

// Pruner removes entries from masks. Prune only ever turns kept entries into
// pruned ones; only entries (or slices) still kept are candidates, so calling
// Prune again composes. On error Prune changes nothing.
//
// Prune changes only the masks; call Masks.Apply to zero the pruned weights.
//
// params may be a subset of the Params ms covers, in any order: each Param
// takes the mask of its name, and only those masks change (amounts count
// over the subset: Global{L1{}, Fraction(0.2)} on two of five layers prunes
// 20% of those two). That is how to prune some layers of a model while its
// Masks, as a Trainer takes them, cover all of them:
//
//	ms := prune.NewMasks(all)
//	err := prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.5)}.Prune(ms, []prune.Param{all[0], all[2]})
//
// A Param with no mask of its name is an error. (Masks.Apply and ApplyGrad,
// by contrast, take exactly the Params the masks were made for.)
type Pruner interface {
	Prune(ms *Masks, params []Param) error
}
