package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/tensor"
)

// Config sets up a Trainer. The zero value trains one epoch with Adam
// (learning rate 1.2e-3) on batches of 60, the lottery-ticket setting for
// LeNet-300-100.
type Config struct {
	// Batch is the number of examples per optimizer step; 0 means 60. It
	// may not exceed MaxBatch, and a batch of examples (Batch times the
	// features of one example) may not exceed MaxBatchElements values.
	Batch int
	// Iterations is the number of optimizer steps in all, counted from step
	// 0 (Fit continues from Step()). If 0, Epochs·⌈train/Batch⌉.
	Iterations int
	// Epochs is used when Iterations is 0; 0 means 1.
	Epochs int
	// Optimizer updates the weights; nil means Adam{LR: 1.2e-3}.
	Optimizer Optimizer
	// Schedule scales the optimizer's learning rate by step; nil means
	// Constant.
	Schedule LRSchedule
	// EvalEvery is the number of steps between evaluations of the
	// validation and test sets; 0 means once per epoch (⌈train/Batch⌉
	// steps). Fit also evaluates after its last step.
	EvalEvery int
	// EvalBatch is the batch size used for evaluation; 0 means Batch. It
	// changes the speed of evaluation, not its results.
	EvalBatch int
	// Seed sets the order of the training examples: a fresh seeded
	// permutation each epoch. The batch of step s depends only on Seed and
	// s, so a run resumed at any step sees the same batches.
	Seed uint64
	// Progress, when it is a terminal, shows a progress bar with the rate
	// and the time left; nil, or any other writer, shows nothing.
	Progress io.Writer
	// Kernels chooses, per masked dense layer (Dense, DenseReLU), the dense
	// kernel or the sparse kernels that compute at kept weights only, and
	// the optimizer then updates kept weights only. The zero value,
	// KernelsAuto, runs sparse the layers that keep at most
	// SparseThreshold of their weights. Weights, losses and optimizer state
	// are the same bit for bit whatever the choice; it applies to float32
	// weights on the default build with AVX2 (Backend "go-avx2" or "go-avx512"), where
	// every other case runs dense.
	Kernels Kernels
}

// Bounds on the sizes a Config may ask for, checked before anything is
// allocated: a batch of more examples, or of more values, is an error, not
// an out-of-memory crash.
const (
	// MaxBatch bounds Config.Batch and Config.EvalBatch.
	MaxBatch = 1 << 20
	// MaxBatchElements bounds the values of one batch of inputs
	// (the batch size times the features of an example).
	MaxBatchElements = 1 << 30
)

// checkBatch reports a batch of size b of d's examples that is too large.
func checkBatch(what string, b int, d *Dataset) error {
	f := d.Features()
	if f > 0 && b > MaxBatchElements/f {
		return fmt.Errorf("train: %s %d of %q examples (%d values each) is more than %d values", what, b, d.Name, f, MaxBatchElements)
	}
	return nil
}

// Eval is the result of one evaluation. A set that is absent (Splits.Val
// nil) has loss and accuracy 0.
type Eval struct {
	Iteration    int     // optimizer steps done when evaluated
	ValLoss      float64 // mean cross-entropy over every validation example
	ValAccuracy  float64 // fraction of validation examples classified right
	TestLoss     float64
	TestAccuracy float64
}

// Result is what Fit returns.
type Result struct {
	// Evals lists the evaluations of this Fit call, in order.
	Evals []Eval
	// Best is the evaluation of least validation loss (the earliest of
	// equal ones): the lottery-ticket papers' early-stopping iteration and
	// the test accuracy there. Without a validation set it is the last
	// evaluation.
	Best Eval
	// Final is the last evaluation.
	Final Eval
	// Steps is the number of optimizer steps taken by this Fit call.
	Steps int
	// Seconds is the wall-clock time of this Fit call.
	Seconds float64
	// Loss is the training loss of the last step (0 if none was taken).
	Loss float64
}

// ErrNonFinite is matched (errors.Is) by every error of this package about
// a NaN or infinite number: the training loss (*NonFiniteLossError, from
// Fit), a value of a data set (Dataset.Validate, Splits.Validate, and so
// Fit and Evaluate), an initial weight (NewWeights) and a learning rate
// (NewTrainer).
var ErrNonFinite = errors.New("train: a number is not finite")

