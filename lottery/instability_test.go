package lottery

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func instabilityExp() Experiment {
	e := tiny()
	e.Levels, e.Trials, e.Controls = 1, 2, nil
	e.Instability = []int{20, 0}
	e.InstabilityPoints = 5
	return e
}

// TestInstability: the path's ends are the two copies, the barrier is
// computed from the path, the copies differ, files are written, and a
// second run trains nothing.
func TestInstability(t *testing.T) {
	e := instabilityExp()
	dir := t.TempDir()
	res, err := Run(context.Background(), dir, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Instability); got != 2*2*2 {
		t.Fatalf("%d instability rows, want 8", got)
	}
	s := store{dir: dir, hash: res.Hash}
	for _, row := range res.Instability {
		if len(row.Points) != 5 || row.Points[0].Alpha != 0 || row.Points[4].Alpha != 1 {
			t.Fatalf("points %+v", row.Points)
		}
		a, _ := s.readResult(Key{row.Trial, row.Level, instabilityArm(row.K, "a")})
		b, _ := s.readResult(Key{row.Trial, row.Level, instabilityArm(row.K, "b")})
		if a == nil || b == nil {
			t.Fatal("missing copy results")
		}
		if row.Points[0].TestAccuracy != a.Final.TestAccuracy || row.Points[4].TestAccuracy != b.Final.TestAccuracy {
			t.Errorf("trial %d level %d k %d: path ends %v %v, copies %v %v", row.Trial, row.Level, row.K,
				row.Points[0].TestAccuracy, row.Points[4].TestAccuracy, a.Final.TestAccuracy, b.Final.TestAccuracy)
		}
		if math.Abs(row.Points[0].TestLoss-a.Final.TestLoss) > 1e-6*math.Max(1, a.Final.TestLoss) {
			t.Errorf("path start loss %v, copy a %v", row.Points[0].TestLoss, a.Final.TestLoss)
		}
		if a.StartStep != row.K || a.Steps != e.Train.Iterations {
			t.Errorf("copy a trained steps %d to %d, want %d to %d", a.StartStep, a.Steps, row.K, e.Train.Iterations)
		}
		maxErr := 0.0
		for _, p := range row.Points {
			maxErr = max(maxErr, 1-p.TestAccuracy)
		}
		want := maxErr - (2-row.Points[0].TestAccuracy-row.Points[4].TestAccuracy)/2
		if math.Abs(row.Barrier-want) > 1e-12 || row.Barrier < 0 {
			t.Errorf("barrier %v, want %v", row.Barrier, want)
		}
		wa, _ := os.ReadFile(s.weightsPath(Key{row.Trial, row.Level, instabilityArm(row.K, "a")}))
		wb, _ := os.ReadFile(s.weightsPath(Key{row.Trial, row.Level, instabilityArm(row.K, "b")}))
		if bytes.Equal(wa, wb) {
			t.Error("the two copies trained to the same weights: the data orders do not differ")
		}
	}
	if sum := res.InstabilitySummary(); len(sum) != 4 || sum[0].Trials != 2 || sum[0].Level != 0 || sum[0].K != 0 {
		t.Errorf("summary %+v", sum)
	}
	csv1, err := os.ReadFile(filepath.Join(dir, instabilityCSV))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(csv1)), "\n"); len(lines) != 1+8*5 || lines[0] != "trial,level,k,alpha,test_accuracy,test_loss" {
		t.Errorf("instability.csv has %d lines, header %q", len(lines), lines[0])
	}
	if _, err := os.Stat(filepath.Join(dir, instabilitySum)); err != nil {
		t.Error(err)
	}
	// Resume: nothing is retrained, the files are the same.
	var log bytes.Buffer
	if _, err := Run(context.Background(), dir, e, Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "20 of 20 trainings were already done") {
		t.Errorf("second run:\n%s", log.String())
	}
	csv2, _ := os.ReadFile(filepath.Join(dir, instabilityCSV))
	if !bytes.Equal(csv1, csv2) {
		t.Error("instability.csv changed on resume")
	}

	// Shards merge into the same instability results.
	var shards []string
	for i := range 2 {
		sd := filepath.Join(t.TempDir(), "shard")
		if _, err := Run(context.Background(), sd, e, Options{Shard: Shard{Index: i, Count: 2}}); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, sd)
	}
	merged := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(merged, shards...); err != nil {
		t.Fatal(err)
	}
	csv3, err := os.ReadFile(filepath.Join(merged, instabilityCSV))
	if err != nil || !bytes.Equal(csv1, csv3) {
		t.Errorf("merged instability.csv differs from the unsharded run (%v)", err)
	}
}

// TestInstabilityRewindPoint: the weights after k steps that the analysis
// computes are those level 0 saves when rewinding to iteration k.
func TestInstabilityRewindPoint(t *testing.T) {
	e := tiny()
	e.Levels, e.Trials, e.Controls = 0, 1, nil
	e.Instability = []int{20}
	e.InstabilityPoints = 3
	d1 := t.TempDir()
	r1, err := Run(context.Background(), d1, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e2 := tiny()
	e2.Levels, e2.Trials, e2.Controls = 0, 1, nil
	e2.Rewind = Rewind{To: RewindIteration, Iteration: 20}
	d2 := t.TempDir()
	r2, err := Run(context.Background(), d2, e2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(store{dir: d1, hash: r1.Hash}.rewindPath(0, 20))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(store{dir: d2, hash: r2.Hash}.rewindPath(0, 20))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the instability analysis's weights after 20 steps differ from level 0's rewind point")
	}
}

func TestInstabilityRefused(t *testing.T) {
	for _, tc := range []struct {
		e    Experiment
		want string
	}{
		{Experiment{Train: Training{Iterations: 100}, Instability: []int{100}}, "instability point k=100 is not in [0, 100)"},
		{Experiment{Instability: []int{-1}}, "k=-1"},
		{Experiment{Instability: []int{5, 5}}, "listed twice"},
		{Experiment{InstabilityPoints: 10}, "instability_points is set"},
		{Experiment{Instability: []int{5}, InstabilityPoints: 1}, "instability_points 1"},
	} {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := Run(context.Background(), dir, tc.e, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.e, err, tc.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%+v: the refused run wrote %s", tc.e, dir)
		}
	}
	if _, err := ParseExperiment([]byte(`{"instability": [10], "instability_points": 0}`)); err == nil || !strings.Contains(err.Error(), "instability_points is 0") {
		t.Errorf("explicit zero points: %v", err)
	}
}
