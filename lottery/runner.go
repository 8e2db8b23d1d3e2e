package lottery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

// Options are the parts of a run that are not in its description: a user's
// own model or data, the shard, and where progress goes.
type Options struct {
	// Model, when set, is trained instead of a built-in model. The
	// description's Model is then a label: empty (it becomes "custom:" and
	// the model's Name) or starting with "custom". The label enters the
	// hash, and so does the fingerprint of the graph the model builds
	// (Experiment.Graph, train.Fingerprint): a model whose Forward changes
	// gets a new hash even under the same label.
	Model train.Model
	// Data, when its Train set is not nil, is used instead of loading
	// Experiment.Data.Source, which is then a label: empty ("custom") or
	// starting with "custom". Data.Val and Data.Seed must be left zero.
	Data train.Splits
	// Shard selects the trials this run computes; the zero Shard runs all.
	Shard Shard
	// Log, when not nil, receives one line per finished training and a
	// line when the run starts.
	Log io.Writer
	// Progress, when not nil, is passed to the trainer for its progress bar
	// (drawn only when it is a terminal), when one training runs at a time
	// (Workers 1): concurrent bars would garble each other.
	Progress io.Writer
	// Kernels is passed to every trainer (train.Config.Kernels). It
	// changes the speed, never the results, so it is not part of the
	// description or its hash.
	Kernels train.Kernels
}

// Run runs the experiment exp and stores everything under dir (see the
// package documentation for the layout). It computes only what is not on
// disk yet: a run that was stopped (cancelled, killed, crashed) resumes
// where it stopped and gives the numbers an uninterrupted run gives.
//
// Trials run concurrently, at most exp.Workers trainings at a time; the
// levels of a trial run in order, and the controls of a level once its
// ticket is done. The first error stops the run (running trainings are
// cancelled) and is returned; so is ctx's error when ctx is cancelled.
//
// When everything of the shard is done, Run writes results.csv,
// results.json and summary.csv into dir (covering the shard's trials) and
// returns the results. A shard that owns no trial (more shards than trials)
// does nothing and returns no rows.
func Run(ctx context.Context, dir string, exp Experiment, opts Options) (*Results, error) {
	r, err := newRunner(dir, exp, opts)
	if err != nil {
		return nil, err
	}
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	res, err := collect(r.store, r.exp, opts.Shard)
	if err != nil {
		return nil, err
	}
	if len(res.Missing) > 0 { // cannot happen after a run without error
		return nil, missingError(dir, res.Missing)
	}
	if len(res.Rows) == 0 { // a shard with no trial: more machines than trials
		r.logf("lottery: shard %s owns none of the %d trials: nothing to do\n", opts.Shard, r.exp.Trials)
		return res, nil
	}
	if err := res.WriteFiles(); err != nil {
		return nil, err
	}
	return res, nil
}

// Resolve returns the description Run would execute for exp and opts:
// labels of a custom model or data filled in, defaults written out. It
// validates what can be checked without the data. Graph, the fingerprint
// of a user's model, is left as given: Run fills it in once the data's
// shape is known (train.Fingerprint).
func Resolve(exp Experiment, opts Options) (Experiment, error) {
	exp = exp.clone()
	if opts.Model != nil {
		if exp.Model == "" {
			exp.Model = customPrefix + ":" + opts.Model.Name()
		} else if !isCustom(exp.Model) {
			return Experiment{}, fmt.Errorf("lottery: Options.Model is set, so Experiment.Model must be empty or a label starting with %q, not %q (a built-in name would share its hash)", customPrefix, exp.Model)
		}
	} else if isCustom(exp.Model) {
		return Experiment{}, fmt.Errorf("lottery: model %q is a user's model: pass it in Options.Model", exp.Model)
	}
	if opts.Data.Train != nil {
		if exp.Data.Source == "" {
			exp.Data.Source = customPrefix
		} else if !isCustom(exp.Data.Source) {
			return Experiment{}, fmt.Errorf("lottery: Options.Data is set, so Experiment.Data.Source must be empty or a label starting with %q, not %q", customPrefix, exp.Data.Source)
		}
		if exp.Data.Val != 0 || exp.Data.Seed != 0 {
			return Experiment{}, errors.New("lottery: Options.Data is set: Experiment.Data.Val and Data.Seed would do nothing; leave them 0")
		}
	} else if isCustom(exp.Data.Source) {
		return Experiment{}, fmt.Errorf("lottery: data source %q is a user's data set: pass it in Options.Data", exp.Data.Source)
	}
	if err := exp.Validate(); err != nil {
		return Experiment{}, err
	}
	return exp.WithDefaults(), nil
}

