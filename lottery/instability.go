package lottery

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

// Instability analysis (Frankle et al. 2020). For rewind point k and level
// l of trial t, two copies of the level's ticket mask (all weights at level
// 0) start from the weights of the dense training (level 0) after k steps
// and train from step k to Train.Iterations on two data orders, drawn from
// the streams of their arms instability-kK-a and instability-kK-b. The
// second copy's result then holds the linear path between the two trained
// networks, θ(α) = (1−α)·θa + α·θb, evaluated on the test set at
// InstabilityPoints evenly spaced α from 0 to 1, and the error barrier: the
// largest test error along the path minus the mean of the errors at its
// ends. A small barrier (the paper: under 2%) means the network is stable
// at k: SGD noise after k no longer changes which minimum it reaches.
//
// The weights after k steps of level 0 are those its ticket trained
// through (the same data order); they are stored as trial-T/rewind-K.shw,
// the file rewinding to iteration k uses. For a level above 0 the mask is
// the one this experiment's pruning found (with its own Rewind), not one
// found by rewinding to each k as the paper's sparse analysis does.

// Path is the linear path between the two copies of an instability
// analysis.
type Path struct {
	// K is the rewind point.
	K int `json:"k"`
	// Points are the evaluations along the path, α from 0 (the first copy)
	// to 1 (the second).
	Points []PathPoint `json:"points"`
	// Barrier is the error barrier: the largest test error (1 − accuracy)
	// along the path minus the mean of the errors of its two ends.
	Barrier float64 `json:"barrier"`
	// LossBarrier is the same for the test loss.
	LossBarrier float64 `json:"loss_barrier"`
}

// PathPoint is the evaluation of one point of a Path.
type PathPoint struct {
	Alpha        float64 `json:"alpha"`
	TestAccuracy float64 `json:"test_accuracy"`
	TestLoss     float64 `json:"test_loss"`
}

const instabilityPrefix = "instability-k"

// instabilityArm names copy ("a" or "b") of the analysis from k.
func instabilityArm(k int, copy string) string {
	return instabilityPrefix + strconv.Itoa(k) + "-" + copy
}

// parseInstabilityArm returns the k and copy of an instability arm.
func parseInstabilityArm(arm string) (k int, copy string, ok bool) {
	rest, ok := strings.CutPrefix(arm, instabilityPrefix)
	if !ok {
		return 0, "", false
	}
	num, copy, ok := strings.Cut(rest, "-")
	if !ok || (copy != "a" && copy != "b") {
		return 0, "", false
	}
	k, err := strconv.Atoi(num)
	if err != nil || k < 0 || strconv.Itoa(k) != num {
		return 0, "", false
	}
	return k, copy, true
}

// instabilityKeys returns the trainings of the instability analysis of e
// within sh, in order.
func (e Experiment) instabilityKeys(sh Shard) []Key {
	var out []Key
	for _, t := range sh.trials(e.Trials) {
		for l := 0; l <= e.Levels; l++ {
			for _, k := range e.Instability {
				out = append(out, Key{t, l, instabilityArm(k, "a")}, Key{t, l, instabilityArm(k, "b")})
			}
		}
	}
	return out
}

// instabilityPlan returns the start of copy arm of the analysis from k.
func (r *runner) instabilityPlan(ctx context.Context, key Key, k int) (plan, error) {
	var masks *prune.Masks
	if key.Level > 0 {
		var err error
		if masks, err = r.loadMasks(Key{key.Trial, key.Level, ArmTicket}); err != nil {
			return plan{}, err
		}
	}
	w, err := r.weightsAt(ctx, key.Trial, k)
	if err != nil {
		return plan{}, err
	}
	if masks == nil {
		masks = prune.NewMasks(w.Prunable())
	}
	return plan{weights: w, masks: masks, startStep: k}, nil
}

