package train

import (
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

var (
	fashion        = flag.Bool("fashion", false, "train LeNet-300-100 on Fashion-MNIST (TestFashionMNIST; about a minute)")
	fashionFlagDir = flag.String("fashion-dir", "/usr/share/datasets/fashion-mnist", "folder of the Fashion-MNIST IDX files")
	fashionEpochs  = flag.Int("fashion-epochs", 12, "epochs for TestFashionMNIST")
)

// TestFashionMNIST trains LeNet-300-100 on Fashion-MNIST (55,000 training
// examples, 5,000 validation, the 10,000 test examples) with the
// lottery-ticket settings and checks the test accuracy reaches 88%. It runs
// only with -fashion and when the files are there:
//
//	go test ./train -run FashionMNIST -fashion -v
func TestFashionMNIST(t *testing.T) {
	if !*fashion {
		t.Skip("run with -fashion")
	}
	if _, err := os.Stat(*fashionFlagDir); err != nil {
		t.Skipf("no Fashion-MNIST: %v", err)
	}
	data, err := Load(*fashionFlagDir, 5000, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LeNet300100(data.Train.Shape, data.Train.Classes)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, w, Config{Epochs: *fashionEpochs, EvalBatch: 1000, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.OnEval("log", func(e Eval) error {
		t.Logf("step %6d: val loss %.4f acc %.4f, test loss %.4f acc %.4f", e.Iteration, e.ValLoss, e.ValAccuracy, e.TestLoss, e.TestAccuracy)
		return nil
	})
	start := time.Now()
	res, err := tr.Fit(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s, %d steps in %.1f s (%.0f samples/s with evaluations): final test accuracy %.4f; best (iteration %d, val loss %.4f) test accuracy %.4f",
		Backend(), res.Steps, time.Since(start).Seconds(), float64(res.Steps*60)/res.Seconds, res.Final.TestAccuracy, res.Best.Iteration, res.Best.ValLoss, res.Best.TestAccuracy)
	if res.Best.TestAccuracy < 0.88 {
		t.Errorf("test accuracy at the early-stopping point %.4f, want ≥ 0.88", res.Best.TestAccuracy)
	}
}