// runner holds what every training of a run shares. Nothing in it changes
// once the run starts, but the counters.
type runner struct {
	exp      Experiment
	store    store
	model    train.Model
	prunable []string
	data     train.Splits
	dtype    tensor.Dtype
	shard    Shard
	workers  int
	log      io.Writer
	progress io.Writer
	kernels  train.Kernels
	logMu    sync.Mutex

	done, resumed atomic.Int64
}

func newRunner(dir string, exp Experiment, opts Options) (*runner, error) {
	if err := opts.Shard.Validate(); err != nil {
		return nil, err
	}
	e, err := Resolve(exp, opts)
	if err != nil {
		return nil, err
	}
	dt, _ := dtypes.get(e.Dtype) // validated
	r := &runner{exp: e, shard: opts.Shard, log: opts.Log, dtype: dt, kernels: opts.Kernels}
	if opts.Data.Train != nil {
		if err := opts.Data.Validate(); err != nil {
			return nil, fmt.Errorf("lottery: Options.Data: %w", err)
		}
		r.data = opts.Data
	} else {
		val := max(e.Data.Val, 0)
		if r.data, err = train.Load(e.Data.Source, val, e.Data.Seed); err != nil {
			return nil, fmt.Errorf("lottery: data: %w", err)
		}
	}
	if opts.Model != nil {
		fp, err := train.Fingerprint(opts.Model, r.data.Train.Shape, r.dtype)
		if err != nil {
			return nil, fmt.Errorf("lottery: Options.Model: %w", err)
		}
		if e.Graph != "" && e.Graph != fp {
			return nil, fmt.Errorf("lottery: the description's graph %s is not the fingerprint %s of Options.Model: the model's Forward or params changed since the description was written, so its results do not apply (leave graph empty to run the model as it is now, into another folder)", e.Graph, fp)
		}
		e.Graph = fp
		r.exp = e
	}
	m := opts.Model
	if m == nil {
		if m, err = NewModel(e.Model, r.data.Train.Shape, r.data.Train.Classes); err != nil {
			return nil, err
		}
	}
	if r.model, r.prunable, err = configureModel(m, e); err != nil {
		return nil, err
	}
	if err := checkRemaining(r.model, r.prunable, e); err != nil {
		return nil, err
	}
	r.workers = e.Workers
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	perLevel := 1 + len(e.Controls)
	if n := len(opts.Shard.trials(e.Trials)) * perLevel; r.workers > n {
		r.workers = max(n, 1)
	}
	if r.workers == 1 {
		r.progress = opts.Progress
	}
	if r.store, err = openStore(dir, e, true); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *runner) logf(format string, args ...any) {
	if r.log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.log, format, args...)
}

