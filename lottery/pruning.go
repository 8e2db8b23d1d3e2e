package lottery

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// pruner returns IMP's pruner, ranking by scorer, that makes a ticket from
// the trained weights of the level before.
func (r *runner) pruner(scorer prune.Scorer) prune.Pruner {
	build, _ := strategies.get(r.exp.Prune.Strategy)
	return build(scorer, r.exp.Prune, r.prunable)
}

// layerRates returns the per-tensor amounts of layer-wise pruning: the
// output rate for the last prunable tensor, then the overrides.
func layerRates(p Pruning, prunable []string) map[string]prune.Amount {
	out := map[string]prune.Amount{}
	if len(prunable) > 0 {
		out[prunable[len(prunable)-1]] = prune.Fraction(p.OutputRate)
	}
	for name, rate := range p.Rates {
		out[name] = prune.Fraction(rate)
	}
	return out
}

// LayerRates returns the fraction of its still-kept weights each prunable
// tensor loses at every level under e's layer-wise pruning (after
// defaults), given the model's prunable tensors in order. It is nil for the
// global strategy.
func LayerRates(e Experiment, prunable []string) map[string]float64 {
	e = e.WithDefaults()
	if e.Prune.Strategy != "layerwise" {
		return nil
	}
	out := make(map[string]float64, len(prunable))
	for i, n := range prunable {
		out[n] = e.Prune.Rate
		if i == len(prunable)-1 {
			out[n] = e.Prune.OutputRate
		}
		if r, ok := e.Prune.Rates[n]; ok {
			out[n] = r
		}
	}
	return out
}

// TaylorBatches is the number of training batches (of Train.Batch examples)
// over which the "taylor" scorer averages the gradient of the loss.
const TaylorBatches = 10

// gradients returns the prunable tensors of w (trained weights with masks
// ms) with the gradient of the training loss averaged over TaylorBatches
// batches, drawn from the scorer's stream of training k.
func (r *runner) gradients(k Key, w *train.Weights, ms *prune.Masks) ([]prune.Param, error) {
	cfg := r.config(k, false)
	cfg.Seed = seedOf(r.exp.Seed, purposeScorer, k.Trial, k.Level, "")
	cfg.Progress = nil
	tr, err := train.NewTrainer(r.model, w, cfg)
	if err != nil {
		return nil, fmt.Errorf("lottery: %s: taylor scores: %w", k, err)
	}
	defer tr.Close()
	if err := tr.SetMasks(ms); err != nil {
		return nil, fmt.Errorf("lottery: %s: taylor scores: %w", k, err)
	}
	params, err := tr.Gradients(r.data.Train, TaylorBatches)
	if err != nil {
		return nil, fmt.Errorf("lottery: %s: taylor scores: %w", k, err)
	}
	return params, nil
}

// checkRemaining refuses, before anything is trained, an experiment whose
// pruning leaves no prunable weight at some level: with counts rounded half
// to even as prune.Fraction does, the number of weights kept at each level
// follows from the tensors' sizes and the rates alone (for the global
// strategy the total does, whichever tensors lose them).
func checkRemaining(m train.Model, prunable []string, e Experiment) error {
	sizes := map[string]int{}
	all := 0
	for _, p := range m.Params() {
		n := 1
		for _, d := range p.Shape {
			if d < 1 || n > train.MaxParams/d {
				return fmt.Errorf("lottery: model %q: param %q of shape %v has more than train.MaxParams (%d) weights", m.Name(), p.Name, p.Shape, train.MaxParams)
			}
			n *= d
		}
		sizes[p.Name] = n
		if all += n; all > train.MaxParams {
			return fmt.Errorf("lottery: model %q has more than train.MaxParams (%d) weights", m.Name(), train.MaxParams)
		}
	}
	kept := make([]int, len(prunable))
	for i, n := range prunable {
		kept[i] = sizes[n]
	}
	if !isIMP(&e) {
		total := 0
		for _, k := range kept {
			total += k
		}
		for i, s := range e.Prune.Sparsity[:e.Levels] {
			if keepCount(total, s) < 1 {
				return fmt.Errorf("lottery: prune.sparsity[%d] %v would prune every one of the %d prunable weights of model %q", i, s, total, m.Name())
			}
		}
		return nil
	}
	rates := LayerRates(e, prunable)
	for level := 1; level <= e.Levels; level++ {
		total := 0
		if rates == nil { // global
			for _, k := range kept {
				total += k
			}
			total -= int(math.RoundToEven(e.Prune.Rate * float64(total)))
			kept = []int{total}
		} else {
			for i, n := range prunable {
				kept[i] -= int(math.RoundToEven(rates[n] * float64(kept[i])))
				total += kept[i]
			}
		}
		if total == 0 {
			return fmt.Errorf("lottery: level %d would prune every weight of model %q (%s pruning at rate %v): set levels to at most %d, or lower the rate", level, m.Name(), e.Prune.Strategy, e.Prune.Rate, level-1)
		}
	}
	return nil
}

// randomMasks returns masks over params that prune, in each tensor, as many
// weights as ticket does, chosen uniformly at random from rng.
func randomMasks(ticket *prune.Masks, params []prune.Param, rng *rand.Rand) (*prune.Masks, error) {
	ms := prune.NewMasks(params)
	amounts := make(map[string]prune.Amount, ticket.Len())
	for i := range ticket.Len() {
		m := ticket.At(i)
		amounts[m.Name()] = prune.Count(m.Pruned())
	}
	pr := prune.Layerwise{Scorer: prune.Random{Rand: rng}, Default: prune.Count(0), Amounts: amounts}
	if err := pr.Prune(ms, params); err != nil {
		return nil, fmt.Errorf("random control mask: %w", err)
	}
	return ms, nil
}