// nonFiniteError is an error about a NaN or infinite number other than the
// loss; it matches ErrNonFinite.
type nonFiniteError struct{ msg string }

func (e *nonFiniteError) Error() string        { return e.msg }
func (e *nonFiniteError) Is(target error) bool { return target == ErrNonFinite }

func nonFinitef(format string, args ...any) error {
	return &nonFiniteError{msg: fmt.Sprintf(format, args...)}
}

// ErrNoSteps is matched by the error of Fit on a trainer that has already
// done every configured iteration (a second Fit with the same Config, or a
// checkpoint restored at its last step). See Trainer.SetIterations.
var ErrNoSteps = errors.New("train: Fit has no steps left to take")

// ErrStop may be returned by a hook to end Fit early, without an error: Fit
// evaluates (unless it just did) and returns its Result.
var ErrStop = errors.New("train: stop requested")

// NonFiniteLossError reports a NaN or infinite training loss. Fit returns it
// (as *NonFiniteLossError) before applying the step, so the weights are those
// that produced the bad loss; nothing is written to disk.
type NonFiniteLossError struct {
	Step int     // the step whose loss was not finite (0-based)
	Loss float64 // the loss: NaN, +Inf or -Inf
}

// Error says which step had which loss.
func (e *NonFiniteLossError) Error() string {
	return fmt.Sprintf("train: loss is %v at step %d (try a lower learning rate)", e.Loss, e.Step)
}

// Is makes errors.Is(err, ErrNonFinite) true.
func (e *NonFiniteLossError) Is(target error) bool { return target == ErrNonFinite }

// Trainer trains one Weights of one Model with softmax cross-entropy. It owns
// its Gorgonia graphs and their tapes (one for training, one per evaluation
// batch size) and releases them in Close. A Trainer is not safe for
// concurrent use, but trainers share nothing: several may run in parallel
// goroutines, each giving exactly the results it gives alone.
type Trainer struct {
	model  Model
	w      *Weights
	cfg    Config
	opt    OptimizerState
	sched  LRSchedule
	base   float64
	params []prune.Param // one per weight tensor; Grad set each step
	step   int
	closed bool

	masks   *prune.Masks
	maskIdx []int             // weight index of each mask
	sparse  []*kernel.Pattern // per weight, its sparse kernels or nil (sparse.go)

	tg    *trainGraph
	evals map[int]*evalGraph

	hooks []hook

	perm      []int // permutation of the current epoch
	permEpoch int
	permN     int
}

type hookKind int

const (
	hookStep hookKind = iota
	hookEvery
	hookEval
)

type hook struct {
	name  string
	kind  hookKind
	every int
	step  func(int) error
	eval  func(Eval) error
}