// run trains everything of the shard that is not done yet.
func (r *runner) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	trials := r.shard.trials(r.exp.Trials)
	total := len(r.exp.keys(r.shard)) + len(r.exp.instabilityKeys(r.shard))
	r.logf("lottery: experiment %s in %s: %d trial(s), levels 0-%d, arms %s, shard %s, %d worker(s), %d trainings\n",
		r.store.hash, r.store.dir, len(trials), r.exp.Levels, strings.Join(r.exp.arms(1), ","), r.shard, r.workers, total)

	var (
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
			cancel()
		}
		mu.Unlock()
	}
	sem := make(chan struct{}, r.workers)
	acquire := func() bool {
		select {
		case sem <- struct{}{}:
			if ctx.Err() != nil {
				<-sem
				return false
			}
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	do := func(k Key) error {
		if !acquire() {
			return ctx.Err()
		}
		defer func() { <-sem }()
		return r.do(ctx, k)
	}
	for _, t := range trials {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := 0; l <= r.exp.Levels; l++ {
				if err := do(Key{t, l, ArmTicket}); err != nil {
					fail(err)
					return
				}
				for _, kk := range r.exp.Instability {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for _, c := range []string{"a", "b"} {
							if err := do(Key{t, l, instabilityArm(kk, c)}); err != nil {
								fail(err)
								return
							}
						}
					}()
				}
				for _, arm := range r.exp.arms(l)[1:] {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := do(Key{t, l, arm}); err != nil {
							fail(err)
						}
					}()
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		if perr := parent.Err(); perr != nil && !errors.Is(first, perr) {
			return fmt.Errorf("lottery: run stopped: %w", perr)
		}
		return first
	}
	if err := parent.Err(); err != nil {
		return fmt.Errorf("lottery: run stopped: %w", err)
	}
	if n := r.resumed.Load(); n > 0 {
		r.logf("lottery: %d of %d trainings were already done and were read from %s\n", n, total, r.store.dir)
	}
	return nil
}

// do computes one training unless its result is on disk.
func (r *runner) do(ctx context.Context, k Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lottery: run stopped: %w", err)
	}
	res, err := r.store.readResult(k)
	if err != nil {
		return err
	}
	if res != nil {
		r.resumed.Add(1)
		return nil
	}
	res, err = r.train(ctx, k)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("lottery: run stopped during %s: %w", k, ctx.Err())
		}
		return err
	}
	n := r.done.Add(1)
	r.logf("%-26s remaining %7s  test acc %5.2f%%  early-stop acc %5.2f%% @ %-6d %6.1fs  [%d]\n",
		k.String(), fmtPercent(res.Remaining), 100*res.Final.TestAccuracy,
		100*res.EarlyStop.TestAccuracy, res.EarlyStop.Iteration, res.TrainSeconds, n)
	return nil
}

// plan is what one training starts from.
type plan struct {
	weights   *train.Weights
	masks     *prune.Masks
	startStep int
	finetune  bool // constant, small learning rate
}

// train runs training k and writes its masks, weights and result (the
// result last). Everything it starts from is read from disk or derived from
// seeds, never taken from memory, so a resumed run computes exactly what an
// uninterrupted one does.
func (r *runner) train(ctx context.Context, k Key) (*Result, error) {
	if err := os.MkdirAll(r.store.levelDir(k), 0o755); err != nil {
		return nil, fmt.Errorf("lottery: %w", err)
	}
	p, err := r.plan(ctx, k)
	if err != nil {
		return nil, err
	}
	cfg := r.config(k, p.finetune)
	tr, err := train.NewTrainer(r.model, p.weights, cfg)
	if err != nil {
		return nil, fmt.Errorf("lottery: %s: %w", k, err)
	}
	defer tr.Close()
	if err := tr.SetMasks(p.masks); err != nil {
		return nil, fmt.Errorf("lottery: %s: %w", k, err)
	}
	if p.startStep > 0 {
		tr.SetStep(p.startStep)
	}
	if k.Level == 0 && k.Arm == ArmTicket && r.exp.Rewind.To == RewindIteration {
		kStep, path := r.exp.Rewind.Iteration, r.store.rewindPath(k.Trial, r.exp.Rewind.Iteration)
		tr.OnStep("lottery-rewind-point", func(step int) error {
			if step != kStep {
				return nil
			}
			if err := tr.Weights().Save(path); err != nil {
				return fmt.Errorf("lottery: saving the rewind point: %w", err)
			}
			return nil
		})
	}
	start := time.Now()
	fit, err := tr.Fit(ctx, r.data)
	if err != nil {
		return nil, fmt.Errorf("lottery: %s: %w", k, err)
	}
	seconds := fit.Seconds
	if seconds == 0 {
		seconds = time.Since(start).Seconds()
	}
	if k.Level == 0 && k.Arm == ArmTicket && r.exp.Rewind.To == RewindIteration {
		if _, err := os.Stat(r.store.rewindPath(k.Trial, r.exp.Rewind.Iteration)); err != nil {
			return nil, fmt.Errorf("lottery: %s: the rewind point at iteration %d was not saved: %w", k, r.exp.Rewind.Iteration, err)
		}
	}
	res := &Result{
		Experiment:   r.store.hash,
		Trial:        k.Trial,
		Level:        k.Level,
		Arm:          k.Arm,
		Remaining:    p.masks.Remaining(),
		StartStep:    p.startStep,
		Steps:        tr.Step(),
		Final:        r.eval(fit.Final),
		EarlyStop:    r.eval(fit.Best),
		TrainSeconds: seconds,
	}
	for i := range p.masks.Len() {
		m := p.masks.At(i)
		res.Layers = append(res.Layers, LayerCount{Name: m.Name(), Size: m.Len(), Kept: m.Kept()})
	}
	for _, e := range fit.Evals {
		res.Evals = append(res.Evals, r.eval(e))
	}
	if kk, c, ok := parseInstabilityArm(k.Arm); ok && c == "b" {
		if res.Instability, err = r.instabilityPath(k, kk, tr.Weights(), cfg); err != nil {
			return nil, err
		}
	}
	if err := p.masks.Save(r.store.masksPath(k)); err != nil {
		return nil, fmt.Errorf("lottery: %w", err)
	}
	if err := tr.Weights().Save(r.store.weightsPath(k)); err != nil {
		return nil, fmt.Errorf("lottery: %w", err)
	}
	if err := r.store.writeResult(res); err != nil {
		return nil, err
	}
	return res, nil
}

