package lottery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// TestConcurrentClaim: runs of different experiments started into one new
// folder at the same moment: exactly one gets the folder, every other is
// refused with an error naming the other experiment, and the folder holds
// one experiment. Runs of the same experiment (shards) share the folder.
func TestConcurrentClaim(t *testing.T) {
	const runners = 4
	for round := range 15 {
		dir := filepath.Join(t.TempDir(), "out")
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, runners)
		)
		for i := range runners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := Experiment{Model: "mlp:4", Data: Data{Val: 50}, Train: Training{Iterations: 2, EvalEvery: 2, Batch: 8}, Seed: uint64(i), Workers: 1}
				<-start
				_, errs[i] = Run(context.Background(), dir, e, Options{})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !strings.Contains(err.Error(), "describes another experiment") && !strings.Contains(err.Error(), "not an output folder"):
				t.Errorf("round %d: refused with %v, want an error about another experiment", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d concurrent runs of different experiments succeeded in one folder, want 1: %v", round, ok, runners, errs)
		}
		entries, _ := os.ReadDir(dir)
		hashes := 0
		for _, en := range entries {
			if en.IsDir() {
				hashes++
			}
		}
		if hashes != 1 {
			t.Fatalf("round %d: the folder holds %d experiments", round, hashes)
		}
	}

	// The shards of one experiment start together into one folder: all run.
	dir := filepath.Join(t.TempDir(), "shared")
	e := Experiment{Model: "mlp:4", Data: Data{Val: 50}, Train: Training{Iterations: 2, EvalEvery: 2, Batch: 8}, Trials: 3, Workers: 1}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Run(context.Background(), dir, e, Options{Shard: Shard{Index: i, Count: 3}})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("shards of one experiment in one folder: %v", err)
	}
	res, err := Load(dir)
	if err != nil || len(res.Missing) != 0 || len(res.Rows) != 3 {
		t.Fatalf("after the shards: %v, %d rows, missing %v", err, len(res.Rows), fmt.Sprint(res.Missing))
	}
}

// TestPruneToNothingRefused: an experiment whose pruning leaves no weight at
// some level is refused before anything is trained, naming the level; one
// that stops before is accepted.
func TestPruneToNothingRefused(t *testing.T) {
	e := Experiment{Model: "mlp:2", Data: Data{Val: 50}, Train: Training{Iterations: 2, EvalEvery: 2}, Prune: Pruning{Strategy: "global", Rate: 0.9}, Levels: 4}
	dir := t.TempDir()
	_, err := Run(context.Background(), dir, e, Options{})
	if err == nil || !strings.Contains(err.Error(), "level 3 would prune every weight") {
		t.Fatalf("global 0.9 over 4 levels of mlp:2 (148 weights: 15, 1, 0): %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the refused run wrote %d entries", len(entries))
	}
	e.Levels = 2
	if _, err := Run(context.Background(), dir, e, Options{}); err != nil {
		t.Fatalf("2 levels (1 weight left): %v", err)
	}
	// Layerwise: every tensor reaches 0.
	lw := Experiment{Model: "mlp:2", Data: Data{Val: 50}, Train: Training{Iterations: 2}, Prune: Pruning{Rate: 0.9, OutputRate: 0.9}, Levels: 6}
	if _, err := Run(context.Background(), t.TempDir(), lw, Options{}); err == nil || !strings.Contains(err.Error(), "would prune every weight") {
		t.Fatalf("layerwise 0.9 over 6 levels: %v", err)
	}
}

// TestEmptyTestSetRefused: a user's data with an empty test set is refused
// before training, not reported as accuracy 0.
func TestEmptyTestSetRefused(t *testing.T) {
	e := Experiment{Model: "mlp:2", Train: Training{Iterations: 2}}
	data, err := train.Load("digits", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	data.Test, _ = data.Test.Subset(nil)
	if _, err := Run(context.Background(), t.TempDir(), e, Options{Data: data}); err == nil || !strings.Contains(err.Error(), "test set") {
		t.Fatalf("empty test set: %v", err)
	}
}

// TestTaylorScorer: "taylor" runs through the lottery, resumes to the same
// numbers, and prunes other weights than "l1".
func TestTaylorScorer(t *testing.T) {
	e := Experiment{Model: "mlp:16", Data: Data{Val: 100}, Train: Training{Iterations: 30, EvalEvery: 15, Batch: 32}, Prune: Pruning{Scorer: "taylor"}, Levels: 2, Workers: 1}
	dir := t.TempDir()
	res, err := Run(context.Background(), dir, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 {
		t.Fatalf("%d rows", len(res.Rows))
	}
	again := t.TempDir()
	if _, err := Run(context.Background(), again, e, Options{}); err != nil {
		t.Fatal(err)
	}
	sameRun(t, dir, again)
	l1 := e
	l1.Prune.Scorer = ""
	l1Dir := t.TempDir()
	if _, err := Run(context.Background(), l1Dir, l1, Options{}); err != nil {
		t.Fatal(err)
	}
	a, err := prune.LoadMasks(filepath.Join(dir, e.Hash(), "trial-0", "level-1", "ticket", "masks.shm"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := prune.LoadMasks(filepath.Join(l1Dir, l1.Hash(), "trial-0", "level-1", "ticket", "masks.shm"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Equal(b) {
		t.Error("taylor and l1 chose the same weights")
	}
	if a.Kept() != b.Kept() {
		t.Errorf("taylor kept %d, l1 %d: the counts must agree", a.Kept(), b.Kept())
	}
}

// TestHugeModelRefused: a model too large to allocate is refused before the
// output folder is claimed or anything allocated.
func TestHugeModelRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	_, err := Run(context.Background(), dir, Experiment{Model: "mlp:30000000,30", Train: Training{Iterations: 1}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "MaxParams") {
		t.Fatalf("mlp:30000000,30: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused run created its folder: %v", err)
	}
}
