package lottery

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

// Every setting of an Experiment is registered once, in settings below: its
// key (the JSON path), the example's flag, its default (which may depend on
// other settings), what explicit 0 means, its validation, and, for the
// settings that name one of several choices (the axes: model, initialiser,
// dtype, optimizer, method, strategy, scorer, rewind mode, arm), the
// choices and what each builds. WithDefaults, Validate, the canonical form
// of the hash, the explicit-zero check of a JSON description and the
// example's flags and usage are all derived from this table, so a new
// setting touches one place, and a setting whose default is left out of
// the hash by construction keeps every stored hash.

// choice is one named value of an axis and what it builds.
type choice[B any] struct {
	name  string
	doc   string
	build B
}

// axis is a setting that takes one of several names.
type axis[B any] struct {
	key     string
	choices []choice[B]
}

func (a *axis[B]) names() []string {
	out := make([]string, len(a.choices))
	for i, c := range a.choices {
		out[i] = c.name
	}
	return out
}

func (a *axis[B]) get(name string) (B, bool) {
	for _, c := range a.choices {
		if c.name == name {
			return c.build, true
		}
	}
	var zero B
	return zero, false
}

func (a *axis[B]) check(v string) error {
	if _, ok := a.get(v); ok {
		return nil
	}
	return fmt.Errorf("lottery: %s %q is not %s", a.key, v, orList(a.names()))
}

