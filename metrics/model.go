package metrics

import (
	"fmt"

	"github.com/shearsml/shears/prune"
)

// ModelLayers returns one Layer per layer of a traced model (the groups of
// prune.Trace, or train.Groups for a train.Model), in the order the layers
// run: Dense for a 2-D weight, Conv for a 4-D kernel with its output size,
// and the layer's bias count. No hand-written layer list is needed.
func ModelLayers(gs prune.Groups) ([]Layer, error) {
	if len(gs) == 0 {
		return nil, fmt.Errorf("metrics: no groups")
	}
	out := make([]Layer, 0, len(gs))
	for _, g := range gs {
		l := Layer{Name: g.Name, Shape: append([]int(nil), g.Shape...)}
		switch len(g.Shape) {
		case 2:
			l.Kind = Dense
		case 4:
			l.Kind = Conv
			if len(g.Spatial) == 0 || len(g.Spatial) > 2 {
				return nil, fmt.Errorf("metrics: conv layer %q: output size %v, want [height, width]", g.Name, g.Spatial)
			}
			l.Out = [2]int{g.Spatial[0], 1}
			if len(g.Spatial) == 2 {
				l.Out[1] = g.Spatial[1]
			}
		default:
			return nil, fmt.Errorf("metrics: layer %q: weight shape %v is neither dense nor conv", g.Name, g.Shape)
		}
		for _, m := range g.Members {
			if m.Role == prune.Out && m.Param != g.Name {
				l.Bias += g.Units * m.Block
			}
		}
		if err := l.Validate(); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// AccountModel counts sizes and FLOPs of a traced model (ModelLayers) under
// the masks ms (nil: dense), with structured pruning propagated through the
// dependency groups (prune.Groups.Propagate): the rows of the next layer that
// read a pruned unit count as pruned too, since they do no work once the
// unit is gone. So flops_nz and theoretical_speedup are what a compacted
// model (train.Compact) really runs; for unstructured masks they equal
// Account's. Biases count in size_nz as in Account (ShrinkBench's
// convention), those of pruned units included.
//
// Masks must name weights of the model (a mask of another model is an
// error).
func AccountModel(gs prune.Groups, ms *prune.Masks) (*Report, error) {
	layers, err := ModelLayers(gs)
	if err != nil {
		return nil, err
	}
	if ms != nil {
		if ms, err = gs.Propagate(ms); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return Account(layers, ms)
}