// weightsAt returns the weights of trial t's dense training (level 0)
// after k steps: the initial weights for k = 0, else trial-T/rewind-K.shw,
// computed and saved first when missing by training level 0's ticket
// again for k steps (same weights, masks, data order and schedule, so the
// same numbers).
func (r *runner) weightsAt(ctx context.Context, t, k int) (*train.Weights, error) {
	if k == 0 {
		return r.initWeights(t, false)
	}
	path := r.store.rewindPath(t, k)
	if _, err := os.Stat(path); errNotExist(err) {
		w, err := r.initWeights(t, false)
		if err != nil {
			return nil, err
		}
		cfg := r.config(Key{t, 0, ArmTicket}, false)
		cfg.Iterations, cfg.EvalEvery, cfg.Progress = k, k, nil
		tr, err := train.NewTrainer(r.model, w, cfg)
		if err != nil {
			return nil, fmt.Errorf("lottery: trial %d: weights after %d steps: %w", t, k, err)
		}
		defer tr.Close()
		if err := tr.SetMasks(prune.NewMasks(w.Prunable())); err != nil {
			return nil, fmt.Errorf("lottery: trial %d: weights after %d steps: %w", t, k, err)
		}
		if _, err := tr.Fit(ctx, r.data); err != nil {
			return nil, fmt.Errorf("lottery: trial %d: weights after %d steps: %w", t, k, err)
		}
		if err := tr.Weights().Save(path); err != nil {
			return nil, fmt.Errorf("lottery: %w", err)
		}
	}
	return r.loadWeights(path)
}

// instabilityPath evaluates the path from copy a (read from its weights
// file) to b on the test set.
func (r *runner) instabilityPath(key Key, k int, b *train.Weights, cfg train.Config) (*Path, error) {
	a, err := r.loadWeights(r.store.weightsPath(Key{key.Trial, key.Level, instabilityArm(k, "a")}))
	if err != nil {
		return nil, err
	}
	mix := b.Clone()
	cfg.Progress = nil
	ev, err := train.NewTrainer(r.model, mix, cfg)
	if err != nil {
		return nil, fmt.Errorf("lottery: %s: %w", key, err)
	}
	defer ev.Close()
	n := r.exp.InstabilityPoints
	p := &Path{K: k}
	pa, pb, pm := a.Params(), b.Params(), mix.Params()
	for i := range n {
		alpha := float64(i) / float64(n-1)
		for j := range pm {
			interpolate(pm[j].Value, pa[j].Value, pb[j].Value, alpha)
		}
		loss, acc, err := ev.Evaluate(r.data.Test)
		if err != nil {
			return nil, fmt.Errorf("lottery: %s: path at α=%v: %w", key, alpha, err)
		}
		p.Points = append(p.Points, PathPoint{Alpha: alpha, TestAccuracy: acc, TestLoss: loss})
	}
	p.Barrier, p.LossBarrier = barriers(p.Points)
	return p, nil
}

// barriers returns the error and loss barriers of a path.
func barriers(pts []PathPoint) (errBarrier, lossBarrier float64) {
	first, last := pts[0], pts[len(pts)-1]
	maxErr, maxLoss := 0.0, first.TestLoss
	for _, q := range pts {
		maxErr = max(maxErr, 1-q.TestAccuracy)
		maxLoss = max(maxLoss, q.TestLoss)
	}
	errBarrier = maxErr - ((1-first.TestAccuracy)+(1-last.TestAccuracy))/2
	lossBarrier = maxLoss - (first.TestLoss+last.TestLoss)/2
	return errBarrier, lossBarrier
}

// interpolate sets dst to (1−α)·a + α·b.
func interpolate(dst, a, b *tensor.Dense, alpha float64) {
	if dst.Dtype() == tensor.Float32 {
		d, x, y := dst.Float32s(), a.Float32s(), b.Float32s()
		for i := range d {
			d[i] = float32((1-alpha)*float64(x[i]) + alpha*float64(y[i]))
		}
		return
	}
	d, x, y := dst.Float64s(), a.Float64s(), b.Float64s()
	for i := range d {
		d[i] = (1-alpha)*x[i] + alpha*y[i]
	}
}