func (a *axis[B]) docs() []string {
	out := make([]string, len(a.choices))
	for i, c := range a.choices {
		out[i] = c.name
		if c.doc != "" {
			out[i] += " (" + c.doc + ")"
		}
	}
	return out
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// The axes.
var (
	builtinModels = axis[func(input []int, classes int) (train.Model, error)]{"model", []choice[func([]int, int) (train.Model, error)]{
		{"lenet300100", "", train.LeNet300100},
		{"lenet5", "", train.LeNet5},
		{"conv2", "", train.Conv2},
		{"conv4", "", train.Conv4},
		{"conv6", "", train.Conv6},
	}}
	inits = axis[train.Initializer]{"init", []choice[train.Initializer]{
		{"glorot_normal", "", train.GlorotNormal{}},
		{"glorot_uniform", "", train.GlorotUniform{}},
		{"kaiming_normal", "", train.KaimingNormal{}},
	}}
	dtypes = axis[tensor.Dtype]{"dtype", []choice[tensor.Dtype]{
		{"float32", "", tensor.Float32},
		{"float64", "", tensor.Float64},
	}}
	optimizers = axis[func(lr, momentum float64) train.Optimizer]{"train.optimizer", []choice[func(float64, float64) train.Optimizer]{
		{"adam", "", func(lr, _ float64) train.Optimizer { return train.Adam{LR: lr} }},
		{"sgd", "", func(lr, _ float64) train.Optimizer { return train.SGD{LR: lr} }},
		{"momentum", "", func(lr, m float64) train.Optimizer { return train.Momentum{LR: lr, Momentum: m} }},
	}}
	// methods: nil build is IMP; the others prune at initialisation.
	methods = axis[*atInitMethod]{"prune.method", []choice[*atInitMethod]{
		{MethodIMP, "iterative magnitude pruning", nil},
		{MethodSNIP, "|w·g| at init", &atInitMethod{scores: snipScores}},
		{MethodGraSP, "w·Hg at init", &atInitMethod{scores: graspScores}},
		{MethodSynFlow, "data-free, iterative", &atInitMethod{scores: synflowScores, iterative: true}},
		{MethodMagnitude, "|w| at init", &atInitMethod{scores: magnitudeScores}},
		{MethodRandom, "random at init", &atInitMethod{scores: randomScores}},
	}}
	strategies = axis[func(s prune.Scorer, p Pruning, prunable []string) prune.Pruner]{"prune.strategy", []choice[func(prune.Scorer, Pruning, []string) prune.Pruner]{
		{"layerwise", "", func(s prune.Scorer, p Pruning, prunable []string) prune.Pruner {
			return prune.Layerwise{Scorer: s, Default: prune.Fraction(p.Rate), Amounts: layerRates(p, prunable)}
		}},
		{"global", "", func(s prune.Scorer, p Pruning, _ []string) prune.Pruner {
			return prune.Global{Scorer: s, Amount: prune.Fraction(p.Rate)}
		}},
	}}
	scorers = axis[func(r *runner, k Key) prune.Scorer]{"prune.scorer", []choice[func(*runner, Key) prune.Scorer]{
		{"l1", "", func(*runner, Key) prune.Scorer { return prune.L1{} }},
		{"l2", "", func(*runner, Key) prune.Scorer { return prune.L2{} }},
		{"random", "", func(r *runner, k Key) prune.Scorer {
			return prune.Random{Rand: newRand(r.exp.Seed, purposeScorer, k.Trial, k.Level, "")}
		}},
		{"taylor", "", func(*runner, Key) prune.Scorer { return prune.Taylor{} }},
	}}
	rewinds = axis[struct{}]{"rewind.to", []choice[struct{}]{
		{RewindInit, "", struct{}{}}, {RewindIteration, "", struct{}{}}, {RewindLR, "", struct{}{}}, {RewindFinetune, "", struct{}{}},
	}}
	// arms: the controls, in canonical order; each builds the masks of its
	// training from the ticket's (see runner.plan).
	arms = axis[armBuilder]{"control", []choice[armBuilder]{
		{ArmReinit, "ticket's mask, fresh initialisation", nil},
		{ArmRandom, "random mask, ticket's per-layer sparsity", randomArm},
		{ArmShuffle, "ticket's mask shuffled within each layer", shuffleArm},
		{ArmInvert, "lowest scores kept, ticket's per-layer counts", invertArm},
	}}
)

// Methods of pruning, the values of Pruning.Method.
const (
	// MethodIMP is iterative magnitude pruning (Frankle & Carbin 2019):
	// each level prunes the trained weights of the level before.
	MethodIMP = "imp"
	// MethodSNIP prunes at initialisation by |w·g|, g the gradient of the
	// loss (Lee et al. 2019).
	MethodSNIP = "snip"
	// MethodGraSP prunes at initialisation by w·Hg (Wang et al. 2020),
	// removing the weights of the largest −w·Hg.
	MethodGraSP = "grasp"
	// MethodSynFlow prunes at initialisation without data, over
	// Pruning.Rounds rounds (Tanaka et al. 2020).
	MethodSynFlow = "synflow"
	// MethodMagnitude prunes at initialisation by |w|.
	MethodMagnitude = "magnitude"
	// MethodRandom prunes at initialisation at random.
	MethodRandom = "random"
)

// Defaults of the methods at initialisation.
const (
	// DefaultRounds is SynFlow's number of rounds.
	DefaultRounds = 100
	// MaxRounds bounds Pruning.Rounds.
	MaxRounds = 100_000
	// DefaultInstabilityPoints is the number of points of an instability
	// path (OpenLTH's default).
	DefaultInstabilityPoints = 30
	// MaxInstabilityPoints bounds Experiment.InstabilityPoints.
	MaxInstabilityPoints = 10_000
)

// setting is one registered field of an Experiment.
type setting struct {
	key   string // JSON path, e.g. "train.iterations"
	flag  string // the example's flag; "" for none
	usage string
	// ptr returns a pointer to the field: *string, *int, *float64,
	// *uint64, *[]float64, *[]int, *[]string or *map[string]float64.
	ptr func(e *Experiment) any
	// def returns the default in the context of e (other settings already
	// defaulted), or nil when the field has none there (its zero value
	// stands). nil def: the default is the zero value.
	def func(e *Experiment) any
	// zero, when set, makes an explicit 0 in a JSON description (or a
	// flag) an error with this hint, unless zeroOK says otherwise.
	zero   string
	zeroOK func(e *Experiment) bool
	// check validates the field in the defaulted description.
	check func(d *Experiment) error
	// identity: the field decides the numbers and enters the hash.
	identity bool
	// choices lists the names the setting takes, for the usage text.
	choices func() []string
	// parse, when set, parses the flag's text into e (instead of the
	// field's kind).
	parse func(e *Experiment, s string) error
	// format, when set, writes the field as parse reads it back (instead
	// of the field's own value).
	format func(e *Experiment) string
}

func isIMP(e *Experiment) bool { return e.Prune.Method == "" || e.Prune.Method == MethodIMP }

func constDef(v any) func(*Experiment) any { return func(*Experiment) any { return v } }

func nonNegative(key string, get func(d *Experiment) int) func(d *Experiment) error {
	return func(d *Experiment) error {
		if v := get(d); v < 0 {
			return fmt.Errorf("lottery: %s %d is negative", key, v)
		}
		return nil
	}
}

// settings is the registry, in the order defaults are filled in (a default
// may depend on settings before it) and checks run.
var settings = []setting{
	{key: "model", flag: "model", usage: "`model`", identity: true,
		ptr: func(e *Experiment) any { return &e.Model }, def: constDef(DefaultModel),
		check:   func(d *Experiment) error { return checkModelName(d.Model) },
		choices: func() []string { return Models }},
	{key: "graph", identity: true, ptr: func(e *Experiment) any { return &e.Graph },
		check: func(d *Experiment) error {
			if d.Graph != "" && !isCustom(d.Model) {
				return fmt.Errorf("lottery: graph is set but model %q is built in (graph fingerprints a user's model)", d.Model)
			}
			return nil
		}},
	{key: "init", flag: "init", usage: "`initialiser` of the weights (default: the model's, Glorot normal)", identity: true,
		ptr: func(e *Experiment) any { return &e.Init },
		check: func(d *Experiment) error {
			if d.Init == "" {
				return nil
			}
			if err := inits.check(d.Init); err != nil {
				return fmt.Errorf("lottery: init %q is not %s", d.Init, orList(inits.names()))
			}
			return nil
		},
		choices: inits.names},
	{key: "dtype", flag: "dtype", usage: "`dtype` of the weights", identity: true,
		ptr: func(e *Experiment) any { return &e.Dtype }, def: constDef("float32"),
		check: func(d *Experiment) error {
			if dtypes.check(d.Dtype) != nil {
				return fmt.Errorf("lottery: dtype %q is not %s", d.Dtype, orList(dtypes.names()))
			}
			return nil
		},
		choices: dtypes.names},
	{key: "data.source", flag: "data", usage: "data `source`: digits (embedded) or a folder of MNIST-format IDX files", identity: true,
		ptr: func(e *Experiment) any { return &e.Data.Source }, def: constDef(DefaultSource)},
	{key: "data.val", flag: "val", usage: "`N` training examples held out for early stopping, -1 for none (default: 300 for digits, 5000 for a folder)", identity: true,
		ptr: func(e *Experiment) any { return &e.Data.Val },
		def: func(e *Experiment) any {
			switch {
			case isCustom(e.Data.Source):
				return nil
			case e.Data.Source == DefaultSource:
				return DefaultDigitsVal
			}
			return DefaultFolderVal
		},
		zero: "a positive count of examples, or -1 for no validation set",
		check: func(d *Experiment) error {
			if d.Data.Val < -1 {
				return fmt.Errorf("lottery: data.val %d: want a count of examples, or -1 for none", d.Data.Val)
			}
			return nil
		}},
	{key: "data.seed", usage: "seed of the validation split", identity: true, ptr: func(e *Experiment) any { return &e.Data.Seed }},
	{key: "train.iterations", flag: "iterations", usage: "training `steps` per level", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.Iterations }, def: constDef(DefaultIterations),
		zero: "a positive number of steps", check: nonNegative("train.iterations", func(d *Experiment) int { return d.Train.Iterations })},
	{key: "train.batch", flag: "batch", usage: "mini-batch `size`", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.Batch }, def: constDef(DefaultBatch),
		zero: "a positive batch size",
		check: func(d *Experiment) error {
			if t := d.Train; t.Batch < 0 || t.Batch > train.MaxBatch {
				return fmt.Errorf("lottery: train.batch %d is not in [1, %d]", t.Batch, train.MaxBatch)
			}
			return nil
		}},
	{key: "train.optimizer", flag: "optimizer", usage: "`optimizer`", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.Optimizer }, def: constDef(DefaultOptimizer),
		check: func(d *Experiment) error { return optimizers.check(d.Train.Optimizer) }, choices: optimizers.names},
	{key: "train.lr", flag: "lr", usage: "learning `rate` (default: 1.2e-3 for adam, 0.1 for sgd and momentum)", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.LR },
		def: func(e *Experiment) any { return defaultLR(e.Train.Optimizer) }, zero: "a positive learning rate",
		check: func(d *Experiment) error {
			if lr := d.Train.LR; !(lr > 0) || math.IsInf(lr, 0) {
				return fmt.Errorf("lottery: train.lr %v is not a positive number", lr)
			}
			return nil
		}},
	{key: "train.momentum", usage: "momentum of the momentum optimizer", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.Momentum },
		def: func(e *Experiment) any {
			if e.Train.Optimizer == "momentum" {
				return DefaultMomentum
			}
			return nil
		},
		zero: "a momentum in (0, 1)", zeroOK: func(e *Experiment) bool { return e.Train.Optimizer != "momentum" },
		check: func(d *Experiment) error {
			t := d.Train
			if t.Optimizer == "momentum" {
				if !(t.Momentum > 0 && t.Momentum < 1) {
					return fmt.Errorf("lottery: train.momentum %v is not in (0, 1)", t.Momentum)
				}
			} else if t.Momentum != 0 {
				return fmt.Errorf("lottery: train.momentum is set but optimizer %q has no momentum", t.Optimizer)
			}
			return nil
		}},
	{key: "train.warmup", usage: "steps of linear warm-up", identity: true, ptr: func(e *Experiment) any { return &e.Train.Warmup },
		check: nonNegative("train.warmup", func(d *Experiment) int { return d.Train.Warmup })},
	{key: "train.lr_drop_every", usage: "steps between learning-rate drops", identity: true, ptr: func(e *Experiment) any { return &e.Train.LRDropEvery },
		check: nonNegative("train.lr_drop_every", func(d *Experiment) int { return d.Train.LRDropEvery })},
	{key: "train.lr_gamma", usage: "factor of each drop", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.LRGamma },
		def: func(e *Experiment) any {
			if e.Train.LRDropEvery != 0 {
				return DefaultLRGamma
			}
			return nil
		},
		zero: "a factor in (0, 1]",
		check: func(d *Experiment) error {
			t := d.Train
			if t.LRDropEvery == 0 && t.LRGamma != 0 {
				return fmt.Errorf("lottery: train.lr_gamma is set but train.lr_drop_every is 0 (the rate never drops)")
			}
			if t.LRDropEvery != 0 && !(t.LRGamma > 0 && t.LRGamma <= 1) {
				return fmt.Errorf("lottery: train.lr_gamma %v is not in (0, 1]", t.LRGamma)
			}
			return nil
		}},
	{key: "train.eval_every", flag: "eval-every", usage: "evaluate every `N` steps", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.EvalEvery }, def: constDef(DefaultEvalEvery),
		zero: "a positive number of steps", check: nonNegative("train.eval_every", func(d *Experiment) int { return d.Train.EvalEvery })},
	{key: "train.dropout", flag: "dropout", usage: "dropout `probability` of the hidden fully connected units while training (built-in models)", identity: true,
		ptr: func(e *Experiment) any { return &e.Train.Dropout },
		check: func(d *Experiment) error {
			if p := d.Train.Dropout; !(p >= 0 && p < 1) {
				return fmt.Errorf("lottery: train.dropout %v is not in [0, 1)", p)
			}
			if d.Train.Dropout != 0 && isCustom(d.Model) {
				return fmt.Errorf("lottery: train.dropout applies to the built-in models; model %q calls train.Dropout in its Forward itself", d.Model)
			}
			return nil
		}},
	{key: "prune.method", flag: "strategy", usage: "pruning `strategy`", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Method }, def: constDef(MethodIMP),
		check: func(d *Experiment) error { return methods.check(d.Prune.Method) }, choices: func() []string { return methods.docs() }},
	{key: "prune.strategy", usage: "layerwise or global ranking", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Strategy },
		def: func(e *Experiment) any {
			if isIMP(e) {
				return "layerwise"
			}
			return "global"
		},
		check: func(d *Experiment) error {
			if err := strategies.check(d.Prune.Strategy); err != nil {
				return err
			}
			if !isIMP(d) && d.Prune.Strategy != "global" {
				return fmt.Errorf("lottery: prune.strategy %q: method %q ranks all prunable weights together (global)", d.Prune.Strategy, d.Prune.Method)
			}
			return nil
		}},
	{key: "prune.rate", flag: "rate", usage: "`fraction` of the still-kept weights pruned at each IMP level", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Rate },
		def: func(e *Experiment) any {
			if isIMP(e) {
				return DefaultRate
			}
			return nil
		},
		zero: "a rate in (0, 1)",
		check: func(d *Experiment) error {
			if !isIMP(d) {
				return atInitUnset(d, "prune.rate", d.Prune.Rate != 0)
			}
			if !validRate(d.Prune.Rate) || d.Prune.Rate == 0 {
				return fmt.Errorf("lottery: prune.rate %v is not in (0, 1)", d.Prune.Rate)
			}
			return nil
		}},
	{key: "prune.output_rate", usage: "rate of the output layer (layerwise)", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.OutputRate },
		def: func(e *Experiment) any {
			if isIMP(e) && e.Prune.Strategy == "layerwise" {
				return DefaultOutputRate
			}
			return nil
		},
		zero: "a rate in (0, 1); prune.rates with the output layer's name at 0 leaves it unpruned",
		check: func(d *Experiment) error {
			p := d.Prune
			if !isIMP(d) {
				return atInitUnset(d, "prune.output_rate", p.OutputRate != 0)
			}
			if p.Strategy == "global" {
				if p.OutputRate != 0 {
					return fmt.Errorf("lottery: prune.output_rate is set but the global strategy has one rate (use layerwise)")
				}
			} else if !validRate(p.OutputRate) {
				return fmt.Errorf("lottery: prune.output_rate %v is not in [0, 1)", p.OutputRate)
			}
			return nil
		}},
	{key: "prune.rates", usage: "per-tensor rates (layerwise)", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Rates },
		check: func(d *Experiment) error {
			p := d.Prune
			if !isIMP(d) {
				return atInitUnset(d, "prune.rates", len(p.Rates) != 0)
			}
			if p.Strategy == "global" {
				if len(p.Rates) != 0 {
					return fmt.Errorf("lottery: prune.rates is set but the global strategy has one rate (use layerwise)")
				}
				return nil
			}
			for _, name := range slices.Sorted(maps.Keys(p.Rates)) {
				if r := p.Rates[name]; !validRate(r) {
					return fmt.Errorf("lottery: prune.rates[%q] %v is not in [0, 1)", name, r)
				}
			}
			return nil
		}},
	{key: "prune.params", usage: "names of the pruned tensors", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Params },
		check: func(d *Experiment) error {
			seen := map[string]bool{}
			for _, n := range d.Prune.Params {
				if n == "" || seen[n] {
					return fmt.Errorf("lottery: prune.params: name %q is empty or listed twice", n)
				}
				seen[n] = true
			}
			return nil
		}},
	{key: "prune.scorer", flag: "scorer", usage: "IMP's pruning `scorer` (taylor: |w·g|)", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Scorer },
		def: func(e *Experiment) any {
			if isIMP(e) {
				return "l1"
			}
			return nil
		},
		check: func(d *Experiment) error {
			if !isIMP(d) {
				return atInitUnset(d, "prune.scorer", d.Prune.Scorer != "")
			}
			return scorers.check(d.Prune.Scorer)
		},
		choices: scorers.names},
	{key: "prune.sparsity", flag: "sparsity", usage: "target sparsities `list` of a strategy at initialisation, one per level, e.g. 0.5,0.8,0.9,0.96,0.99,0.998", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Sparsity },
		check: func(d *Experiment) error {
			p := d.Prune
			if isIMP(d) {
				if len(p.Sparsity) != 0 {
					return fmt.Errorf("lottery: prune.sparsity is set but prune.method is %q, which prunes prune.rate a level (choose a method at initialisation, or leave prune.sparsity out)", MethodIMP)
				}
				return nil
			}
			if len(p.Sparsity) == 0 {
				return fmt.Errorf("lottery: prune.method %q needs prune.sparsity, the target sparsity of each level", p.Method)
			}
			for i, s := range p.Sparsity {
				if !(s >= 0 && s < 1) {
					return fmt.Errorf("lottery: prune.sparsity[%d] %v is not in [0, 1)", i, s)
				}
			}
			return nil
		}},
	{key: "prune.rounds", flag: "rounds", usage: "pruning `rounds` of synflow (default 100)", identity: true,
		ptr: func(e *Experiment) any { return &e.Prune.Rounds },
		def: func(e *Experiment) any {
			if e.Prune.Method == MethodSynFlow {
				return DefaultRounds
			}
			return nil
		},
		zero: "a positive number of rounds",
		check: func(d *Experiment) error {
			p := d.Prune
			if p.Method != MethodSynFlow {
				if p.Rounds != 0 {
					return fmt.Errorf("lottery: prune.rounds is set but prune.method is %q (only synflow prunes in rounds)", p.Method)
				}
				return nil
			}
			if p.Rounds < 1 || p.Rounds > MaxRounds {
				return fmt.Errorf("lottery: prune.rounds %d is not in [1, %d]", p.Rounds, MaxRounds)
			}
			return nil
		}},
	{key: "rewind.to", flag: "rewind", usage: "rewinding `mode`: init, K (an iteration), lr or finetune", identity: true,
		ptr: func(e *Experiment) any { return &e.Rewind.To }, def: constDef(RewindInit),
		parse: func(e *Experiment, s string) error {
			r, err := ParseRewind(s)
			if err != nil {
				return err
			}
			r.FinetuneLR = e.Rewind.FinetuneLR
			if r.To != RewindFinetune {
				r.FinetuneLR = 0
			}
			e.Rewind = r
			return nil
		},
		// Rewinding to iteration K reads and writes as K, as the flag takes it.
		format: func(e *Experiment) string {
			if e.Rewind.To == RewindIteration {
				return strconv.Itoa(e.Rewind.Iteration)
			}
			return e.Rewind.To
		},
		check: func(d *Experiment) error {
			if err := rewinds.check(d.Rewind.To); err != nil {
				return fmt.Errorf("lottery: rewind.to %q is not init, iteration, lr or finetune", d.Rewind.To)
			}
			if !isIMP(d) && d.Rewind.To != RewindInit {
				return fmt.Errorf("lottery: rewind.to %q: method %q trains from initialisation (leave rewind out)", d.Rewind.To, d.Prune.Method)
			}
			return nil
		}},
	{key: "rewind.iteration", usage: "step rewound to", identity: true,
		ptr: func(e *Experiment) any { return &e.Rewind.Iteration },
		check: func(d *Experiment) error {
			r, t := d.Rewind, d.Train
			if r.To == RewindIteration {
				if r.Iteration < 1 || r.Iteration >= t.Iterations {
					return fmt.Errorf("lottery: rewind.iteration %d is not in [1, %d) (train.iterations)", r.Iteration, t.Iterations)
				}
			} else if r.Iteration != 0 {
				return fmt.Errorf("lottery: rewind.iteration is set but rewind.to is %q (use %q)", r.To, RewindIteration)
			}
			return nil
		}},
	{key: "rewind.finetune_lr", usage: "learning rate of fine-tuning", identity: true,
		ptr: func(e *Experiment) any { return &e.Rewind.FinetuneLR },
		def: func(e *Experiment) any {
			if e.Rewind.To == RewindFinetune {
				return e.Train.LR / 10
			}
			return nil
		},
		zero: "a positive learning rate",
		check: func(d *Experiment) error {
			r := d.Rewind
			if r.To == RewindFinetune {
				if !(r.FinetuneLR > 0) || math.IsInf(r.FinetuneLR, 0) {
					return fmt.Errorf("lottery: rewind.finetune_lr %v is not a positive number", r.FinetuneLR)
				}
			} else if r.FinetuneLR != 0 {
				return fmt.Errorf("lottery: rewind.finetune_lr is set but rewind.to is %q", r.To)
			}
			return nil
		}},
	{key: "seed", flag: "seed", usage: "experiment `seed`", identity: true, ptr: func(e *Experiment) any { return &e.Seed }},
	{key: "levels", flag: "levels", usage: "pruning `levels` after the dense level 0 (default for a strategy at initialisation: one per sparsity)",
		ptr: func(e *Experiment) any { return &e.Levels },
		def: func(e *Experiment) any {
			if !isIMP(e) && len(e.Prune.Sparsity) > 0 {
				return len(e.Prune.Sparsity)
			}
			return nil
		},
		check: func(d *Experiment) error {
			if d.Levels < 0 || d.Levels > MaxLevels {
				return fmt.Errorf("lottery: levels %d is not in [0, %d]", d.Levels, MaxLevels)
			}
			if !isIMP(d) && d.Levels > len(d.Prune.Sparsity) {
				return fmt.Errorf("lottery: levels %d is more than the %d values of prune.sparsity", d.Levels, len(d.Prune.Sparsity))
			}
			return nil
		}},
	{key: "trials", flag: "trials", usage: "number of `trials` (seeds)",
		ptr: func(e *Experiment) any { return &e.Trials }, def: constDef(1), zero: "at least 1 trial",
		check: func(d *Experiment) error {
			if d.Trials < 0 || d.Trials > MaxTrials {
				return fmt.Errorf("lottery: trials %d is not in [1, %d]", d.Trials, MaxTrials)
			}
			if n := d.Trials * (d.Levels + 1) * (1 + len(d.Controls)); n > MaxTrainings {
				return fmt.Errorf("lottery: %d trials × %d levels × %d arms are %d trainings, more than %d", d.Trials, d.Levels+1, 1+len(d.Controls), n, MaxTrainings)
			}
			return nil
		}},
	{key: "controls", flag: "controls", usage: "control arms `list` (comma-separated) or none",
		ptr: func(e *Experiment) any { return &e.Controls },
		parse: func(e *Experiment, s string) error {
			c, err := ParseControls(s)
			e.Controls = c
			return err
		},
		check: func(d *Experiment) error {
			for _, c := range d.Controls {
				if arms.check(c) != nil {
					return fmt.Errorf("lottery: control %q is not %s", c, orList(arms.names()))
				}
			}
			return nil
		},
		choices: func() []string { return arms.docs() }},
	{key: "instability", flag: "instability", usage: "instability analysis from rewind points `K,K,...` (steps) at every level",
		ptr: func(e *Experiment) any { return &e.Instability },
		check: func(d *Experiment) error {
			for i, k := range d.Instability {
				if k < 0 || k >= d.Train.Iterations {
					return fmt.Errorf("lottery: instability point k=%d is not in [0, %d) (train.iterations)", k, d.Train.Iterations)
				}
				if i > 0 && d.Instability[i-1] == k {
					return fmt.Errorf("lottery: instability point k=%d is listed twice", k)
				}
			}
			if n := d.Trials * (d.Levels + 1) * 2 * len(d.Instability); n > MaxTrainings {
				return fmt.Errorf("lottery: the instability analysis needs %d trainings, more than %d", n, MaxTrainings)
			}
			return nil
		}},
	{key: "instability_points", flag: "instability-points", usage: "`N` points of the instability path (default 30)",
		ptr: func(e *Experiment) any { return &e.InstabilityPoints },
		def: func(e *Experiment) any {
			if len(e.Instability) > 0 {
				return DefaultInstabilityPoints
			}
			return nil
		},
		zero: "at least 2 points",
		check: func(d *Experiment) error {
			if len(d.Instability) == 0 {
				if d.InstabilityPoints != 0 {
					return fmt.Errorf("lottery: instability_points is set but instability lists no rewind point")
				}
				return nil
			}
			if d.InstabilityPoints < 2 || d.InstabilityPoints > MaxInstabilityPoints {
				return fmt.Errorf("lottery: instability_points %d is not in [2, %d]", d.InstabilityPoints, MaxInstabilityPoints)
			}
			return nil
		}},
	{key: "workers", flag: "workers", usage: "`N` trainings at once (0: one per CPU)",
		ptr: func(e *Experiment) any { return &e.Workers }, check: nonNegative("workers", func(d *Experiment) int { return d.Workers })},
}

