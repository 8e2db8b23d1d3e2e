// Command prune is a tour of the pruners of package prune on a
// LeNet-300-100 trained on the embedded digits data set.
//
// It trains the dense network once, then prunes a copy of its trained weights
// with each pruner at several amounts: unstructured (each layer on its own),
// global (one ranking over all layers), layer-wise (the output layer at half
// the rate, as the lottery-ticket papers do), structured rows and columns
// (whole input or output units) and N:M (2:4 and 1:4). For each it prints the
// sparsity, the forward-pass FLOPs left (metrics.Account), and the test
// accuracy right after pruning and after a short fine-tune with the masks
// kept in force. It writes the table as CSV, and the per-layer sparsity of
// global pruning (metrics.LayerSparsity) as PNG and SVG, into the output
// folder.
//
// Usage:
//
//	go run ./examples/prune [flags]
//
// See README.md in this folder.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/examples/internal/cli"
	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `Usage: prune [flags]

Trains LeNet-300-100 on the digits data set (or a folder of MNIST-format
files), prunes the trained weights with each pruner at several amounts,
fine-tunes each pruned network with its masks in force, and prints a table
of sparsity, FLOPs and test accuracy. Writes results.csv and
layer-sparsity.png/.svg into the output folder (-out).

Flags:
`

// options are the settings of one run, checked by parse.
type options struct {
	data       string
	out        string
	seed       uint64
	iterations int
	finetune   int
	amounts    []float64
	workers    int
	quick      bool
}

// parse reads the flags. It returns the exit code for a parse that ends the
// run (help: 0, a bad flag: 2) and ok = false.
func parse(args []string, stderr io.Writer) (o options, code int, ok bool) {
	c := cli.New("prune", usageText, stderr)
	fs := c.Flags
	fs.StringVar(&o.data, "data", "digits", "data: `digits` (embedded) or a folder of MNIST-format IDX files")
	fs.StringVar(&o.out, "out", "prune-out", "output `folder`")
	fs.Uint64Var(&o.seed, "seed", 1, "`seed` of the initial weights and of the order of training examples")
	fs.IntVar(&o.iterations, "iterations", 1500, "training `steps` of the dense network (Adam, batch 60)")
	fs.IntVar(&o.finetune, "finetune", 300, "fine-tuning `steps` after each pruning, masks in force")
	amounts := fs.String("amounts", "0.5,0.8,0.9,0.95", "fractions of the weights (or units) to prune, comma-separated, each in (0, 1)")
	fs.IntVar(&o.workers, "workers", 0, "fine-tunes at once (0: one per CPU)")
	c.Quick("a tiny run for CI: 150 training steps, 30 fine-tuning steps, amounts 0.5,0.9",
		map[string]string{"iterations": "150", "finetune": "30", "amounts": "0.5,0.9"})
	if code, ok := c.Parse(args); !ok {
		return o, code, false
	}
	o.quick = c.QuickMode()
	bad := func(format string, a ...any) (options, int, bool) {
		return o, c.Bad(format, a...), false
	}
	var err error
	if o.amounts, err = parseAmounts(*amounts); err != nil {
		return bad("-amounts: %v", err)
	}
	switch {
	case o.data == "":
		return bad("-data is empty")
	case o.out == "":
		return bad("-out is empty")
	case o.iterations < 1:
		return bad("-iterations must be at least 1, not %d", o.iterations)
	case o.finetune < 0:
		return bad("-finetune must be at least 0, not %d", o.finetune)
	case o.workers < 0:
		return bad("-workers must be at least 0, not %d", o.workers)
	}
	if o.workers == 0 {
		o.workers = runtime.GOMAXPROCS(0)
	}
	return o, 0, true
}

// parseAmounts reads a comma-separated list of fractions in (0, 1).
func parseAmounts(s string) ([]float64, error) {
	var out []float64
	seen := map[float64]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		if !(v > 0 && v < 1) {
			return nil, fmt.Errorf("%v is not in (0, 1)", v)
		}
		if seen[v] {
			return nil, fmt.Errorf("%v is listed twice", v)
		}
		seen[v] = true
		out = append(out, v)
	}
	return out, nil
}

