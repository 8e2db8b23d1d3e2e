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
	if code := run(context.Background(), []string{"-quick", "-out", out, "-sparsity", "0.9"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, name := range []string{"curves.csv", "curves.png", "curves.svg"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	f, err := os.Open(filepath.Join(out, "curves.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Per run: the sparsity never falls, starts at 0 and ends at 90%; the
	// gradual run passes through intermediate sparsities, the one-shot run
	// does not.
	last := map[string]float64{}
	between := map[string]int{}
	for _, r := range recs[1:] {
		s, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		if it, _ := strconv.Atoi(r[1]); it == 0 && s != 0 {
			t.Errorf("%s starts at sparsity %v", r[0], s)
		}
		if s < last[r[0]] {
			t.Errorf("%s: sparsity falls to %v at iteration %s", r[0], s, r[1])
		}
		if s > 0 && s < 0.89 {
			between[r[0]]++
		}
		last[r[0]] = s
	}
	if len(last) != 2 || last["gradual"] < 0.899 || last["one-shot"] < 0.899 || last["gradual"] > 0.901 || last["one-shot"] > 0.901 {
		t.Errorf("final sparsities %v, want both 0.9", last)
	}
	if between["gradual"] == 0 || between["one-shot"] != 0 {
		t.Errorf("evaluations at intermediate sparsity: %v", between)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-sparsity", "1"},
		{"-sparsity", "0"},
		{"-sparsity", "x"},
		{"-start", "0"},
		{"-every", "0"},
		{"-prunings", "0"},
		{"-eval-every", "0"},
		{"-lr", "-1"},
		{"-iterations", "100"}, // the last pruning (300 + 15×100) comes after the end
		{"-out", ""},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "Usage: gradual") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr.String())
		}
	}
}