// NewTrainer returns a trainer that trains w, in place, as parameters of m.
// w must match m (same names, order, shapes and prunable flags; see
// Weights.Matches). The graphs are built at the first Fit or Evaluate, when
// the shape of the examples is known.
func NewTrainer(m Model, w *Weights, cfg Config) (*Trainer, error) {
	if w == nil {
		return nil, errors.New("train: NewTrainer: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, err
	}
	if cfg.Batch < 0 || cfg.Iterations < 0 || cfg.Epochs < 0 || cfg.EvalEvery < 0 || cfg.EvalBatch < 0 {
		return nil, fmt.Errorf("train: Config has a negative Batch, Iterations, Epochs, EvalEvery or EvalBatch: %+v", cfg)
	}
	if cfg.Batch > MaxBatch || cfg.EvalBatch > MaxBatch {
		return nil, fmt.Errorf("train: Config.Batch %d or EvalBatch %d is over MaxBatch (%d)", cfg.Batch, cfg.EvalBatch, MaxBatch)
	}
	if cfg.Kernels < KernelsAuto || cfg.Kernels > KernelsSparse {
		return nil, fmt.Errorf("train: Config.Kernels is %v, want KernelsAuto, KernelsDense or KernelsSparse", cfg.Kernels)
	}
	if cfg.Batch == 0 {
		cfg.Batch = 60
	}
	if cfg.EvalBatch == 0 {
		cfg.EvalBatch = cfg.Batch
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = 1
	}
	if cfg.Optimizer == nil {
		cfg.Optimizer = Adam{LR: 1.2e-3}
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Constant{}
	}
	base := cfg.Optimizer.LearningRate()
	if math.IsNaN(base) || math.IsInf(base, 0) {
		return nil, nonFinitef("train: learning rate %v is not a finite non-negative number", base)
	}
	if base < 0 {
		return nil, fmt.Errorf("train: learning rate %v is not a finite non-negative number", base)
	}
	t := &Trainer{model: m, w: w, cfg: cfg, sched: cfg.Schedule, base: base, params: w.Params(), evals: map[int]*evalGraph{}, permEpoch: -1}
	opt, err := cfg.Optimizer.NewState(t.params)
	if err != nil {
		return nil, err
	}
	t.opt = opt
	return t, nil
}

// Config returns the trainer's configuration with defaults filled in.
func (t *Trainer) Config() Config { return t.cfg }

// Model returns the trained model.
func (t *Trainer) Model() Model { return t.model }

// SetMasks keeps ms in force from now on: the weights that ms prunes are set
// to zero at once, and at every step their gradients are zeroed before the
// optimizer update and the weights again after it, so that they stay exactly
// 0 under every optimizer (Adam's moments would otherwise move them). ms must
// match w.Prunable() (names, order, sizes), as prune.NewMasks(w.Prunable())
// does. The trainer keeps ms itself, not a copy: after pruning ms further,
// call SetMasks again to zero the newly pruned weights at once. nil removes
// the masks.
func (t *Trainer) SetMasks(ms *prune.Masks) error {
	if ms == nil {
		t.masks, t.maskIdx = nil, nil
		return t.planSparse()
	}
	pr := t.w.Prunable()
	if err := ms.Apply(pr); err != nil {
		return fmt.Errorf("train: SetMasks: %w", err)
	}
	idx := make([]int, len(pr))
	for i, p := range pr {
		idx[i] = t.w.index[p.Name]
	}
	t.masks, t.maskIdx = ms, idx
	return t.planSparse()
}

// Masks returns the masks in force, or nil.
func (t *Trainer) Masks() *prune.Masks { return t.masks }

// OnStep registers fn to run after each optimizer step, with the number of
// steps done. A hook registered under the name of an earlier one replaces
// it; hooks run in the order they were first registered. A hook's error
// ends Fit with that error (ErrStop ends it without one).
func (t *Trainer) OnStep(name string, fn func(step int) error) {
	t.addHook(hook{name: name, kind: hookStep, step: fn})
}

// Every registers fn to run after every n-th step (when the number of steps
// done is a multiple of n), with the number of steps done. n below 1 means 1.
func (t *Trainer) Every(name string, n int, fn func(step int) error) {
	t.addHook(hook{name: name, kind: hookEvery, every: max(n, 1), step: fn})
}

// OnEval registers fn to run after each evaluation during Fit.
func (t *Trainer) OnEval(name string, fn func(e Eval) error) {
	t.addHook(hook{name: name, kind: hookEval, eval: fn})
}

// RemoveHook removes the hook registered under name, if any.
func (t *Trainer) RemoveHook(name string) {
	for i, h := range t.hooks {
		if h.name == name {
			t.hooks = append(t.hooks[:i], t.hooks[i+1:]...)
			return
		}
	}
}

func (t *Trainer) addHook(h hook) {
	if h.step == nil && h.eval == nil {
		t.RemoveHook(h.name)
		return
	}
	for i := range t.hooks {
		if t.hooks[i].name == h.name {
			t.hooks[i] = h
			return
		}
	}
	t.hooks = append(t.hooks, h)
}

// SetIterations sets the total number of optimizer steps, counted from
// step 0, that Fit trains up to (Config.Iterations): to continue a finished
// training on the same trainer, keeping its weights, masks and optimizer
// state, call SetIterations(Step() + more) and Fit again. n must be at
// least 1.
func (t *Trainer) SetIterations(n int) error {
	if n < 1 {
		return fmt.Errorf("train: SetIterations(%d): want at least 1", n)
	}
	t.cfg.Iterations = n
	return nil
}

// SetLearningRate sets the base learning rate that the schedule scales from
// the next step on (the optimizer's own LR at NewTrainer). The optimizer's
// state is kept.
func (t *Trainer) SetLearningRate(lr float64) error {
	if math.IsNaN(lr) || math.IsInf(lr, 0) {
		return nonFinitef("train: SetLearningRate(%v): not a finite number", lr)
	}
	if lr < 0 {
		return fmt.Errorf("train: SetLearningRate(%v): negative", lr)
	}
	t.base = lr
	return nil
}

// LearningRate returns the base learning rate (see SetLearningRate).
func (t *Trainer) LearningRate() float64 { return t.base }

// SetSchedule replaces the learning-rate schedule from the next step on;
// nil means Constant. Schedules see the absolute step (Step()), so a
// schedule for a continued training should count from there (e.g.
// Warmup is relative to step 0).
func (t *Trainer) SetSchedule(s LRSchedule) {
	if s == nil {
		s = Constant{}
	}
	t.sched, t.cfg.Schedule = s, s
}

// Step returns the number of optimizer steps done.
func (t *Trainer) Step() int { return t.step }

// SetStep sets the step counter, e.g. after rewinding the weights to
// iteration k: the learning-rate schedule and the order of training
// examples resume there. The optimizer's state is not changed. A negative
// step means 0.
func (t *Trainer) SetStep(step int) { t.step = max(step, 0) }

// Weights returns the live weights being trained (Clone to keep a copy).
func (t *Trainer) Weights() *Weights { return t.w }

// Close releases the trainer's graphs and machines. The trainer cannot be
// used afterwards; its Weights stay valid.
func (t *Trainer) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var err error
	if t.tg != nil {
		err = errors.Join(err, t.tg.vm.Close())
		t.tg = nil
	}
	for k, e := range t.evals {
		err = errors.Join(err, e.vm.Close())
		delete(t.evals, k)
	}
	return err
}

