package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func digitsSplits(t testing.TB) Splits {
	t.Helper()
	s, err := Load("digits", 180, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestTrainer(t testing.TB, m Model, dt tensor.Dtype, seed uint64, cfg Config) *Trainer {
	t.Helper()
	w, err := NewWeights(m, dt, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func lenet(t testing.TB, shape []int) Model {
	m, err := LeNet300100(shape, 10)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDigitsAccuracy: LeNet-300-100 reaches at least 95% test accuracy on
// the digits in 500 steps (about 19 epochs of 1257 examples, a second or so).
func TestDigitsAccuracy(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 500, EvalEvery: 100})
	res, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 500 || len(res.Evals) != 5 || res.Final.Iteration != 500 {
		t.Errorf("steps %d, evals %d, final %+v", res.Steps, len(res.Evals), res.Final)
	}
	if res.Final.TestAccuracy < 0.95 || res.Best.TestAccuracy < 0.95 {
		t.Errorf("test accuracy %.4f (best %.4f), want ≥ 0.95", res.Final.TestAccuracy, res.Best.TestAccuracy)
	}
}

// TestDeterminism: the same seed gives bit-identical weights and results,
// in two goroutines at once and in a sequential run.
func TestDeterminism(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	run := func() (*Weights, *Result) {
		w, _ := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(7, 0)))
		tr, err := NewTrainer(m, w, Config{Iterations: 60, EvalEvery: 20, Seed: 3, Batch: 32})
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		defer tr.Close()
		res, err := tr.Fit(context.Background(), data)
		if err != nil {
			t.Error(err)
		}
		return w, res
	}
	var ws [2]*Weights
	var rs [2]*Result
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[i], rs[i] = run()
		}()
	}
	wg.Wait()
	w3, r3 := run()
	if t.Failed() {
		return
	}
	for i, w := range []*Weights{ws[1], w3} {
		if !w.Equal(ws[0]) {
			t.Errorf("run %d: weights differ", i+1)
		}
	}
	for i, r := range []*Result{rs[1], r3} {
		if len(r.Evals) != len(rs[0].Evals) || r.Best != rs[0].Best || r.Loss != rs[0].Loss {
			t.Errorf("run %d: results differ: %+v vs %+v", i+1, r.Best, rs[0].Best)
		}
		for j := range r.Evals {
			if r.Evals[j] != rs[0].Evals[j] {
				t.Errorf("run %d: eval %d differs", i+1, j)
			}
		}
	}
	// another seed for the data order changes the weights
	w, _ := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(7, 0)))
	tr, _ := NewTrainer(m, w, Config{Iterations: 60, EvalEvery: 20, Seed: 4, Batch: 32})
	defer tr.Close()
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if w.Equal(w3) {
		t.Error("another Seed gave the same weights")
	}
}

