// Command gradual prunes a LeNet-300-100 gradually while it trains, with the
// cubic schedule of Zhu & Gupta (2017, "To prune, or not to prune"), and
// compares it with one-shot pruning to the same final sparsity.
//
// Both runs start from the same initial weights and train for the same
// number of steps on the same batches (the embedded digits data set by
// default):
//
//   - gradual: dense for -start steps, then global L1 pruning every -every
//     steps, -prunings times, along prune.Gradual's cubic ramp up to
//     -sparsity, then training on at the final sparsity;
//   - one-shot: dense up to the step where the gradual run reaches its final
//     sparsity, pruned there at once to -sparsity (prune.OneShot), then
//     fine-tuned for the same remaining steps.
//
// The pruning is done by a trainer hook on the steps the schedule says are due
// (prune.Global with prune.Target), and the masks are kept in force with
// Trainer.SetMasks. It prints the test accuracy and sparsity of both, writes
// curves.csv and the plot of sparsity and accuracy over the iterations
// (curves.png, curves.svg) into the output folder.
//
// Usage:
//
//	go run ./examples/gradual [flags]
//
// See README.md in this folder.
package main

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/examples/internal/cli"
	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gorgonia.org/tensor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `Usage: gradual [flags]

Trains LeNet-300-100 twice from the same start: once pruned gradually with
Zhu & Gupta's cubic schedule, once pruned in one shot to the same final
sparsity and fine-tuned for the same remaining steps. Prints both test
accuracies and sparsities; writes curves.csv, curves.png and curves.svg into
the output folder (-out).

Flags:
`

// options are the settings of one run, checked by parse.
type options struct {
	data       string
	out        string
	seed       uint64
	iterations int
	sparsity   float64
	start      int
	every      int
	prunings   int
	evalEvery  int
	lr         float64
}

// parse reads the flags. It returns the exit code for a parse that ends the
// run (help: 0, a bad flag: 2) and ok = false.
func parse(args []string, stderr io.Writer) (o options, code int, ok bool) {
	c := cli.New("gradual", usageText, stderr)
	fs := c.Flags
	fs.StringVar(&o.data, "data", "digits", "data: `digits` (embedded) or a folder of MNIST-format IDX files")
	fs.StringVar(&o.out, "out", "gradual-out", "output `folder`")
	fs.Uint64Var(&o.seed, "seed", 1, "`seed` of the initial weights and of the order of training examples")
	fs.IntVar(&o.iterations, "iterations", 3000, "training `steps` of each run (Adam, batch 60)")
	fs.Float64Var(&o.sparsity, "sparsity", 0.97, "final `fraction` of the weights pruned, in (0, 1)")
	fs.IntVar(&o.start, "start", 300, "`step` of the first gradual pruning (t₀), at least 1")
	fs.IntVar(&o.every, "every", 100, "`steps` between gradual prunings (Δt)")
	fs.IntVar(&o.prunings, "prunings", 15, "number of gradual prunings after the first (n)")
	fs.IntVar(&o.evalEvery, "eval-every", 25, "evaluate the test set every `N` steps")
	fs.Float64Var(&o.lr, "lr", 1.2e-3, "Adam's learning `rate`")
	c.Quick("a tiny run for CI: 240 steps, pruning from step 20 every 10 steps, 10 times",
		map[string]string{"iterations": "240", "start": "20", "every": "10", "prunings": "10", "eval-every": "20"})
	if code, ok := c.Parse(args); !ok {
		return o, code, false
	}
	bad := func(format string, a ...any) (options, int, bool) {
		return o, c.Bad(format, a...), false
	}
	g := o.schedule()
	switch {
	case o.data == "":
		return bad("-data is empty")
	case o.out == "":
		return bad("-out is empty")
	case !(o.sparsity > 0 && o.sparsity < 1):
		return bad("-sparsity must be in (0, 1), not %v", o.sparsity)
	case o.start < 1:
		return bad("-start must be at least 1, not %d", o.start)
	case o.every < 1:
		return bad("-every must be at least 1, not %d", o.every)
	case o.prunings < 1:
		return bad("-prunings must be at least 1, not %d", o.prunings)
	case o.evalEvery < 1:
		return bad("-eval-every must be at least 1, not %d", o.evalEvery)
	case !(o.lr > 0 && o.lr < 1):
		return bad("-lr must be in (0, 1), not %v", o.lr)
	case g.End() >= o.iterations:
		return bad("the last pruning, at step -start + -prunings × -every = %d, must come before the end of training (-iterations %d)", g.End(), o.iterations)
	}
	if err := g.Validate(); err != nil {
		return bad("%v", err)
	}
	return o, 0, true
}

