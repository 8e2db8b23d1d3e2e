// Command compress shrinks a trained network by structured pruning: it
// trains a model, prunes whole hidden units and convolution filters with
// their dependency groups (prune.Grouped over train.Groups), fine-tunes with
// the masks in force, compacts the pruned model into smaller dense layers
// (train.Compact), and compares the dense, masked and compacted models:
// parameters, FLOPs, test accuracy and measured latency at batch 1 and 60.
//
// Usage:
//
//	go run ./examples/compress [flags]
//
// See README.md in this folder.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// errUsage marks a bad command line (the usage has been printed).
var errUsage = errors.New("compress: bad usage")

const usageText = `Usage: compress [flags]

Trains a model on the digits data set (or a folder of MNIST-format files),
prunes a fraction of every hidden layer's units or filters with their
dependency groups, fine-tunes with the masks in force, compacts the pruned
model into smaller layers, and prints params, FLOPs, test accuracy and
measured latency of the dense, masked and compacted models. Writes
report.json and compact.weights into the output folder (-out).

Flags:
`

// options are the settings of one run. Every flag is declared and checked
// in parse, and nowhere else.
type options struct {
	model      string
	data       string
	structured float64
	out        string
	seed       uint64
	iterations int
	finetune   int
	rounds     int
	quick      bool
	// the unstructured side (sparse.go)
	unstructured float64
	ticket       string
	level        int
	bits         int
	export       string
	eval         string
}

// parse reads the flags. Help returns flag.ErrHelp; a bad flag prints the
// usage and returns errUsage.
func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("compress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.model, "model", "lenet300100", "model: `lenet300100`, lenet5 or conv2")
	fs.StringVar(&o.data, "data", "digits", "data: `digits` (embedded) or a folder of MNIST-format IDX files")
	fs.Float64Var(&o.structured, "structured", 0.5, "`fraction` of every hidden layer's units (filters) to remove, in [0, 1)")
	fs.StringVar(&o.out, "out", "compress-out", "output `folder`")
	fs.Uint64Var(&o.seed, "seed", 1, "`seed` of the initial weights and of the order of training examples")
	fs.IntVar(&o.iterations, "iterations", 1500, "training `steps` of the dense model (Adam, batch 60)")
	fs.IntVar(&o.finetune, "finetune", 300, "fine-tuning `steps` after pruning, masks in force")
	fs.IntVar(&o.rounds, "rounds", 7, "timed `rounds` per model and batch size (the median is reported)")
	fs.Float64Var(&o.unstructured, "unstructured", 0, "also prune globally by magnitude to sparsity `F` in [0, 1) (after compaction), fine-tune, and run with the sparse kernels")
	fs.StringVar(&o.ticket, "ticket", "", "instead of -unstructured, take the ticket of lottery run `DIR` (trial 0, level -level)")
	fs.IntVar(&o.level, "level", 0, "the `level` of -ticket")
	fs.IntVar(&o.bits, "bits", 8, "`bits` per kept weight in -export: 32, 8 or 1 to 7 (a k-means codebook)")
	fs.StringVar(&o.export, "export", "", "write the unstructured model or ticket, compressed, to `FILE`")
	fs.StringVar(&o.eval, "eval", "", "only load the exported `FILE` and print its test accuracy (on -data) and latency as JSON")
	fs.BoolVar(&o.quick, "quick", false, "a tiny run for CI: 150 training steps, 30 fine-tuning steps, 3 short timing rounds")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage
	}
	bad := func(format string, a ...any) (options, error) {
		fmt.Fprintf(stderr, "compress: "+format+"\n", a...)
		fs.Usage()
		return o, errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		// -quick changes the defaults only; flags given explicitly win.
		if !set["iterations"] {
			o.iterations = 150
		}
		if !set["finetune"] {
			o.finetune = 30
		}
		if !set["rounds"] {
			o.rounds = 3
		}
	}
	switch {
	case o.model != "lenet300100" && o.model != "lenet5" && o.model != "conv2":
		return bad("-model %q: want lenet300100, lenet5 or conv2", o.model)
	case o.data == "":
		return bad("-data is empty")
	case o.out == "":
		return bad("-out is empty")
	case !(o.structured >= 0 && o.structured < 1):
		return bad("-structured %v is not in [0, 1)", o.structured)
	case o.iterations < 1:
		return bad("-iterations must be at least 1, not %d", o.iterations)
	case o.finetune < 0:
		return bad("-finetune must be at least 0, not %d", o.finetune)
	case o.rounds < 1:
		return bad("-rounds must be at least 1, not %d", o.rounds)
	case !(o.unstructured >= 0 && o.unstructured < 1):
		return bad("-unstructured %v is not in [0, 1)", o.unstructured)
	case o.ticket != "" && o.unstructured > 0:
		return bad("-ticket and -unstructured exclude each other")
	case o.level < 0 || (set["level"] && o.ticket == ""):
		return bad("-level %d needs -ticket and must be at least 0", o.level)
	case o.bits != 32 && (o.bits < 1 || o.bits > 8):
		return bad("-bits %d: want 32, 8 or 1 to 7", o.bits)
	case o.export != "" && o.ticket == "" && o.unstructured == 0:
		return bad("-export needs -unstructured or -ticket")
	}
	return o, nil
}