// TestMasksStayZero: pruned weights stay exactly zero under every
// optimizer, with masks set before training and after some steps (when
// Adam's and momentum's state is no longer zero).
func TestMasksStayZero(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	for _, opt := range []Optimizer{SGD{LR: 0.05}, SGD{LR: 0.05, WeightDecay: 1e-3}, Momentum{LR: 0.02}, Momentum{LR: 0.02, Nesterov: true, WeightDecay: 1e-3}, Adam{}, Adam{WeightDecay: 1e-2}} {
		for _, late := range []bool{false, true} {
			tr := newTestTrainer(t, m, tensor.Float32, 1, Config{Iterations: 40, Optimizer: opt, EvalEvery: 1000})
			ms := prune.NewMasks(tr.Weights().Prunable())
			if err := (prune.Unstructured{Scorer: prune.Random{Rand: rand.New(rand.NewPCG(5, 5))}, Amount: prune.Fraction(0.5)}).Prune(ms, tr.Weights().Prunable()); err != nil {
				t.Fatal(err)
			}
			if late {
				tr.cfg.Iterations = 20
				if _, err := tr.Fit(context.Background(), data); err != nil {
					t.Fatal(err)
				}
				tr.cfg.Iterations = 40
			}
			before := tr.Weights().Clone()
			if err := tr.SetMasks(ms); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Fit(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			kept, changed := 0, 0
			for _, p := range tr.Weights().Prunable() {
				mask := ms.Mask(p.Name)
				old := before.Tensor(p.Name).Float32s()
				for i, v := range p.Value.Float32s() {
					if !mask.Keeps(i) {
						if v != 0 {
							t.Fatalf("%T%+v late=%v: pruned %s[%d] = %v", opt, opt, late, p.Name, i, v)
						}
						continue
					}
					kept++
					if v != old[i] {
						changed++
					}
				}
			}
			if changed < kept/2 {
				t.Errorf("%T: only %d of %d kept weights changed", opt, changed, kept)
			}
		}
	}
	tr := newTestTrainer(t, m, tensor.Float32, 1, Config{})
	other := prune.NewMasks(tr.Weights().Params())
	if err := tr.SetMasks(other); err == nil {
		t.Error("SetMasks accepted masks over every tensor (biases included)")
	}
	if err := tr.SetMasks(nil); err != nil || tr.Masks() != nil {
		t.Error("SetMasks(nil)")
	}
}

// TestEarlyStoppingRecord: Best is the evaluation of least validation loss
// with the test accuracy there, and it differs from Final when the
// validation loss rises again.
func TestEarlyStoppingRecord(t *testing.T) {
	data := digitsSplits(t)
	// a small training set and a high rate: the validation loss bottoms out early
	small, _, err := data.Train.Split(100)
	if err != nil {
		t.Fatal(err)
	}
	data.Train = small
	tr := newTestTrainer(t, lenet(t, small.Shape), tensor.Float32, 1, Config{Iterations: 400, EvalEvery: 20, Optimizer: Adam{LR: 3e-3}})
	res, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	want := res.Evals[0]
	for _, e := range res.Evals {
		if e.ValLoss < want.ValLoss {
			want = e
		}
	}
	if res.Best != want {
		t.Errorf("Best = %+v, want %+v", res.Best, want)
	}
	if res.Best.Iteration >= res.Final.Iteration {
		t.Errorf("validation loss never rose: best at %d, final at %d", res.Best.Iteration, res.Final.Iteration)
	}
	// without a validation set, Best is the last evaluation
	data.Val = nil
	tr2 := newTestTrainer(t, lenet(t, small.Shape), tensor.Float32, 1, Config{Iterations: 40, EvalEvery: 20})
	res2, err := tr2.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Best != res2.Final || res2.Final.ValLoss != 0 || len(res2.Evals) != 2 {
		t.Errorf("no Val: best %+v final %+v", res2.Best, res2.Final)
	}
}

// TestEvaluateEveryExample: 61 examples with batch 60 are all evaluated: the
// result equals the mean over one-example evaluations.
func TestEvaluateEveryExample(t *testing.T) {
	data := digitsSplits(t)
	d61, _, err := data.Test.Split(61)
	if err != nil {
		t.Fatal(err)
	}
	m := lenet(t, d61.Shape)
	tr := newTestTrainer(t, m, tensor.Float32, 1, Config{Iterations: 30})
	if _, err := tr.Fit(context.Background(), Splits{Train: data.Train, Test: d61}); err != nil {
		t.Fatal(err)
	}
	loss, acc, err := tr.Evaluate(d61)
	if err != nil {
		t.Fatal(err)
	}
	one, err := NewTrainer(m, tr.Weights(), Config{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	sum, correct := 0.0, 0.0
	for i := 0; i < d61.Len(); i++ {
		ex, err := d61.Subset([]int{i})
		if err != nil {
			t.Fatal(err)
		}
		l, a, err := one.Evaluate(ex)
		if err != nil {
			t.Fatal(err)
		}
		sum += l
		correct += a
	}
	if acc != correct/61 {
		t.Errorf("accuracy %v, one by one %v", acc, correct/61)
	}
	if math.Abs(loss-sum/61) > 1e-6*loss {
		t.Errorf("loss %v, one by one %v", loss, sum/61)
	}
	// the first 60 alone differ from the 61: the last example counts
	d60, _, _ := d61.Split(60)
	l60, _, _ := tr.Evaluate(d60)
	if l60 == loss {
		t.Error("the 61st example did not change the loss")
	}
	if _, _, err := tr.Evaluate(nil); err == nil {
		t.Error("Evaluate(nil) succeeded")
	}
}

// userMLP is a user-defined model made of Gorgonia's own ops: x·W + b, ReLU.
type userMLP struct{ in, hidden, classes int }

func (m userMLP) Name() string { return "user-mlp" }
func (m userMLP) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "fc1.w", Shape: []int{m.in, m.hidden}, Prunable: true, Init: GlorotNormal{}},
		{Name: "fc1.b", Shape: []int{m.hidden}},
		{Name: "fc2.w", Shape: []int{m.hidden, m.classes}, Prunable: true, Init: GlorotNormal{}},
		{Name: "fc2.b", Shape: []int{m.classes}},
	}
}
func (m userMLP) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	b := x.Shape()[0]
	flat, err := gorgonia.Reshape(x, tensor.Shape{b, m.in})
	if err != nil {
		return nil, err
	}
	h, err := gorgonia.Mul(flat, w[0])
	if err != nil {
		return nil, err
	}
	if h, err = gorgonia.BroadcastAdd(h, w[1], nil, []byte{0}); err != nil {
		return nil, err
	}
	if h, err = gorgonia.Rectify(h); err != nil {
		return nil, err
	}
	if h, err = gorgonia.Mul(h, w[2]); err != nil {
		return nil, err
	}
	return gorgonia.BroadcastAdd(h, w[3], nil, []byte{0})
}