// method is one way of pruning, at one amount.
type method struct {
	name   string  // the pruner, as printed
	amount string  // the amount, as printed
	value  float64 // the amount, for the plot (global) and CSV
	// prune returns the masks of params that the pruner gives.
	prune func(params []prune.Param) (*prune.Masks, error)
}

// result is what one method gives.
type result struct {
	method
	masks              *prune.Masks
	report             *metrics.Report
	before, after      float64 // test accuracy right after pruning and after fine-tuning
	beforeLoss, afterL float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parse(args, stderr)
	if !ok {
		return code
	}
	if err := tour(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	return 0
}

func tour(ctx context.Context, o options, stdout io.Writer) error {
	start := time.Now()
	stage := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}

	data, err := train.Load(o.data, 0, o.seed)
	if err != nil {
		return err
	}
	shape := data.Train.Shape
	m, err := train.LeNet300100(shape, data.Train.Classes)
	if err != nil {
		return err
	}
	layers, err := denseLayers(m)
	if err != nil {
		return err
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(o.seed, 0x5eed)))
	if err != nil {
		return err
	}
	stage("data %s: %d train, %d test examples of %v; model %s, %d prunable weights",
		o.data, data.Train.Len(), data.Test.Len(), shape, m.Name(), countPrunable(w))

	// Train the dense network.
	cfg := train.Config{Iterations: o.iterations, EvalEvery: o.iterations, Seed: o.seed, Optimizer: train.Adam{LR: 1.2e-3}}
	tr, err := train.NewTrainer(m, w, cfg)
	if err != nil {
		return err
	}
	res, err := tr.Fit(ctx, data)
	tr.Close()
	if err != nil {
		return err
	}
	stage("trained the dense network: %d steps in %.1fs, test accuracy %.2f%%", res.Steps, res.Seconds, 100*res.Final.TestAccuracy)
	denseReport, err := metrics.Account(layers, nil)
	if err != nil {
		return err
	}

	methods, err := methods(o.amounts, w)
	if err != nil {
		return err
	}
	results := make([]*result, len(methods))
	// Fine-tunes run concurrently: trainers share nothing, so each gives the
	// numbers it gives alone, whatever -workers is.
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
		done  int
	)
	for range min(o.workers, len(methods)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := pruneAndFinetune(ctx, m, w, layers, methods[i], data, o)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				results[i] = r
				done++
				if err == nil {
					stage("%2d/%d %-18s %-9s sparsity %5.1f%%  accuracy %6.2f%% pruned, %6.2f%% fine-tuned",
						done, len(methods), r.name, r.amount, 100*r.masks.Sparsity(), 100*r.before, 100*r.after)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range methods {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\n%s on %s: %d weights in %d layers, %d FLOPs (multiply-accumulates) per example dense; fine-tune %d steps with the masks in force\n\n",
		m.Name(), o.data, denseReport.Total.Weights, len(layers), denseReport.Total.FLOPs, o.finetune)
	if err := writeTable(stdout, denseReport, 100*res.Final.TestAccuracy, results); err != nil {
		return err
	}

	// Outputs.
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	var csv bytes.Buffer
	writeCSV(&csv, denseReport, res.Final, results)
	if err := atomicfile.WriteFile(filepath.Join(o.out, "results.csv"), csv.Bytes(), 0o644); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	levels := []*prune.Masks{prune.NewMasks(w.Prunable())}
	var labels []string
	for _, r := range results {
		if r.name == "global" {
			levels = append(levels, r.masks)
			labels = append(labels, fmt.Sprintf("%d = %s", len(levels)-1, r.amount))
		}
	}
	ll, err := metrics.LayerLevelsOf(levels)
	if err != nil {
		return err
	}
	p, err := metrics.LayerSparsity(ll,
		metrics.Title(fmt.Sprintf("Global L1 pruning of %s, per layer", m.Name())),
		metrics.XLabel("Level: 0 = dense, "+strings.Join(labels, ", ")+" of the weights pruned"))
	if err != nil {
		return err
	}
	for _, name := range []string{"layer-sparsity.png", "layer-sparsity.svg"} {
		if err := metrics.Save(p, metrics.DefaultWidth, metrics.DefaultHeight, filepath.Join(o.out, name)); err != nil {
			return err
		}
	}
	stage("wrote results.csv, layer-sparsity.png, layer-sparsity.svg into %s", o.out)
	return nil
}

// denseLayers describes m's prunable weights for metrics.Account: every
// two-dimensional one is a dense layer [in, out] with the bias named like it
// (fc1.w, fc1.b) when the model has one.
func denseLayers(m train.Model) ([]metrics.Layer, error) {
	specs := m.Params()
	shapes := map[string][]int{}
	for _, s := range specs {
		shapes[s.Name] = s.Shape
	}
	var layers []metrics.Layer
	for _, s := range specs {
		if !s.Prunable {
			continue
		}
		if len(s.Shape) != 2 {
			return nil, fmt.Errorf("prune: parameter %s has shape %v, not a dense layer's [in, out]", s.Name, s.Shape)
		}
		l := metrics.DenseLayer(s.Name, s.Shape[0], s.Shape[1], false)
		if b, ok := shapes[strings.TrimSuffix(s.Name, ".w")+".b"]; ok && strings.HasSuffix(s.Name, ".w") && len(b) == 1 {
			l.Bias = b[0]
		}
		layers = append(layers, l)
	}
	return layers, nil
}

func countPrunable(w *train.Weights) int {
	n := 0
	for _, p := range w.Prunable() {
		n += p.Size()
	}
	return n
}

// methods lists the pruners of the tour at the given amounts. w gives the
// names of the layers; the last prunable one is the output layer.
func methods(amounts []float64, w *train.Weights) ([]method, error) {
	params := w.Prunable()
	if len(params) < 2 {
		return nil, fmt.Errorf("prune: the model has %d prunable layers; the tour needs at least 2", len(params))
	}
	output := params[len(params)-1].Name
	var ms []method
	add := func(name, amount string, v float64, p prune.Pruner) {
		ms = append(ms, method{name: name, amount: amount, value: v, prune: func(params []prune.Param) (*prune.Masks, error) {
			masks := prune.NewMasks(params)
			return masks, p.Prune(masks, params)
		}})
	}
	pct := func(a float64) string { return strconv.FormatFloat(100*a, 'g', 4, 64) + "%" }
	for _, a := range amounts {
		add("unstructured", pct(a), a, prune.Unstructured{Scorer: prune.L1{}, Amount: prune.Fraction(a)})
	}
	for _, a := range amounts {
		add("global", pct(a), a, prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(a)})
	}
	for _, a := range amounts {
		// The lottery-ticket recipe: the output layer at half the rate.
		add("layerwise", pct(a)+"/"+pct(a/2), a, prune.Layerwise{
			Scorer:  prune.L1{},
			Default: prune.Fraction(a),
			Amounts: map[string]prune.Amount{output: prune.Fraction(a / 2)},
		})
	}
	for _, a := range amounts {
		// Rows of an [in, out] weight are input units: of the first layer,
		// pixels.
		add("structured rows", pct(a), a, prune.Structured{Scorer: prune.L2{}, Dim: 0, Amount: prune.Fraction(a)})
	}
	for _, a := range amounts {
		// Columns are output units (neurons). The output layer's columns
		// are the classes, so only the hidden layers lose columns.
		st := prune.Structured{Scorer: prune.L2{}, Dim: 1, Amount: prune.Fraction(a)}
		ms = append(ms, method{name: "structured columns", amount: pct(a), value: a, prune: func(params []prune.Param) (*prune.Masks, error) {
			return pruneHidden(st, params)
		}})
	}
	// N:M along the input dimension (Dim 0 of x·W), as sparse tensor cores
	// want it. The amount is fixed by N and M.
	add("N:M 2:4", "50%", 0.5, prune.NM{N: 2, M: 4, Scorer: prune.L1{}, Dim: 0})
	add("N:M 1:4", "75%", 0.75, prune.NM{N: 1, M: 4, Scorer: prune.L1{}, Dim: 0})
	return ms, nil
}

