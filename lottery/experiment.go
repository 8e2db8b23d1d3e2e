package lottery

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Arms of an experiment: the ticket and its two controls.
const (
	// ArmTicket is the winning ticket: the pruned network, rewound and
	// retrained. Only the ticket feeds the next level.
	ArmTicket = "ticket"
	// ArmReinit is the control with the ticket's mask and a fresh random
	// initialisation (Frankle & Carbin 2019, "random reinitialization").
	ArmReinit = "reinit"
	// ArmRandom is the control with a random mask of the ticket's per-layer
	// sparsity and the ticket's starting weights ("random pruning").
	ArmRandom = "random"
	// ArmShuffle is the ablation of Frankle et al. (2021, "Pruning neural
	// networks at initialization: why are we missing the mark?"): the
	// ticket's mask shuffled within each layer (the same count kept per
	// layer, at random places), with the ticket's starting weights. It is
	// distributed as ArmRandom is, from a stream of its own.
	ArmShuffle = "shuffle"
	// ArmInvert is their inversion ablation: within each layer, the same
	// number of weights kept as the ticket keeps, but those the strategy's
	// scores rank lowest (the scores inverted), with the ticket's starting
	// weights.
	ArmInvert = "invert"
)

// Arms lists the control arms an Experiment's Controls may name, in their
// canonical order.
var Arms = arms.names()

// Rewinding modes, the values of Rewind.To.
const (
	// RewindInit rewinds the surviving weights to their values at
	// initialisation (Frankle & Carbin 2019).
	RewindInit = "init"
	// RewindIteration rewinds them to their values after Rewind.Iteration
	// steps of the dense training and resumes the schedule there (Frankle et
	// al. 2020, "Linear mode connectivity and the lottery ticket hypothesis").
	RewindIteration = "iteration"
	// RewindLR keeps the trained weights and replays the whole learning-rate
	// schedule with a fresh optimizer (Renda et al. 2020, learning-rate
	// rewinding).
	RewindLR = "lr"
	// RewindFinetune keeps the trained weights and trains them on at a small
	// constant learning rate: the fine-tuning baseline.
	RewindFinetune = "finetune"
)

// Defaults of the zero-valued fields of an Experiment. They are the
// LeNet-300-100 protocol of Frankle & Carbin (2019) on the embedded digits
// data set.
const (
	DefaultModel      = "lenet300100"
	DefaultSource     = "digits"
	DefaultIterations = 50000
	DefaultBatch      = 60
	DefaultOptimizer  = "adam"
	DefaultAdamLR     = 1.2e-3
	DefaultSGDLR      = 0.1
	DefaultMomentum   = 0.9
	DefaultEvalEvery  = 100
	DefaultRate       = 0.2
	DefaultOutputRate = 0.1
	DefaultDigitsVal  = 300
	DefaultFolderVal  = 5000
	DefaultLRGamma    = 0.1
)

// Bounds on the extent of an experiment, checked by Validate before
// anything is allocated: a sweep larger than this is a typo, not a plan.
const (
	// MaxTrials bounds Experiment.Trials.
	MaxTrials = 100_000
	// MaxLevels bounds Experiment.Levels (at the smallest rate a level
	// may prune, far fewer levels already leave no weight).
	MaxLevels = 10_000
	// MaxTrainings bounds the trainings of a sweep: Trials × (Levels+1) ×
	// the arms of a level.
	MaxTrainings = 10_000_000
)

