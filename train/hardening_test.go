package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBatchSizeBounds: a batch too large to allocate is an error from
// NewTrainer or Fit, not a crash in graph building.
func TestBatchSizeBounds(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{Batch: 1 << 40}, {EvalBatch: 1 << 40}, {Batch: MaxBatch + 1}} {
		if _, err := NewTrainer(m, w, cfg); err == nil || !strings.Contains(err.Error(), "MaxBatch") {
			t.Errorf("NewTrainer(%+v): %v, want an error naming MaxBatch", cfg, err)
		}
	}
	// A batch under MaxBatch whose values exceed MaxBatchElements.
	wide := &Dataset{Name: "wide", Shape: []int{MaxBatchElements/MaxBatch + 1}, Classes: 2}
	wide.X = make([]float32, wide.Features())
	wide.Y = []int{0}
	wm, err := MLP(wide.Shape, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	ww, err := NewWeights(wm, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(wm, ww, Config{Batch: MaxBatch, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = tr.Fit(context.Background(), Splits{Train: wide, Test: wide})
	if err == nil || !strings.Contains(err.Error(), "values") {
		t.Errorf("Fit with a batch of %d×%d values: %v, want a size error", MaxBatch, wide.Features(), err)
	}
}

// endless is a stream of one byte value that counts the bytes read.
type endless struct {
	b byte
	n int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	e.n += int64(len(p))
	return len(p), nil
}

// TestReadersCheckMagicFirst: the file readers reject a foreign stream after
// its first bytes, and a header that declares a huge payload without
// reading (or allocating) it.
func TestReadersCheckMagicFirst(t *testing.T) {
	readers := map[string]func(io.Reader) error{
		"ReadWeights":  func(r io.Reader) error { _, err := ReadWeights(r); return err },
		"ReadSnapshot": func(r io.Reader) error { _, err := ReadSnapshot(r); return err },
	}
	for name, read := range readers {
		src := &endless{b: 'z'}
		err := read(src)
		if !errors.Is(err, envelope.ErrForeign) {
			t.Errorf("%s of a foreign stream: %v, want ErrForeign", name, err)
		}
		if src.n > 1<<16 {
			t.Errorf("%s read %d bytes of a foreign stream before rejecting it", name, src.n)
		}
	}
	// A weights header declaring 2^35 bytes, followed by 1 MiB of zeros.
	head := envelope.Encode(weightsMagic, weightsVersion, nil)[:envelope.HeaderSize]
	head[12+4] = 8 // length 2^35, under the 64 GiB limit
	src := &endless{}
	_, err := ReadWeights(io.MultiReader(bytes.NewReader(head), io.LimitReader(src, 1<<20)))
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("declared 2^35 bytes, 1 MiB present: %v, want truncated", err)
	}
}

// TestEmptyEvaluationSets: Fit refuses an empty test set (it would report
// accuracy 0) and an empty validation set (it would make the first
// evaluation the early-stopping point); a nil Val follows the
// no-validation rule (the last evaluation).
func TestEmptyEvaluationSets(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	tr := newTestTrainer(t, m, tensor.Float32, 1, Config{Iterations: 4, EvalEvery: 2})
	emptyTest, _ := data.Test.Subset(nil)
	if _, err := tr.Fit(context.Background(), Splits{Train: data.Train, Test: emptyTest}); err == nil || !strings.Contains(err.Error(), "test set") {
		t.Errorf("empty test set: %v", err)
	}
	emptyVal, _ := data.Train.Subset(nil)
	if _, err := tr.Fit(context.Background(), Splits{Train: data.Train, Val: emptyVal, Test: data.Test}); err == nil || !strings.Contains(err.Error(), "validation set") {
		t.Errorf("empty validation set: %v", err)
	}
	if tr.Step() != 0 {
		t.Fatalf("a refused Fit took %d steps", tr.Step())
	}
	res, err := tr.Fit(context.Background(), Splits{Train: data.Train, Test: data.Test})
	if err != nil {
		t.Fatal(err)
	}
	if res.Best != res.Final || res.Best.Iteration != 4 {
		t.Errorf("no validation set: early stop at %d, want the last evaluation (4)", res.Best.Iteration)
	}
}

type nanInit struct{}

func (nanInit) Init(vals []float64, shape []int, rng *rand.Rand) {
	for i := range vals {
		vals[i] = math.Inf(1)
	}
}

// TestNonFiniteErrorsMatch: every error about a NaN or infinite number
// matches ErrNonFinite: input data (through Validate and Fit), an
// initializer's output, a learning rate, and the training loss.
func TestNonFiniteErrorsMatch(t *testing.T) {
	data := digitsSplits(t)
	bad := data.Train.Clone()
	bad.X[17] = float32(math.NaN())
	if err := bad.Validate(); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Dataset.Validate: %v does not match ErrNonFinite", err)
	}
	m := lenet(t, data.Train.Shape)
	tr := newTestTrainer(t, m, tensor.Float32, 1, Config{Iterations: 2})
	if _, err := tr.Fit(context.Background(), Splits{Train: bad, Test: data.Test}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Fit on NaN data: %v does not match ErrNonFinite", err)
	}
	if _, _, err := tr.Evaluate(bad); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Evaluate on NaN data: %v does not match ErrNonFinite", err)
	}
	w, _ := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if _, err := NewTrainer(m, w, Config{Optimizer: SGD{LR: math.Inf(1)}}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("infinite learning rate: %v does not match ErrNonFinite", err)
	}
	um := userMLP{in: 64, hidden: 8, classes: 10}
	if _, err := NewWeights(initOverride{um, nanInit{}}, tensor.Float32, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrNonFinite) {
		t.Errorf("infinite initial weight: %v does not match ErrNonFinite", err)
	}
}

