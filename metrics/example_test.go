package metrics_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"
	"os"
	"strings"

	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
)

// The FLOPs of LeNet-300-100: one multiply-accumulate per weight and
// example, biases not counted.
func ExampleLayer_FLOPs() {
	var total int64
	for _, l := range []metrics.Layer{
		metrics.DenseLayer("fc1", 784, 300, true),
		metrics.DenseLayer("fc2", 300, 100, true),
		metrics.DenseLayer("fc3", 100, 10, true),
	} {
		f, err := l.FLOPs()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %d\n", l.Name, f)
		total += f
	}
	fmt.Println("total", total)
	// Output:
	// fc1 235200
	// fc2 30000
	// fc3 1000
	// total 266200
}

// A report of LeNet-5 after pruning half of each layer's weights but the
// last.
func ExampleAccount() {
	layers := []metrics.Layer{
		metrics.ConvLayer("conv1", 1, 6, 5, 28, 28, 1, 2, true),
		metrics.ConvLayer("conv2", 6, 16, 5, 14, 14, 1, 0, true),
		metrics.DenseLayer("fc1", 400, 120, true),
		metrics.DenseLayer("fc2", 120, 84, true),
		metrics.DenseLayer("fc3", 84, 10, true),
	}
	var masks []*prune.Mask
	for i, l := range layers {
		m, err := prune.NewMask(l.Name, l.Shape)
		if err != nil {
			log.Fatal(err)
		}
		if i < len(layers)-1 {
			for j := 0; j < m.Len(); j += 2 {
				m.Set(j, false)
			}
		}
		masks = append(masks, m)
	}
	ms, err := prune.NewMasksOf(masks...)
	if err != nil {
		log.Fatal(err)
	}
	r, err := metrics.Account(layers, ms)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.WriteTable(os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// layer  kind   shape      size  size_nz  sparsity  compression_ratio   flops  flops_nz  theoretical_speedup
	// conv1  conv   6x1x5x5     156       81    50.00%               1.93  117600     58800                 2.00
	// conv2  conv   16x6x5x5   2416     1216    50.00%               1.99  240000    120000                 2.00
	// fc1    dense  400x120   48120    24120    50.00%               2.00   48000     24000                 2.00
	// fc2    dense  120x84    10164     5124    50.00%               1.98   10080      5040                 2.00
	// fc3    dense  84x10       850      850     0.00%               1.00     840       840                 1.00
	// total  -      -         61706    31391    49.32%               1.97  416520    208680                 2.00
}

// Summarize results read from the CSV that the lottery package writes.
func ExampleSummarize() {
	const results = `trial,level,arm,remaining,test_accuracy,test_loss,early_stop_iteration,early_stop_test_accuracy,train_seconds
0,0,ticket,1,0.978,0.07,9000,0.977,20.5
1,0,ticket,1,0.980,0.06,8800,0.980,20.1
0,1,ticket,0.8,0.981,0.06,8000,0.981,19.0
1,1,ticket,0.8,0.983,0.06,7600,0.982,18.7
0,1,random,0.8,0.975,0.08,9400,0.974,19.2
1,1,random,0.8,0.971,0.09,9900,0.970,19.4
`
	rows, err := metrics.ReadRowsCSV(strings.NewReader(results))
	if err != nil {
		log.Fatal(err)
	}
	sums, err := metrics.Summarize(rows, metrics.TestAccuracyPercent)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sums {
		fmt.Printf("%-6s level %d  %5.1f%% left  n=%d  mean %.2f  std %.3f  [%.1f, %.1f]\n",
			s.Arm, s.Level, s.Percent(), s.N, s.Mean, s.Std, s.Min, s.Max)
	}
	// Output:
	// ticket level 0  100.0% left  n=2  mean 97.90  std 0.141  [97.8, 98.0]
	// ticket level 1   80.0% left  n=2  mean 98.20  std 0.141  [98.1, 98.3]
	// random level 1   80.0% left  n=2  mean 97.30  std 0.283  [97.1, 97.5]
}

// Draw accuracy against sparsity and render it as PNG, as a notebook
// would show it (metrics.Save writes a file instead).
func ExampleAccuracyVsSparsity() {
	var rows []metrics.Row
	rem := 1.0
	for level := 0; level < 8; level++ {
		for trial := 0; trial < 3; trial++ {
			for i, arm := range []string{metrics.ArmTicket, metrics.ArmReinit, metrics.ArmRandom} {
				acc := 0.98 - float64(i*level)*0.002 + float64(trial)*0.001
				rows = append(rows, metrics.Row{Trial: trial, Level: level, Arm: arm, Remaining: rem, TestAccuracy: acc, EarlyStopTestAccuracy: acc})
			}
		}
		rem *= 0.8
	}
	p, err := metrics.AccuracyVsSparsity(rows, metrics.Title("LeNet-300-100"))
	if err != nil {
		log.Fatal(err)
	}
	b, err := metrics.Render(p, metrics.DefaultWidth, metrics.DefaultHeight, "png")
	if err != nil {
		log.Fatal(err)
	}
	img, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d×%d PNG\n", img.Width, img.Height)
	// Output:
	// 605×378 PNG
}