// Experiment describes a lottery-ticket experiment. It round-trips through
// JSON; every zero-valued field means its documented default, so {} is a
// complete description: the LeNet-300-100 settings of Frankle & Carbin 2019
// on the embedded digits data, one trial, level 0 alone. Set Levels to
// prune.
//
// Explicit zeros: in Go a field left zero takes its default. In a JSON
// description (ParseExperiment, ReadExperiment) only a field left out takes
// it: writing 0 for a field whose default is not 0 ("iterations": 0,
// "trials": 0, "val": 0, "rate": 0, ...) is an error naming the field,
// since 0 steps or 0 trials is never what such a file means. The hash is
// computed from the values, so leaving such a field out keeps the hash of
// older descriptions.
//
// The fields fall in two groups. Model, Init, Dtype, Data, Train, Prune,
// Rewind and Seed decide the numbers of every (trial, level, arm): they make
// up the Hash, under which results are stored. Levels, Trials, Controls and
// Workers only say how much of the sweep to run and how: changing them
// keeps the hash, so a run with more levels or trials reuses every level
// already finished.
type Experiment struct {
	// Model names a built-in model: "lenet300100" (the default),
	// "mlp:300,100" (a multilayer perceptron with those hidden sizes),
	// "lenet5", "conv2", "conv4" or "conv6". With Options.Model set (a
	// user's own train.Model) it is only a label, "custom:" and the model's
	// Name by default.
	Model string `json:"model,omitempty"`
	// Init replaces the initialiser of every prunable weight:
	// "glorot_normal", "glorot_uniform" or "kaiming_normal". Empty keeps
	// the model's own.
	Init string `json:"init,omitempty"`
	// Dtype is "float32" (the default) or "float64".
	Dtype string `json:"dtype,omitempty"`
	// Data says where the examples come from.
	Data Data `json:"data,omitzero"`
	// Train holds the training settings of every level.
	Train Training `json:"train,omitzero"`
	// Prune says what is pruned at each level, and how much.
	Prune Pruning `json:"prune,omitzero"`
	// Rewind says which weights the survivors start the next level from.
	Rewind Rewind `json:"rewind,omitzero"`
	// Seed is the root of every random choice: trial t's initialisation,
	// data order, controls and random scores derive from (Seed, t, level,
	// arm). The default is 0.
	Seed uint64 `json:"seed,omitempty"`
	// Graph is the fingerprint (train.Fingerprint) of the graph of a
	// user's model (Options.Model): Run fills it in from the model and
	// refuses a description whose Graph differs, so that results of a
	// model whose Forward changed are never reused, even under the same
	// label. It stays empty for the built-in models, whose names pin their
	// graphs (their hashes are those of earlier versions).
	Graph string `json:"graph,omitempty"`

	// Levels is the number of pruning levels after level 0 (the dense
	// network): levels 0 to Levels are run. 0 runs level 0 alone.
	Levels int `json:"levels,omitempty"`
	// Trials is the number of trials (replicates), numbered from 0. 0 means 1.
	Trials int `json:"trials,omitempty"`
	// Controls lists the control arms to run at every level from 1 on:
	// "reinit" and/or "random". Empty runs the ticket alone.
	Controls []string `json:"controls,omitempty"`
	// Instability lists the rewind points k of the instability analysis
	// (Frankle et al. 2020, "Linear mode connectivity and the lottery
	// ticket hypothesis"), each in [0, Train.Iterations): at every level,
	// the ticket's mask (all weights at level 0) with the weights of the
	// dense training after k steps is trained twice from step k, on two
	// data orders, and the linear path between the two results is
	// evaluated on the test set at InstabilityPoints points (see
	// Results.Instability). Empty runs none. Like Levels it is an extent,
	// outside the hash.
	Instability []int `json:"instability,omitempty"`
	// InstabilityPoints is the number of evenly spaced points of the path,
	// its ends included. 0 means 30.
	InstabilityPoints int `json:"instability_points,omitempty"`
	// Workers bounds how many trainings run at once. 0 means one per CPU
	// (GOMAXPROCS), at most the number of trainings that can run at once.
	// It never changes the numbers.
	Workers int `json:"workers,omitempty"`
}

// Data says where an experiment's examples come from.
type Data struct {
	// Source is "digits" (the embedded UCI digits, the default) or a folder
	// of MNIST-format IDX files (MNIST, Fashion-MNIST). A folder path enters
	// the hash as written: shards on several machines must see the data at
	// the same path. With Options.Data set it is only a label ("custom" by
	// default).
	Source string `json:"source,omitempty"`
	// Val is the number of training examples held out for validation (early
	// stopping). 0 means 300 for digits and 5000 for a folder; -1 means no
	// validation set (the early-stopping point is then the last evaluation).
	Val int `json:"val,omitempty"`
	// Seed chooses the held-out examples. The default is 0.
	Seed uint64 `json:"seed,omitempty"`
}

