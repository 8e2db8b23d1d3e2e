package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/lottery"
	"github.com/shearsml/shears/train"
)

func runQuick(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"-quick", "-out", out}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, out
}

func TestQuickLeNet300100(t *testing.T) {
	rep, out := runQuick(t)
	obj := map[string]map[string]any{}
	for _, k := range []string{"dense", "masked", "compact"} {
		o, ok := rep[k].(map[string]any)
		if !ok {
			t.Fatalf("report.json has no object %q: %v", k, rep)
		}
		for _, f := range []string{"params", "flops", "test_accuracy", "ms_batch1", "ms_batch60"} {
			if v, ok := o[f].(float64); !ok || v <= 0 {
				t.Errorf("%s.%s = %v", k, f, o[f])
			}
		}
		obj[k] = o
	}
	if d, ok := rep["max_logit_diff"].(float64); !ok || d > 1e-4 {
		t.Errorf("max_logit_diff = %v", rep["max_logit_diff"])
	}
	// 64-300-100-10 with half of each hidden layer: 64·150 + 150·50 + 50·10 MACs.
	if f := obj["compact"]["flops"].(float64); f != 64*150+150*50+50*10 {
		t.Errorf("compact flops %v", f)
	}
	if obj["masked"]["flops"] != obj["compact"]["flops"] {
		t.Errorf("masked flops %v, compact %v: the masks' accounting should see the rows the pruned units feed", obj["masked"]["flops"], obj["compact"]["flops"])
	}
	if obj["masked"]["test_accuracy"] != obj["compact"]["test_accuracy"] {
		t.Errorf("masked accuracy %v, compact %v", obj["masked"]["test_accuracy"], obj["compact"]["test_accuracy"])
	}
	// The saved compacted weights load back into the compacted model.
	w, err := train.LoadWeights(filepath.Join(out, "compact.weights"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := train.LeNet300100([]int{1, 8, 8}, 10)
	cm, err := train.Resize(m, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Matches(cm); err != nil || w.Tensor("fc1.w").Shape()[1] != 150 {
		t.Errorf("reloaded: %v, fc1.w %v", err, w.Tensor("fc1.w").Shape())
	}
}

func TestQuickConv2(t *testing.T) {
	rep, _ := runQuick(t, "-model", "conv2", "-iterations", "40", "-finetune", "10")
	if d, ok := rep["max_logit_diff"].(float64); !ok || d > 1e-4 {
		t.Errorf("max_logit_diff = %v", rep["max_logit_diff"])
	}
	removed := rep["removed"].(map[string]any)
	if removed["conv1.w"] != 32.0 || removed["conv2.w"] != 32.0 || removed["fc1.w"] != 128.0 {
		t.Errorf("removed %v", removed)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-model", "resnet"}, {"-structured", "1"}, {"-structured", "-0.1"}, {"-out", ""}, {"extra"}, {"-iterations", "0"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "-out", filepath.Join(t.TempDir(), "o")), &stdout, &stderr)
		if args[0] == "-out" {
			err = run(context.Background(), args, &stdout, &stderr)
		}
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "Usage") {
			t.Errorf("%v: %v, stderr %q", args, err, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-structured") {
		t.Errorf("-h: %v, stderr %q", err, stderr.String())
	}
}

// TestQuickConvTicket exports a LeNet-5 lottery ticket (a conv chain) at 32
// and at 8 bits and evaluates the files: at 32 bits the exported model is
// the ticket (the same test accuracy), and -eval reads it back.
func TestQuickConvTicket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lottery")
	exp := lottery.Experiment{Model: "lenet5", Data: lottery.Data{Source: "digits"}, Train: lottery.Training{Iterations: 30, EvalEvery: 30}, Levels: 2, Trials: 1}
	if _, err := lottery.Run(context.Background(), dir, exp, lottery.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, bits := range []string{"32", "8"} {
		out, file := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "t.shx")
		var stdout, stderr bytes.Buffer
		args := []string{"-quick", "-out", out, "-structured", "0", "-ticket", dir, "-level", "2", "-bits", bits, "-export", file}
		if err := run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
		}
		b, _ := os.ReadFile(filepath.Join(out, "report.json"))
		var rep report
		if err := json.Unmarshal(b, &rep); err != nil || rep.Sparse == nil || rep.Export == nil {
			t.Fatalf("report.json: %v\n%s", err, b)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, l := range rep.Export.Layers {
			kinds[l.Kind]++
		}
		if rep.Export.Bytes != int(fi.Size()) || rep.Export.Ratio <= 1 || kinds["conv"] != 2 || kinds["dense"] != 3 || rep.Export.TestAccuracy <= 0.2 {
			t.Errorf("%s bits: export %+v, file %d bytes", bits, rep.Export, fi.Size())
		}
		if rep.Sparse.GraphMsBatch1 <= 0 || rep.Sparse.GraphMsBatch60 <= 0 || rep.Sparse.DenseMsBatch60 <= 0 {
			t.Errorf("%s bits: sparse timings %+v", bits, rep.Sparse)
		}
		if bits == "32" && rep.Export.TestAccuracy != rep.Sparse.TestAccuracy {
			t.Errorf("32 bits: the exported ticket's accuracy %v, the ticket's %v", rep.Export.TestAccuracy, rep.Sparse.TestAccuracy)
		}
		stdout.Reset()
		if err := run(context.Background(), []string{"-eval", file, "-data", "digits", "-quick"}, &stdout, &stderr); err != nil {
			t.Fatalf("-eval: %v\n%s", err, stderr.String())
		}
		var ev evalReport
		if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
			t.Fatalf("-eval printed %q: %v", stdout.String(), err)
		}
		if ev.TestAccuracy != rep.Export.TestAccuracy || ev.MsBatch1 <= 0 || ev.MsBatch60 <= 0 {
			t.Errorf("-eval: %+v, the export's accuracy %v", ev, rep.Export.TestAccuracy)
		}
	}
}