// TestUserDefinedModel: a model made of Gorgonia's ops trains like the
// built-in MLP of the same shape, from the same weights: same losses and,
// in float64, the same weights after training up to rounding.
func TestUserDefinedModel(t *testing.T) {
	data := digitsSplits(t)
	user := userMLP{in: 64, hidden: 32, classes: 10}
	builtin, err := MLP(data.Train.Shape, []int{32}, 10)
	if err != nil {
		t.Fatal(err)
	}
	wu, err := NewWeights(user, tensor.Float64, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	wb := wu.Clone()
	cfg := Config{Iterations: 400, EvalEvery: 200, Batch: 50}
	tu, err := NewTrainer(user, wu, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tu.Close()
	tb, err := NewTrainer(builtin, wb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	ru, err := tu.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := tb.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if ru.Final.TestAccuracy < 0.9 {
		t.Errorf("user model: test accuracy %v", ru.Final.TestAccuracy)
	}
	if math.Abs(ru.Final.TestLoss-rb.Final.TestLoss) > 1e-9 || ru.Final.TestAccuracy != rb.Final.TestAccuracy {
		t.Errorf("user model %+v, built-in %+v", ru.Final, rb.Final)
	}
	for _, n := range wu.Names() {
		a, b := wu.Tensor(n).Float64s(), wb.Tensor(n).Float64s()
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-9 {
				t.Fatalf("%s[%d]: user %v, built-in %v", n, i, a[i], b[i])
			}
		}
	}
	// prune.FromNodes-style access: the Weights' Prunable params work with masks
	ms := prune.NewMasks(wu.Prunable())
	if err := tu.SetMasks(ms); err != nil {
		t.Error(err)
	}
}

// TestNonFiniteLoss: an infinite weight makes the loss NaN: Fit stops with a
// *NonFiniteLossError before changing the weights.
func TestNonFiniteLoss(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 10})
	tr.Weights().Tensor("fc3.w").Float32s()[0] = float32(math.Inf(1))
	before := tr.Weights().Clone()
	res, err := tr.Fit(context.Background(), data)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("error %v, want ErrNonFinite", err)
	}
	var nf *NonFiniteLossError
	if !errors.As(err, &nf) || nf.Step != 0 || !(math.IsNaN(nf.Loss) || math.IsInf(nf.Loss, 0)) {
		t.Errorf("error %#v", err)
	}
	if res == nil || res.Steps != 0 || tr.Step() != 0 {
		t.Errorf("result %+v, step %d", res, tr.Step())
	}
	if !tr.Weights().Equal(before) {
		t.Error("the weights changed")
	}
	// a learning rate so high that the loss overflows later
	tr2 := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 200, Optimizer: SGD{LR: 1e6}})
	var last *Weights
	tr2.OnStep("keep", func(int) error { last = tr2.Weights().Clone(); return nil })
	_, err = tr2.Fit(context.Background(), data)
	if !errors.As(err, &nf) || nf.Step == 0 {
		t.Fatalf("error %v, want a NonFiniteLossError after step 0", err)
	}
	if !tr2.Weights().Equal(last) || tr2.Step() != nf.Step {
		t.Errorf("weights changed after the last good step (step %d, error at %d)", tr2.Step(), nf.Step)
	}
	if !strings.Contains(err.Error(), "train: loss is") {
		t.Errorf("message %q", err)
	}
}