// modelReport is one model's row of the table and object of report.json.
type modelReport struct {
	Params       int64   `json:"params"`
	FLOPs        int64   `json:"flops"`
	TestAccuracy float64 `json:"test_accuracy"`
	MsBatch1     float64 `json:"ms_batch1"`
	MsBatch60    float64 `json:"ms_batch60"`
}

// report is report.json. Optional sections that other steps add (sparse
// kernels, export) are pointer fields with omitempty, so that a run without
// them writes the same file as before.
type report struct {
	Model        string      `json:"model"`
	Data         string      `json:"data"`
	Structured   float64     `json:"structured"`
	Dense        modelReport `json:"dense"`
	Masked       modelReport `json:"masked"`
	Compact      modelReport `json:"compact"`
	MaxLogitDiff float64     `json:"max_logit_diff"`
	// SpeedupBatch1 and SpeedupBatch60 are the compacted model's speedups
	// over the dense one, measured in one run.
	SpeedupBatch1  float64 `json:"speedup_batch1"`
	SpeedupBatch60 float64 `json:"speedup_batch60"`
	// CompactMs is how long train.Compact took.
	CompactMs float64 `json:"compact_ms"`
	// Removed is the number of units removed per layer.
	Removed map[string]int `json:"removed"`
	// Sparse and Export: -unstructured or -ticket, and -export (sparse.go).
	Sparse *sparseReport `json:"sparse,omitempty"`
	Export *exportReport `json:"export,omitempty"`
}