// initOverride is a model whose params all use one initializer.
type initOverride struct {
	Model
	init Initializer
}

func (m initOverride) Params() []ParamSpec {
	ps := m.Model.Params()
	for i := range ps {
		ps[i].Init = m.init
	}
	return ps
}

// TestCheckpointCarriesMasks: a trainer restored from a checkpoint, without
// SetMasks, keeps the masks of the trainer that saved it: after 200 more
// steps the pruned weights are still exactly 0. A version-1 checkpoint (no
// masks) still loads.
func TestCheckpointCarriesMasks(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	cfg := Config{Iterations: 220, Seed: 3}
	a := newTestTrainer(t, m, tensor.Float32, 1, cfg)
	ms := prune.NewMasks(a.Weights().Prunable())
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.9)}).Prune(ms, a.Weights().Prunable()); err != nil {
		t.Fatal(err)
	}
	if err := a.SetMasks(ms); err != nil {
		t.Fatal(err)
	}
	a.SetStep(20)
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := a.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	b := newTestTrainer(t, m, tensor.Float32, 2, cfg) // no SetMasks
	if err := b.LoadCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	if b.Masks() == nil || !b.Masks().Equal(ms) {
		t.Fatal("the restored trainer has not the saved masks")
	}
	if _, err := b.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if b.Step() != 220 {
		t.Fatalf("step %d", b.Step())
	}
	for i, p := range b.Weights().Prunable() {
		mk := ms.At(i)
		vals := p.Value.Float32s()
		for j, v := range vals {
			if !mk.Keeps(j) && v != 0 {
				t.Fatalf("%s[%d] = %v after 200 steps, but the checkpoint's masks prune it", p.Name, j, v)
			}
		}
	}
	// Changing the masks a snapshot was taken with does not change it.
	s := a.Snapshot()
	keep0 := ms.At(0).Keeps(0)
	ms.At(0).Set(0, !keep0)
	if s.Masks.At(0).Keeps(0) != keep0 {
		t.Error("the snapshot shares its masks with the trainer")
	}

	// A version-1 file: the same payload without the masks.
	plain := newTestTrainer(t, m, tensor.Float32, 4, cfg)
	var buf bytes.Buffer
	if _, err := plain.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	_, payload, err := envelope.Decode(buf.Bytes(), checkpointMagic, "test", checkpointVersion)
	if err != nil {
		t.Fatal(err)
	}
	v1 := envelope.Encode(checkpointMagic, 1, payload[:len(payload)-1]) // drop the "no masks" byte
	old, err := ReadSnapshot(bytes.NewReader(v1))
	if err != nil {
		t.Fatalf("version-1 checkpoint: %v", err)
	}
	if old.Masks != nil || !old.Weights.Equal(plain.Weights()) {
		t.Error("version-1 checkpoint read wrong")
	}
	// Restoring a maskless snapshot keeps the trainer's masks in force.
	if err := b.Restore(old); err != nil {
		t.Fatal(err)
	}
	if b.Masks() == nil {
		t.Error("restoring a snapshot without masks removed the trainer's")
	}
}