func TestCancel(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 100})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr.OnStep("cancel", func(step int) error {
		if step == 5 {
			cancel()
		}
		return nil
	})
	res, err := tr.Fit(ctx, data)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "train: ") {
		t.Fatalf("error %v", err)
	}
	if tr.Step() != 5 || res.Steps != 5 {
		t.Errorf("stopped at %d (%d steps)", tr.Step(), res.Steps)
	}
	// a cancelled context stops before the first step
	tr.RemoveHook("cancel")
	if _, err := tr.Fit(ctx, data); !errors.Is(err, context.Canceled) || tr.Step() != 5 {
		t.Errorf("second Fit: %v at %d", err, tr.Step())
	}
	// resuming goes on to the end
	res, err = tr.Fit(context.Background(), data)
	if err != nil || tr.Step() != 100 || res.Steps != 95 {
		t.Errorf("resumed: %v, step %d, %d steps", err, tr.Step(), res.Steps)
	}
}

// TestCheckpointResume: stopping, saving, loading into a new trainer and
// going on gives bit for bit the weights of an uninterrupted run.
func TestCheckpointResume(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	for _, opt := range []Optimizer{Adam{}, Momentum{LR: 0.01, Nesterov: true}, SGD{LR: 0.05}} {
		cfg := Config{Iterations: 60, Optimizer: opt, Schedule: Step{Every: 25, Gamma: 0.5}, Seed: 9, Batch: 40}
		full := newTestTrainer(t, m, tensor.Float32, 2, cfg)
		if _, err := full.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		half := cfg
		half.Iterations = 27
		a := newTestTrainer(t, m, tensor.Float32, 2, half)
		if _, err := a.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "ckpt")
		if err := a.SaveCheckpoint(path); err != nil {
			t.Fatal(err)
		}
		b := newTestTrainer(t, m, tensor.Float32, 99, cfg) // other initial weights
		if err := b.LoadCheckpoint(path); err != nil {
			t.Fatal(err)
		}
		if b.Step() != 27 || !b.Weights().Equal(a.Weights()) {
			t.Fatalf("%T: loaded step %d", opt, b.Step())
		}
		if _, err := b.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		if !b.Weights().Equal(full.Weights()) {
			t.Errorf("%T: resumed run differs from the uninterrupted one", opt)
		}
		// in memory
		c := newTestTrainer(t, m, tensor.Float32, 99, cfg)
		if err := c.Restore(a.Snapshot()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fit(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		if !c.Weights().Equal(full.Weights()) {
			t.Errorf("%T: restored run differs from the uninterrupted one", opt)
		}
	}
	// a snapshot of another optimizer or model is refused, and changes nothing
	adam := newTestTrainer(t, m, tensor.Float32, 1, Config{})
	sgd := newTestTrainer(t, m, tensor.Float32, 1, Config{Optimizer: SGD{}})
	sgd.SetStep(3)
	if err := adam.Restore(sgd.Snapshot()); err == nil || adam.Step() != 0 {
		t.Error("Adam restored an SGD snapshot")
	}
	other := newTestTrainer(t, lenet(t, []int{1, 28, 28}), tensor.Float32, 1, Config{})
	if err := adam.Restore(other.Snapshot()); err == nil {
		t.Error("restored another model's snapshot")
	}
	// corrupted and foreign files
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := adam.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	wpath := filepath.Join(t.TempDir(), "w")
	adam.Weights().Save(wpath)
	if err := adam.LoadCheckpoint(wpath); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("loaded a weights file as a checkpoint: %v", err)
	}
}

