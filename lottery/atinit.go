package lottery

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// Pruning at initialisation (Pruning.Method other than "imp"). Level l of a
// trial prunes the trial's initial weights once, ranking all prunable
// weights together, to Sparsity[l-1], and trains the result from those
// weights; level 0 trains the dense network. The scores are those of the
// trial, drawn from the stream (Seed, "scorer", trial, -1): every level
// ranks with the same scores, so the masks of a trial are nested (but for
// SynFlow, whose rounds rescore the pruned network).

// AtInitBatches is the number of training batches (of Train.Batch
// examples) over which SNIP's gradient and GraSP's gradient and
// Hessian-gradient product are averaged.
const AtInitBatches = 10

// atInitMethod is a method of pruning at initialisation: how it scores the
// prunable weights of w, given the weights already pruned (ms).
type atInitMethod struct {
	scores    func(r *runner, k Key, w *train.Weights, ms *prune.Masks) ([]prune.Param, prune.Scorer, error)
	iterative bool // scored again every round (Pruning.Rounds)
}

// scoreTrainer returns a trainer of w whose example stream is the trial's
// scorer stream.
func (r *runner) scoreTrainer(k Key, w *train.Weights, ms *prune.Masks) (*train.Trainer, error) {
	cfg := r.config(k, false)
	cfg.Seed = seedOf(r.exp.Seed, purposeScorer, k.Trial, -1, "")
	cfg.Progress = nil
	tr, err := train.NewTrainer(r.model, w, cfg)
	if err != nil {
		return nil, err
	}
	if err := tr.SetMasks(ms); err != nil {
		tr.Close()
		return nil, err
	}
	return tr, nil
}

func snipScores(r *runner, k Key, w *train.Weights, ms *prune.Masks) ([]prune.Param, prune.Scorer, error) {
	tr, err := r.scoreTrainer(k, w, ms)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	ps, err := tr.Gradients(r.data.Train, AtInitBatches)
	return ps, prune.SNIP{}, err
}

func graspScores(r *runner, k Key, w *train.Weights, ms *prune.Masks) ([]prune.Param, prune.Scorer, error) {
	tr, err := r.scoreTrainer(k, w, ms)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	ps, err := tr.HessianGradient(r.data.Train, AtInitBatches)
	return ps, prune.GraSP{}, err
}

func synflowScores(r *runner, _ Key, w *train.Weights, ms *prune.Masks) ([]prune.Param, prune.Scorer, error) {
	ps, err := train.SynFlowParams(r.model, w, ms, r.data.Train.Shape)
	return ps, prune.SynFlow{}, err
}

func magnitudeScores(_ *runner, _ Key, w *train.Weights, _ *prune.Masks) ([]prune.Param, prune.Scorer, error) {
	return w.Prunable(), prune.L1{}, nil
}

func randomScores(r *runner, k Key, w *train.Weights, _ *prune.Masks) ([]prune.Param, prune.Scorer, error) {
	return w.Prunable(), prune.Random{Rand: newRand(r.exp.Seed, purposeScorer, k.Trial, -1, "")}, nil
}

// keepCount is the number of weights of total a sparsity s keeps, rounded
// half to even as prune.Fraction rounds.
func keepCount(total int, s float64) int {
	return total - int(math.RoundToEven(s*float64(total)))
}

// atInitMasks prunes the initial weights w of training k's trial to the
// level's target sparsity: once, or over Rounds rounds for an iterative
// method, round j of R keeping total·(1−s)^(j/R) weights (the exponential
// schedule of Tanaka et al. 2020; the last round keeps exactly the target).
func (r *runner) atInitMasks(k Key, w *train.Weights) (*prune.Masks, error) {
	m, _ := methods.get(r.exp.Prune.Method)
	s := r.exp.Prune.Sparsity[k.Level-1]
	ms := prune.NewMasks(w.Prunable())
	total := ms.Total()
	keep := keepCount(total, s)
	rounds := 1
	if m.iterative {
		rounds = r.exp.Prune.Rounds
	}
	for j := 1; j <= rounds; j++ {
		target := keep
		if j < rounds {
			target = max(keep, int(math.RoundToEven(float64(total)*math.Pow(1-s, float64(j)/float64(rounds)))))
		}
		n := ms.Kept() - target
		if n <= 0 {
			continue
		}
		params, scorer, err := m.scores(r, k, w, ms)
		if err != nil {
			return nil, fmt.Errorf("lottery: %s: %s scores: %w", k, r.exp.Prune.Method, err)
		}
		if err := (prune.Global{Scorer: scorer, Amount: prune.Count(n)}).Prune(ms, params); err != nil {
			return nil, fmt.Errorf("lottery: %s: %s pruning: %w", k, r.exp.Prune.Method, err)
		}
	}
	return ms, nil
}

