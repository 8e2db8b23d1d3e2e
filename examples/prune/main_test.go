package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestQuickRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-quick", "-out", out, "-amounts", "0.5,0.9"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, name := range []string{"results.csv", "layer-sparsity.png", "layer-sparsity.svg"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, want := range []string{"unstructured", "global", "layerwise", "structured rows", "structured columns", "N:M 2:4"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, stdout.String())
		}
	}
	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header, dense, 5 pruners × 2 amounts, 2 N:M
	if len(recs) != 1+1+5*2+2 {
		t.Fatalf("results.csv has %d records:\n%v", len(recs), recs)
	}
	for _, r := range recs[2:] {
		// Pruned at 50% or more: the sparsity column says so.
		if s, err := strconv.ParseFloat(r[2], 64); err != nil || s < 0.4 {
			t.Errorf("%v: sparsity %s", r[:2], r[2])
		}
	}
}

// The numbers do not depend on how many fine-tunes run at once.
func TestWorkersSameResults(t *testing.T) {
	var csvs [2][]byte
	for i, w := range []string{"1", "3"} {
		out := filepath.Join(t.TempDir(), "out")
		var stdout, stderr bytes.Buffer
		args := []string{"-quick", "-out", out, "-amounts", "0.8", "-workers", w, "-iterations", "60", "-finetune", "20"}
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var err error
		if csvs[i], err = os.ReadFile(filepath.Join(out, "results.csv")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(csvs[0], csvs[1]) {
		t.Errorf("-workers 1 and 3 differ:\n%s\n%s", csvs[0], csvs[1])
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-iterations", "x"},
		{"-iterations", "0"},
		{"-finetune", "-1"},
		{"-amounts", "0.5,1"},
		{"-amounts", "0"},
		{"-amounts", "0.5,0.5"},
		{"-amounts", ""},
		{"-workers", "-2"},
		{"-out", ""},
		{"-nosuchflag"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "Usage: prune") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}