// Training holds the training settings of every level.
type Training struct {
	// Iterations is the number of optimizer steps of each level. 0 means
	// DefaultIterations (50,000).
	Iterations int `json:"iterations,omitempty"`
	// Batch is the mini-batch size. 0 means 60.
	Batch int `json:"batch,omitempty"`
	// Optimizer is "adam" (the default), "sgd" or "momentum".
	Optimizer string `json:"optimizer,omitempty"`
	// LR is the base learning rate. 0 means 1.2e-3 for Adam and 0.1 for
	// SGD and momentum.
	LR float64 `json:"lr,omitempty"`
	// Momentum is the momentum of the "momentum" optimizer. 0 means 0.9.
	// It must stay 0 for the others.
	Momentum float64 `json:"momentum,omitempty"`
	// Warmup is the number of steps over which the learning rate rises
	// linearly to LR. 0 means none.
	Warmup int `json:"warmup,omitempty"`
	// LRDropEvery multiplies the learning rate by LRGamma every that many
	// steps. 0 means a constant rate.
	LRDropEvery int `json:"lr_drop_every,omitempty"`
	// LRGamma is the factor of each drop. 0 means 0.1; it must stay 0
	// unless LRDropEvery is set.
	LRGamma float64 `json:"lr_gamma,omitempty"`
	// Dropout is the probability of dropping each unit of a hidden fully
	// connected layer at each training step (train.WithDropout; seeded,
	// inverted, training only), in [0, 1). 0 (the default) means none. It
	// applies to the built-in models; a user's model calls train.Dropout
	// itself.
	Dropout float64 `json:"dropout,omitempty"`
	// EvalEvery is the number of steps between evaluations on the
	// validation and test sets (and at the end). 0 means 100.
	EvalEvery int `json:"eval_every,omitempty"`
}

// Pruning says what each level prunes, and how much.
type Pruning struct {
	// Strategy is "layerwise" (the default: each prunable tensor loses its
	// own fraction of the weights it still has) or "global" (one ranking
	// over all prunable tensors).
	Strategy string `json:"strategy,omitempty"`
	// Rate is the fraction of the still-kept weights pruned at each level:
	// of each tensor (layerwise), or of all of them (global). 0 means 0.2.
	// Counts are rounded half to even, as prune.Fraction.
	Rate float64 `json:"rate,omitempty"`
	// OutputRate is the rate of the last prunable tensor, the output layer
	// (layerwise only). 0 means 0.1, the paper's rate.
	OutputRate float64 `json:"output_rate,omitempty"`
	// Rates overrides the rate of the named tensors (layerwise only); it wins
	// over OutputRate. A rate of 0 leaves a tensor unpruned.
	Rates map[string]float64 `json:"rates,omitempty"`
	// Params names the tensors that are pruned. Empty means those the model
	// marks prunable (its weights, not its biases).
	Params []string `json:"params,omitempty"`
	// Method is the pruning method: "imp" (the default: iterative
	// magnitude pruning, level after level at Rate, per Strategy and
	// Scorer) or one that prunes once at initialisation, before training:
	// "snip", "grasp", "synflow", "magnitude" or "random" (see
	// MethodSNIP and the others). A method at initialisation ranks all
	// prunable weights together (Strategy "global", its default there),
	// prunes level l to Sparsity[l-1] from the trial's initial weights, and
	// trains the result from those weights; Rate, OutputRate, Rates and
	// Scorer stay unset and Rewind at init. The example's -strategy flag
	// sets it.
	Method string `json:"method,omitempty"`
	// Sparsity lists the target sparsities (fractions of the prunable
	// weights removed, each in [0, 1)) of a method at initialisation, one
	// per level from 1: levels 1 to len(Sparsity) are run (Levels 0 means
	// all of them). It must stay empty with "imp".
	Sparsity []float64 `json:"sparsity,omitempty"`
	// Rounds is the number of pruning rounds of "synflow", on the
	// exponential schedule of Tanaka et al. (2020): round r of R keeps
	// (1−s)^(r/R) of the weights. 0 means 100, their default; it must stay
	// 0 for the other methods.
	Rounds int `json:"rounds,omitempty"`
	// Scorer ranks the weights: "l1" (magnitude, the default), "l2" (the
	// same ranking for single weights), "random" (seeded per trial and
	// level: random pruning as a strategy), or "taylor" (|w·g|, first-order
	// Taylor, Molchanov et al. 2019: g is the gradient of the training loss
	// at the trained weights, averaged over TaylorBatches batches drawn
	// from a seeded stream of the trial and level).
	Scorer string `json:"scorer,omitempty"`
}

// Rewind says which weights the survivors of a pruning start the next level
// from.
type Rewind struct {
	// To is RewindInit (the default), RewindIteration, RewindLR or
	// RewindFinetune.
	To string `json:"to,omitempty"`
	// Iteration is the step k rewound to, with To = RewindIteration. It
	// must lie in [1, Train.Iterations).
	Iteration int `json:"iteration,omitempty"`
	// FinetuneLR is the constant learning rate of RewindFinetune. 0 means a
	// tenth of Train.LR.
	FinetuneLR float64 `json:"finetune_lr,omitempty"`
}

