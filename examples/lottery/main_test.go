package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/lottery"
)

func TestQuickRunAndResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-out", out, "-controls", "random", "-model", "mlp:32"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, name := range []string{"results.csv", "results.json", "summary.csv", "experiment.json", "accuracy.png", "accuracy.svg"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(stdout.String(), "trial 0 level 2 random") || !strings.Contains(stdout.String(), "remaining  ticket") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	first, _ := os.ReadFile(filepath.Join(out, "results.csv"))

	// Again: everything is read back, nothing trained.
	stdout.Reset()
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "trial 0 level") || !strings.Contains(stdout.String(), "5 of 5 trainings were already done") {
		t.Errorf("second run retrained:\n%s", stdout.String())
	}
	second, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	if !bytes.Equal(first, second) {
		t.Error("results.csv changed on resume")
	}

	// -config reads the description the run wrote; -merge of one complete folder works.
	stdout.Reset()
	code := run(context.Background(), []string{"-config", filepath.Join(out, "experiment.json"), "-out", out, "-no-plot"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "5 of 5 trainings were already done") {
		t.Errorf("-config: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	merged := filepath.Join(t.TempDir(), "merged")
	if code := run(context.Background(), []string{"-merge", out, "-out", merged, "-no-plot"}, &stdout, &stderr); code != 0 {
		t.Errorf("-merge: exit %d: %s", code, stderr.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-levels", "x"},
		{"-rewind", "start"},
		{"-controls", "scramble"},
		{"-shard", "3/2"},
		{"-model", "resnet"},
		{"-trials", "-1"},
		{"-trials", "0"},
		{"-iterations", "0"},
		{"-eval-every", "0"},
		{"-val", "0"},
		{"-trials", "1000000000"},
		{"-dpi", "0"},
		{"-scorer", "snip"},
		{"-levels", "1000000000"},
		{"-strategy", "obd", "-sparsity", "0.5"},
		{"-strategy", "snip"},
		{"-strategy", "snip", "-sparsity", "0.5,1"},
		{"-strategy", "snip", "-sparsity", "0.5,x"},
		{"-sparsity", "0.5"},
		{"-strategy", "grasp", "-sparsity", "0.5", "-rate", "0.3"},
		{"-rounds", "10"},
		{"-quick", "-instability", "0,50"},
		{"-instability", "x"},
		{"-instability-points", "5"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		out := filepath.Join(t.TempDir(), "out")
		code := run(context.Background(), append(args, "-out", out), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "Usage: lottery") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr.String())
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: the refused run wrote %s", args, out)
		}
	}
}

// TestQuickAtInit: a strategy at initialisation with the ablation arms runs
// one level per sparsity, and results.csv names the strategy.
func TestQuickAtInit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-out", out, "-model", "mlp:32", "-strategy", "snip", "-sparsity", "0.5,0.9", "-controls", "shuffle,invert", "-no-plot"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	csv, err := os.ReadFile(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 1+1+2*3 || !strings.HasSuffix(lines[0], ",strategy") {
		t.Fatalf("results.csv:\n%s", csv)
	}
	for _, l := range lines[1:] {
		if !strings.HasSuffix(l, ",snip") {
			t.Errorf("row %q does not name the strategy", l)
		}
	}
	if !strings.Contains(stdout.String(), "trial 0 level 2 invert") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// TestQuickInstability: -instability writes the CSV files and both plots
// and prints the barrier table.
func TestQuickInstability(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-out", out, "-model", "mlp:32", "-levels", "1", "-controls", "none", "-instability", "0,25", "-instability-points", "4"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, name := range []string{"instability.csv", "instability_summary.csv", "instability_path.png", "instability_barrier.svg"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(stdout.String(), "instability: test error barrier") || !strings.Contains(stdout.String(), "trial 0 level 1 instability-k25-b") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// TestQuickAndExplicitFlags: -quick overrides a -config description's
// extent, an explicit flag wins over -quick, and the description Run
// executes shows both.
func TestQuickAndExplicitFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "exp.json")
	if err := os.WriteFile(cfg, []byte(`{"model": "mlp:8", "train": {"iterations": 5000, "eval_every": 1000}, "levels": 9, "trials": 4}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-config", cfg, "-levels", "1", "-controls", "none", "-no-plot", "-out", out}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	res, err := lottery.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	e := res.Experiment
	if e.Train.Iterations != 50 || e.Train.EvalEvery != 25 || e.Trials != 1 || e.Levels != 1 || e.Model != "mlp:8" {
		t.Errorf("ran %+v: want -quick's 50 steps, eval every 25 and 1 trial, the explicit 1 level, the config's model", e)
	}
	// An explicit 0 in the description file is an error naming the field.
	if err := os.WriteFile(cfg, []byte(`{"train": {"iterations": 0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-config", cfg, "-out", out}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "train.iterations is 0") {
		t.Errorf("a config with iterations 0: exit %d, %s", code, stderr.String())
	}
}
