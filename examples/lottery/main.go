// Command lottery runs a lottery-ticket experiment (Frankle & Carbin 2019):
// it trains a dense network, prunes it level after level, rewinds the
// surviving weights and retrains them, with the reinit and random-mask
// controls, over several trials. It prints a line per finished training and
// a table of test accuracy per level and arm, and writes results.csv,
// results.json, summary.csv and the accuracy-versus-sparsity plot
// (accuracy.png, accuracy.svg) into the output folder.
//
// With no flags it runs LeNet-300-100 on the embedded digits data set into
// ./lottery-out in a few minutes. Running the same command again resumes
// where it stopped; a finished level is never recomputed.
//
// Usage:
//
//	go run ./examples/lottery [flags]
//
// See README.md in this folder for the flags, the Fashion-MNIST protocol of
// the paper, and running a sweep as a Kubernetes Indexed Job or a Slurm job
// array with -shard.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/examples/internal/cli"
	"github.com/shearsml/shears/lottery"
	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/train"
	"gonum.org/v1/plot/vg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// defaults is the experiment of a run without flags: LeNet-300-100 on the
// digits, the paper's settings (Adam 1.2e-3, batch 60, 20% of each hidden
// layer and 10% of the output layer a level, rewinding to initialisation),
// shortened to run in a few minutes on two cores.
func defaults() lottery.Experiment {
	return lottery.Experiment{
		Model:    "lenet300100",
		Data:     lottery.Data{Source: "digits"},
		Train:    lottery.Training{Iterations: 800, EvalEvery: 100},
		Levels:   12,
		Trials:   3,
		Controls: []string{lottery.ArmReinit, lottery.ArmRandom},
	}
}

// quickFlags are the flag values of -quick, for CI: seconds, not minutes.
// Like flags given explicitly, they override a -config description.
var quickFlags = map[string]string{"iterations": "50", "eval-every": "25", "levels": "2", "trials": "1"}

