// Command benchmark compares the speed of shears with PyTorch's on the same
// machine, in one run, and prints the ratios.
//
// It measures, on the Go side in this process and on the PyTorch side by
// running the scripts under scripts/ with Debian's python3-torch:
//
//   - pruning: prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.2)}
//     over N float32 weights in 12 tensors (the shapes of prune's
//     BenchmarkGlobal), against torch.nn.utils.prune.global_unstructured
//     with L1Unstructured and amount=0.2 (scripts/bench_torch_prune.py);
//   - training: one optimizer step (forward, backward, Adam) of
//     LeNet-300-100 (784-300-100-10), LeNet-5, Conv-2 and Conv-6, float32,
//     batch 60, on random data, against the same networks in PyTorch
//     (scripts/bench_torch_train.py) in its best CPU configuration: Adam
//     with foreach=True, torch.set_flush_denormal(True), and the thread
//     count set by torch.set_num_threads;
//
// each on one thread and on GOMAXPROCS threads, both sides one after the
// other for each figure, and names the CPU (/proc/cpuinfo). When python3
// or torch is missing it says so and prints the Go figures only.
//
// Usage:
//
//	go run ./examples/benchmark [flags]
//
// See README.md in this folder.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shearsml/shears/examples/internal/cli"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `Usage: benchmark [flags]

Times global L1 pruning and training steps of LeNet-300-100, LeNet-5,
Conv-2 and Conv-6 in Go (shears on Gorgonia) and in PyTorch (python3-torch,
through scripts/bench_torch_*.py, in its best CPU configuration: foreach
Adam, flushed denormals) on this machine, in this run, and prints the
ratios. Without PyTorch it prints the Go figures only.

