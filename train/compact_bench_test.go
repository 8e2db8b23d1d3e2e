package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

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