// WithDefaults returns a copy of e with every default written out: the
// description Run executes. Lists are copied. It does not validate.
func (e Experiment) WithDefaults() Experiment {
	e = e.clone()
	for _, st := range settings {
		if st.def == nil {
			continue
		}
		if p := st.ptr(&e); isZeroValue(p) {
			if v := st.def(&e); v != nil {
				setValue(p, v)
			}
		}
	}
	e.Controls = normControls(e.Controls)
	slices.Sort(e.Instability)
	return e
}

func defaultLR(optimizer string) float64 {
	if optimizer == "adam" {
		return DefaultAdamLR
	}
	return DefaultSGDLR
}

// normControls removes duplicates and puts the arms in their canonical
// order (reinit, random); unknown names stay, for Validate to report.
func normControls(cs []string) []string {
	var out []string
	for _, want := range arms.names() {
		if slices.Contains(cs, want) {
			out = append(out, want)
		}
	}
	for _, c := range cs {
		if arms.check(c) != nil && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func (e Experiment) clone() Experiment {
	e.Controls = slices.Clone(e.Controls)
	e.Prune.Params = slices.Clone(e.Prune.Params)
	e.Prune.Sparsity = slices.Clone(e.Prune.Sparsity)
	e.Instability = slices.Clone(e.Instability)
	if e.Prune.Rates != nil {
		r := make(map[string]float64, len(e.Prune.Rates))
		for k, v := range e.Prune.Rates {
			r[k] = v
		}
		e.Prune.Rates = r
	}
	return e
}

// Validate reports the first problem of e (after defaults), naming the
// field: an unknown name, a value out of range, or a setting that would do
// nothing (OutputRate or Rates with the global strategy, Momentum without
// the momentum optimizer). Checks that need the model (parameter names) or
// the data (Rewind.Iteration against the data) happen in Run.
func (e Experiment) Validate() error {
	d := e.WithDefaults()
	for _, st := range settings {
		if st.check != nil {
			if err := st.check(&d); err != nil {
				return err
			}
		}
	}
	return nil
}

func validRate(r float64) bool { return r >= 0 && r < 1 }

// identity is the part of an Experiment that decides its numbers, with every
// field equal to its default cleared, so that omitempty leaves it out of
// the canonical JSON.
type identity struct {
	Model  string   `json:"model,omitempty"`
	Init   string   `json:"init,omitempty"`
	Dtype  string   `json:"dtype,omitempty"`
	Data   Data     `json:"data,omitzero"`
	Train  Training `json:"train,omitzero"`
	Prune  Pruning  `json:"prune,omitzero"`
	Rewind Rewind   `json:"rewind,omitzero"`
	Seed   uint64   `json:"seed,omitempty"`
	Graph  string   `json:"graph,omitempty"`
}

// canonical returns the identity of e with defaults stripped.
func (e Experiment) canonical() identity {
	d := e.WithDefaults()
	id := d.clone()
	for _, st := range settings {
		if !st.identity || st.def == nil {
			continue
		}
		if v := st.def(&d); v != nil && equalValue(st.ptr(&d), v) {
			clearValue(st.ptr(&id))
		}
	}
	p := &id.Prune
	if len(p.Rates) == 0 {
		p.Rates = nil
	}
	slices.Sort(p.Params) // a set: its order does not matter
	if len(p.Params) == 0 {
		p.Params = nil
	}
	if len(p.Sparsity) == 0 { // a list: its order is the levels'
		p.Sparsity = nil
	}
	return identity{Model: id.Model, Init: id.Init, Dtype: id.Dtype, Data: id.Data, Train: id.Train,
		Prune: id.Prune, Rewind: id.Rewind, Seed: id.Seed, Graph: id.Graph}
}

// Hash returns the identity of e: the first 16 hex digits of the SHA-256 of
// the canonical JSON of the fields that decide its numbers (Model, Init,
// Dtype, Data, Train, Prune, Rewind, Seed, Graph), with every field equal to its
// default left out. Two descriptions that differ only in defaults written
// out or left zero, in the order of lists, or in Levels, Trials, Controls
// or Workers have the same hash; a field added to a later version of
// shears keeps the hashes of old descriptions as long as its default is the
// old behaviour. Results are stored under the hash.
func (e Experiment) Hash() string {
	b, err := json.Marshal(e.canonical())
	if err != nil { // only plain values: cannot happen but for NaN rates
		b = []byte(fmt.Sprintf("%#v", e.canonical()))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// CanonicalJSON returns the JSON that Hash digests, for a reader who wants
// to see what the hash covers.
func (e Experiment) CanonicalJSON() ([]byte, error) {
	b, err := json.Marshal(e.canonical())
	if err != nil {
		return nil, fmt.Errorf("lottery: %w", err)
	}
	return b, nil
}

// MarshalIndent returns e as indented JSON, zero-valued (default) fields
// left out.
func (e Experiment) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("lottery: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseExperiment decodes a description from JSON. Unknown fields are an
// error (a typo would otherwise be a setting that silently does nothing),
// and so is anything after the JSON value. It accepts the plain description
// and the experiment.json file that Run writes into its output folder
// (checked against its checksum). Defaults are not written out: call
// WithDefaults for that.
func ParseExperiment(data []byte) (Experiment, error) {
	var probe struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.Format != "" {
		e, _, err := decodeExperimentFile(data, "experiment description")
		return e, err
	}
	return decodeExperiment(data)
}

func decodeExperiment(data []byte) (Experiment, error) {
	var e Experiment
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Experiment{}, fmt.Errorf("lottery: experiment description: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Experiment{}, errors.New("lottery: experiment description: data after the JSON value")
	}
	if err := checkExplicitZeros(data, e); err != nil {
		return Experiment{}, err
	}
	return e, nil
}

// checkExplicitZeros reports a setting (see settings) that data gives
// explicitly as 0 where 0 stands for a default other than 0. In Go, a field
// left zero takes the default; in a JSON description, a field left out
// takes it, and a field written with the value 0 is validated as the 0 it
// says, which none of these accept. (Descriptions with explicit zeros were
// accepted before and silently ran the default; they now get an error, and
// rewriting them without the field keeps their hash.)
func checkExplicitZeros(data []byte, e Experiment) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil // decoded already; cannot happen
	}
	sections := map[string]map[string]json.RawMessage{"": top}
	for _, s := range []string{"data", "train", "prune", "rewind"} {
		var m map[string]json.RawMessage
		if raw, ok := top[s]; ok && json.Unmarshal(raw, &m) == nil {
			sections[s] = m
		}
	}
	for _, st := range settings {
		if st.zero == "" {
			continue
		}
		section, key, ok := strings.Cut(st.key, ".")
		if !ok {
			section, key = "", st.key
		}
		raw, ok := sections[section][key]
		if !ok {
			continue
		}
		var v float64
		if json.Unmarshal(raw, &v) != nil || v != 0 {
			continue
		}
		if st.zeroOK != nil && st.zeroOK(&e) {
			continue
		}
		return fmt.Errorf("lottery: experiment description: %s is 0: want %s, or leave %s out for its default", st.key, st.zero, st.key)
	}
	return nil
}

// ReadExperiment reads a description from a JSON file (see
// ParseExperiment); errors name the file.
func ReadExperiment(path string) (Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Experiment{}, fmt.Errorf("lottery: %w", err)
	}
	e, err := ParseExperiment(data)
	if err != nil {
		return Experiment{}, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// ParseRewind parses the -rewind flag of the example: "init", "lr",
// "finetune", or a step count k (rewinding to iteration k).
func ParseRewind(s string) (Rewind, error) {
	switch s {
	case RewindInit, RewindLR, RewindFinetune:
		return Rewind{To: s}, nil
	case RewindIteration:
		return Rewind{}, errors.New(`lottery: rewind "iteration" needs a step: give the number, e.g. 500`)
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 0 {
		return Rewind{}, fmt.Errorf("lottery: rewind %q is not init, lr, finetune or a step count", s)
	}
	if k == 0 {
		return Rewind{To: RewindInit}, nil
	}
	return Rewind{To: RewindIteration, Iteration: k}, nil
}

// ParseControls parses a comma-separated list of control arms (Arms;
// "none" or "" for none).
func ParseControls(s string) ([]string, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if arms.check(c) != nil {
			return nil, fmt.Errorf("lottery: control %q is not %s", c, orList(arms.names()))
		}
		out = append(out, c)
	}
	return normControls(out), nil
}

// arms returns the arms run at a level: the ticket, then the controls from
// level 1 on.
func (e Experiment) arms(level int) []string {
	if level == 0 {
		return []string{ArmTicket}
	}
	return append([]string{ArmTicket}, e.Controls...)
}
