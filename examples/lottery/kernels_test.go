package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKernelsSameResults runs the quick experiment with the dense and the
// sparse kernels: every column of results.csv but the training time is the
// same.
func TestKernelsSameResults(t *testing.T) {
	var rows [2][][]string
	for i, k := range []string{"dense", "sparse"} {
		out := filepath.Join(t.TempDir(), k)
		var stdout, stderr bytes.Buffer
		args := []string{"-quick", "-out", out, "-controls", "random", "-no-plot", "-kernels", k}
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("-kernels %s: exit %d\n%s", k, code, stderr.String())
		}
		f, err := os.Open(filepath.Join(out, "results.csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows[i], err = csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(rows[0]) < 3 || len(rows[0]) != len(rows[1]) {
		t.Fatalf("%d and %d rows", len(rows[0]), len(rows[1]))
	}
	time := slices.Index(rows[0][0], "train_seconds")
	for r := range rows[0] {
		a, b := rows[0][r], rows[1][r]
		if time >= 0 && r > 0 {
			a, b = slices.Delete(slices.Clone(a), time, time+1), slices.Delete(slices.Clone(b), time, time+1)
		}
		if !slices.Equal(a, b) {
			t.Errorf("row %d: dense %v, sparse %v", r, a, b)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-quick", "-out", t.TempDir(), "-kernels", "fast"}, &stdout, &stderr); code != 2 {
		t.Errorf("-kernels fast: exit %d", code)
	}
}
