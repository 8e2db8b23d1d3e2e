package prune

// Pruner removes entries from masks. Prune only ever turns kept entries into
// pruned ones; only entries (or slices) still kept are candidates, so calling
// Prune again composes. On error Prune changes nothing.
//
// Prune changes only the masks; call Masks.Apply to zero the pruned weights.
type Pruner interface {
	Prune(ms *Masks, params []Param) error
}