// scoring returns what the ticket of training k (level ≥ 1) is pruned
// from: the masks pruning starts from, the params as the scorer needs them
// (values, and gradients where it needs them), and the scorer. For a method
// at initialisation they are the one-shot scores of the initial weights
// (SynFlow's first round), which the invert arm inverts.
func (r *runner) scoring(k Key) (*prune.Masks, []prune.Param, prune.Scorer, error) {
	if m, _ := methods.get(r.exp.Prune.Method); m != nil {
		w, err := r.initWeights(k.Trial, false)
		if err != nil {
			return nil, nil, nil, err
		}
		start := prune.NewMasks(w.Prunable())
		params, scorer, err := m.scores(r, k, w, start)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("lottery: %s: %s scores: %w", k, r.exp.Prune.Method, err)
		}
		return start, params, scorer, nil
	}
	prev := Key{k.Trial, k.Level - 1, ArmTicket}
	prevMasks, err := r.loadMasks(prev)
	if err != nil {
		return nil, nil, nil, err
	}
	prevWeights, err := r.loadWeights(r.store.weightsPath(prev))
	if err != nil {
		return nil, nil, nil, err
	}
	params := prevWeights.Prunable()
	if r.exp.Prune.Scorer == "taylor" {
		if params, err = r.gradients(k, prevWeights, prevMasks); err != nil {
			return nil, nil, nil, err
		}
	}
	build, _ := scorers.get(r.exp.Prune.Scorer)
	return prevMasks, params, build(r, k), nil
}

// ticketMasks computes the masks of the ticket of training k (level ≥ 1).
func (r *runner) ticketMasks(k Key) (*prune.Masks, error) {
	if !isIMP(&r.exp) {
		w, err := r.initWeights(k.Trial, false)
		if err != nil {
			return nil, err
		}
		return r.atInitMasks(k, w)
	}
	start, params, scorer, err := r.scoring(k)
	if err != nil {
		return nil, err
	}
	prev := Key{k.Trial, k.Level - 1, ArmTicket}
	ms := start.Clone()
	if err := r.pruner(scorer).Prune(ms, params); err != nil {
		return nil, fmt.Errorf("lottery: %s: pruning the weights of %s: %w", k, prev, err)
	}
	if !ms.SubsetOf(start) { // the pruner contract; checked, it is cheap
		return nil, fmt.Errorf("lottery: %s: the pruner revived weights that %s had pruned", k, prev)
	}
	return ms, nil
}

// randomArm: a random mask of the ticket's per-layer counts.
func randomArm(r *runner, k Key, ticket *prune.Masks, params []prune.Param) (*prune.Masks, error) {
	return randomMasks(ticket, params, newRand(r.exp.Seed, purposeRandom, k.Trial, k.Level, ""))
}

// shuffleArm: the ticket's mask shuffled within each layer. A uniformly
// random permutation of a layer's mask is a uniformly random subset of the
// layer of the ticket's count, which randomMasks draws, from the arm's own
// stream.
func shuffleArm(r *runner, k Key, ticket *prune.Masks, params []prune.Param) (*prune.Masks, error) {
	return randomMasks(ticket, params, newRand(r.exp.Seed, purposeShuffle, k.Trial, k.Level, ""))
}

// invertArm: within each layer, as many weights kept as the ticket keeps,
// chosen from the same starting masks by the inverted scores (the lowest
// first kept).
func invertArm(r *runner, k Key, ticket *prune.Masks, _ []prune.Param) (*prune.Masks, error) {
	start, params, scorer, err := r.scoring(k)
	if err != nil {
		return nil, err
	}
	amounts := make(map[string]prune.Amount, ticket.Len())
	for i := range ticket.Len() {
		t := ticket.At(i)
		amounts[t.Name()] = prune.Count(start.Mask(t.Name()).Kept() - t.Kept())
	}
	ms := start.Clone()
	pr := prune.Layerwise{Scorer: prune.Inverted(scorer), Default: prune.Count(0), Amounts: amounts}
	if err := pr.Prune(ms, params); err != nil {
		return nil, fmt.Errorf("inverted mask: %w", err)
	}
	return ms, nil
}