// schedule is the gradual run's schedule.
func (o options) schedule() prune.Gradual {
	return prune.Gradual{Initial: 0, Final: o.sparsity, Start: o.start, Every: o.every, Steps: o.prunings}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parse(args, stderr)
	if !ok {
		return code
	}
	if err := compare(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	return 0
}

// point is one evaluation of a run.
type point struct {
	iteration int
	sparsity  float64
	accuracy  float64
	loss      float64
}

// outcome is one run: its curve and its end.
type outcome struct {
	name    string
	curve   []point
	final   point
	prunes  int
	seconds float64
}

func compare(ctx context.Context, o options, stdout io.Writer) error {
	start := time.Now()
	stage := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	data, err := train.Load(o.data, 0, o.seed)
	if err != nil {
		return err
	}
	m, err := train.LeNet300100(data.Train.Shape, data.Train.Classes)
	if err != nil {
		return err
	}
	init, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(o.seed, 0x5eed)))
	if err != nil {
		return err
	}
	g := o.schedule()
	oneShot := prune.OneShot{At: g.End(), Target: o.sparsity}
	stage("data %s: %d train, %d test examples; %s; %d steps each; final sparsity %.1f%%",
		o.data, data.Train.Len(), data.Test.Len(), m.Name(), o.iterations, 100*o.sparsity)

	var runs []*outcome
	for _, r := range []struct {
		name  string
		sched prune.Schedule
		what  string
	}{
		{"gradual", g, fmt.Sprintf("prune at steps %d, %d, ..., %d (cubic ramp to %.1f%%), then train on", g.Start, g.Start+g.Every, g.End(), 100*o.sparsity)},
		{"one-shot", oneShot, fmt.Sprintf("dense to step %d, prune at once to %.1f%%, fine-tune for %d steps", g.End(), 100*o.sparsity, o.iterations-g.End())},
	} {
		stage("%s: %s", r.name, r.what)
		out, err := trainPruned(ctx, m, init.Clone(), r.sched, data, o, r.name)
		if err != nil {
			return err
		}
		stage("%s: done in %.1fs; pruned %d time(s), sparsity %.1f%%, test accuracy %.2f%%",
			r.name, out.seconds, out.prunes, 100*out.final.sparsity, 100*out.final.accuracy)
		runs = append(runs, out)
	}

	fmt.Fprintf(stdout, "\n%s on %s, %d steps each, Adam %g, batch 60, global L1 pruning\n\n", m.Name(), o.data, o.iterations, o.lr)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run     \tprunings\tsparsity\tweights left\ttest accuracy\ttest loss\tbest test acc. after last pruning\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "%-8s\t%d\t%.2f%%\t%.2f%%\t%.2f%%\t%.4f\t%.2f%%\t\n", r.name, r.prunes, 100*r.final.sparsity,
			100*(1-r.final.sparsity), 100*r.final.accuracy, r.final.loss, 100*bestAfter(r.curve, g.End()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ngradual − one-shot: %+.2f points of test accuracy\n\n", 100*(runs[0].final.accuracy-runs[1].final.accuracy))

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("gradual: %w", err)
	}
	var csv bytes.Buffer
	writeCSV(&csv, runs)
	if err := atomicfile.WriteFile(filepath.Join(o.out, "curves.csv"), csv.Bytes(), 0o644); err != nil {
		return fmt.Errorf("gradual: %w", err)
	}
	p, err := curvesPlot(runs, fmt.Sprintf("%s on %s: gradual vs one-shot pruning to %.3g%%", m.Name(), o.data, 100*o.sparsity))
	if err != nil {
		return err
	}
	for _, name := range []string{"curves.png", "curves.svg"} {
		if err := metrics.Save(p, metrics.DefaultWidth, metrics.DefaultHeight, filepath.Join(o.out, name)); err != nil {
			return err
		}
	}
	stage("wrote curves.csv, curves.png, curves.svg into %s", o.out)
	return nil
}