// atInitUnset reports a setting of IMP given to a method at initialisation.
func atInitUnset(d *Experiment, key string, set bool) error {
	if set {
		return fmt.Errorf("lottery: %s is set but prune.method %q prunes once, to prune.sparsity (leave %s out)", key, d.Prune.Method, key)
	}
	return nil
}

func lookupSetting(key string) (*setting, bool) {
	for i := range settings {
		if settings[i].key == key {
			return &settings[i], true
		}
	}
	return nil, false
}

// isZeroValue reports whether the field p points to holds its zero value
// (an empty list or map counts as zero).
func isZeroValue(p any) bool {
	switch v := p.(type) {
	case *string:
		return *v == ""
	case *int:
		return *v == 0
	case *float64:
		return *v == 0
	case *uint64:
		return *v == 0
	case *[]float64:
		return len(*v) == 0
	case *[]string:
		return len(*v) == 0
	case *[]int:
		return len(*v) == 0
	case *map[string]float64:
		return len(*v) == 0
	}
	panic(fmt.Sprintf("lottery: setting of type %T", p))
}

// setValue stores v (of the field's type) into the field p points to.
func setValue(p, v any) {
	switch f := p.(type) {
	case *string:
		*f = v.(string)
	case *int:
		*f = v.(int)
	case *float64:
		*f = v.(float64)
	case *uint64:
		*f = v.(uint64)
	default:
		panic(fmt.Sprintf("lottery: default of a %T setting", p))
	}
}

