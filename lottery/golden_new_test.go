package lottery

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update-golden-v2", false, "rewrite testdata/hash_golden_v2.json")

// goldenNewDescriptions cover the settings issue 12 added (methods at
// initialisation, their sparsities and rounds, dropout, the ablation arms,
// the instability analysis). testdata/hash_golden_v2.json freezes their
// canonical JSON and hash as first computed.
var goldenNewDescriptions = []string{
	`{"prune": {"method": "imp"}}`,
	`{"prune": {"method": "snip", "sparsity": [0.5, 0.9]}}`,
	`{"prune": {"method": "snip", "strategy": "global", "sparsity": [0.5, 0.9]}}`,
	`{"prune": {"method": "grasp", "sparsity": [0.9, 0.5]}}`,
	`{"prune": {"method": "synflow", "sparsity": [0.9]}}`,
	`{"prune": {"method": "synflow", "sparsity": [0.9], "rounds": 100}}`,
	`{"prune": {"method": "synflow", "sparsity": [0.9], "rounds": 10}}`,
	`{"prune": {"method": "magnitude", "sparsity": [0.998]}}`,
	`{"prune": {"method": "random", "sparsity": [0.5]}, "levels": 1}`,
	`{"train": {"dropout": 0.5}}`,
	`{"model": "conv2", "train": {"dropout": 0.5}, "prune": {"strategy": "global", "rate": 0.2}}`,
	`{"controls": ["shuffle", "invert", "reinit"], "instability": [100, 0], "instability_points": 10}`,
}

func TestHashGoldenNewFields(t *testing.T) {
	type entry struct {
		Description json.RawMessage `json:"description"`
		Canonical   string          `json:"canonical"`
		Hash        string          `json:"hash"`
	}
	var got []entry
	for _, d := range goldenNewDescriptions {
		e, err := ParseExperiment([]byte(d))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		c, err := e.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if h := e.WithDefaults().Hash(); h != e.Hash() {
			t.Errorf("%s: WithDefaults changes the hash", d)
		}
		got = append(got, entry{json.RawMessage(d), string(c), e.Hash()})
	}
	const path = "testdata/hash_golden_v2.json"
	if *updateGolden {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []entry
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("golden file holds %d descriptions, the test %d", len(want), len(got))
	}
	for i := range got {
		if got[i].Canonical != want[i].Canonical || got[i].Hash != want[i].Hash {
			t.Errorf("%s: canonical %s hash %s, want %s %s", got[i].Description, got[i].Canonical, got[i].Hash, want[i].Canonical, want[i].Hash)
		}
	}
}

// TestNewFieldsAtDefaultKeepHashes: every old golden description, with the
// new settings written out at their defaults (method imp, dropout 0) or
// set where they are extents (instability, the new arms), keeps its hash.
func TestNewFieldsAtDefaultKeepHashes(t *testing.T) {
	for _, d := range goldenDescriptions {
		e, err := ParseExperiment([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		e2 := e.clone()
		e2.Prune.Method = MethodIMP
		e2.Train.Dropout = 0
		e2.Instability = []int{1}
		e2.InstabilityPoints = 7
		e2.Controls = append(e2.Controls, ArmShuffle, ArmInvert)
		if e2.Hash() != e.Hash() {
			t.Errorf("%s: the new settings at their defaults change the hash %s to %s", d, e.Hash(), e2.Hash())
		}
	}
	// The same with a default that depends on another setting: synflow's
	// rounds, and the at-init strategy's global ranking.
	a := Experiment{Prune: Pruning{Method: MethodSynFlow, Sparsity: []float64{0.9}}}
	b := Experiment{Prune: Pruning{Method: MethodSynFlow, Sparsity: []float64{0.9}, Rounds: DefaultRounds, Strategy: "global"}}
	if a.Hash() != b.Hash() {
		t.Error("synflow with its default rounds and strategy written out changes the hash")
	}
}

// FuzzSet: Set never panics on any setting and text, and a description it
// accepts that validates reads back through Get unchanged.
func FuzzSet(f *testing.F) {
	for i, s := range settings {
		f.Add(i, "0")
		f.Add(i, "0.5,0.9")
		f.Add(i, "snip")
		f.Add(i, s.key)
	}
	f.Add(0, "mlp:3,x")
	f.Add(1, "")
	f.Fuzz(func(t *testing.T, i int, text string) {
		if i < 0 {
			i = -i
		}
		key := settings[i%len(settings)].key
		var e Experiment
		if err := e.Set(key, text); err != nil {
			if !strings.HasPrefix(err.Error(), "lottery: ") {
				t.Fatalf("Set(%q, %q): error without the package prefix: %v", key, text, err)
			}
			return
		}
		if e.Validate() != nil {
			return
		}
		back, err := e.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		var e2 Experiment
		if err := e2.Set(key, back); err != nil {
			t.Fatalf("Set(%q, %q) after Get: %v", key, back, err)
		}
		if e.Hash() != e2.Hash() {
			t.Fatalf("%s: %q read back as %q changes the hash", key, text, back)
		}
	})
}
