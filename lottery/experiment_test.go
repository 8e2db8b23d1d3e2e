package lottery

import (
	"reflect"
	"strings"
	"testing"
)

// The hashes of these descriptions must never change: results on disk live
// under them. If this test fails, a change altered the canonical form.
func TestHashGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		exp  Experiment
		want string
	}{
		{"default", Experiment{}, "44136fa355b3678a"},
		{"fashion", Experiment{
			Data:  Data{Source: "/usr/share/datasets/fashion-mnist"},
			Train: Training{Iterations: 50000, EvalEvery: 100},
			Seed:  7,
		}, "be8127202f320300"},
		{"rewind", Experiment{
			Model:  "mlp:300,100",
			Prune:  Pruning{Strategy: "global", Rate: 0.3, Scorer: "l2"},
			Rewind: Rewind{To: RewindIteration, Iteration: 500},
		}, "95074bad8f837fcf"},
	} {
		if got := tc.exp.Hash(); got != tc.want {
			c, _ := tc.exp.CanonicalJSON()
			t.Errorf("%s: Hash() = %s, want %s (canonical %s)", tc.name, got, tc.want, c)
		}
	}
}

func TestCanonicalJSONOmitsDefaults(t *testing.T) {
	for _, e := range []Experiment{{}, Experiment{}.WithDefaults(), {Levels: 3, Trials: 5, Workers: 2, Controls: []string{"random"}}} {
		c, err := e.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(c) != "{}" {
			t.Errorf("CanonicalJSON(%+v) = %s, want {}", e, c)
		}
	}
	c, _ := Experiment{Train: Training{LR: 0.01}, Seed: 3}.CanonicalJSON()
	if want := `{"train":{"lr":0.01},"seed":3}`; string(c) != want {
		t.Errorf("CanonicalJSON = %s, want %s", c, want)
	}
}

func TestHashSameAndDifferent(t *testing.T) {
	base := Experiment{Data: Data{Source: "/data/fmnist"}, Prune: Pruning{Params: []string{"fc1.w", "fc2.w"}}}
	same := []Experiment{
		base.WithDefaults(),
		{Data: Data{Source: "/data/fmnist", Val: DefaultFolderVal}, Prune: Pruning{Params: []string{"fc2.w", "fc1.w"}}},
		{Data: Data{Source: "/data/fmnist"}, Prune: Pruning{Params: []string{"fc1.w", "fc2.w"}, Rate: 0.2, OutputRate: 0.1, Strategy: "layerwise", Scorer: "l1"}, Levels: 20, Trials: 5, Workers: 8, Controls: []string{"random", "reinit"}},
		{Data: Data{Source: "/data/fmnist"}, Prune: Pruning{Params: []string{"fc1.w", "fc2.w"}}, Train: Training{Optimizer: "adam", LR: DefaultAdamLR, Batch: 60, Iterations: DefaultIterations, EvalEvery: 100}},
	}
	for i, e := range same {
		if e.Hash() != base.Hash() {
			c1, _ := base.CanonicalJSON()
			c2, _ := e.CanonicalJSON()
			t.Errorf("same[%d]: hash differs: %s vs %s", i, c1, c2)
		}
	}
	different := []Experiment{
		{},
		{Data: Data{Source: "/data/fmnist", Val: 1000}, Prune: base.Prune},
		{Data: base.Data, Prune: Pruning{Params: []string{"fc1.w"}}},
		{Data: base.Data, Prune: Pruning{Params: base.Prune.Params, Rate: 0.3}},
		{Data: base.Data, Prune: base.Prune, Seed: 1},
		{Data: base.Data, Prune: base.Prune, Train: Training{Optimizer: "sgd"}},
		{Data: base.Data, Prune: base.Prune, Rewind: Rewind{To: RewindLR}},
		{Data: base.Data, Prune: base.Prune, Dtype: "float64"},
		{Data: base.Data, Prune: base.Prune, Init: "kaiming_normal"},
	}
	seen := map[string]int{}
	for i, e := range different {
		h := e.Hash()
		if j, ok := seen[h]; ok || h == base.Hash() {
			t.Errorf("different[%d] has the hash of different[%d] or of base: %s", i, j, h)
		}
		seen[h] = i
		if len(h) != 16 {
			t.Errorf("hash %q is not 16 hex digits", h)
		}
	}
	// A default that depends on another field: the finetune rate is LR/10.
	a := Experiment{Train: Training{LR: 0.01}, Rewind: Rewind{To: RewindFinetune}}
	b := Experiment{Train: Training{LR: 0.01}, Rewind: Rewind{To: RewindFinetune, FinetuneLR: 0.001}}
	c := Experiment{Train: Training{LR: 0.01}, Rewind: Rewind{To: RewindFinetune, FinetuneLR: 0.002}}
	if a.Hash() != b.Hash() || a.Hash() == c.Hash() {
		t.Errorf("finetune_lr default: hashes %s %s %s", a.Hash(), b.Hash(), c.Hash())
	}
}