// iterations returns the total number of steps for n training examples.
func (t *Trainer) iterations(n int) int {
	if t.cfg.Iterations > 0 {
		return t.cfg.Iterations
	}
	return t.cfg.Epochs * t.stepsPerEpoch(n)
}

func (t *Trainer) stepsPerEpoch(n int) int { return (n + t.cfg.Batch - 1) / t.cfg.Batch }

// Fit trains on data.Train from Step() up to the configured number of
// iterations, evaluating data.Val (if present) and data.Test every
// EvalEvery steps and after the last step. It checks ctx before each step
// and returns the Result so far with ctx's error, wrapped, when it is done.
// A NaN or infinite loss stops Fit with a *NonFiniteLossError (see
// ErrNonFinite).
//
// The iterations count from step 0, so that a trainer restored from a
// checkpoint (or set to a rewind point with SetStep) finishes the same
// schedule. Fit on a trainer that has done them all returns ErrNoSteps
// rather than train 0 steps: to train on, raise the total with
// SetIterations (tr.SetIterations(tr.Step() + 1000)), and, if wanted, set a
// new learning rate or schedule with SetLearningRate and SetSchedule; the
// weights, the masks and the optimizer's state (Adam's moments, momentum)
// carry over, and the schedule sees the step count going on.
func (t *Trainer) Fit(ctx context.Context, data Splits) (*Result, error) {
	if t.closed {
		return nil, errors.New("train: Fit on a closed Trainer")
	}
	if err := data.Validate(); err != nil {
		return nil, err
	}
	if data.Train.Len() == 0 {
		return nil, fmt.Errorf("train: training set %q is empty", data.Train.Name)
	}
	if err := checkBatch("batch", t.cfg.Batch, data.Train); err != nil {
		return nil, err
	}
	if err := checkBatch("evaluation batch", t.cfg.EvalBatch, data.Train); err != nil {
		return nil, err
	}
	n := data.Train.Len()
	total := t.iterations(n)
	if t.step >= total {
		return nil, fmt.Errorf("%w: the trainer is at step %d and its Config asks for %d iterations in all; call SetIterations with a larger total (e.g. Step()+1000) to train on", ErrNoSteps, t.step, total)
	}
	if err := t.ensureTrainGraph(data.Train); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Result{}
	every := t.cfg.EvalEvery
	if every == 0 {
		every = t.stepsPerEpoch(n)
	}
	bar := newProgress(t.cfg.Progress, t.step, total, t.cfg.Batch)
	defer bar.finish()
	lastEval := -1
	evaluate := func() error {
		if t.closed {
			return errors.New("train: the trainer was closed during Fit")
		}
		e, err := t.evaluateSplits(data)
		if err != nil {
			return err
		}
		lastEval = e.Iteration
		res.Evals = append(res.Evals, e)
		bar.eval(e)
		for _, h := range t.hooks {
			if h.kind == hookEval {
				if err := h.eval(e); err != nil {
					return hookErr(h.name, err)
				}
			}
		}
		return nil
	}
	finish := func(err error) (*Result, error) {
		if errors.Is(err, ErrStop) {
			err = nil
			if lastEval != t.step {
				err = evaluate()
				if errors.Is(err, ErrStop) {
					err = nil
				}
			}
		}
		res.Seconds = time.Since(start).Seconds()
		if len(res.Evals) > 0 {
			res.Final = res.Evals[len(res.Evals)-1]
			res.Best = best(res.Evals, data.Val != nil)
		}
		return res, err
	}
	for t.step < total {
		if t.closed {
			return finish(errors.New("train: the trainer was closed during Fit"))
		}
		if err := ctx.Err(); err != nil {
			return finish(fmt.Errorf("train: stopped at step %d: %w", t.step, err))
		}
		loss, err := t.trainStep(data.Train)
		if err != nil {
			return finish(err)
		}
		res.Steps++
		res.Loss = loss
		bar.step(t.step, loss)
		for _, h := range t.hooks {
			switch {
			case h.kind == hookStep, h.kind == hookEvery && t.step%h.every == 0:
				if err := h.step(t.step); err != nil {
					return finish(hookErr(h.name, err))
				}
			}
		}
		if t.step%every == 0 || t.step == total {
			if err := evaluate(); err != nil {
				return finish(err)
			}
		}
	}
	if lastEval != t.step {
		if err := evaluate(); err != nil {
			return finish(err)
		}
	}
	return finish(nil)
}