// pruneHidden returns masks of params that prune every layer but the last
// (the output layer) with p and keep the last one whole.
func pruneHidden(p prune.Pruner, params []prune.Param) (*prune.Masks, error) {
	n := len(params)
	hidden := prune.NewMasks(params[:n-1])
	if err := p.Prune(hidden, params[:n-1]); err != nil {
		return nil, err
	}
	all := make([]*prune.Mask, 0, n)
	for i := range n - 1 {
		all = append(all, hidden.At(i))
	}
	return prune.NewMasksOf(append(all, prune.NewMasks(params[n-1:]).At(0))...)
}

// pruneAndFinetune prunes a copy of the trained weights dense with mt,
// measures the test accuracy, fine-tunes with the masks in force and
// measures again.
func pruneAndFinetune(ctx context.Context, m train.Model, dense *train.Weights, layers []metrics.Layer, mt method, data train.Splits, o options) (*result, error) {
	w := dense.Clone()
	params := w.Prunable()
	masks, err := mt.prune(params)
	if err != nil {
		return nil, fmt.Errorf("prune: %s %s: %w", mt.name, mt.amount, err)
	}
	report, err := metrics.Account(layers, masks)
	if err != nil {
		return nil, err
	}
	cfg := train.Config{Iterations: o.finetune, EvalEvery: max(o.finetune, 1), Seed: o.seed + 1, Optimizer: train.Adam{LR: 1.2e-3}}
	tr, err := train.NewTrainer(m, w, cfg)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	if err := tr.SetMasks(masks); err != nil {
		return nil, err
	}
	r := &result{method: mt, masks: masks, report: report}
	if r.beforeLoss, r.before, err = tr.Evaluate(data.Test); err != nil {
		return nil, err
	}
	r.after, r.afterL = r.before, r.beforeLoss
	if o.finetune > 0 {
		res, err := tr.Fit(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("prune: fine-tuning %s %s: %w", mt.name, mt.amount, err)
		}
		r.after, r.afterL = res.Final.TestAccuracy, res.Final.TestLoss
	}
	// The masks held: every pruned weight is still exactly zero.
	for i, p := range params {
		mk := masks.At(i)
		for j, v := range p.Value.Data().([]float32) {
			if v != 0 && !mk.Keeps(j) {
				return nil, fmt.Errorf("prune: %s %s: pruned weight %s[%d] is %v after fine-tuning", mt.name, mt.amount, p.Name, j, v)
			}
		}
	}
	return r, nil
}

