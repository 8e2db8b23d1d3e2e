package lottery

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"gorgonia.org/tensor"
)

// tiny is a small experiment that runs in a second or two: an MLP with one
// hidden layer of 32 on the digits, 40 steps a level.
func tiny() Experiment {
	return Experiment{
		Model:    "mlp:32",
		Data:     Data{Val: 200},
		Train:    Training{Iterations: 40, Batch: 32, EvalEvery: 20},
		Levels:   2,
		Trials:   2,
		Controls: []string{ArmReinit, ArmRandom},
		Workers:  2,
	}
}

// cache of reference runs, by experiment hash and extent.
var (
	refMu   sync.Mutex
	refRuns = map[string]string{}
)

// reference runs e once, uninterrupted, into a folder shared by the tests,
// and returns the folder.
func reference(t *testing.T, e Experiment) string {
	t.Helper()
	b, _ := e.WithDefaults().MarshalIndent()
	key := string(b)
	refMu.Lock()
	defer refMu.Unlock()
	if dir, ok := refRuns[key]; ok {
		return dir
	}
	dir, err := os.MkdirTemp("", "lottery-ref-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), dir, e, Options{}); err != nil {
		t.Fatal(err)
	}
	refRuns[key] = dir
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range refRuns {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// sameRun checks that two output folders hold the same numbers (everything
// but train_seconds) and byte-identical masks and weights.
func sameRun(t *testing.T, a, b string) {
	t.Helper()
	ra, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ra.Missing) > 0 || len(rb.Missing) > 0 {
		t.Fatalf("missing results: %v / %v", ra.Missing, rb.Missing)
	}
	if ra.Hash != rb.Hash || len(ra.Results) != len(rb.Results) {
		t.Fatalf("hash %s vs %s, %d vs %d results", ra.Hash, rb.Hash, len(ra.Results), len(rb.Results))
	}
	for i := range ra.Results {
		if !ra.Results[i].sameNumbers(rb.Results[i]) {
			t.Errorf("%s: results differ:\n%+v\n%+v", ra.Results[i].Key(), ra.Rows[i], rb.Rows[i])
		}
	}
	sa, sb := store{a, ra.Hash}, store{b, rb.Hash}
	for _, r := range ra.Results {
		for _, f := range []func(Key) string{sa.masksPath, sa.weightsPath} {
			pa := f(r.Key())
			pb := filepath.Join(sb.root(), strings.TrimPrefix(pa, sa.root()))
			if !sameBytes(t, pa, pb) {
				t.Errorf("%s and %s differ", pa, pb)
			}
		}
	}
}

func sameBytes(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(da, db)
}

func TestRunWritesEverything(t *testing.T) {
	e := tiny()
	dir := reference(t, e)
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// 2 trials × (level 0 ticket + 2 levels × 3 arms)
	if len(res.Rows) != 2*(1+2*3) || len(res.Missing) != 0 {
		t.Fatalf("%d rows, missing %v", len(res.Rows), res.Missing)
	}
	for _, name := range []string{experimentFile, resultsCSV, resultsJSON, summaryCSV} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, resultsCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := metrics.ReadRowsCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(res.Rows) {
		t.Fatalf("results.csv has %d rows, want %d", len(rows), len(res.Rows))
	}
	for i := range rows {
		if rows[i] != res.Rows[i] {
			t.Errorf("results.csv row %d = %+v, want %+v", i, rows[i], res.Rows[i])
		}
	}
	jf, err := os.Open(filepath.Join(dir, resultsJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	jrows, err := metrics.ReadRowsJSON(jf)
	if err != nil {
		t.Fatal(err)
	}
	if len(jrows) != len(rows) {
		t.Fatalf("results.json has %d rows, want %d", len(jrows), len(rows))
	}
	for i, r := range res.Results {
		row := res.Rows[i]
		if row.Arm != r.Arm || row.TestAccuracy != r.Final.TestAccuracy {
			t.Errorf("row %d does not match its result", i)
		}
		if r.Final.TestAccuracy < 0.3 {
			t.Errorf("%s: test accuracy %v: the network did not learn", r.Key(), r.Final.TestAccuracy)
		}
		if r.Steps != e.Train.Iterations || r.Final.Iteration != e.Train.Iterations {
			t.Errorf("%s: trained to step %d (final eval at %d), want %d", r.Key(), r.Steps, r.Final.Iteration, e.Train.Iterations)
		}
		if len(r.Evals) < 2 {
			t.Errorf("%s: %d evaluations", r.Key(), len(r.Evals))
		}
	}
	// The summary: mean, std, min and max over the two trials.
	sum, err := res.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1+2*3 {
		t.Fatalf("%d summary rows", len(sum))
	}
	for _, s := range sum {
		var xs []float64
		for _, r := range res.Rows {
			if r.Level == s.Level && r.Arm == s.Arm {
				xs = append(xs, r.TestAccuracy)
			}
		}
		if len(xs) != 2 || s.Trials != 2 {
			t.Fatalf("level %d %s: %d rows", s.Level, s.Arm, len(xs))
		}
		mean := (xs[0] + xs[1]) / 2
		std := math.Abs(xs[0]-xs[1]) / math.Sqrt2
		if math.Abs(s.TestAccuracy.Mean-mean) > 1e-12 || math.Abs(s.TestAccuracy.Std-std) > 1e-12 ||
			s.TestAccuracy.Min != math.Min(xs[0], xs[1]) || s.TestAccuracy.Max != math.Max(xs[0], xs[1]) {
			t.Errorf("level %d %s: summary %+v of %v", s.Level, s.Arm, s.TestAccuracy, xs)
		}
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "remaining  ticket") || strings.Count(table.String(), "\n") != 4 {
		t.Errorf("table:\n%s", table.String())
	}
}

// The mask of level L keeps a subset of level L−1's, and the per-tensor
// counts follow the rates exactly: round-half-to-even of the rate times the
// weights still kept, level after level.
func TestMasksAndRemaining(t *testing.T) {
	e := tiny()
	dir := reference(t, e)
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := store{dir, res.Hash}
	rates := LayerRates(e, []string{"fc1.w", "fc2.w"})
	if rates["fc1.w"] != 0.2 || rates["fc2.w"] != 0.1 {
		t.Fatalf("rates %v", rates)
	}
	for trial := range 2 {
		var prev *prune.Masks
		want := map[string]int{"fc1.w": 64 * 32, "fc2.w": 32 * 10}
		for l := 0; l <= 2; l++ {
			k := Key{trial, l, ArmTicket}
			ms, err := prune.LoadMasks(s.masksPath(k))
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && !ms.SubsetOf(prev) {
				t.Errorf("%s: mask is not a subset of level %d's", k, l-1)
			}
			if l > 0 {
				for name, kept := range want {
					want[name] = kept - int(math.RoundToEven(rates[name]*float64(kept)))
				}
			}
			kept, total := 0, 0
			for name, w := range want {
				if got := ms.Mask(name).Kept(); got != w {
					t.Errorf("%s: %s keeps %d, want %d", k, name, got, w)
				}
				kept += w
				total += ms.Mask(name).Len()
			}
			r, err := s.readResult(k)
			if err != nil {
				t.Fatal(err)
			}
			if r.Remaining != float64(kept)/float64(total) {
				t.Errorf("%s: remaining %v, want %d/%d", k, r.Remaining, kept, total)
			}
			// The controls: reinit has the ticket's mask; random the same
			// per-tensor counts and a different mask; both have the
			// ticket's remaining.
			if l > 0 {
				rm, err := prune.LoadMasks(s.masksPath(Key{trial, l, ArmReinit}))
				if err != nil {
					t.Fatal(err)
				}
				if !rm.Equal(ms) {
					t.Errorf("%s: the reinit control's mask differs from the ticket's", k)
				}
				xm, err := prune.LoadMasks(s.masksPath(Key{trial, l, ArmRandom}))
				if err != nil {
					t.Fatal(err)
				}
				if xm.Equal(ms) {
					t.Errorf("%s: the random control has the ticket's mask", k)
				}
				for i := range ms.Len() {
					if xm.At(i).Kept() != ms.At(i).Kept() {
						t.Errorf("%s: random control %s keeps %d, ticket %d", k, ms.At(i).Name(), xm.At(i).Kept(), ms.At(i).Kept())
					}
				}
				for _, arm := range []string{ArmReinit, ArmRandom} {
					c, err := s.readResult(Key{trial, l, arm})
					if err != nil {
						t.Fatal(err)
					}
					if c.Remaining != r.Remaining {
						t.Errorf("%s %s: remaining %v, ticket %v", k, arm, c.Remaining, r.Remaining)
					}
				}
			}
			prev = ms
		}
	}
}

// copyDir copies a folder tree.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A crash simulated by deleting the files of the later levels: the rerun
// recomputes them and gives the same numbers and files.
func TestResumeAfterDeletingLevels(t *testing.T) {
	e := tiny()
	ref := reference(t, e)
	dir := t.TempDir()
	copyDir(t, ref, dir)
	h := e.Hash()
	s := store{dir, h}
	for trial := range 2 {
		for l := 1; l <= 2; l++ {
			for _, arm := range e.WithDefaults().arms(l) {
				k := Key{trial, l, arm}
				if trial == 0 && l == 1 && arm == ArmTicket {
					continue // keep one: it is read, not recomputed
				}
				os.Remove(s.resultPath(k))
				if l == 2 {
					os.RemoveAll(s.levelDir(k)) // a level never started
				}
			}
		}
	}
	os.Remove(filepath.Join(dir, resultsCSV))
	var log bytes.Buffer
	if _, err := Run(context.Background(), dir, e, Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "trial 0 level 1 ticket ") || !strings.Contains(log.String(), "trial 0 level 1 reinit") {
		t.Errorf("the kept level was recomputed, or a deleted one was not:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "3 of 14 trainings were already done") {
		t.Errorf("log does not report the resumed trainings:\n%s", log.String())
	}
	sameRun(t, ref, dir)
}

// A run cancelled after its first levels resumes to the numbers of an
// uninterrupted one.
func TestResumeAfterCancel(t *testing.T) {
	e := tiny()
	ref := reference(t, e)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{n: 3, cancel: cancel}
	_, err := Run(ctx, dir, e, Options{Log: w})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) < 3 || len(res.Missing) == 0 {
		t.Fatalf("after cancel: %d rows, %d missing", len(res.Rows), len(res.Missing))
	}
	if _, err := Run(context.Background(), dir, e, Options{}); err != nil {
		t.Fatal(err)
	}
	sameRun(t, ref, dir)
}

// cancelAfter cancels after n result lines.
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.HasPrefix(p, []byte("trial ")) {
		c.n--
		if c.n == 0 {
			c.cancel()
		}
	}
	return len(p), nil
}

const helperEnv = "SHEARS_LOTTERY_HELPER_DIR"

// TestHelperProcess is the subprocess of TestResumeAfterSIGKILL: it runs
// tiny() into the folder its environment names, until killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("run as a subprocess by TestResumeAfterSIGKILL")
	}
	e := tiny()
	e.Workers = 1
	if _, err := Run(context.Background(), dir, e, Options{}); err != nil {
		t.Fatal(err)
	}
}

