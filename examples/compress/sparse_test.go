package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/lottery"
	"github.com/shearsml/shears/train/infer"
)

func TestQuickUnstructuredExportEval(t *testing.T) {
	dir := t.TempDir()
	out, file := filepath.Join(dir, "out"), filepath.Join(dir, "m.shx")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-out", out, "-structured", "0", "-unstructured", "0.9", "-bits", "5", "-export", file}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sparse == nil || rep.Export == nil {
		t.Fatalf("report.json lacks sparse or export:\n%s", b)
	}
	if kept := float64(rep.Sparse.ParamsKept) / (784*300 + 300*100 + 100*10); kept < 0.099 || kept > 0.101 {
		// digits are 8×8: 64 inputs
		if kept := float64(rep.Sparse.ParamsKept) / (64*300 + 300*100 + 100*10); kept < 0.099 || kept > 0.101 {
			t.Errorf("params kept %d: not 10%% of the weights", rep.Sparse.ParamsKept)
		}
	}
	sparseOK := infer.SparseAvailable()
	if rep.Sparse.TestAccuracy < 0.5 || rep.Sparse.MsBatch1 <= 0 || rep.Sparse.MsBatch60 <= 0 || (len(rep.Sparse.SparseLayers) == 0) == sparseOK {
		t.Errorf("sparse: %+v", rep.Sparse)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Export.Bytes != int(fi.Size()) || rep.Export.Bits != 5 || rep.Export.Ratio < 10 || rep.Export.TestAccuracy < 0.5 {
		t.Errorf("export: %+v, file %d bytes", rep.Export, fi.Size())
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

	// a damaged file is a clear error
	data, _ := os.ReadFile(file)
	data[len(data)/2] ^= 0xff
	bad := filepath.Join(dir, "bad.shx")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"-eval", bad, "-quick"}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("-eval of a damaged file: %v", err)
	}
}

func TestQuickTicket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lottery")
	exp := lottery.Experiment{Model: "lenet300100", Data: lottery.Data{Source: "digits"}, Train: lottery.Training{Iterations: 30, EvalEvery: 30}, Levels: 2, Trials: 1}
	if _, err := lottery.Run(context.Background(), dir, exp, lottery.Options{}); err != nil {
		t.Fatal(err)
	}
	out, file := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "t.shx")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-out", out, "-ticket", dir, "-level", "2", "-bits", "32", "-export", file}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil || rep.Sparse == nil || rep.Export == nil {
		t.Fatalf("report.json: %v\n%s", err, b)
	}
	if !strings.Contains(rep.Sparse.Source, "level 2") || rep.Export.TestAccuracy != rep.Sparse.TestAccuracy {
		// 32 bits: the exported ticket is the ticket
		t.Errorf("sparse %+v, export accuracy %v", rep.Sparse, rep.Export.TestAccuracy)
	}
	if err := run(context.Background(), []string{"-quick", "-out", out, "-ticket", dir, "-level", "5"}, &stdout, &stderr); err == nil {
		t.Error("accepted a level the run does not have")
	}
}

func TestSparseBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-unstructured", "1"},
		{"-unstructured", "-0.1"},
		{"-bits", "16"},
		{"-bits", "0"},
		{"-export", "x.shx"},
		{"-level", "3"},
		{"-ticket", "d", "-unstructured", "0.5"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
