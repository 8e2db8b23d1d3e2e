package lottery

import (
	"encoding/json"
	"os"
	"testing"
)

// goldenDescriptions cover every field of a description, written out at
// its default, left out, and set. testdata/hash_golden.json holds their
// canonical JSON and hash as computed before the hardening of issue 13
// changed how descriptions are parsed and validated: results on disk live
// under these hashes, so they must never change.
var goldenDescriptions = []string{
	`{}`,
	`{"levels": 20, "trials": 5, "controls": ["random", "reinit"], "workers": 3}`,
	`{"model": "lenet300100", "dtype": "float32", "data": {"source": "digits", "val": 300}}`,
	`{"model": "mlp:300,100", "init": "glorot_uniform", "dtype": "float64"}`,
	`{"model": "conv2", "init": "kaiming_normal"}`,
	`{"model": "lenet5", "seed": 42}`,
	`{"model": "custom:mine"}`,
	`{"data": {"source": "/usr/share/datasets/fashion-mnist"}}`,
	`{"data": {"source": "/usr/share/datasets/fashion-mnist", "val": 5000, "seed": 3}}`,
	`{"data": {"source": "/data/mnist", "val": -1}}`,
	`{"data": {"val": 100}}`,
	`{"train": {"iterations": 50000, "batch": 60, "optimizer": "adam", "lr": 0.0012, "eval_every": 100}}`,
	`{"train": {"iterations": 3000, "batch": 128, "eval_every": 50}}`,
	`{"train": {"optimizer": "sgd"}}`,
	`{"train": {"optimizer": "sgd", "lr": 0.1}}`,
	`{"train": {"optimizer": "momentum", "momentum": 0.9, "lr": 0.05}}`,
	`{"train": {"optimizer": "momentum", "momentum": 0.5}}`,
	`{"train": {"warmup": 100, "lr_drop_every": 1000}}`,
	`{"train": {"lr_drop_every": 1000, "lr_gamma": 0.1}}`,
	`{"train": {"lr_drop_every": 1000, "lr_gamma": 0.5}}`,
	`{"prune": {"strategy": "layerwise", "rate": 0.2, "output_rate": 0.1, "scorer": "l1"}}`,
	`{"prune": {"strategy": "global", "rate": 0.3, "scorer": "l2"}}`,
	`{"prune": {"rate": 0.5, "output_rate": 0.25, "rates": {"fc1.w": 0.3, "fc2.w": 0}}}`,
	`{"prune": {"params": ["fc2.w", "fc1.w"], "scorer": "random"}}`,
	`{"rewind": {"to": "init"}}`,
	`{"rewind": {"to": "iteration", "iteration": 500}}`,
	`{"rewind": {"to": "lr"}}`,
	`{"rewind": {"to": "finetune"}}`,
	`{"rewind": {"to": "finetune", "finetune_lr": 0.00012}}`,
	`{"rewind": {"to": "finetune", "finetune_lr": 0.001}}`,
	`{"model": "mlp:300,100", "prune": {"strategy": "global", "rate": 0.3, "scorer": "l2"}, "rewind": {"to": "iteration", "iteration": 500}}`,
	`{"data": {"source": "/usr/share/datasets/fashion-mnist"}, "train": {"iterations": 50000, "eval_every": 100}, "seed": 7}`,
	`{"model": "conv6", "data": {"source": "/data/cifar"}, "train": {"iterations": 30000, "batch": 60, "optimizer": "adam", "lr": 0.0003}, "prune": {"strategy": "global", "rate": 0.15}, "rewind": {"to": "lr"}, "levels": 15, "trials": 3}`,
}

// TestHashGoldenFile: every description's canonical JSON and hash equal the
// ones frozen in testdata/hash_golden.json.
func TestHashGoldenFile(t *testing.T) {
	data, err := os.ReadFile("testdata/hash_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden []struct {
		Description json.RawMessage `json:"description"`
		Canonical   string          `json:"canonical"`
		Hash        string          `json:"hash"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden) != len(goldenDescriptions) {
		t.Fatalf("golden file holds %d descriptions, the test %d", len(golden), len(goldenDescriptions))
	}
	for _, g := range golden {
		e, err := ParseExperiment(g.Description)
		if err != nil {
			t.Errorf("%s: %v", g.Description, err)
			continue
		}
		c, err := e.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(c) != g.Canonical || e.Hash() != g.Hash {
			t.Errorf("%s: canonical %s hash %s, want %s %s", g.Description, c, e.Hash(), g.Canonical, g.Hash)
		}
		if e.Validate() != nil {
			continue
		}
		// The description Run executes (defaults written out) keeps the hash.
		if h := e.WithDefaults().Hash(); h != g.Hash {
			t.Errorf("%s: WithDefaults().Hash() = %s, want %s", g.Description, h, g.Hash)
		}
	}
}