func (r *runner) eval(e train.Eval) Eval {
	out := Eval{Iteration: e.Iteration, ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy, TestLoss: e.TestLoss, TestAccuracy: e.TestAccuracy}
	if r.data.Val == nil {
		out.ValLoss, out.ValAccuracy = 0, 0
	}
	return out
}

// config returns the training settings of training k.
func (r *runner) config(k Key, finetune bool) train.Config {
	t := r.exp.Train
	lr := t.LR
	if finetune {
		lr = r.exp.Rewind.FinetuneLR
	}
	build, _ := optimizers.get(t.Optimizer) // validated
	opt := build(lr, t.Momentum)
	var sched train.LRSchedule = train.Constant{}
	if !finetune {
		if t.LRDropEvery > 0 {
			sched = train.Step{Every: t.LRDropEvery, Gamma: t.LRGamma}
		}
		if t.Warmup > 0 {
			sched = train.Warmup{Steps: t.Warmup, Then: sched}
		}
	}
	return train.Config{
		Batch:      t.Batch,
		Iterations: t.Iterations,
		Optimizer:  opt,
		Schedule:   sched,
		EvalEvery:  t.EvalEvery,
		Seed:       seedOf(r.exp.Seed, purposeData, k.Trial, k.Level, k.Arm),
		Progress:   r.progress,
		Kernels:    r.kernels,
	}
}

// plan works out the starting weights, masks and step of training k.
func (r *runner) plan(ctx context.Context, k Key) (plan, error) {
	if kk, _, ok := parseInstabilityArm(k.Arm); ok {
		return r.instabilityPlan(ctx, k, kk)
	}
	if k.Level == 0 {
		w, err := r.initWeights(k.Trial, true)
		if err != nil {
			return plan{}, err
		}
		return plan{weights: w, masks: prune.NewMasks(w.Prunable())}, nil
	}
	var ticketMasks *prune.Masks
	var err error
	if k.Arm == ArmTicket {
		ticketMasks, err = r.ticketMasks(k)
	} else {
		ticketMasks, err = r.loadMasks(Key{k.Trial, k.Level, ArmTicket})
	}
	if err != nil {
		return plan{}, err
	}
	if k.Arm == ArmReinit {
		w, err := train.NewWeights(r.model, r.dtype, newRand(r.exp.Seed, purposeReinit, k.Trial, k.Level, ""))
		if err != nil {
			return plan{}, fmt.Errorf("lottery: %s: %w", k, err)
		}
		return plan{weights: w, masks: ticketMasks}, nil
	}
	p, err := r.rewindPoint(k)
	if err != nil {
		return plan{}, err
	}
	p.masks = ticketMasks
	if build, _ := arms.get(k.Arm); build != nil {
		if p.masks, err = build(r, k, ticketMasks, p.weights.Prunable()); err != nil {
			return plan{}, fmt.Errorf("lottery: %s: %w", k, err)
		}
	}
	return p, nil
}