// A run killed with SIGKILL in the middle of its work, twice, then started
// again, finishes with the numbers of an uninterrupted run (which ran with
// another number of workers).
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	e := tiny()
	ref := reference(t, e)
	dir := t.TempDir()
	for _, after := range []int{3, 8} {
		killAfter(t, dir, e.Hash(), after)
		res, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Missing) == 0 {
			t.Fatal("the helper had finished everything when it was killed")
		}
	}
	if _, err := Run(context.Background(), dir, e, Options{}); err != nil {
		t.Fatal(err)
	}
	sameRun(t, ref, dir)
}

// killAfter runs TestHelperProcess on dir and kills it with SIGKILL as soon
// as n results are on disk, while it writes the next ones.
func killAfter(t *testing.T, dir, hash string, n int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, _ := filepath.Glob(filepath.Join(dir, hash, "trial-*", "level-*", "*", resultFile))
		if len(done) >= n {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the helper finished before it was killed: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the helper wrote no %d results in 30 s", n)
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	<-exited
}

// Shards run into separate folders merge into the result of one run.
func TestShardsMerge(t *testing.T) {
	e := tiny()
	e.Trials = 3
	ref := reference(t, e)
	base := t.TempDir()
	var srcs []string
	for i := range 2 {
		d := filepath.Join(base, "shard", string(rune('0'+i)))
		res, err := Run(context.Background(), d, e, Options{Shard: Shard{i, 2}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rows {
			if r.Trial%2 != i {
				t.Errorf("shard %d/2 ran trial %d", i, r.Trial)
			}
		}
		srcs = append(srcs, d)
	}
	// More shards than trials: the extra one has nothing to do, and merges.
	idle := filepath.Join(base, "shard", "idle")
	res, err := Run(context.Background(), idle, e, Options{Shard: Shard{3, 4}})
	if err != nil || len(res.Rows) != 0 {
		t.Fatalf("idle shard: %v, %d rows", err, len(res.Rows))
	}
	srcs = append(srcs, idle)
	merged := filepath.Join(base, "merged")
	res, err = Merge(merged, srcs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3*7 {
		t.Fatalf("merged %d rows", len(res.Rows))
	}
	sameRun(t, ref, merged)
	// Merging again, or into one of the shards, is fine and changes nothing.
	if _, err := Merge(merged, srcs...); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(srcs[0], srcs...); err != nil {
		t.Fatal(err)
	}
	sameRun(t, ref, srcs[0])
	// A shard alone is incomplete.
	if _, err := Merge(filepath.Join(base, "partial"), srcs[1]); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("merging one shard: %v", err)
	}
	// Shards that disagree are refused.
	bad := filepath.Join(base, "bad")
	copyDir(t, srcs[1], bad)
	s := store{bad, e.Hash()}
	r, err := s.readResult(Key{1, 1, ArmTicket})
	if err != nil {
		t.Fatal(err)
	}
	r.Final.TestAccuracy /= 2
	if err := s.writeResult(r); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(filepath.Join(base, "merged"), srcs[0], bad); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("merging disagreeing shards: %v", err)
	}
	// Another experiment is refused.
	other := filepath.Join(base, "other")
	e2 := e
	e2.Seed = 5
	e2.Trials, e2.Levels = 1, 0
	if _, err := Run(context.Background(), other, e2, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(filepath.Join(base, "x"), srcs[0], other); err == nil || !strings.Contains(err.Error(), "describes experiment") {
		t.Errorf("merging another experiment: %v", err)
	}
}

// More levels or trials later reuse everything done; fewer reads it.
func TestExtendSweep(t *testing.T) {
	e := tiny()
	e.Controls = nil
	e.Levels, e.Trials = 1, 1
	dir := t.TempDir()
	if _, err := Run(context.Background(), dir, e, Options{}); err != nil {
		t.Fatal(err)
	}
	e.Levels, e.Trials = 2, 2
	var log bytes.Buffer
	res, err := Run(context.Background(), dir, e, Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 6 || !strings.Contains(log.String(), "2 of 6 trainings were already done") {
		t.Errorf("%d rows; log:\n%s", len(res.Rows), log.String())
	}
	got, err := ReadExperiment(filepath.Join(dir, experimentFile))
	if err != nil {
		t.Fatal(err)
	}
	if got.Levels != 2 || got.Trials != 2 {
		t.Errorf("experiment.json has levels %d trials %d", got.Levels, got.Trials)
	}
}

func TestRewindModes(t *testing.T) {
	for _, rw := range []Rewind{{To: RewindIteration, Iteration: 10}, {To: RewindLR}, {To: RewindFinetune}} {
		t.Run(rw.To, func(t *testing.T) {
			e := tiny()
			e.Trials, e.Levels, e.Workers = 1, 1, 1
			e.Controls = []string{ArmRandom}
			e.Rewind = rw
			dir := t.TempDir()
			res, err := Run(context.Background(), dir, e, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := store{dir, res.Hash}
			ticket := res.Results[1]
			if ticket.Key() != (Key{0, 1, ArmTicket}) {
				t.Fatalf("result 1 is %s", ticket.Key())
			}
			wantStart := 0
			if rw.To == RewindIteration {
				wantStart = rw.Iteration
				if _, err := os.Stat(s.rewindPath(0, rw.Iteration)); err != nil {
					t.Errorf("no rewind point: %v", err)
				}
			}
			if ticket.StartStep != wantStart || res.Results[2].StartStep != wantStart {
				t.Errorf("start steps %d, %d, want %d", ticket.StartStep, res.Results[2].StartStep, wantStart)
			}
			if ticket.Steps != e.Train.Iterations {
				t.Errorf("trained to step %d", ticket.Steps)
			}
			if len(ticket.Evals) == 0 || ticket.Evals[0].Iteration <= wantStart {
				t.Errorf("first evaluation at %v", ticket.Evals)
			}
			// Resuming recomputes nothing and gives the same.
			again, err := Run(context.Background(), dir, e, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range again.Rows {
				if again.Rows[i] != res.Rows[i] {
					t.Errorf("row %d changed on resume", i)
				}
			}
		})
	}
}

func TestGlobalPruning(t *testing.T) {
	e := tiny()
	e.Trials, e.Levels, e.Controls = 1, 2, nil
	e.Prune = Pruning{Strategy: "global", Rate: 0.5}
	res, err := Run(context.Background(), t.TempDir(), e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	total := 64*32 + 32*10
	kept := total
	for l, r := range res.Results {
		if l > 0 {
			kept -= int(math.RoundToEven(0.5 * float64(kept)))
		}
		if r.Remaining != float64(kept)/float64(total) {
			t.Errorf("level %d: remaining %v, want %d/%d", l, r.Remaining, kept, total)
		}
	}
}

// A convolutional model runs too: its last prunable tensor (the output
// layer) gets the output rate.
func TestConvModel(t *testing.T) {
	e := tiny()
	e.Model = "lenet5"
	e.Train.Iterations = 20
	e.Trials, e.Levels, e.Controls = 1, 1, []string{ArmRandom}
	dir := t.TempDir()
	res, err := Run(context.Background(), dir, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ticket := res.Results[1]
	var names []string
	for _, l := range ticket.Layers {
		names = append(names, l.Name)
	}
	rates := LayerRates(e, names)
	for _, l := range ticket.Layers {
		want := l.Size - int(math.RoundToEven(rates[l.Name]*float64(l.Size)))
		if l.Kept != want {
			t.Errorf("%s keeps %d of %d, want %d (rate %v)", l.Name, l.Kept, l.Size, want, rates[l.Name])
		}
	}
	if last := names[len(names)-1]; rates[last] != DefaultOutputRate || rates[names[0]] != DefaultRate {
		t.Errorf("rates %v", rates)
	}
}

func TestFloat64(t *testing.T) {
	e := tiny()
	e.Trials, e.Levels, e.Controls, e.Dtype = 1, 1, []string{ArmReinit}, "float64"
	dir := t.TempDir()
	res, err := Run(context.Background(), dir, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := train.LoadWeights(store{dir, res.Hash}.weightsPath(Key{0, 1, ArmReinit}))
	if err != nil {
		t.Fatal(err)
	}
	if w.Dtype() != tensor.Float64 {
		t.Errorf("weights are %v", w.Dtype())
	}
	if res.Results[1].Final.TestAccuracy < 0.3 {
		t.Errorf("float64 ticket: accuracy %v", res.Results[1].Final.TestAccuracy)
	}
}

func TestConfig(t *testing.T) {
	r := &runner{exp: Experiment{
		Train:  Training{Optimizer: "momentum", LR: 0.05, Warmup: 10, LRDropEvery: 100, LRGamma: 0.5, Batch: 16, EvalEvery: 7, Iterations: 300},
		Rewind: Rewind{To: RewindFinetune},
	}.WithDefaults()}
	c := r.config(Key{1, 2, ArmTicket}, false)
	if c.Batch != 16 || c.EvalEvery != 7 || c.Iterations != 300 {
		t.Errorf("config %+v", c)
	}
	if o, ok := c.Optimizer.(train.Momentum); !ok || o.LR != 0.05 || o.Momentum != DefaultMomentum {
		t.Errorf("optimizer %#v", c.Optimizer)
	}
	// Warmup to step 10, then halved every 100 steps.
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 0.1}, {9, 1}, {99, 1}, {100, 0.5}, {250, 0.25}} {
		if got := c.Schedule.Rate(1, tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("rate at step %d = %v, want %v", tc.step, got, tc.want)
		}
	}
	f := r.config(Key{1, 2, ArmTicket}, true)
	if o := f.Optimizer.(train.Momentum); o.LR != 0.005 {
		t.Errorf("finetune LR %v", o.LR)
	}
	if f.Schedule.Rate(1, 0) != 1 || f.Schedule.Rate(1, 250) != 1 {
		t.Error("finetuning does not use a constant rate")
	}
	// Each training has its own data order.
	seeds := map[uint64]bool{}
	for _, k := range []Key{{0, 0, ArmTicket}, {0, 1, ArmTicket}, {1, 1, ArmTicket}, {0, 1, ArmReinit}, {0, 1, ArmRandom}} {
		seeds[r.config(k, false).Seed] = true
	}
	if len(seeds) != 5 {
		t.Errorf("%d distinct data seeds for 5 trainings", len(seeds))
	}
	if _, ok := (&runner{exp: Experiment{}.WithDefaults()}).config(Key{}, false).Optimizer.(train.Adam); !ok {
		t.Error("the default optimizer is not Adam")
	}
	if _, ok := (&runner{exp: Experiment{Train: Training{Optimizer: "sgd"}}.WithDefaults()}).config(Key{}, false).Optimizer.(train.SGD); !ok {
		t.Error("sgd is not SGD")
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	e := tiny()
	e.Trials, e.Levels, e.Controls = 1, 1, nil

	// A folder of someone else's files.
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	if _, err := Run(ctx, foreign, e, Options{}); err == nil || !strings.Contains(err.Error(), "not an output folder") {
		t.Errorf("foreign folder: %v", err)
	}
	// Another experiment's folder.
	dir := t.TempDir()
	if _, err := Run(ctx, dir, e, Options{}); err != nil {
		t.Fatal(err)
	}
	e2 := e
	e2.Seed = 1
	if _, err := Run(ctx, dir, e2, Options{}); err == nil || !strings.Contains(err.Error(), "another experiment") {
		t.Errorf("another experiment: %v", err)
	}
	s := store{dir, e.Hash()}
	corrupt := func(path string) func() {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 0x20
		os.WriteFile(path, bad, 0o644)
		return func() { os.WriteFile(path, data, 0o644) }
	}
	// A damaged result, experiment.json, masks, weights: each named.
	for _, path := range []string{
		s.resultPath(Key{0, 1, ArmTicket}),
		filepath.Join(dir, experimentFile),
	} {
		restore := corrupt(path)
		_, err := Run(ctx, dir, e, Options{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("damaged %s: %v", path, err)
		}
		restore()
	}
	os.Remove(s.resultPath(Key{0, 1, ArmTicket}))
	for _, path := range []string{s.masksPath(Key{0, 0, ArmTicket}), s.weightsPath(Key{0, 0, ArmTicket}), s.initPath(0)} {
		restore := corrupt(path)
		_, err := Run(ctx, dir, e, Options{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("damaged %s: %v", path, err)
		}
		restore()
	}
	// A result moved to another level's place is foreign.
	data, _ := os.ReadFile(s.resultPath(Key{0, 0, ArmTicket}))
	os.WriteFile(s.resultPath(Key{0, 1, ArmTicket}), data, 0o644)
	if _, err := Run(ctx, dir, e, Options{}); err == nil || !strings.Contains(err.Error(), "foreign") {
		t.Errorf("moved result: %v", err)
	}
	os.Remove(s.resultPath(Key{0, 1, ArmTicket}))
	// A missing file a later level needs.
	os.Rename(s.weightsPath(Key{0, 0, ArmTicket}), s.weightsPath(Key{0, 0, ArmTicket})+".bak")
	if _, err := Run(ctx, dir, e, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing weights: %v", err)
	}
	os.Rename(s.weightsPath(Key{0, 0, ArmTicket})+".bak", s.weightsPath(Key{0, 0, ArmTicket}))
	if _, err := Run(ctx, dir, e, Options{}); err != nil {
		t.Errorf("after restoring: %v", err)
	}
	// Bad settings.
	for _, tc := range []struct {
		e    Experiment
		opts Options
		want string
	}{
		{Experiment{Model: "mlp:8", Prune: Pruning{Params: []string{"conv1.w"}}}, Options{}, "no tensor"},
		{Experiment{Model: "mlp:8", Prune: Pruning{Rates: map[string]float64{"fc1.b": 0.1}}}, Options{}, "not a prunable tensor"},
		{Experiment{Data: Data{Source: "/no/such/folder"}}, Options{}, "data"},
		{Experiment{Model: "custom:x"}, Options{}, "Options.Model"},
		{Experiment{}, Options{Shard: Shard{3, 2}}, "shard"},
	} {
		_, err := Run(ctx, t.TempDir(), tc.e, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want an error containing %q", tc.e, err, tc.want)
		}
	}
}

func TestPruneParamsSubset(t *testing.T) {
	e := tiny()
	e.Trials, e.Levels, e.Controls = 1, 1, []string{ArmRandom}
	e.Prune.Params = []string{"fc1.w", "fc1.b"}
	e.Prune.Rates = map[string]float64{"fc1.w": 0.5}
	dir := t.TempDir()
	res, err := Run(context.Background(), dir, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := prune.LoadMasks(store{dir, res.Hash}.masksPath(Key{0, 1, ArmTicket}))
	if err != nil {
		t.Fatal(err)
	}
	// fc1.b is the last prunable tensor: the output rate 0.1; fc1.w 0.5.
	if got := ms.Names(); len(got) != 2 || got[0] != "fc1.w" || got[1] != "fc1.b" {
		t.Fatalf("masks %v", got)
	}
	if ms.At(0).Kept() != 1024 || ms.At(1).Kept() != 32-3 {
		t.Errorf("kept %d, %d", ms.At(0).Kept(), ms.At(1).Kept())
	}
}