func writeTable(w io.Writer, dense *metrics.Report, denseAcc float64, results []*result) error {
	// Names flush left, numbers flush right: pad the names to one width.
	width := len("pruner")
	for _, r := range results {
		width = max(width, len(r.name))
	}
	name := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tamount\tsparsity\tweights left\tFLOPs left\tspeedup\ttest acc. pruned\tfine-tuned\t\n", name("pruner"))
	fmt.Fprintf(tw, "%s\t-\t0.0%%\t%d\t%d\t1.00×\t%.2f%%\t-\t\n", name("dense"), dense.Total.Kept, dense.Total.FLOPsNZ, denseAcc)
	for _, r := range results {
		t := r.report.Total
		fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t%d\t%d\t%.2f×\t%.2f%%\t%.2f%%\t\n",
			name(r.name), r.amount, 100*t.Sparsity, t.Kept, t.FLOPsNZ, t.TheoreticalSpeedup, 100*r.before, 100*r.after)
	}
	return tw.Flush()
}

func writeCSV(w io.Writer, dense *metrics.Report, denseEval train.Eval, results []*result) {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	fmt.Fprintln(w, "pruner,amount,sparsity,weights,weights_nz,flops,flops_nz,theoretical_speedup,test_accuracy_pruned,test_loss_pruned,test_accuracy_finetuned,test_loss_finetuned")
	t := dense.Total
	fmt.Fprintf(w, "dense,0,0,%d,%d,%d,%d,1,%s,%s,%s,%s\n", t.Weights, t.Kept, t.FLOPs, t.FLOPsNZ,
		f(denseEval.TestAccuracy), f(denseEval.TestLoss), f(denseEval.TestAccuracy), f(denseEval.TestLoss))
	for _, r := range results {
		t := r.report.Total
		fmt.Fprintf(w, "%s,%s,%s,%d,%d,%d,%d,%s,%s,%s,%s,%s\n", r.name, f(r.value), f(t.Sparsity), t.Weights, t.Kept, t.FLOPs, t.FLOPsNZ,
			f(t.TheoreticalSpeedup), f(r.before), f(r.beforeLoss), f(r.after), f(r.afterL))
	}
}