// row is one line of the printed table.
type row struct {
	name string
	r    *modelReport
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.eval != "" {
		return evalFile(o, stdout)
	}
	rep, rows, err := compress(ctx, o, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := writeTable(stdout, rows); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ncompacted in %.2f ms; largest |masked − compacted| logit on the test set: %.3g\n", rep.CompactMs, rep.MaxLogitDiff)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.out, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(o.out, "report.json"))
	return nil
}

func newModel(name string, shape []int, classes int) (train.Model, error) {
	switch name {
	case "lenet5":
		return train.LeNet5(shape, classes)
	case "conv2":
		return train.Conv2(shape, classes)
	}
	return train.LeNet300100(shape, classes)
}

func compress(ctx context.Context, o options, stdout io.Writer) (*report, []row, error) {
	start := time.Now()
	stage := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	data, err := train.Load(o.data, 0, o.seed)
	if err != nil {
		return nil, nil, err
	}
	shape := data.Train.Shape
	m, err := newModel(o.model, shape, data.Train.Classes)
	if err != nil {
		return nil, nil, err
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(o.seed, 0x5eed)))
	if err != nil {
		return nil, nil, err
	}
	stage("data %s: %d train, %d test examples of %v; model %s, %d params", o.data, data.Train.Len(), data.Test.Len(), shape, m.Name(), w.Count())

	// 1. Train the dense model.
	cfg := train.Config{Iterations: o.iterations, EvalEvery: o.iterations, Seed: o.seed, Optimizer: train.Adam{LR: 1.2e-3}}
	if _, err := fit(ctx, m, w, nil, cfg, data); err != nil {
		return nil, nil, err
	}
	stage("trained the dense model: %d steps", o.iterations)

	// 2. Prune whole units with their dependency groups, and fine-tune.
	groups, err := train.Groups(m, shape)
	if err != nil {
		return nil, nil, err
	}
	wm := w.Clone()
	masks := prune.NewMasks(wm.Prunable())
	if o.structured > 0 {
		gp := prune.Grouped{Groups: groups, Scorer: prune.L2{}, Amount: prune.Fraction(o.structured)}
		if err := gp.Prune(masks, wm.Params()); err != nil {
			return nil, nil, err
		}
	}
	if o.finetune > 0 {
		ft := train.Config{Iterations: o.finetune, EvalEvery: o.finetune, Seed: o.seed + 1, Optimizer: train.Adam{LR: 1.2e-3}}
		if _, err := fit(ctx, m, wm, masks, ft, data); err != nil {
			return nil, nil, err
		}
	} else if err := masks.Apply(wm.Prunable()); err != nil {
		return nil, nil, err
	}
	stage("pruned %.0f%% of every hidden layer's units (prune.Grouped, L2) and fine-tuned %d steps", 100*o.structured, o.finetune)

	// 3. Compact.
	t0 := time.Now()
	c, err := train.Compact(m, wm, masks, shape)
	if err != nil {
		return nil, nil, err
	}
	compactMs := float64(time.Since(t0)) / float64(time.Millisecond)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, nil, fmt.Errorf("compress: %w", err)
	}
	if err := c.Weights.Save(filepath.Join(o.out, "compact.weights")); err != nil {
		return nil, nil, err
	}
	stage("compacted to %v", c.Model)

	rep := &report{Model: m.Name(), Data: o.data, Structured: o.structured, CompactMs: compactMs, Removed: map[string]int{}}
	for name, units := range c.Removed {
		rep.Removed[name] = len(units)
	}
	// 4. Size, FLOPs, accuracy.
	cgroups, err := train.Groups(c.Model, shape)
	if err != nil {
		return nil, nil, err
	}
	for _, x := range []struct {
		r  *modelReport
		gs prune.Groups
		ms *prune.Masks
		m  train.Model
		w  *train.Weights
	}{{&rep.Dense, groups, nil, m, w}, {&rep.Masked, groups, masks, m, wm}, {&rep.Compact, cgroups, nil, c.Model, c.Weights}} {
		acc, err := metrics.AccountModel(x.gs, x.ms)
		if err != nil {
			return nil, nil, err
		}
		x.r.Params, x.r.FLOPs = acc.Total.SizeNZ, acc.Total.FLOPsNZ
		if x.r.TestAccuracy, err = accuracy(x.m, x.w, data.Test); err != nil {
			return nil, nil, err
		}
	}
	zm, err := train.Logits(m, wm, data.Test, 60)
	if err != nil {
		return nil, nil, err
	}
	zc, err := train.Logits(c.Model, c.Weights, data.Test, 60)
	if err != nil {
		return nil, nil, err
	}
	for i := range zm {
		rep.MaxLogitDiff = max(rep.MaxLogitDiff, math.Abs(float64(zm[i]-zc[i])))
	}

	// 5. Latency, the three models interleaved in one run per batch size.
	lcfg := metrics.LatencyConfig{Rounds: o.rounds}
	if o.quick {
		lcfg.RoundTime = 10 * time.Millisecond
	}
	for _, batch := range []int{1, 60} {
		var fns []func() error
		f := data.Test.Features()
		x := make([]float32, batch*f)
		for i := range batch {
			copy(x[i*f:(i+1)*f], data.Test.X[(i%data.Test.Len())*f:])
		}
		for _, mw := range []struct {
			m train.Model
			w *train.Weights
		}{{m, w}, {m, wm}, {c.Model, c.Weights}} {
			p, err := train.NewPredictor(mw.m, mw.w, batch, shape)
			if err != nil {
				return nil, nil, err
			}
			defer p.Close()
			fns = append(fns, func() error { _, err := p.Run(x); return err })
		}
		lat, err := metrics.MeasureLatency(lcfg, fns...)
		if err != nil {
			return nil, nil, err
		}
		for i, r := range []*modelReport{&rep.Dense, &rep.Masked, &rep.Compact} {
			if batch == 1 {
				r.MsBatch1 = lat[i].Ms
			} else {
				r.MsBatch60 = lat[i].Ms
			}
		}
		if batch == 1 {
			rep.SpeedupBatch1 = lat[2].Speedup(lat[0])
		} else {
			rep.SpeedupBatch60 = lat[2].Speedup(lat[0])
		}
	}
	stage("measured latency at batch 1 and 60")
	// 6. The unstructured side: on the compacted model when units were
	// removed (compaction first), else on the dense one.
	sm, sw := m, w
	if o.structured > 0 {
		sm, sw = c.Model, c.Weights
	}
	if err := sparseSteps(ctx, o, rep, sm, sw, w.Count(), data, stage); err != nil {
		return nil, nil, err
	}
	return rep, []row{{"dense", &rep.Dense}, {"masked", &rep.Masked}, {"compact", &rep.Compact}}, nil
}

// fit trains w (masks in force when not nil).
func fit(ctx context.Context, m train.Model, w *train.Weights, masks *prune.Masks, cfg train.Config, data train.Splits) (*train.Result, error) {
	tr, err := train.NewTrainer(m, w, cfg)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	if masks != nil {
		if err := tr.SetMasks(masks); err != nil {
			return nil, err
		}
	}
	return tr.Fit(ctx, data)
}

// accuracy is the fraction of d's examples whose largest logit is the label.
func accuracy(m train.Model, w *train.Weights, d *train.Dataset) (float64, error) {
	z, err := train.Logits(m, w, d, 60)
	if err != nil {
		return 0, err
	}
	classes := len(z) / d.Len()
	right := 0
	for i, y := range d.Y {
		row := z[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			right++
		}
	}
	return float64(right) / float64(d.Len()), nil
}

func writeTable(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tparams\tFLOPs\ttest acc\tms batch 1\tms batch 60\tspeedup b1\tspeedup b60\t")
	base := rows[0].r
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t%.4f\t%.4f\t%.2f×\t%.2f×\t\n", r.name, r.r.Params, r.r.FLOPs, 100*r.r.TestAccuracy,
			r.r.MsBatch1, r.r.MsBatch60, base.MsBatch1/r.r.MsBatch1, base.MsBatch60/r.r.MsBatch60)
	}
	return tw.Flush()
}