const usageText = `Usage: lottery [flags]

Runs a lottery-ticket experiment and writes its results into the output
folder (-out). Running it again resumes; a finished level is never recomputed.

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("lottery", usageText, stderr)
	fs := c.Flags
	// One flag per registered setting that has one (lottery.Settings):
	// name, usage and choices come from the registry, the default from
	// defaults().
	base := defaults().WithDefaults()
	values := map[string]*string{}
	var keys []string
	for _, st := range lottery.Settings() {
		if st.Flag == "" {
			continue
		}
		def, err := base.Get(st.Key)
		if err != nil || def == "0" {
			def = ""
		}
		usage := st.Usage
		if len(st.Choices) > 0 {
			usage += ": " + strings.Join(st.Choices, ", ")
		}
		values[st.Key] = fs.String(st.Flag, def, usage)
		keys = append(keys, st.Key)
	}
	var (
		out     = fs.String("out", "lottery-out", "output `folder`")
		config  = fs.String("config", "", "experiment description `file` (JSON); flags given explicitly override it")
		shard   = fs.String("shard", "", "run shard `i/n` of the trials (trial t when t mod n = i)")
		merge   = fs.String("merge", "", "merge the shard `folders` (comma-separated) into -out instead of running")
		noPlot  = fs.Bool("no-plot", false, "do not draw accuracy.png and accuracy.svg")
		dpi     = fs.Int("dpi", metrics.DefaultDPI, "resolution of accuracy.png in dots per `inch`")
		kernels = fs.String("kernels", "auto", "`kernels` of pruned dense layers: auto, dense or sparse (the results are the same)")
	)
	c.Quick("a tiny run for CI: 2 levels, 1 trial, 50 steps", quickFlags)
	if code, ok := c.Parse(args); !ok {
		return code
	}
	bad := func(err error) int {
		return c.Bad("%s", strings.TrimPrefix(err.Error(), "lottery: "))
	}
	// A value given explicitly is checked as given: 0 is not "the
	// default" (leave the flag out for that).
	if code, ok := c.Positive("dpi"); !ok {
		return code
	}

	if *merge != "" {
		res, err := lottery.Merge(*out, strings.Split(*merge, ",")...)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return report(res, *noPlot, *dpi, stdout, stderr)
	}

	exp := defaults()
	if *config != "" {
		e, err := lottery.ReadExperiment(*config)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		exp = e
	}
	// Flags given explicitly, or by -quick, override the description (the
	// flags' defaults are those of defaults()), in registry order.
	flagOf := map[string]string{}
	for _, st := range lottery.Settings() {
		flagOf[st.Key] = st.Flag
	}
	for _, key := range keys {
		if c.Given(flagOf[key]) {
			if err := exp.Set(key, *values[key]); err != nil {
				return bad(fmt.Errorf("-%s: %w", flagOf[key], err))
			}
		}
	}
	// A strategy at initialisation runs one level per sparsity unless
	// -levels says otherwise.
	if *config == "" && !c.Given("levels") && exp.Prune.Method != "" && exp.Prune.Method != lottery.MethodIMP {
		exp.Levels = 0
	}
	sh, err := lottery.ParseShard(*shard)
	if err != nil {
		return bad(err)
	}
	kern, err := train.ParseKernels(*kernels)
	if err != nil {
		return bad(err)
	}
	if err := exp.Validate(); err != nil {
		return bad(err)
	}

	start := time.Now()
	res, err := lottery.Run(ctx, *out, exp, lottery.Options{Shard: sh, Log: stdout, Progress: stderr, Kernels: kern})
	if err != nil {
		fmt.Fprintln(stderr, err)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "lottery: stopped; run the same command again to resume")
			return 130
		}
		return 1
	}
	fmt.Fprintf(stdout, "\nfinished in %s\n", time.Since(start).Round(100*time.Millisecond))
	return report(res, *noPlot, *dpi, stdout, stderr)
}

// report prints the table and writes the plots.
func report(res *lottery.Results, noPlot bool, dpi int, stdout, stderr io.Writer) int {
	if len(res.Rows) == 0 {
		fmt.Fprintln(stdout, "no results: this shard owns no trial")
		return 0
	}
	trials := map[int]bool{}
	for _, r := range res.Rows {
		trials[r.Trial] = true
	}
	fmt.Fprintf(stdout, "\ntest accuracy (%%) at the end of training per level and arm, mean [min, max] over %d trial(s); experiment %s\n\n",
		len(trials), res.Hash)
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	files := []string{"results.csv", "results.json", "summary.csv"}
	if !noPlot {
		p, err := metrics.AccuracyVsSparsity(res.Rows, metrics.Title(fmt.Sprintf("%s on %s", res.Experiment.Model, filepath.Base(res.Experiment.Data.Source))))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, name := range []string{"accuracy.png", "accuracy.svg"} {
			path := filepath.Join(res.Dir, name)
			var err error
			if filepath.Ext(name) == ".png" {
				err = metrics.SaveDPI(p, 16*vg.Centimeter, 10*vg.Centimeter, path, dpi)
			} else {
				err = metrics.Save(p, 16*vg.Centimeter, 10*vg.Centimeter, path)
			}
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			files = append(files, name)
		}
	}
	if len(res.Instability) > 0 {
		if err := reportInstability(res, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		files = append(files, "instability.csv", "instability_summary.csv")
		if !noPlot {
			names, err := plotInstability(res, dpi)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			files = append(files, names...)
		}
	}
	fmt.Fprintf(stdout, "\nwrote %s into %s\n", strings.Join(files, ", "), res.Dir)
	return 0
}

// reportInstability prints the error barrier per level and rewind point.
func reportInstability(res *lottery.Results, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\ninstability: test error barrier (%%) along the linear path between two copies trained from step k, mean [min, max] over trials\n\n")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "level\tremaining\tk\tbarrier\tloss barrier")
	for _, s := range res.InstabilitySummary() {
		fmt.Fprintf(tw, "%d\t%s%%\t%d\t%.2f [%.2f, %.2f]\t%.3f\n", s.Level, metrics.FormatPercent(100*s.Remaining), s.K,
			100*s.Barrier.Mean, 100*s.Barrier.Min, 100*s.Barrier.Max, s.LossBarrier.Mean)
	}
	return tw.Flush()
}

// plotInstability draws the test error along the path of level 0 (one line
// per k; the dense network) and the error barrier against k (one line per
// level, at most eight levels, evenly chosen).
func plotInstability(res *lottery.Results, dpi int) ([]string, error) {
	sum := res.InstabilitySummary()
	var levels []int
	for _, s := range sum {
		if len(levels) == 0 || levels[len(levels)-1] != s.Level {
			levels = append(levels, s.Level)
		}
	}
	if len(levels) > 8 {
		picked := make([]int, 0, 8)
		for i := range 8 {
			picked = append(picked, levels[i*(len(levels)-1)/7])
		}
		levels = picked
	}
	// Error along the path, mean over trials, level 0 (or the first level run).
	type lk struct{ level, k int }
	paths := map[lk][]float64{}
	counts := map[lk]int{}
	var alphas []float64
	for _, row := range res.Instability {
		if row.Level != levels[0] {
			continue
		}
		key := lk{row.Level, row.K}
		if paths[key] == nil {
			paths[key] = make([]float64, len(row.Points))
		}
		alphas = alphas[:0]
		for i, p := range row.Points {
			paths[key][i] += 1 - p.TestAccuracy
			alphas = append(alphas, p.Alpha)
		}
		counts[key]++
	}
	var pathSeries []metrics.Series
	for _, s := range sum {
		key := lk{s.Level, s.K}
		if s.Level != levels[0] || paths[key] == nil {
			continue
		}
		ys := make([]float64, len(paths[key]))
		for i, v := range paths[key] {
			ys[i] = v / float64(counts[key])
		}
		pathSeries = append(pathSeries, metrics.Series{Label: fmt.Sprintf("k = %d", s.K), X: slices.Clone(alphas), Y: ys})
	}
	var barrierSeries []metrics.Series
	for _, l := range levels {
		var xs, ys []float64
		var rem float64
		for _, s := range sum {
			if s.Level == l {
				xs, ys, rem = append(xs, float64(s.K)), append(ys, max(s.Barrier.Mean, 0)), s.Remaining
			}
		}
		barrierSeries = append(barrierSeries, metrics.Series{Label: metrics.LevelLabel(l, rem), X: xs, Y: ys})
	}
	var files []string
	for _, pl := range []struct {
		name   string
		series []metrics.Series
		opts   []metrics.Option
	}{
		{"instability_path", pathSeries, []metrics.Option{metrics.Title(fmt.Sprintf("Linear path between two copies, level %d", levels[0])), metrics.XLabel("Interpolation α"), metrics.YLabel("Test error (%)")}},
		{"instability_barrier", barrierSeries, []metrics.Option{metrics.Title("Instability"), metrics.XLabel("Rewind point k (steps)"), metrics.YLabel("Test error barrier (%)")}},
	} {
		if len(pl.series) == 0 || len(pl.series[0].X) < 2 && pl.name == "instability_barrier" {
			continue // one rewind point: no curve to draw
		}
		p, err := metrics.TrainingCurves(pl.series, metrics.Accuracy, pl.opts...)
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".png", ".svg"} {
			path := filepath.Join(res.Dir, pl.name+ext)
			if ext == ".png" {
				err = metrics.SaveDPI(p, 16*vg.Centimeter, 10*vg.Centimeter, path, dpi)
			} else {
				err = metrics.Save(p, 16*vg.Centimeter, 10*vg.Centimeter, path)
			}
			if err != nil {
				return nil, err
			}
			files = append(files, pl.name+ext)
		}
	}
	return files, nil
}