func TestSnapshotFile(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float64, 1, Config{Iterations: 5})
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	s := tr.Snapshot()
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	data2 := buf.Bytes()
	if string(data2[:8]) != "SHRCKPT\x00" {
		t.Errorf("magic %q", data2[:8])
	}
	r, err := ReadSnapshot(bytes.NewReader(data2))
	if err != nil {
		t.Fatal(err)
	}
	if r.Step != 5 || !r.Weights.Equal(s.Weights) || len(r.Optimizer) != len(s.Optimizer) {
		t.Fatal("round trip changed the snapshot")
	}
	for i := range r.Optimizer {
		if !bytes.Equal(rawBytes(r.Optimizer[i]), rawBytes(s.Optimizer[i])) {
			t.Fatalf("optimizer tensor %d differs", i)
		}
	}
	for i := 0; i < len(data2); i += len(data2) / 7 {
		bad := append([]byte(nil), data2...)
		bad[i] ^= 0x40
		if _, err := ReadSnapshot(bytes.NewReader(bad)); err == nil {
			t.Errorf("byte %d flipped: accepted", i)
		}
	}
}

func FuzzReadSnapshot(f *testing.F) {
	m, _ := MLP([]int{3}, []int{4}, 2)
	for _, opt := range []Optimizer{Adam{}, SGD{}, Momentum{}} {
		w, _ := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
		tr, _ := NewTrainer(m, w, Config{Optimizer: opt})
		var buf bytes.Buffer
		tr.Snapshot().WriteTo(&buf)
		f.Add(buf.Bytes())
		ms := prune.NewMasks(w.Prunable())
		prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.5)}.Prune(ms, w.Prunable())
		tr.SetMasks(ms)
		buf.Reset()
		tr.Snapshot().WriteTo(&buf)
		f.Add(buf.Bytes())
		tr.Close()
	}
	f.Add([]byte("SHRCKPT\x00\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := s.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if data[8] == 1 { // version 1 is re-encoded as version 2
			return
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("re-encoding differs")
		}
	})
}

