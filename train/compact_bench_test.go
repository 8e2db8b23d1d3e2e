package train

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// compactFixture is a model of MNIST's shape with random weights, pruned by
// half of every hidden layer's units (prune.Grouped), and its compaction.
func compactFixture(b *testing.B, name string) (Model, *Weights, *prune.Masks, *Compacted) {
	b.Helper()
	shape := []int{1, 28, 28}
	var m Model
	var err error
	switch name {
	case "lenet300100":
		m, err = LeNet300100(shape, 10)
	case "conv2":
		m, err = Conv2(shape, 10)
	case "lenet5":
		m, err = LeNet5(shape, 10)
	}
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w, err := NewWeights(m, tensor.Float32, rng)
	if err != nil {
		b.Fatal(err)
	}
	randomBiases(w, rng)
	gs, err := Groups(m, shape)
	if err != nil {
		b.Fatal(err)
	}
	ms := prune.NewMasks(w.Prunable())
	if err := (prune.Grouped{Groups: gs, Scorer: prune.L2{}, Amount: prune.Fraction(0.5)}).Prune(ms, w.Params()); err != nil {
		b.Fatal(err)
	}
	if err := ms.Apply(w.Prunable()); err != nil {
		b.Fatal(err)
	}
	c, err := Compact(m, w, ms, shape)
	if err != nil {
		b.Fatal(err)
	}
	return m, w, ms, c
}

// BenchmarkCompactInference times one forward pass of the dense model (its
// masked twin runs the same work) and of the compacted model, half of every
// hidden layer's units removed, as sub-benchmarks of one run:
//
//	go test ./train -run - -bench CompactInference -cpu 1
func BenchmarkCompactInference(b *testing.B) {
	for _, name := range []string{"lenet300100", "conv2"} {
		m, w, _, c := compactFixture(b, name)
		for _, batch := range []int{1, 60} {
			x := make([]float32, batch*28*28)
			for i := range x {
				x[i] = float32(i%255) / 255
			}
			for _, v := range []struct {
				kind string
				m    Model
				w    *Weights
			}{{"dense", m, w}, {"compact", c.Model, c.Weights}} {
				b.Run(fmt.Sprintf("%s/batch%d/%s", name, batch, v.kind), func(b *testing.B) {
					p, err := NewPredictor(v.m, v.w, batch, []int{1, 28, 28})
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					for b.Loop() {
						if _, err := p.Run(x); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkCompact times train.Compact of LeNet-300-100 (784-300-100-10,
// half of each hidden layer pruned), tracing of the graph included.
func BenchmarkCompact(b *testing.B) {
	m, w, ms, _ := compactFixture(b, "lenet300100")
	for b.Loop() {
		if _, err := Compact(m, w, ms, []int{1, 28, 28}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompactSpeedup runs the dense and the compacted model's forward
// pass alternately, one call each per iteration, and reports the ratio of
// their total times as "speedup" (and each one's ns per call): the two sides
// share the machine's state at every moment, so the ratio holds on a busy
// machine.
//
//	go test ./train -run - -bench CompactSpeedup -cpu 1
func BenchmarkCompactSpeedup(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch int
	}{{"lenet300100", 1}, {"lenet300100", 60}, {"conv2", 1}, {"conv2", 60}} {
		m, w, _, cm := compactFixture(b, c.name)
		x := make([]float32, c.batch*28*28)
		for i := range x {
			x[i] = float32(i%255) / 255
		}
		b.Run(fmt.Sprintf("%s/batch%d", c.name, c.batch), func(b *testing.B) {
			pd, err := NewPredictor(m, w, c.batch, []int{1, 28, 28})
			if err != nil {
				b.Fatal(err)
			}
			defer pd.Close()
			pc, err := NewPredictor(cm.Model, cm.Weights, c.batch, []int{1, 28, 28})
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close()
			var td, tc time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := pd.Run(x); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := pc.Run(x); err != nil {
					b.Fatal(err)
				}
				td += t1.Sub(t0)
				tc += time.Since(t1)
			}
			b.ReportMetric(float64(td)/float64(tc), "speedup")
			b.ReportMetric(float64(td.Nanoseconds())/float64(b.N), "dense-ns/call")
			b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N), "compact-ns/call")
		})
	}
}