// rewindPoint returns the weights and step that training k (a ticket or the
// random control, level ≥ 1) starts from.
func (r *runner) rewindPoint(k Key) (plan, error) {
	switch r.exp.Rewind.To {
	case RewindIteration:
		w, err := r.loadWeights(r.store.rewindPath(k.Trial, r.exp.Rewind.Iteration))
		if err != nil {
			return plan{}, err
		}
		return plan{weights: w, startStep: r.exp.Rewind.Iteration}, nil
	case RewindLR, RewindFinetune:
		w, err := r.loadWeights(r.store.weightsPath(Key{k.Trial, k.Level - 1, ArmTicket}))
		if err != nil {
			return plan{}, err
		}
		return plan{weights: w, finetune: r.exp.Rewind.To == RewindFinetune}, nil
	default:
		w, err := r.initWeights(k.Trial, false)
		if err != nil {
			return plan{}, err
		}
		return plan{weights: w}, nil
	}
}

// initWeights returns the initial weights of trial t, read from init.shw.
// When create is set (level 0) and the file does not exist, they are drawn
// from the trial's seed and saved first.
func (r *runner) initWeights(t int, create bool) (*train.Weights, error) {
	path := r.store.initPath(t)
	if _, err := os.Stat(path); errNotExist(err) && create {
		w, err := train.NewWeights(r.model, r.dtype, newRand(r.exp.Seed, purposeInit, t, -1, ""))
		if err != nil {
			return nil, fmt.Errorf("lottery: trial %d: %w", t, err)
		}
		if err := os.MkdirAll(r.store.trialDir(t), 0o755); err != nil {
			return nil, fmt.Errorf("lottery: %w", err)
		}
		if err := w.Save(path); err != nil {
			return nil, fmt.Errorf("lottery: %w", err)
		}
	}
	return r.loadWeights(path)
}

// loadWeights reads a weights file and checks it fits the model.
func (r *runner) loadWeights(path string) (*train.Weights, error) {
	w, err := train.LoadWeights(path)
	if err != nil {
		if errNotExist(err) {
			return nil, fmt.Errorf("lottery: %s is missing, though the results that need it say it was written: restore it or delete the results after it", path)
		}
		return nil, fmt.Errorf("lottery: %w", err) // the error names the file
	}
	if err := r.checkWeights(w); err != nil {
		return nil, fmt.Errorf("lottery: %s: %w", path, err)
	}
	return w, nil
}

// checkWeights reports weights that do not belong to the model.
func (r *runner) checkWeights(w *train.Weights) error {
	if err := w.Matches(r.model); err != nil {
		return fmt.Errorf("not weights of this experiment's model: %w", err)
	}
	if w.Dtype() != r.dtype {
		return fmt.Errorf("the weights are %v, the experiment uses %v", w.Dtype(), r.dtype)
	}
	return nil
}

// loadMasks reads the masks of training k and checks them against the
// model's prunable tensors.
func (r *runner) loadMasks(k Key) (*prune.Masks, error) {
	path := r.store.masksPath(k)
	ms, err := prune.LoadMasks(path)
	if err != nil {
		if errNotExist(err) {
			return nil, fmt.Errorf("lottery: %s is missing, though %s is done: restore it or delete that level's result.json", path, k)
		}
		return nil, fmt.Errorf("lottery: %w", err) // the error names the file
	}
	names := ms.Names()
	if len(names) != len(r.prunable) {
		return nil, fmt.Errorf("lottery: %s: %d masks for %d prunable tensors: a foreign file", path, len(names), len(r.prunable))
	}
	for i, n := range r.prunable {
		if names[i] != n {
			return nil, fmt.Errorf("lottery: %s: mask %d is %q, the prunable tensor is %q: a foreign file", path, i, names[i], n)
		}
	}
	return ms, nil
}