func TestHooks(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 30, EvalEvery: 10})
	var steps, every, evals []int
	tr.OnStep("steps", func(s int) error { steps = append(steps, s); return nil })
	tr.Every("every", 7, func(s int) error { every = append(every, s); return nil })
	tr.OnEval("evals", func(e Eval) error { evals = append(evals, e.Iteration); return nil })
	tr.OnStep("replaced", func(int) error { return errors.New("not me") })
	tr.OnStep("replaced", func(int) error { return nil })
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 30 || steps[0] != 1 || steps[29] != 30 {
		t.Errorf("OnStep saw %v", steps)
	}
	if len(every) != 4 || every[0] != 7 || every[3] != 28 {
		t.Errorf("Every saw %v", every)
	}
	if len(evals) != 3 || evals[0] != 10 || evals[2] != 30 {
		t.Errorf("OnEval saw %v", evals)
	}
	// ErrStop ends Fit without an error, after a final evaluation
	tr2 := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 30, EvalEvery: 10})
	tr2.OnStep("stop", func(s int) error {
		if s == 13 {
			return ErrStop
		}
		return nil
	})
	res, err := tr2.Fit(context.Background(), data)
	if err != nil || tr2.Step() != 13 || res.Final.Iteration != 13 || len(res.Evals) != 2 {
		t.Errorf("ErrStop: %v, step %d, %+v", err, tr2.Step(), res)
	}
	// a hook's error is returned, wrapped with its name
	boom := errors.New("boom")
	tr2.OnEval("fail", func(Eval) error { return boom })
	_, err = tr2.Fit(context.Background(), data)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"fail"`) {
		t.Errorf("hook error: %v", err)
	}
}

func TestFloat64Training(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float64, 1, Config{Iterations: 300, EvalEvery: 300})
	res, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.TestAccuracy < 0.93 {
		t.Errorf("float64: accuracy %v", res.Final.TestAccuracy)
	}
}

func TestTrainerErrors(t *testing.T) {
	data := digitsSplits(t)
	m := lenet(t, data.Train.Shape)
	w, _ := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if _, err := NewTrainer(m, nil, Config{}); err == nil {
		t.Error("nil weights")
	}
	if _, err := NewTrainer(m, w, Config{Batch: -1}); err == nil {
		t.Error("negative batch")
	}
	if _, err := NewTrainer(m, w, Config{Optimizer: Adam{Beta1: 1.5}}); err == nil {
		t.Error("Beta1 1.5")
	}
	if _, err := NewTrainer(m, w, Config{Optimizer: SGD{LR: math.NaN()}}); err == nil {
		t.Error("NaN rate")
	}
	other, _ := LeNet300100([]int{1, 28, 28}, 10)
	if _, err := NewTrainer(other, w, Config{}); err == nil {
		t.Error("weights of another model")
	}
	tr, err := NewTrainer(m, w, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Fit(context.Background(), Splits{Train: data.Train}); err == nil {
		t.Error("no test set")
	}
	wrong := *data.Test
	wrong.Shape = []int{1, 4, 16}
	if _, err := tr.Fit(context.Background(), Splits{Train: data.Train, Test: &wrong}); err == nil {
		t.Error("test set of another shape")
	}
	many := *data.Train
	many.Classes = 12
	if _, err := tr.Fit(context.Background(), Splits{Train: &many, Test: data.Test}); err == nil {
		t.Error("12 classes for 10 outputs")
	}
	tr.Close()
	if _, err := tr.Fit(context.Background(), data); err == nil {
		t.Error("Fit after Close")
	}
	if err := tr.Close(); err != nil {
		t.Error("second Close", err)
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	data := digitsSplits(t)
	var buf bytes.Buffer
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 5, Progress: &buf})
	if _, err := tr.Fit(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("progress written to a buffer: %q", buf.String())
	}
	p := newProgress(&buf, 0, 10, 60)
	p.isTerminal = true
	p.step(10, 0.5)
	p.eval(Eval{TestAccuracy: 0.9})
	p.finish()
	out := buf.String()
	for _, want := range []string{"10/10", "samples/s", "left", "loss 0.5000", "100.0%"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress line %q lacks %q", out, want)
		}
	}
}

func TestCloseInHook(t *testing.T) {
	data := digitsSplits(t)
	tr := newTestTrainer(t, lenet(t, data.Train.Shape), tensor.Float32, 1, Config{Iterations: 20})
	tr.OnStep("close", func(s int) error {
		if s == 3 {
			tr.Close()
		}
		return nil
	})
	if _, err := tr.Fit(context.Background(), data); err == nil || tr.Step() != 3 {
		t.Errorf("Fit after Close in a hook: %v at step %d", err, tr.Step())
	}
}