// TestFitTwice: a second Fit with nothing left to do is an error matching
// ErrNoSteps, not 0 silent steps; SetIterations continues the training with
// the optimizer's state kept, bit-identical to one uninterrupted Fit;
// SetLearningRate and SetSchedule take effect on the continued steps.
func TestFitTwice(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	cfg := Config{Iterations: 30, Seed: 5, EvalEvery: 10}
	a := newTestTrainer(t, m, tensor.Float32, 1, cfg)
	if _, err := a.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	before := a.Weights().Clone()
	if _, err := a.Fit(context.Background(), data); !errors.Is(err, ErrNoSteps) || !strings.Contains(err.Error(), "SetIterations") {
		t.Fatalf("second Fit: %v, want ErrNoSteps naming SetIterations", err)
	}
	if !a.Weights().Equal(before) || a.Step() != 30 {
		t.Fatal("the refused Fit changed the trainer")
	}
	if err := a.SetIterations(0); err == nil {
		t.Error("SetIterations(0) accepted")
	}
	if err := a.SetIterations(a.Step() + 30); err != nil {
		t.Fatal(err)
	}
	res, err := a.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 30 || a.Step() != 60 || res.Evals[0].Iteration != 40 {
		t.Fatalf("continued Fit: %d steps to step %d, first eval at %d", res.Steps, a.Step(), res.Evals[0].Iteration)
	}
	whole := newTestTrainer(t, m, tensor.Float32, 1, Config{Iterations: 60, Seed: 5, EvalEvery: 10})
	if _, err := whole.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if !a.Weights().Equal(whole.Weights()) {
		t.Error("30 + 30 steps differ from 60: the optimizer state was not kept")
	}
	// A new learning rate: 0 freezes the weights from now on.
	if err := a.SetLearningRate(math.NaN()); !errors.Is(err, ErrNonFinite) {
		t.Errorf("SetLearningRate(NaN): %v", err)
	}
	if err := a.SetLearningRate(0); err != nil {
		t.Fatal(err)
	}
	frozen := a.Weights().Clone()
	a.SetIterations(70)
	if _, err := a.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if !a.Weights().Equal(frozen) {
		t.Error("learning rate 0 still changed the weights")
	}
	a.SetLearningRate(1e-3)
	a.SetSchedule(zeroRate{}) // the schedule wins: still frozen
	a.SetIterations(80)
	if _, err := a.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if !a.Weights().Equal(frozen) {
		t.Error("SetSchedule(zeroRate) did not take effect")
	}
	a.SetSchedule(nil) // constant 1e-3: the weights move again
	a.SetIterations(90)
	if _, err := a.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if a.Weights().Equal(frozen) {
		t.Error("SetLearningRate(1e-3) with a constant schedule left the weights unchanged")
	}
}

type zeroRate struct{}

func (zeroRate) Rate(base float64, step int) float64 { return 0 }

// TestGradients: Trainer.Gradients returns the gradient the next step
// would use (checked against one SGD step of rate 1: w' = w - g), leaves
// the trainer unchanged, zeroes pruned weights' gradients, and feeds
// prune.Taylor.
func TestGradients(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	cfg := Config{Iterations: 1, Seed: 4, Optimizer: SGD{LR: 1}, Batch: 32}
	tr := newTestTrainer(t, m, tensor.Float64, 3, cfg)
	before := tr.Weights().Clone()
	params, err := tr.Gradients(data.Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Step() != 0 || !tr.Weights().Equal(before) {
		t.Fatal("Gradients changed the step or the weights")
	}
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		w0, w1, g := before.Tensor(p.Name).Float64s(), tr.Weights().Tensor(p.Name).Float64s(), p.Grad.Float64s()
		for j := range g {
			if d := w0[j] - w1[j]; math.Abs(d-g[j]) > 1e-12*(1+math.Abs(g[j])) {
				t.Fatalf("%s[%d]: Gradients gave %v, the step used %v", p.Name, j, g[j], d)
			}
		}
	}

	// Masks zero the pruned gradients; Taylor prunes with them.
	tr2 := newTestTrainer(t, m, tensor.Float32, 3, Config{Seed: 4})
	ms := prune.NewMasks(tr2.Weights().Prunable())
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.5)}).Prune(ms, tr2.Weights().Prunable()); err != nil {
		t.Fatal(err)
	}
	tr2.SetMasks(ms)
	params, err = tr2.Gradients(data.Train, 3)
	if err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for i, p := range params {
		for j, g := range p.Grad.Float32s() {
			if !ms.At(i).Keeps(j) && g != 0 {
				t.Fatalf("%s[%d]: pruned weight has gradient %v", p.Name, j, g)
			}
			if g != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Fatal("every gradient is 0")
	}
	if err := (prune.Global{Scorer: prune.Taylor{}, Amount: prune.Fraction(0.2)}).Prune(ms, params); err != nil {
		t.Fatalf("Taylor through Gradients: %v", err)
	}
	if got := ms.Remaining(); math.Abs(got-0.4) > 0.001 {
		t.Errorf("after Taylor 20%%: %.4f remaining, want 0.4", got)
	}
	if _, err := tr2.Gradients(data.Train, 0); err == nil {
		t.Error("0 batches accepted")
	}
}