func hookErr(name string, err error) error {
	if errors.Is(err, ErrStop) {
		return err
	}
	return fmt.Errorf("train: hook %q: %w", name, err)
}

// best returns the evaluation of least validation loss, or the last one.
func best(evals []Eval, hasVal bool) Eval {
	if !hasVal {
		return evals[len(evals)-1]
	}
	b := evals[0]
	for _, e := range evals[1:] {
		if e.ValLoss < b.ValLoss || (math.IsNaN(b.ValLoss) && !math.IsNaN(e.ValLoss)) {
			b = e
		}
	}
	return b
}

// trainStep runs one optimizer step on the batch of the current step.
func (t *Trainer) trainStep(d *Dataset) (float64, error) {
	tg := t.tg
	t.fillBatch(d, tg)
	tg.dropout.seed, tg.dropout.step, tg.dropout.active = t.cfg.Seed, t.step, true
	err := tg.vm.RunAll()
	if err != nil {
		return 0, fmt.Errorf("train: step %d: %w", t.step, err)
	}
	loss, err := scalar(tg.vm.value(tg.loss))
	if err != nil {
		return 0, fmt.Errorf("train: step %d: loss: %w", t.step, err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, &NonFiniteLossError{Step: t.step, Loss: loss}
	}
	for i, g := range tg.grads {
		gd, ok := tg.vm.value(g).(*tensor.Dense)
		if !ok || gd == nil || gd.Dtype() != t.w.dtype || gd.RequiresIterator() {
			return 0, fmt.Errorf("train: step %d: gradient of %q is %T, not a contiguous %v tensor", t.step, t.params[i].Name, tg.vm.value(g), t.w.dtype)
		}
		t.params[i].Grad = gd
	}
	if t.masks != nil {
		for i, wi := range t.maskIdx {
			if t.sparse[wi] != nil {
				continue // GradW leaves the pruned gradients at zero
			}
			if err := t.masks.At(i).ApplyTo(t.params[wi].Grad); err != nil {
				return 0, fmt.Errorf("train: step %d: %w", t.step, err)
			}
		}
	}
	lr := t.sched.Rate(t.base, t.step)
	if err := t.opt.Update(t.params, lr); err != nil {
		return 0, fmt.Errorf("train: step %d: %w", t.step, err)
	}
	if t.masks != nil {
		for i, wi := range t.maskIdx {
			if t.sparse[wi] != nil {
				continue // the optimizer updates kept weights only
			}
			if err := t.masks.At(i).ApplyTo(t.params[wi].Value); err != nil {
				return 0, fmt.Errorf("train: step %d: %w", t.step, err)
			}
		}
	}
	t.step++
	return loss, nil
}

// fillBatch copies the examples of the current step into the training
// graph's input tensors. Training examples form an endless stream, one
// seeded permutation of the training set per epoch; step s takes positions
// [s·Batch, (s+1)·Batch) of that stream, so every batch is full.
func (t *Trainer) fillBatch(d *Dataset, tg *trainGraph) {
	n, f, b := d.Len(), d.Features(), t.cfg.Batch
	pos := t.step * b
	for i := 0; i < b; i++ {
		p := pos + i
		ex := t.permuted(p/n, p%n, n)
		tg.setRow(i, d.X[ex*f:(ex+1)*f], d.Y[ex])
	}
}

// permuted returns the example at position i of epoch e's permutation.
func (t *Trainer) permuted(e, i, n int) int {
	if e != t.permEpoch || n != t.permN {
		t.perm = epochPerm(t.perm, n, t.cfg.Seed, uint64(e))
		t.permEpoch, t.permN = e, n
	}
	return t.perm[i]
}

// epochPerm returns a permutation of [0, n) drawn from PCG(seed, epoch) by
// Fisher–Yates, so that it is the same on every platform and Go version.
func epochPerm(buf []int, n int, seed, epoch uint64) []int {
	if cap(buf) < n {
		buf = make([]int, n)
	}
	p := buf[:n]
	for i := range p {
		p[i] = i
	}
	src := rand.NewPCG(seed, epoch^0x9e3779b97f4a7c15)
	for i := n - 1; i > 0; i-- {
		hi, _ := bits.Mul64(src.Uint64(), uint64(i+1))
		j := int(hi)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Evaluate returns the mean softmax cross-entropy and the accuracy of the
// current weights over every example of d, the last partial batch included
// (a second graph of the remainder's size evaluates it, so that nothing is
// padded). The loss is summed in float64.
func (t *Trainer) Evaluate(d *Dataset) (loss, accuracy float64, err error) {
	if t.closed {
		return 0, 0, errors.New("train: Evaluate on a closed Trainer")
	}
	if d == nil {
		return 0, 0, errors.New("train: Evaluate: nil Dataset")
	}
	if err := d.Validate(); err != nil {
		return 0, 0, err
	}
	if d.Len() == 0 {
		return 0, 0, fmt.Errorf("train: Evaluate: data set %q is empty", d.Name)
	}
	if err := checkBatch("evaluation batch", min(t.cfg.EvalBatch, d.Len()), d); err != nil {
		return 0, 0, err
	}
	return t.evaluate(d)
}

func (t *Trainer) evaluate(d *Dataset) (loss, accuracy float64, err error) {
	n, f := d.Len(), d.Features()
	b := min(t.cfg.EvalBatch, n)
	sum, correct := 0.0, 0
	for start := 0; start < n; start += b {
		size := min(b, n-start)
		eg, err := t.evalGraph(d, size)
		if err != nil {
			return 0, 0, err
		}
		for i := 0; i < size; i++ {
			eg.setRow(i, d.X[(start+i)*f:(start+i+1)*f])
		}
		err = eg.vm.RunAll()
		if err != nil {
			return 0, 0, fmt.Errorf("train: evaluate %q: %w", d.Name, err)
		}
		z, ok := eg.vm.value(eg.logits).(*tensor.Dense)
		if !ok || z == nil || z.RequiresIterator() {
			return 0, 0, fmt.Errorf("train: evaluate %q: logits are %T, not a contiguous tensor", d.Name, eg.vm.value(eg.logits))
		}
		var s float64
		var c int
		if z.Dtype() == tensor.Float32 {
			s, c, err = scoreRows(floats[float32](z), d.Y[start:start+size], eg.classes)
		} else {
			s, c, err = scoreRows(floats[float64](z), d.Y[start:start+size], eg.classes)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("train: evaluate %q: %w", d.Name, err)
		}
		sum += s
		correct += c
	}
	return sum / float64(n), float64(correct) / float64(n), nil
}

// scoreRows sums the cross-entropy of each row of logits z and counts the
// rows whose largest logit is the label.
func scoreRows[T float](z []T, y []int, classes int) (float64, int, error) {
	sum, correct := 0.0, 0
	for i, c := range y {
		if c < 0 || c >= classes {
			return 0, 0, fmt.Errorf("label %d of example %d is outside the model's %d classes", c, i, classes)
		}
		l, arg := rowLoss(z[i*classes:(i+1)*classes], c)
		sum += l
		if arg == c {
			correct++
		}
	}
	return sum, correct, nil
}

func (t *Trainer) evaluateSplits(data Splits) (Eval, error) {
	e := Eval{Iteration: t.step}
	var err error
	if data.Val != nil {
		if e.ValLoss, e.ValAccuracy, err = t.evaluate(data.Val); err != nil {
			return e, err
		}
	}
	if data.Test != nil {
		if e.TestLoss, e.TestAccuracy, err = t.evaluate(data.Test); err != nil {
			return e, err
		}
	}
	return e, nil
}

// Gradients returns the prunable tensors as prune.Params (Value shared with
// the live weights, as Weights.Prunable) with Grad set to the gradient of
// the mean training loss, averaged over batches consecutive batches of d
// from the trainer's example stream at Step() (the batches the next steps
// would train on; Config.Batch examples each). Gradients of weights the
// masks prune are 0. It changes neither the weights, the step nor the
// optimizer's state: it is how a gradient-based scorer (prune.Taylor) gets
// its gradients,
//
//	params, err := tr.Gradients(data.Train, 10)
//	err = prune.Global{Scorer: prune.Taylor{}, Amount: prune.Fraction(0.2)}.Prune(masks, params)
//
// The Grad tensors are new, owned by the caller.
func (t *Trainer) Gradients(d *Dataset, batches int) ([]prune.Param, error) {
	if t.closed {
		return nil, errors.New("train: Gradients on a closed Trainer")
	}
	if d == nil {
		return nil, errors.New("train: Gradients: nil Dataset")
	}
	if batches < 1 {
		return nil, fmt.Errorf("train: Gradients: %d batches, want at least 1", batches)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("train: Gradients: data set %q is empty", d.Name)
	}
	if err := checkBatch("batch", t.cfg.Batch, d); err != nil {
		return nil, err
	}
	if err := t.ensureTrainGraph(d); err != nil {
		return nil, err
	}
	defer t.fullGrads()() // the sparse layers' whole gradients (sparse.go)
	pr := t.w.Prunable()
	sums := make([][]float64, len(pr))
	for i, p := range pr {
		sums[i] = make([]float64, p.Value.Shape().TotalSize())
	}
	tg := t.tg
	step := t.step
	defer func() { t.step = step }()
	for b := range batches {
		t.step = step + b
		t.fillBatch(d, tg)
		tg.dropout.active = false // scores see the whole network
		err := tg.vm.RunAll()
		if err != nil {
			return nil, fmt.Errorf("train: Gradients: batch %d: %w", b, err)
		}
		if loss, err := scalar(tg.vm.value(tg.loss)); err != nil {
			return nil, fmt.Errorf("train: Gradients: loss: %w", err)
		} else if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, &NonFiniteLossError{Step: t.step, Loss: loss}
		}
		for i, p := range pr {
			g, ok := tg.vm.value(tg.grads[t.w.index[p.Name]]).(*tensor.Dense)
			if !ok || g == nil || g.Dtype() != t.w.dtype || g.RequiresIterator() {
				return nil, fmt.Errorf("train: Gradients: gradient of %q is not a contiguous %v tensor", p.Name, t.w.dtype)
			}
			if g.Dtype() == tensor.Float32 {
				for j, v := range floats[float32](g) {
					sums[i][j] += float64(v)
				}
			} else {
				for j, v := range floats[float64](g) {
					sums[i][j] += v
				}
			}
		}
	}
	for i := range pr {
		g := tensor.New(tensor.Of(t.w.dtype), tensor.WithShape(pr[i].Value.Shape().Clone()...))
		if t.w.dtype == tensor.Float32 {
			out := g.Float32s()
			for j, v := range sums[i] {
				out[j] = float32(v / float64(batches))
			}
		} else {
			out := g.Float64s()
			for j, v := range sums[i] {
				out[j] = v / float64(batches)
			}
		}
		pr[i].Grad = g
	}
	if t.masks != nil {
		if err := t.masks.ApplyGrad(pr); err != nil {
			return nil, fmt.Errorf("train: Gradients: %w", err)
		}
	}
	return pr, nil
}