// equalValue reports whether the field p points to holds v.
func equalValue(p, v any) bool {
	switch f := p.(type) {
	case *string:
		return *f == v.(string)
	case *int:
		return *f == v.(int)
	case *float64:
		return *f == v.(float64)
	case *uint64:
		return *f == v.(uint64)
	}
	return false
}

// clearValue sets the field p points to to its zero value.
func clearValue(p any) {
	switch f := p.(type) {
	case *string:
		*f = ""
	case *int:
		*f = 0
	case *float64:
		*f = 0
	case *uint64:
		*f = 0
	case *[]float64:
		*f = nil
	case *[]string:
		*f = nil
	case *[]int:
		*f = nil
	case *map[string]float64:
		*f = nil
	}
}

// formatValue returns the field's value as flag text.
func formatValue(p any) string {
	switch v := p.(type) {
	case *string:
		return *v
	case *int:
		return strconv.Itoa(*v)
	case *float64:
		return strconv.FormatFloat(*v, 'g', -1, 64)
	case *uint64:
		return strconv.FormatUint(*v, 10)
	case *[]float64:
		s := make([]string, len(*v))
		for i, x := range *v {
			s[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return strings.Join(s, ",")
	case *[]string:
		return strings.Join(*v, ",")
	case *[]int:
		s := make([]string, len(*v))
		for i, x := range *v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	case *map[string]float64:
		var s []string
		for _, k := range slices.Sorted(maps.Keys(*v)) {
			s = append(s, k+"="+strconv.FormatFloat((*v)[k], 'g', -1, 64))
		}
		return strings.Join(s, ",")
	}
	return ""
}

// parseValue parses flag text into the field p points to.
func parseValue(p any, key, s string) error {
	switch f := p.(type) {
	case *string:
		*f = s
	case *int:
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("lottery: %s %q is not an integer", key, s)
		}
		*f = v
	case *float64:
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("lottery: %s %q is not a finite number", key, s)
		}
		*f = v
	case *uint64:
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("lottery: %s %q is not a non-negative integer", key, s)
		}
		*f = v
	case *[]float64:
		*f = nil
		if strings.TrimSpace(s) == "" {
			return nil
		}
		for _, x := range strings.Split(s, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("lottery: %s: %q is not a finite number", key, x)
			}
			*f = append(*f, v)
		}
	case *[]int:
		*f = nil
		if strings.TrimSpace(s) == "" {
			return nil
		}
		for _, x := range strings.Split(s, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return fmt.Errorf("lottery: %s: %q is not an integer", key, x)
			}
			*f = append(*f, v)
		}
	case *[]string:
		*f = nil
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				*f = append(*f, x)
			}
		}
	default:
		return fmt.Errorf("lottery: %s cannot be set from text", key)
	}
	return nil
}

