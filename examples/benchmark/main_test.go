package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickGoOnly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-torch=false", "-seconds", "0.05"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"prune.Global L1 20%, 1.0M weights", "train LeNet-300-100 step", "PyTorch not measured: -torch=false"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in:\n%s", want, stdout.String())
		}
	}
}

// The conv models train on the Go side, one step per clock read.
func TestConvModelsGoOnly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-torch=false", "-only", "train", "-models", "lenet5,conv2", "-seconds", "0.05"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"train LeNet-5 step", "train Conv-2 step", "CPU: "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in:\n%s", want, stdout.String())
		}
	}
}

// -rounds measures each model again, one row a round.
func TestRounds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-torch=false", "-only", "train", "-models", "lenet5", "-threads", "1", "-seconds", "0.05", "-rounds", "2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"train LeNet-5 step, float32, batch 60 (round 1)", "train LeNet-5 step, float32, batch 60 (round 2)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "(round 3)") {
		t.Errorf("a third round in:\n%s", stdout.String())
	}
}

// Without a Python that has torch, the Go figures are printed and the run
// succeeds.
func TestNoTorch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-only", "prune", "-python", "/nonexistent/python3"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "PyTorch: not available") || !strings.Contains(stdout.String(), "1.0M weights") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

// With Debian's python3-torch installed, the scripts run and their figures
// are parsed into ratios.
func TestQuickWithTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch")
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-threads", "1", "-seconds", "0.1", "-repeat", "1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), "PyTorch: not available") {
		t.Skip("PyTorch is not installed")
	}
	// a pruning row with its ratio, and a training row with its ratio and
	// its ratio per CPU second
	var rows, ratios int
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "[") || strings.Contains(line, "|") {
			continue // the stages' lines, not the table's
		}
		if n := strings.Count(line, "×"); n > 0 {
			rows++
			ratios += n
		}
	}
	if rows != 2 || ratios != 3 {
		t.Errorf("%d rows with %d ratios, want 2 with 3:\n%s", rows, ratios, stdout.String())
	}
	if !strings.Contains(stdout.String(), "ratio per CPU second") {
		t.Errorf("no ratio per CPU second in:\n%s", stdout.String())
	}
}

func TestPythonOutputParsing(t *testing.T) {
	m := pruneLine.FindStringSubmatch("torch 1.13.0a0 global_unstructured L1 amount=0.2: 1004831 weights (1M) in 12 tensors, 2 thread(s): 0.076 s/call, 0.092 s CPU/call (best of 3; kept 803865)")
	if m == nil || m[1] != "1004831" || m[3] != "2" || m[4] != "0.076" {
		t.Errorf("prune line: %q", m)
	}
	m = trainLine.FindStringSubmatch("pytorch 1.13.0a0 on AMD EPYC, model=conv2, 1 thread(s), batch 60, foreach=True, flush_denormal=True: best 14.4 samples/s")
	if m == nil || m[1] != "1" || m[3] != ", foreach=True, flush_denormal=True" || m[4] != "14.4" || m[5] != "" {
		t.Errorf("train line: %q", m)
	}
	// the script's line with the rate per CPU second
	m = trainLine.FindStringSubmatch("pytorch 1.13.0a0 on AMD EPYC, model=lenet5, 1 thread(s), batch 60, foreach=True, flush_denormal=True: best 1607.8 samples/s, 6040.9 samples per CPU second")
	if m == nil || m[4] != "1607.8" || m[5] != "6040.9" {
		t.Errorf("train line with CPU time: %q", m)
	}
}

func TestParseWeights(t *testing.T) {
	for s, want := range map[string]int{"100M": 100_000_000, "1m": 1_000_000, "2000000": 2_000_000} {
		if got, err := parseWeights(s); err != nil || got != want {
			t.Errorf("parseWeights(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1M", "1.5M", "1500000", "x", "3000M"} {
		if got, err := parseWeights(s); err == nil {
			t.Errorf("parseWeights(%q) = %d, no error", s, got)
		}
	}
}

func TestScaledShapes(t *testing.T) {
	// The totals the PyTorch script reports for the same sizes.
	for n, want := range map[int]int{1_000_000: 1004831, 100_000_000: 100002739} {
		total := 0
		for _, s := range scaledShapes(n) {
			total += s[0] * s[1]
		}
		if total != want {
			t.Errorf("%d: %d weights, want %d", n, total, want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-weights", "1.5M"},
		{"-weights", "0"},
		{"-threads", "0"},
		{"-threads", "1,1"},
		{"-threads", "a"},
		{"-repeat", "0"},
		{"-train-repeat", "0"},
		{"-rounds", "0"},
		{"-seconds", "0"},
		{"-only", "both"},
		{"-models", "resnet"},
		{"-models", "conv2,conv2"},
		{"-torch", "maybe"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "Usage: benchmark") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr.String())
		}
	}
}

// TestTorchISA: SHEARS_CPU=avx2 holds PyTorch's three libraries to AVX2;
// nothing else adds to its environment.
func TestTorchISA(t *testing.T) {
	got := strings.Join(torchISA("avx2"), " ")
	for _, want := range []string{"ATEN_CPU_CAPABILITY=avx2", "DNNL_MAX_CPU_ISA=AVX2", "OPENBLAS_CORETYPE=Haswell"} {
		if !strings.Contains(got, want) {
			t.Errorf("torchISA(avx2) = %q, lacks %s", got, want)
		}
	}
	for _, v := range []string{"", "generic", "avx512"} {
		if env := torchISA(v); env != nil {
			t.Errorf("torchISA(%q) = %v, want nothing", v, env)
		}
	}
}