Flags:
`

// options are the settings of one run, checked by parse.
type options struct {
	weights  int     // weights pruned, a whole number of millions
	repeat   int     // pruning calls timed (the best counts)
	seconds  float64 // length of one timed training repeat
	trainRep int     // training repeats (the best counts)
	rounds   int     // Go-then-PyTorch training measurements of each model and thread count
	threads  []int   // thread counts measured
	seed     uint64
	python   string // interpreter; "" finds one
	scripts  string // folder of the torch scripts; "" finds it
	torch    bool
	only     string   // "", "prune" or "train"
	models   []string // trained models, names of trainModels
}

// parse reads the flags. It returns the exit code for a parse that ends the
// run (help: 0, a bad flag: 2) and ok = false.
func parse(args []string, stderr io.Writer) (o options, code int, ok bool) {
	c := cli.New("benchmark", usageText, stderr)
	fs := c.Flags
	weights := fs.String("weights", "100M", "`number` of float32 weights to prune, in whole millions: 100M, 10M, 1000000")
	fs.IntVar(&o.repeat, "repeat", 3, "pruning calls timed on each side, the best counts (PyTorch's script times one call from 100M on)")
	fs.Float64Var(&o.seconds, "seconds", 3, "`seconds` of each timed training repeat")
	fs.IntVar(&o.trainRep, "train-repeat", 3, "timed training repeats on each side, the best counts")
	fs.IntVar(&o.rounds, "rounds", 1, "training measurements of each model and thread count, Go then PyTorch each time, one row each: the spread of the rates on a busy machine")
	threads := fs.String("threads", "", "thread `counts` to measure, comma-separated (default: 1 and GOMAXPROCS)")
	fs.Uint64Var(&o.seed, "seed", 1, "`seed` of the Go side's weights and data")
	fs.StringVar(&o.python, "python", "", "Python `interpreter` with torch (default: the first of python3 on $PATH and /usr/bin/python3 that imports torch)")
	fs.StringVar(&o.scripts, "scripts", "", "`folder` holding bench_torch_prune.py and bench_torch_train.py (default: scripts/ in this folder or a parent)")
	fs.BoolVar(&o.torch, "torch", true, "run the PyTorch side (-torch=false: Go figures only)")
	fs.StringVar(&o.only, "only", "", "run one benchmark only, by `name`: prune or train")
	models := fs.String("models", "lenet300100,lenet5,conv2,conv6", "trained `models`, comma-separated: lenet300100, lenet5, conv2, conv6")
	c.Quick("a short run for CI: 1M weights, one thread count (GOMAXPROCS), LeNet-300-100 only, 0.3 s training repeats",
		map[string]string{"weights": "1M", "seconds": "0.3", "train-repeat": "1", "threads": strconv.Itoa(runtime.GOMAXPROCS(0)), "models": "lenet300100"})
	if code, ok := c.Parse(args); !ok {
		return o, code, false
	}
	bad := func(format string, a ...any) (options, int, bool) {
		return o, c.Bad(format, a...), false
	}
	var err error
	if o.weights, err = parseWeights(*weights); err != nil {
		return bad("-weights: %v", err)
	}
	if o.threads, err = parseThreads(*threads); err != nil {
		return bad("-threads: %v", err)
	}
	if o.models, err = parseModels(*models); err != nil {
		return bad("-models: %v", err)
	}
	switch {
	case o.repeat < 1:
		return bad("-repeat must be at least 1, not %d", o.repeat)
	case o.trainRep < 1:
		return bad("-train-repeat must be at least 1, not %d", o.trainRep)
	case o.rounds < 1:
		return bad("-rounds must be at least 1, not %d", o.rounds)
	case !(o.seconds > 0 && o.seconds <= 600):
		return bad("-seconds must be in (0, 600], not %v", o.seconds)
	case o.only != "" && o.only != "prune" && o.only != "train":
		return bad("-only must be prune or train, not %q", o.only)
	}
	return o, 0, true
}

// parseWeights reads a count of weights: "100M", "1m" or "1000000"; it must
// be a whole number of millions (the PyTorch script's sizes), at most 2000M.
func parseWeights(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	if strings.HasSuffix(t, "M") || strings.HasSuffix(t, "m") {
		t, mult = t[:len(t)-1], 1_000_000
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a count like 100M or 1000000", s)
	}
	if n <= 0 || n > 2000*1_000_000/mult {
		return 0, fmt.Errorf("%q is not in [1M, 2000M]", s)
	}
	n *= mult
	if n%1_000_000 != 0 {
		return 0, fmt.Errorf("%q is not a whole number of millions", s)
	}
	return n, nil
}

// parseModels reads a list of model names (trainModels' keys).
func parseModels(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if _, ok := trainModels[f]; !ok {
			return nil, fmt.Errorf("%q is not one of lenet300100, lenet5, conv2, conv6", f)
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("%s is listed twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// parseThreads reads a list of thread counts; "" means 1 and GOMAXPROCS.
func parseThreads(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		if p := runtime.GOMAXPROCS(0); p > 1 {
			return []int{1, p}, nil
		}
		return []int{1}, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("%q is not a thread count in [1, 1024]", f)
		}
		for _, m := range out {
			if m == n {
				return nil, fmt.Errorf("%d is listed twice", n)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parse(args, stderr)
	if !ok {
		return code
	}
	b := &bench{o: o, stdout: stdout, stderr: stderr, start: time.Now()}
	err := b.all(ctx)
	b.table()
	if err != nil {
		fmt.Fprintln(stderr, err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	return 0
}

// row is one line of the table: a Go figure and the PyTorch figure for the
// same work. Seconds per call for pruning, samples per second for training.
type row struct {
	what      string
	threads   int
	goV, pyV  float64 // 0: not measured
	goCPU     float64 // training: samples per second of the process's CPU time (0: not measured)
	pyCPU     float64
	unit      string
	perSecond bool // larger is faster
}

type bench struct {
	o              options
	stdout, stderr io.Writer
	start          time.Time
	rows           []row
	python         string // "" when PyTorch is not available
	torchVersion   string
	noTorch        string // why PyTorch is not measured
	scripts        string
}

func (b *bench) stage(format string, a ...any) {
	fmt.Fprintf(b.stdout, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, a...))
}

func (b *bench) all(ctx context.Context) error {
	b.stage("CPU: %s; Go %s, GOMAXPROCS %d, %d CPUs, matrix products: %s; thread counts measured: %v",
		cpuName(), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), train.Backend(), b.o.threads)
	if env := torchISA(os.Getenv("SHEARS_CPU")); env != nil {
		b.stage("SHEARS_CPU=%s: PyTorch runs with %s", os.Getenv("SHEARS_CPU"), strings.Join(env, " "))
	}
	if b.o.torch {
		b.findTorch(ctx)
		if b.python != "" {
			b.stage("PyTorch %s through %s, scripts in %s", b.torchVersion, b.python, b.scripts)
		} else {
			b.stage("PyTorch: not available (%s); printing the Go figures only", b.noTorch)
		}
	} else {
		b.noTorch = "-torch=false"
		b.stage("PyTorch: skipped (-torch=false); printing the Go figures only")
	}
	if b.o.only != "train" {
		if err := b.prune(ctx); err != nil {
			return err
		}
	}
	if b.o.only != "prune" {
		if err := b.train(ctx); err != nil {
			return err
		}
	}
	return nil
}

// findTorch finds a Python interpreter that imports torch, and the scripts.
func (b *bench) findTorch(ctx context.Context) {
	scripts, err := findScripts(b.o.scripts)
	if err != nil {
		b.noTorch = err.Error()
		return
	}
	candidates := []string{b.o.python}
	if b.o.python == "" {
		candidates = nil
		if p, err := exec.LookPath("python3"); err == nil {
			candidates = append(candidates, p)
		}
		if p := "/usr/bin/python3"; len(candidates) == 0 || candidates[0] != p {
			candidates = append(candidates, p)
		}
	}
	var why []string
	for _, py := range candidates {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := exec.CommandContext(cctx, py, "-c", "import torch; print(torch.__version__)").CombinedOutput()
		cancel()
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if i := strings.LastIndex(msg, "\n"); i >= 0 {
				msg = msg[i+1:] // the exception, not the traceback
			}
			if msg == "" {
				msg = err.Error()
			}
			why = append(why, fmt.Sprintf("%s: %s", py, msg))
			continue
		}
		b.python, b.torchVersion, b.scripts = py, strings.TrimSpace(string(out)), scripts
		return
	}
	b.noTorch = strings.Join(why, "; ") + "; install Debian's python3-torch or pass -python"
}

// findScripts returns the folder holding the PyTorch scripts: dir when set,
// otherwise scripts/ in the working folder or the nearest parent that has
// them.
func findScripts(dir string) (string, error) {
	has := func(d string) bool {
		for _, name := range []string{"bench_torch_prune.py", "bench_torch_train.py"} {
			if fi, err := os.Stat(filepath.Join(d, name)); err != nil || !fi.Mode().IsRegular() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("%s does not hold bench_torch_prune.py and bench_torch_train.py", dir)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if s := filepath.Join(d, "scripts"); has(s) {
			return s, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no scripts/bench_torch_prune.py in this folder or a parent; run from the repository or pass -scripts")
		}
	}
}

// benchShapes are the 12 tensors of prune's BenchmarkGlobal and of
// scripts/bench_torch_prune.py at their base size, as [rows, rest].
var benchShapes = [12][2]int{
	{64, 147}, {64, 576}, {128, 576}, {128, 1152}, {256, 1152}, {256, 2304},
	{512, 2304}, {512, 4608}, {512, 4608}, {1024, 2048}, {2048, 1024}, {1000, 2048},
}

// scaledShapes returns the shapes scaled to about n weights, as the script
// does: rows_i = max(1, round(rows_i·n / base)).
func scaledShapes(n int) [][2]int {
	base := 0
	for _, s := range benchShapes {
		base += s[0] * s[1]
	}
	out := make([][2]int, len(benchShapes))
	for i, s := range benchShapes {
		out[i] = [2]int{max(1, (s[0]*n+base/2)/base), s[1]}
	}
	return out
}

// pruneParams returns the 12 float32 tensors of about n weights, normal with
// standard deviation 0.05 (as the script's), drawn from seed.
func pruneParams(n int, seed uint64) []prune.Param {
	shapes := scaledShapes(n)
	ps := make([]prune.Param, len(shapes))
	var wg sync.WaitGroup
	for i, sh := range shapes {
		data := make([]float32, sh[0]*sh[1])
		ps[i] = prune.Param{Name: fmt.Sprintf("w%d", i), Value: tensor.New(tensor.WithShape(sh[0], sh[1]), tensor.WithBacking(data))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for j := range data {
				data[j] = float32(rng.NormFloat64() * 0.05)
			}
		}()
	}
	wg.Wait()
	return ps
}

var pruneLine = regexp.MustCompile(`(\d+) weights \((\d+)M\) in 12 tensors, (\d+) thread\(s\): ([0-9.eE+-]+) s/call`)

func (b *bench) prune(ctx context.Context) error {
	n := b.o.weights
	b.stage("Go: generating %dM float32 weights in 12 tensors", n/1_000_000)
	ps := pruneParams(n, b.o.seed)
	total := 0
	for _, p := range ps {
		total += p.Size()
	}
	pr := prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.2)}
	what := fmt.Sprintf("prune.Global L1 20%%, %s weights", millions(total))
	goSecs := map[int]float64{}
	for _, th := range b.o.threads {
		prev := runtime.GOMAXPROCS(th)
		best, kept := 0.0, 0
		for r := range b.o.repeat {
			if err := ctx.Err(); err != nil {
				runtime.GOMAXPROCS(prev)
				return err
			}
			ms := prune.NewMasks(ps)
			t0 := time.Now()
			err := pr.Prune(ms, ps)
			el := time.Since(t0).Seconds()
			if err != nil {
				runtime.GOMAXPROCS(prev)
				return err
			}
			if r == 0 || el < best {
				best = el
			}
			kept = ms.Kept()
		}
		runtime.GOMAXPROCS(prev)
		goSecs[th] = best
		b.stage("Go: prune.Global over %d weights, GOMAXPROCS %d: %.3f s/call (best of %d; kept %d)", total, th, best, b.o.repeat, kept)
	}
	// Hand the memory back before PyTorch needs its own.
	ps = nil
	runtime.GC()
	debug.FreeOSMemory()

	pySecs := map[int]float64{}
	if b.python != "" {
		var ths []string
		for _, th := range b.o.threads {
			ths = append(ths, strconv.Itoa(th))
		}
		b.stage("PyTorch: global_unstructured over %dM weights, threads %s (about 20 s a call at 100M)", n/1_000_000, strings.Join(ths, ","))
		out, err := b.script(ctx, "bench_torch_prune.py", "--sizes", strconv.Itoa(n/1_000_000), "--repeat", strconv.Itoa(b.o.repeat), "--threads", strings.Join(ths, ","))
		if err != nil {
			b.addPruneRows(what, goSecs, pySecs)
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			m := pruneLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			weights, _ := strconv.Atoi(m[1])
			th, _ := strconv.Atoi(m[3])
			secs, err := strconv.ParseFloat(m[4], 64)
			if err != nil || weights != total {
				b.addPruneRows(what, goSecs, pySecs)
				return fmt.Errorf("benchmark: bench_torch_prune.py: unexpected line (weights %s, expected %d): %q", m[1], total, line)
			}
			pySecs[th] = secs
		}
		for _, th := range b.o.threads {
			if _, ok := pySecs[th]; !ok {
				b.addPruneRows(what, goSecs, pySecs)
				return fmt.Errorf("benchmark: bench_torch_prune.py printed no figure for %d thread(s); its output:\n%s", th, out)
			}
		}
	}
	b.addPruneRows(what, goSecs, pySecs)
	return nil
}

func (b *bench) addPruneRows(what string, goSecs, pySecs map[int]float64) {
	for _, th := range b.o.threads {
		if g, ok := goSecs[th]; ok {
			b.rows = append(b.rows, row{what: what, threads: th, goV: g, pyV: pySecs[th], unit: "s/call"})
		}
	}
}

// torchISA returns the environment that holds PyTorch to the instruction
// set SHEARS_CPU holds the Go side to, so that SHEARS_CPU=avx2 compares the
// two as on a CPU without AVX-512: ATen's kernels (ATEN_CPU_CAPABILITY),
// oneDNN's convolutions (DNNL_MAX_CPU_ISA) and OpenBLAS's matrix products
// (OPENBLAS_CORETYPE=Haswell, its AVX2 kernels). Other values add nothing.
func torchISA(shearsCPU string) []string {
	if shearsCPU != "avx2" {
		return nil
	}
	return []string{"ATEN_CPU_CAPABILITY=avx2", "DNNL_MAX_CPU_ISA=AVX2", "OPENBLAS_CORETYPE=Haswell"}
}

// script runs one of the PyTorch scripts and returns its standard output.
// Its standard error is passed through.
func (b *bench) script(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.python, append([]string{filepath.Join(b.scripts, name)}, args...)...)
	cmd.Env = append(os.Environ(), torchISA(os.Getenv("SHEARS_CPU"))...)
	var out bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(&out, pw)
	cmd.Stderr = b.stderr
	// Echo the script's lines as they come, indented, so that a long run
	// shows progress.
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintf(b.stdout, "          | %s\n", sc.Text())
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		return out.String(), fmt.Errorf("benchmark: %s %s: %w", b.python, name, err)
	}
	return out.String(), nil
}

// trainLine matches the last line of bench_torch_train.py, e.g.
// "pytorch 1.13.0 on AMD EPYC, model=conv2, 1 thread(s), batch 60,
// foreach=True, flush_denormal=True: best 14.4 samples/s".
var trainLine = regexp.MustCompile(`(\d+) thread\(s\), batch (\d+)((?:, [a-z_]+=\w+)*): best ([0-9.eE+-]+) samples/s(?:, ([0-9.eE+-]+) samples per CPU second)?`)

// trainModel is a model both sides train: its PyTorch script name, title,
// builder, input shape, and the warm-up steps and steps between clock reads
// of the Go side's timing.
type trainModel struct {
	title string
	build func([]int, int) (train.Model, error)
	shape []int
	warm  int
	chunk int
}

var trainModels = map[string]trainModel{
	"lenet300100": {"LeNet-300-100", train.LeNet300100, []int{1, 28, 28}, 50, 20},
	"lenet5":      {"LeNet-5", train.LeNet5, []int{1, 28, 28}, 50, 20},
	"conv2":       {"Conv-2", train.Conv2, []int{3, 32, 32}, 3, 1},
	"conv6":       {"Conv-6", train.Conv6, []int{3, 32, 32}, 3, 1},
}

func (b *bench) train(ctx context.Context) error {
	for _, name := range b.o.models {
		tm := trainModels[name]
		for round := 1; round <= b.o.rounds; round++ {
			if err := b.trainRound(ctx, name, tm, round); err != nil {
				return err
			}
		}
	}
	return nil
}

// trainRound measures one model on each thread count, Go then PyTorch, and
// adds a row each.
func (b *bench) trainRound(ctx context.Context, name string, tm trainModel, round int) error {
	const batch = 60
	what := fmt.Sprintf("train %s step, float32, batch 60", tm.title)
	if b.o.rounds > 1 {
		what += fmt.Sprintf(" (round %d)", round)
	}
	for _, th := range b.o.threads {
		rate, cpuRate, err := goTrainRate(ctx, tm, th, batch, b.o.seconds, b.o.trainRep, b.o.seed)
		if err != nil {
			return err
		}
		b.stage("Go: %s training, float32, batch %d, GOMAXPROCS %d: %.1f samples/s, %.1f samples per CPU second (best of %d × %.3g s)", tm.title, batch, th, rate, cpuRate, b.o.trainRep, b.o.seconds)
		r := row{what: what, threads: th, goV: rate, goCPU: cpuRate, unit: "samples/s", perSecond: true}
		if b.python != "" {
			b.stage("PyTorch: the same step, %d thread(s), %d × %.3g s", th, b.o.trainRep, b.o.seconds)
			out, err := b.script(ctx, "bench_torch_train.py", "--model", name, "--threads", strconv.Itoa(th), "--batch", strconv.Itoa(batch),
				"--seconds", strconv.FormatFloat(b.o.seconds, 'g', -1, 64), "--repeat", strconv.Itoa(b.o.trainRep))
			if err != nil {
				b.rows = append(b.rows, r)
				return err
			}
			m := trainLine.FindStringSubmatch(out)
			if m == nil {
				b.rows = append(b.rows, r)
				return fmt.Errorf("benchmark: bench_torch_train.py printed no line like %q; its output:\n%s", "N thread(s), batch 60: best R samples/s", out)
			}
			if got, _ := strconv.Atoi(m[1]); got != th {
				b.rows = append(b.rows, r)
				return fmt.Errorf("benchmark: bench_torch_train.py ran on %d thread(s), not %d", got, th)
			}
			if !strings.Contains(out, "model="+name+",") || !strings.Contains(m[3], "foreach=True") || !strings.Contains(m[3], "flush_denormal=True") {
				b.rows = append(b.rows, r)
				return fmt.Errorf("benchmark: bench_torch_train.py did not run %s with foreach Adam and flushed denormals: %q", name, m[0])
			}
			r.pyV, _ = strconv.ParseFloat(m[4], 64)
			if m[5] != "" {
				r.pyCPU, _ = strconv.ParseFloat(m[5], 64)
			}
		}
		b.rows = append(b.rows, r)
	}
	return nil
}

// goTrainRate times training steps of tm on random inputs with GOMAXPROCS
// set to threads: tm.warm warm-up steps, then repeat runs of about seconds
// each; it returns the best rate in samples per second of wall time, and
// the best in samples per second of the process's CPU time (0 where that
// cannot be read), which a busy machine disturbs less.
func goTrainRate(ctx context.Context, tm trainModel, threads, batch int, seconds float64, repeat int, seed uint64) (rate, cpuRate float64, err error) {
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	train.SetBLASThreads(threads)

	rng := rand.New(rand.NewPCG(seed, 28))
	f := 1
	for _, d := range tm.shape {
		f *= d
	}
	synthetic := func(n int) *train.Dataset {
		d := &train.Dataset{Name: "random", X: make([]float32, n*f), Y: make([]int, n), Shape: slices.Clone(tm.shape), Classes: 10}
		for i := range d.X {
			d.X[i] = rng.Float32()
		}
		for i := range d.Y {
			d.Y[i] = rng.IntN(10)
		}
		return d
	}
	data := train.Splits{Train: synthetic(10 * batch), Test: synthetic(batch)}
	m, err := tm.build(tm.shape, 10)
	if err != nil {
		return 0, 0, err
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		return 0, 0, err
	}
	const forever = 1 << 30
	tr, err := train.NewTrainer(m, w, train.Config{Batch: batch, Iterations: forever, EvalEvery: forever, Seed: seed, Optimizer: train.Adam{LR: 1.2e-3}})
	if err != nil {
		return 0, 0, err
	}
	defer tr.Close()

	// One hook, stopping Fit (train.ErrStop) after the warm-up and after
	// each timed repeat; the evaluation Fit does when stopped is not timed.
	var (
		steps      int
		t0         time.Time
		c0         float64
		elapsed    float64
		cpuElapsed float64
		warm       = true
	)
	tr.OnStep("timer", func(int) error {
		steps++
		if warm {
			if steps == tm.warm {
				return train.ErrStop
			}
			return nil
		}
		if steps%tm.chunk == 0 {
			if el := time.Since(t0).Seconds(); el >= seconds {
				elapsed, cpuElapsed = el, cpuSeconds()-c0
				return train.ErrStop
			}
		}
		return nil
	})
	if _, err := tr.Fit(ctx, data); err != nil {
		return 0, 0, err
	}
	warm = false
	for range repeat {
		steps = 0
		c0, t0 = cpuSeconds(), time.Now()
		if _, err := tr.Fit(ctx, data); err != nil {
			return 0, 0, err
		}
		rate = max(rate, float64(steps*batch)/elapsed)
		if c0 >= 0 && cpuElapsed > 0 {
			cpuRate = max(cpuRate, float64(steps*batch)/cpuElapsed)
		}
	}
	return rate, cpuRate, nil
}

// cpuName returns the CPU's model name from /proc/cpuinfo, or what is
// known without it.
func cpuName() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH + " CPU (no model name in /proc/cpuinfo)"
}

// table prints the rows measured.
func (b *bench) table() {
	if len(b.rows) == 0 {
		return
	}
	fmt.Fprintln(b.stdout)
	if b.python != "" {
		fmt.Fprintf(b.stdout, "On %s: Go %s (GOMAXPROCS set to the thread count, matrix products %s) vs PyTorch %s in its best CPU configuration (Adam foreach=True, torch.set_flush_denormal(True), torch.set_num_threads), same machine, same run; ratio = Go's speed ÷ PyTorch's (above 1: Go is faster)\n\n",
			cpuName(), runtime.Version(), train.Backend(), b.torchVersion)
	} else {
		fmt.Fprintf(b.stdout, "On %s: Go %s (GOMAXPROCS set to the thread count, matrix products %s); PyTorch not measured: %s\n\n", cpuName(), runtime.Version(), train.Backend(), b.noTorch)
	}
	tw := tabwriter.NewWriter(b.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("what")
	for _, r := range b.rows {
		width = max(width, len(r.what))
	}
	cpu := false
	for _, r := range b.rows {
		cpu = cpu || (r.goCPU > 0 && r.pyCPU > 0)
	}
	if cpu {
		fmt.Fprintf(tw, "%-*s\tthreads\tGo\tPyTorch\tratio\tratio per CPU second\t\n", width, "what")
	} else {
		fmt.Fprintf(tw, "%-*s\tthreads\tGo\tPyTorch\tratio\t\n", width, "what")
	}
	for _, r := range b.rows {
		py, ratio := "-", "-"
		if r.pyV > 0 {
			py = figure(r.pyV, r.unit)
			if r.perSecond {
				ratio = fmt.Sprintf("%.2f×", r.goV/r.pyV)
			} else {
				ratio = fmt.Sprintf("%.2f×", r.pyV/r.goV)
			}
		}
		if cpu {
			cr := "-"
			if r.goCPU > 0 && r.pyCPU > 0 {
				cr = fmt.Sprintf("%.2f×", r.goCPU/r.pyCPU)
			}
			fmt.Fprintf(tw, "%-*s\t%d\t%s\t%s\t%s\t%s\t\n", width, r.what, r.threads, figure(r.goV, r.unit), py, ratio, cr)
			continue
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%s\t%s\t%s\t\n", width, r.what, r.threads, figure(r.goV, r.unit), py, ratio)
	}
	tw.Flush()
	fmt.Fprintln(b.stdout, "\nThe machine may be shared and busy: compare the ratios, not the seconds.")
	if cpu {
		fmt.Fprintln(b.stdout, "The ratio per CPU second divides the samples by the CPU time each process used (user and system, all its threads) rather than the wall time: other programs on the cores disturb it less.")
	}
	// A PyTorch figure on more threads that is worse than on one thread
	// says the cores were busy (its OpenMP threads wait for each other);
	// the one-thread row is then the fair comparison.
	one := map[string]row{}
	for _, r := range b.rows {
		if r.threads == 1 && r.pyV > 0 {
			one[r.what] = r
		}
	}
	for _, r := range b.rows {
		o, ok := one[r.what]
		if !ok || r.threads == 1 || r.pyV == 0 {
			continue
		}
		if slower := (r.perSecond && r.pyV < o.pyV) || (!r.perSecond && r.pyV > o.pyV); slower {
			fmt.Fprintf(b.stdout, "Note: PyTorch ran %q slower on %d threads than on 1: the cores were busy; trust the 1-thread ratio.\n", r.what, r.threads)
		}
	}
}

func figure(v float64, unit string) string {
	if unit == "s/call" {
		switch {
		case v >= 10:
			return fmt.Sprintf("%.1f s", v)
		case v >= 0.1:
			return fmt.Sprintf("%.3f s", v)
		default:
			return fmt.Sprintf("%.2f ms", 1e3*v)
		}
	}
	if v < 100 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// millions formats a count of weights: "100.0M".
func millions(n int) string {
	return fmt.Sprintf("%.1fM", float64(n)/1e6)
}