// trainPruned trains w from scratch for o.iterations steps, pruning it with
// global L1 magnitude pruning whenever sched is due, the masks kept in force.
func trainPruned(ctx context.Context, m train.Model, w *train.Weights, sched prune.Schedule, data train.Splits, o options, name string) (*outcome, error) {
	cfg := train.Config{Iterations: o.iterations, EvalEvery: o.evalEvery, Seed: o.seed, Optimizer: train.Adam{LR: o.lr}}
	tr, err := train.NewTrainer(m, w, cfg)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	params := w.Prunable()
	masks := prune.NewMasks(params)
	out := &outcome{name: name}

	// prune brings the masks to the schedule's sparsity at step (the number
	// of steps done, so the pruning comes before that step's forward pass)
	// and puts them in force.
	pruneAt := func(step int) error {
		if !sched.Due(step) {
			return nil
		}
		kept := masks.Kept()
		if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Target(sched, step)}).Prune(masks, params); err != nil {
			return err
		}
		if masks.Kept() < kept {
			out.prunes++ // (Gradual's first due step, at Initial = 0, prunes nothing)
		}
		return tr.SetMasks(masks)
	}
	if err := pruneAt(0); err != nil {
		return nil, err
	}
	tr.OnStep("prune", pruneAt)
	tr.OnEval("record", func(e train.Eval) error {
		out.curve = append(out.curve, point{iteration: e.Iteration, sparsity: masks.Sparsity(), accuracy: e.TestAccuracy, loss: e.TestLoss})
		return nil
	})
	loss, acc, err := tr.Evaluate(data.Test)
	if err != nil {
		return nil, err
	}
	out.curve = append(out.curve, point{iteration: 0, sparsity: masks.Sparsity(), accuracy: acc, loss: loss})
	res, err := tr.Fit(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("gradual: %s: %w", name, err)
	}
	out.seconds = res.Seconds
	out.final = out.curve[len(out.curve)-1]
	return out, nil
}

// bestAfter returns the best test accuracy measured at or after iteration
// from.
func bestAfter(curve []point, from int) float64 {
	best := 0.0
	for _, p := range curve {
		if p.iteration >= from {
			best = max(best, p.accuracy)
		}
	}
	return best
}

func writeCSV(w io.Writer, runs []*outcome) {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	fmt.Fprintln(w, "run,iteration,sparsity,test_accuracy,test_loss")
	for _, r := range runs {
		for _, p := range r.curve {
			fmt.Fprintf(w, "%s,%d,%s,%s,%s\n", r.name, p.iteration, f(p.sparsity), f(p.accuracy), f(p.loss))
		}
	}
}

// curvesPlot draws, for each run, the test accuracy (solid) and the
// sparsity (dashed, as a step function: it changes only when pruning)
// against the iteration, both in percent.
func curvesPlot(runs []*outcome, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "Iteration"
	p.Y.Label.Text = "Percent"
	p.Y.Min, p.Y.Max = 0, 100
	// Bottom right: after the last pruning, both accuracies are high and
	// both sparsities at the top, so the corner is empty.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(8)
	colors := []color.Color{color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}, color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}}
	for i, r := range runs {
		acc := make(plotter.XYs, len(r.curve))
		var sp plotter.XYs
		for j, pt := range r.curve {
			acc[j] = plotter.XY{X: float64(pt.iteration), Y: 100 * pt.accuracy}
			if j > 0 && pt.sparsity != r.curve[j-1].sparsity {
				// A step: the sparsity changed at some pruning step between
				// two evaluations; draw the jump at the later one.
				sp = append(sp, plotter.XY{X: float64(pt.iteration), Y: 100 * r.curve[j-1].sparsity})
			}
			sp = append(sp, plotter.XY{X: float64(pt.iteration), Y: 100 * pt.sparsity})
		}
		c := colors[i%len(colors)]
		la, err := plotter.NewLine(acc)
		if err != nil {
			return nil, fmt.Errorf("gradual: %s accuracy: %w", r.name, err)
		}
		la.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.5)}
		ls, err := plotter.NewLine(sp)
		if err != nil {
			return nil, fmt.Errorf("gradual: %s sparsity: %w", r.name, err)
		}
		ls.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
		p.Add(la, ls)
		p.Legend.Add(r.name+": test accuracy", la)
		p.Legend.Add(r.name+": sparsity", ls)
	}
	p.Add(plotter.NewGrid())
	return p, nil
}
