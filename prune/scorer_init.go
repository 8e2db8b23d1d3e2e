package prune

import "fmt"

// Scorers of pruning at initialisation. Each reads a Param's Value and Grad;
// what the Grad must hold differs, and the caller computes it (package
// train does: Trainer.Gradients, Trainer.HessianGradient, SynFlowParams).
// Any pruner takes them, like every Scorer.

// SNIP scores an element by |w·g|, g the gradient of the training loss at
// initialisation: connection sensitivity (Lee et al. 2019, "SNIP:
// single-shot network pruning based on connection sensitivity"). It ranks
// as Taylor does; the name says where the gradient is taken.
type SNIP struct{}

// GraSP scores an element by w·(Hg), Grad holding the Hessian-gradient
// product Hg of the training loss (Wang et al. 2020, "Picking winning
// tickets before training by preserving gradient flow"). The sign is kept:
// GraSP removes the weights whose removal reduces the gradient norm the
// least, which are those of the largest −w·Hg, so as an importance (larger
// is kept) the score is +w·Hg.
type GraSP struct{}

// SynFlow scores an element by |w·∂R/∂w|, where R is the sum of the outputs
// of the network with every parameter replaced by its absolute value and
// an all-ones input (Tanaka et al. 2020, "Pruning neural networks without
// any data by iteratively conserving synaptic flow"). Value must hold |w|
// and Grad ∂R/∂w (train.SynFlowParams computes both); applied over many
// rounds of shrinking amounts, it avoids layer collapse.
type SynFlow struct{}

// Score implements Scorer.
func (SNIP) Score(p Param, dst []float64) error { return productScores(p, dst, true) }

// Score implements Scorer.
func (GraSP) Score(p Param, dst []float64) error { return productScores(p, dst, false) }

// Score implements Scorer.
func (SynFlow) Score(p Param, dst []float64) error { return productScores(p, dst, true) }

// productScores writes w·g (or |w·g|) into dst.
func productScores(p Param, dst []float64, abs bool) error {
	if err := p.validate(true); err != nil {
		return err
	}
	if len(dst) != p.Size() {
		return fmt.Errorf("prune: param %q: %d scores for %d elements", p.Name, len(dst), p.Size())
	}
	if isFloat32(p.Value) {
		v, g := data32(p.Value), data32(p.Grad)
		for i := range dst {
			dst[i] = float64(v[i]) * float64(g[i])
		}
	} else {
		v, g := data64(p.Value), data64(p.Grad)
		for i := range dst {
			dst[i] = v[i] * g[i]
		}
	}
	if abs {
		for i, s := range dst {
			if s < 0 {
				dst[i] = -s
			}
		}
	}
	return nil
}

// Inverted returns a Scorer that ranks the other way round from s: the
// elements s finds least important are kept. It is the "inversion"
// ablation of Frankle et al. (2021, "Pruning neural networks at
// initialization: why are we missing the mark?").
func Inverted(s Scorer) Scorer {
	return ScoreFunc(func(p Param, dst []float64) error {
		if s == nil {
			return fmt.Errorf("prune: param %q: Inverted of a nil Scorer", p.Name)
		}
		if err := s.Score(p, dst); err != nil {
			return err
		}
		for i := range dst {
			dst[i] = -dst[i]
		}
		return nil
	})
}