// Setting describes one registered setting of an Experiment, for programs
// that build flags or forms from the registry (the example does).
type Setting struct {
	// Key is the setting's JSON path, e.g. "train.iterations".
	Key string
	// Flag is the example's flag name, or "" for a setting without a flag.
	Flag string
	// Usage is a one-line description; a word in backquotes names the
	// flag's argument, as in package flag.
	Usage string
	// Choices lists the names the setting takes (with a short gloss in
	// parentheses where one helps), empty for a free value.
	Choices []string
	// Identity says whether the setting decides the numbers (it enters the
	// hash) or only how much of the sweep runs and how.
	Identity bool
}

// Settings returns every setting of an Experiment, in registry order.
func Settings() []Setting {
	out := make([]Setting, len(settings))
	for i, s := range settings {
		out[i] = Setting{Key: s.key, Flag: s.flag, Usage: s.usage, Identity: s.identity}
		if s.choices != nil {
			out[i].Choices = s.choices()
		}
	}
	return out
}

// Get returns the value of the setting key in e as text (a list
// comma-separated), as Set reads it.
func (e Experiment) Get(key string) (string, error) {
	s, ok := lookupSetting(key)
	if !ok {
		return "", fmt.Errorf("lottery: no setting %q", key)
	}
	if s.format != nil {
		return s.format(&e), nil
	}
	return formatValue(s.ptr(&e)), nil
}

// Set parses text into the setting key of e, as a flag does. A value of 0
// for a setting whose default is not 0 is an error naming it (leave the
// setting alone for its default), like an explicit 0 in a JSON
// description. Set checks the syntax only; Validate checks the value.
func (e *Experiment) Set(key, text string) error {
	s, ok := lookupSetting(key)
	if !ok {
		return fmt.Errorf("lottery: no setting %q", key)
	}
	if s.parse != nil {
		return s.parse(e, text)
	}
	p := s.ptr(e)
	if err := parseValue(p, key, text); err != nil {
		return err
	}
	if s.zero != "" && isZeroValue(p) && (s.zeroOK == nil || !s.zeroOK(e)) {
		switch p.(type) {
		case *int, *float64:
			return fmt.Errorf("lottery: %s is 0: want %s, or leave %s out for its default", key, s.zero, key)
		}
	}
	return nil
}

// armBuilder makes the masks of a control arm from the ticket's (nil for
// reinit, which keeps the ticket's mask).
type armBuilder func(r *runner, k Key, ticket *prune.Masks, params []prune.Param) (*prune.Masks, error)