// noReLU is userMLP with its activation removed.
type noReLU struct{ userMLP }

func (m noReLU) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	n := x.Shape()[0]
	flat, err := gorgonia.Reshape(x, tensor.Shape{n, m.in})
	if err != nil {
		return nil, err
	}
	h, err := gorgonia.Mul(flat, w[0])
	if err != nil {
		return nil, err
	}
	h, err = gorgonia.BroadcastAdd(h, w[1], nil, []byte{0})
	if err != nil {
		return nil, err
	}
	z, err := gorgonia.Mul(h, w[2])
	if err != nil {
		return nil, err
	}
	return gorgonia.BroadcastAdd(z, w[3], nil, []byte{0})
}

// TestFingerprint: stable for one model, different when Forward or a shape
// changes, independent of the name.
func TestFingerprint(t *testing.T) {
	m := userMLP{in: 64, hidden: 16, classes: 10}
	a, err := Fingerprint(m, []int{1, 8, 8}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fingerprint(m, []int{1, 8, 8}, tensor.Float32)
	if a != b || len(a) != 16 {
		t.Fatalf("fingerprints %q and %q of one model", a, b)
	}
	for name, other := range map[string]Model{
		"no ReLU":      noReLU{m},
		"wider hidden": userMLP{in: 64, hidden: 17, classes: 10},
		"built-in":     lenet(t, []int{1, 8, 8}),
	} {
		f, err := Fingerprint(other, []int{1, 8, 8}, tensor.Float32)
		if err != nil {
			t.Fatal(name, err)
		}
		if f == a {
			t.Errorf("%s: same fingerprint as the user MLP", name)
		}
	}
	if f, _ := Fingerprint(m, []int{1, 8, 8}, tensor.Float64); f == a {
		t.Error("float64 and float32 share a fingerprint")
	}
	if _, err := Fingerprint(m, nil, tensor.Float32); err == nil {
		t.Error("empty input shape accepted")
	}
}

// TestModelDocMatchesExample: the model shown in Model's documentation (the
// one go doc prints) is the one ExampleModel runs, line for line.
func TestModelDocMatchesExample(t *testing.T) {
	src, err := os.ReadFile("model.go")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile("example_train_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc []string
	for _, l := range strings.Split(string(src), "\n") {
		if code, ok := strings.CutPrefix(l, "//\t"); ok {
			doc = append(doc, strings.TrimSpace(code))
		}
		if strings.HasPrefix(l, "type Model interface") {
			break
		}
	}
	exLines := map[string]bool{}
	for _, l := range strings.Split(string(ex), "\n") {
		exLines[strings.TrimSpace(l)] = true
	}
	for _, l := range doc {
		if l != "" && !strings.Contains(l, "err :=") && !strings.Contains(l, "Fit(ctx") && !exLines[l] {
			t.Errorf("Model's documentation has %q, which ExampleModel's file does not", l)
		}
	}
	if len(doc) < 20 {
		t.Errorf("Model's documentation shows %d lines of code", len(doc))
	}
}

// TestModelSizeBound: a model too large to allocate is an error from
// NewWeights, before any allocation.
func TestModelSizeBound(t *testing.T) {
	m, err := MLP([]int{64}, []int{30_000_000, 30}, 10)
	if err == nil {
		_, err = NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	}
	if err == nil || !strings.Contains(err.Error(), "MaxParams") {
		t.Fatalf("an MLP of 2.8e9 weights: %v, want an error naming MaxParams", err)
	}
}

// TestLoadErrorsOneStyle: every Load function wraps its errors one way,
// "pkg: kind PATH: cause", and a missing file matches os.ErrNotExist.
func TestLoadErrorsOneStyle(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign")
	if err := os.WriteFile(foreign, []byte("\x01\x02 certainly not a file of shears"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	loads := map[string]func(string) error{
		"train: weights file": func(p string) error { _, err := LoadWeights(p); return err },
		"train: checkpoint":   func(p string) error { _, err := LoadSnapshot(p); return err },
		"prune: mask file":    func(p string) error { _, err := prune.LoadMasks(p); return err },
		"train: IDX file":     func(p string) error { _, err := ReadIDXFile(p); return err },
	}
	for prefix, load := range loads {
		err := load(foreign)
		if err == nil || !strings.HasPrefix(err.Error(), prefix+" "+foreign+": ") || strings.Count(err.Error(), foreign) != 1 {
			t.Errorf("%s of a foreign file: %v, want %q once at the start", prefix, err, prefix+" "+foreign+": ")
		}
		err = load(missing)
		if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(fmt.Sprint(err), prefix+" "+missing+": open: ") {
			t.Errorf("%s of a missing file: %v", prefix, err)
		}
	}
}