func TestExperimentJSONRoundTrip(t *testing.T) {
	e := Experiment{
		Model: "mlp:300,100", Init: "glorot_uniform", Dtype: "float64",
		Data:     Data{Source: "/x", Val: -1, Seed: 4},
		Train:    Training{Iterations: 10, Batch: 7, Optimizer: "momentum", LR: 0.5, Momentum: 0.8, Warmup: 3, LRDropEvery: 5, LRGamma: 0.5, EvalEvery: 2},
		Prune:    Pruning{Rate: 0.3, OutputRate: 0.15, Rates: map[string]float64{"fc1.w": 0.25, "fc2.w": 0}, Params: []string{"fc1.w", "fc2.w", "fc3.w"}, Scorer: "random"},
		Rewind:   Rewind{To: RewindIteration, Iteration: 4},
		Seed:     9,
		Levels:   3,
		Trials:   4,
		Controls: []string{"reinit", "random"},
		Workers:  2,
	}
	b, err := e.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseExperiment(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The zero description marshals to {} and back.
	b, _ = Experiment{}.MarshalIndent()
	if strings.TrimSpace(string(b)) != "{}" {
		t.Errorf("Experiment{} marshals to %s", b)
	}
	// The file Run writes parses too, and gives the same hash.
	file, err := encodeChecked(experimentFormat, "experiment", e.WithDefaults(), [2]string{"hash", `"` + e.Hash() + `"`})
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseExperiment(file)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != e.Hash() {
		t.Errorf("experiment.json parses to hash %s, want %s", got.Hash(), e.Hash())
	}
}

func TestParseExperimentErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"levles": 3}`, `unknown field "levles"`},
		{`{"levels": 3} {}`, "data after"},
		{`{"levels": "3"}`, "cannot unmarshal"},
		{`[`, "unexpected EOF"},
		{`{"format": "shears-lottery-experiment", "version": 1, "sha256": "00", "experiment": {}}`, "checksum"},
		{`{"format": "something-else", "experiment": {}}`, "not a shears-lottery-experiment file"},
	} {
		_, err := ParseExperiment([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseExperiment(%s) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		e    Experiment
		want string
	}{
		{Experiment{Model: "resnet"}, "unknown model"},
		{Experiment{Model: "mlp:3,x"}, "hidden size"},
		{Experiment{Init: "he"}, "init"},
		{Experiment{Dtype: "float16"}, "dtype"},
		{Experiment{Data: Data{Val: -2}}, "data.val"},
		{Experiment{Train: Training{Iterations: -1}}, "iterations"},
		{Experiment{Train: Training{Optimizer: "rmsprop"}}, "optimizer"},
		{Experiment{Train: Training{LR: -1}}, "train.lr"},
		{Experiment{Train: Training{Momentum: 0.9}}, "no momentum"},
		{Experiment{Train: Training{Optimizer: "momentum", Momentum: 1.5}}, "momentum"},
		{Experiment{Train: Training{LRGamma: 0.5}}, "lr_drop_every is 0"},
		{Experiment{Prune: Pruning{Rate: 1}}, "prune.rate"},
		{Experiment{Prune: Pruning{Rate: -0.1}}, "prune.rate"},
		{Experiment{Prune: Pruning{OutputRate: 1.5}}, "output_rate"},
		{Experiment{Prune: Pruning{Rates: map[string]float64{"fc1.w": 2}}}, "rates"},
		{Experiment{Prune: Pruning{Strategy: "global", OutputRate: 0.1}}, "global strategy"},
		{Experiment{Prune: Pruning{Strategy: "global", Rates: map[string]float64{"a": 0.1}}}, "global strategy"},
		{Experiment{Prune: Pruning{Strategy: "structured"}}, "strategy"},
		{Experiment{Prune: Pruning{Params: []string{"a", "a"}}}, "twice"},
		{Experiment{Prune: Pruning{Scorer: "snip"}}, "scorer"},
		{Experiment{Rewind: Rewind{To: "start"}}, "rewind.to"},
		{Experiment{Rewind: Rewind{Iteration: 5}}, "rewind.iteration is set"},
		{Experiment{Rewind: Rewind{To: RewindIteration}}, "rewind.iteration 0"},
		{Experiment{Train: Training{Iterations: 100}, Rewind: Rewind{To: RewindIteration, Iteration: 100}}, "rewind.iteration 100"},
		{Experiment{Rewind: Rewind{FinetuneLR: 0.1}}, "finetune_lr is set"},
		{Experiment{Levels: -1}, "levels"},
		{Experiment{Trials: -1}, "trials"},
		{Experiment{Trials: 1_000_000_000}, "trials 1000000000 is not in [1, 100000]"},
		{Experiment{Levels: 1_000_000_000}, "levels 1000000000 is not in [0, 10000]"},
		{Experiment{Trials: MaxTrials, Levels: MaxLevels}, "trainings, more than"},
		{Experiment{Train: Training{Batch: 1 << 40}}, "train.batch"},
		{Experiment{Workers: -1}, "workers"},
		{Experiment{Controls: []string{"scramble"}}, "control"},
		{Experiment{Train: Training{Dropout: 1}}, "train.dropout 1 is not in [0, 1)"},
		{Experiment{Train: Training{Dropout: -0.5}}, "train.dropout -0.5"},
		{Experiment{Prune: Pruning{Method: "obd"}}, "prune.method \"obd\" is not imp, snip"},
		{Experiment{Prune: Pruning{Method: MethodSNIP}}, "needs prune.sparsity"},
		{Experiment{Prune: Pruning{Method: MethodSNIP, Sparsity: []float64{0.5, 1}}}, "prune.sparsity[1] 1 is not in [0, 1)"},
		{Experiment{Prune: Pruning{Method: MethodGraSP, Sparsity: []float64{-0.1}}}, "prune.sparsity[0] -0.1"},
		{Experiment{Prune: Pruning{Sparsity: []float64{0.5}}}, "prune.sparsity is set but prune.method is \"imp\""},
		{Experiment{Prune: Pruning{Method: MethodSNIP, Sparsity: []float64{0.5}, Rate: 0.3}}, "prune.rate is set"},
		{Experiment{Prune: Pruning{Method: MethodSNIP, Sparsity: []float64{0.5}, Scorer: "l2"}}, "prune.scorer is set"},
		{Experiment{Prune: Pruning{Method: MethodSNIP, Sparsity: []float64{0.5}, Strategy: "layerwise"}}, "prune.strategy"},
		{Experiment{Prune: Pruning{Method: MethodSNIP, Sparsity: []float64{0.5}}, Rewind: Rewind{To: RewindLR}}, "trains from initialisation"},
		{Experiment{Prune: Pruning{Method: MethodSNIP, Sparsity: []float64{0.5}, Rounds: 10}}, "prune.rounds is set"},
		{Experiment{Prune: Pruning{Method: MethodSynFlow, Sparsity: []float64{0.5}, Rounds: -1}}, "prune.rounds -1"},
		{Experiment{Prune: Pruning{Method: MethodRandom, Sparsity: []float64{0.5, 0.9}}, Levels: 3}, "levels 3 is more than the 2"},
	} {
		err := tc.e.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "lottery: ") {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.e, err, tc.want)
		}
	}
	for _, e := range []Experiment{{}, {Model: "conv6"}, {Model: "mlp:"}, {Prune: Pruning{Strategy: "global"}}, {Model: "custom:mine"}} {
		if err := e.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", e, err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	for in, want := range map[string]Rewind{
		"init": {To: RewindInit}, "lr": {To: RewindLR}, "finetune": {To: RewindFinetune},
		"500": {To: RewindIteration, Iteration: 500}, "0": {To: RewindInit},
	} {
		got, err := ParseRewind(in)
		if err != nil || got != want {
			t.Errorf("ParseRewind(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "iteration", "-3", "k"} {
		if _, err := ParseRewind(in); err == nil {
			t.Errorf("ParseRewind(%q): no error", in)
		}
	}
	for in, want := range map[string][]string{
		"random,reinit": {"reinit", "random"}, "reinit": {"reinit"}, "none": nil, "": nil, "random, random": {"random"},
	} {
		got, err := ParseControls(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseControls(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseControls("reinit,scramble"); err == nil {
		t.Error("ParseControls(reinit,scramble): no error")
	}
	for in, want := range map[string]Shard{"": {}, "0/1": {0, 1}, "2/4": {2, 4}, " 1 / 3": {1, 3}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"1", "4/4", "-1/3", "a/b", "0/0", "1/-2"} {
		if _, err := ParseShard(in); err == nil {
			t.Errorf("ParseShard(%q): no error", in)
		}
	}
}

func TestShardOwns(t *testing.T) {
	const trials = 10
	count := map[int]int{}
	for i := range 3 {
		for _, tr := range (Shard{i, 3}).trials(trials) {
			count[tr]++
			if tr%3 != i {
				t.Errorf("shard %d/3 owns trial %d", i, tr)
			}
		}
	}
	for tr := range trials {
		if count[tr] != 1 {
			t.Errorf("trial %d is owned by %d shards", tr, count[tr])
		}
	}
	if got := (Shard{}).trials(3); !reflect.DeepEqual(got, []int{0, 1, 2}) {
		t.Errorf("zero shard owns %v", got)
	}
}

func TestDeriveDistinct(t *testing.T) {
	seen := map[[2]uint64]string{}
	for _, p := range []string{purposeInit, purposeData, purposeReinit, purposeRandom, purposeScorer} {
		for tr := range 3 {
			for l := -1; l < 3; l++ {
				for _, a := range []string{"", ArmTicket, ArmReinit, ArmRandom} {
					x, y := derive(1, p, tr, l, a)
					k := [2]uint64{x, y}
					id := strings.Join([]string{p, a}, "/")
					if prev, ok := seen[k]; ok {
						t.Fatalf("stream of %s equals that of %s", id, prev)
					}
					seen[k] = id
				}
			}
		}
	}
	// The derivation is fixed forever: a stored experiment's numbers depend on it.
	for _, tc := range []struct {
		seed         uint64
		purpose      string
		trial, lvl   int
		arm          string
		wantA, wantB uint64
	}{
		{0, purposeInit, 0, -1, "", 0x3911907eb712d5eb, 0xaa8e3a1cfb8f771},
		{42, purposeData, 3, 2, ArmRandom, 0x2be140fc61b44a13, 0x2d09f06e1d7d21e},
	} {
		if a, b := derive(tc.seed, tc.purpose, tc.trial, tc.lvl, tc.arm); a != tc.wantA || b != tc.wantB {
			t.Errorf("derive(%d, %s, %d, %d, %q) = %#x, %#x; want %#x, %#x", tc.seed, tc.purpose, tc.trial, tc.lvl, tc.arm, a, b, tc.wantA, tc.wantB)
		}
	}
}

func FuzzParseExperiment(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"model":"mlp:300,100","train":{"lr":0.01,"iterations":5},"prune":{"rates":{"fc1.w":0.3}},"controls":["random"]}`))
	f.Add([]byte(`{"rewind":{"to":"iteration","iteration":3},"levels":2}`))
	e := Experiment{Seed: 3, Levels: 2}
	file, _ := encodeChecked(experimentFormat, "experiment", e.WithDefaults(), [2]string{"hash", `"` + e.Hash() + `"`})
	f.Add(file)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseExperiment(data)
		if err != nil {
			return
		}
		h := e.Hash()
		_ = e.Validate()
		b, err := e.MarshalIndent()
		if err != nil {
			return // NaN cannot come from JSON; nothing else fails
		}
		again, err := ParseExperiment(b)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", b, err)
		}
		if again.Hash() != h {
			t.Fatalf("hash changed on a round trip: %s vs %s", h, again.Hash())
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	r := &Result{Experiment: "abc", Trial: 1, Level: 2, Arm: ArmTicket, Remaining: 0.64,
		Layers: []LayerCount{{"fc1.w", 10, 6}}, Steps: 5, Final: Eval{Iteration: 5, TestAccuracy: 0.9},
		Evals: []Eval{{Iteration: 5, TestAccuracy: 0.9}}}
	good, _ := encodeChecked(resultFormat, "result", r)
	f.Add(good)
	f.Add([]byte(`{"format":"shears-lottery-result","version":1,"sha256":"","result":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Result
		if err := decodeChecked(data, resultFormat, "result", "test", &got, nil); err != nil {
			return
		}
		b, err := encodeChecked(resultFormat, "result", &got)
		if err != nil {
			return
		}
		var again Result
		if err := decodeChecked(b, resultFormat, "result", "test", &again, nil); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !again.sameNumbers(&got) || again.TrainSeconds != got.TrainSeconds {
			t.Fatal("result changed on a round trip")
		}
	})
}

// TestExplicitZeros: a JSON description that writes 0 for a field whose
// zero means a non-zero default is refused, naming the field; leaving it
// out takes the default; fields whose default is 0 accept an explicit 0.
func TestExplicitZeros(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"train": {"iterations": 0}}`, "train.iterations is 0"},
		{`{"train": {"eval_every": 0}}`, "train.eval_every is 0"},
		{`{"train": {"lr": 0.0}}`, "train.lr is 0"},
		{`{"trials": 0}`, "trials is 0"},
		{`{"data": {"val": 0}}`, "data.val is 0"},
		{`{"prune": {"rate": 0}}`, "prune.rate is 0"},
		{`{"prune": {"output_rate": 0}}`, "prune.output_rate is 0"},
		{`{"train": {"optimizer": "momentum", "momentum": 0}}`, "train.momentum is 0"},
		{`{"train": {"batch": 0}}`, "train.batch is 0"},
		{`{"train": {"lr": 0}}`, "train.lr is 0"},
	} {
		_, err := ParseExperiment([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "leave") {
			t.Errorf("ParseExperiment(%s) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
	for _, in := range []string{`{"seed": 0, "levels": 0, "workers": 0, "train": {"warmup": 0, "lr_drop_every": 0, "momentum": 0}, "prune": {"rates": {"fc1.w": 0}}}`, `{"train": {"iterations": 10}}`} {
		if _, err := ParseExperiment([]byte(in)); err != nil {
			t.Errorf("ParseExperiment(%s) = %v", in, err)
		}
	}
}
