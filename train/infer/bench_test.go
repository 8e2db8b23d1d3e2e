package infer_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/tensor"
)

// BenchmarkInfer runs LeNet-300-100 on 28×28 inputs (half the pixels zero,
// as in Fashion-MNIST) with its GlorotNormal weights pruned globally by
// magnitude to 7% kept, at batch 1 and 60, with the dense kernel and with
// KernelsAuto (sparse on every layer at this density), side by side:
// compare the two rows of a batch size. Reports examples/s.
func BenchmarkInfer(b *testing.B) {
	m, err := train.LeNet300100([]int{1, 28, 28}, 10)
	if err != nil {
		b.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		b.Fatal(err)
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.93)}).Prune(ms, params); err != nil {
		b.Fatal(err)
	}
	if err := ms.Apply(params); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 0))
	x := make([]float32, 60*784)
	for i := range x {
		if rng.IntN(2) == 0 {
			x[i] = rng.Float32()
		}
	}
	for _, batch := range []int{1, 60} {
		for _, k := range []train.Kernels{train.KernelsDense, train.KernelsAuto} {
			e, err := infer.New(m, []int{1, 28, 28}, w, ms, k)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("batch=%d/%v", batch, k), func(b *testing.B) {
				for b.Loop() {
					if _, err := e.Run(x[:batch*784], batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}

// convBenchLayers are conv layers of the built-in models on 28×28 inputs:
// LeNet-5's second (6→16, 5×5, 14×14) and Conv-2's second (64→64, 3×3,
// 28×28).
var convBenchLayers = map[string]train.ChainLayer{
	"lenet5.conv2": {Kind: train.LayerConv, Weight: "w", In: 6, Out: 16, H: 14, W: 14, KH: 5, KW: 5, Stride: 1, Pad: 2},
	"conv2.conv2":  {Kind: train.LayerConv, Weight: "w", In: 64, Out: 64, H: 28, W: 28, KH: 3, KW: 3, Stride: 1, Pad: 1},
}

// BenchmarkConvLayer runs one conv layer (then a max-pool over the whole
// image, a flatten and a one-unit dense layer, which cost little) with random kernels keeping a fraction
// of the entries at random, with the dense kernel and the sparse kernels
// side by side, at batch 1 and 60: where the sparse kernels pay for conv
// layers (ConvSparseThreshold).
func BenchmarkConvLayer(b *testing.B) {
	if !infer.SparseAvailable() {
		b.Skip("no sparse kernels on this CPU")
	}
	for _, name := range []string{"lenet5.conv2", "conv2.conv2"} {
		cl := convBenchLayers[name]
		rng := rand.New(rand.NewPCG(4, 0))
		x := make([]float32, 60*cl.Inputs())
		for i := range x {
			x[i] = rng.Float32()
		}
		for _, kept := range []float64{0.3, 0.2, 0.1, 0.05, 0.02} {
			conv := infer.Layer{ChainLayer: cl, W: make([]float32, cl.Weights()), B: make([]float32, cl.Out), Keep: make([]bool, cl.Weights())}
			for i := range conv.W {
				conv.W[i] = rng.Float32() - 0.5
				conv.Keep[i] = rng.Float64() < kept
			}
			pool := infer.Layer{ChainLayer: train.ChainLayer{Kind: train.LayerMaxPool, In: cl.Out, Out: cl.Out, H: cl.OutH(), W: cl.OutW(), KH: cl.OutH(), KW: cl.OutW(), Stride: 1}}
			flat := infer.Layer{ChainLayer: train.ChainLayer{Kind: train.LayerFlatten, In: cl.Out, H: 1, W: 1, Out: cl.Out}}
			out := infer.Layer{ChainLayer: train.ChainLayer{Weight: "d", In: cl.Out, Out: 1}, W: make([]float32, cl.Out), B: make([]float32, 1)}
			for _, batch := range []int{1, 60} {
				for _, k := range []train.Kernels{train.KernelsDense, train.KernelsSparse} {
					e, err := infer.FromLayers([]infer.Layer{conv, pool, flat, out}, k)
					if err != nil {
						b.Fatal(err)
					}
					b.Run(fmt.Sprintf("%s/kept=%g/batch=%d/%v", name, kept, batch, k), func(b *testing.B) {
						for b.Loop() {
							if _, err := e.Run(x[:batch*cl.Inputs()], batch); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		}
	}
}

// BenchmarkInferConv runs LeNet-5 and Conv-2 on 28×28 inputs with their
// GlorotNormal weights pruned layer by layer to 5% kept, at batch 1 and
// 60: the engine with the dense kernels, the engine with KernelsAuto
// (sparse on every layer at this density), and the graph
// (train.Predictor) on the same weights, side by side. Reports examples/s.
func BenchmarkInferConv(b *testing.B) {
	for _, name := range []string{"lenet5", "conv2"} {
		var m train.Model
		var err error
		if name == "lenet5" {
			m, err = train.LeNet5([]int{1, 28, 28}, 10)
		} else {
			m, err = train.Conv2([]int{1, 28, 28}, 10)
		}
		if err != nil {
			b.Fatal(err)
		}
		w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
		if err != nil {
			b.Fatal(err)
		}
		params := w.Prunable()
		ms := prune.NewMasks(params)
		if err := (prune.Layerwise{Scorer: prune.L1{}, Default: prune.Fraction(0.95)}).Prune(ms, params); err != nil {
			b.Fatal(err)
		}
		if err := ms.Apply(params); err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 0))
		x := make([]float32, 60*784)
		for i := range x {
			if rng.IntN(2) == 0 {
				x[i] = rng.Float32()
			}
		}
		for _, batch := range []int{1, 60} {
			for _, k := range []string{"dense", "auto", "graph"} {
				var run func() error
				if k == "graph" {
					p, err := train.NewPredictor(m, w, batch, []int{1, 28, 28})
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					run = func() error { _, err := p.Run(x[:batch*784]); return err }
				} else {
					kk, _ := train.ParseKernels(k)
					e, err := infer.New(m, []int{1, 28, 28}, w, ms, kk)
					if err != nil {
						b.Fatal(err)
					}
					run = func() error { _, err := e.Run(x[:batch*784], batch); return err }
				}
				b.Run(fmt.Sprintf("%s/batch=%d/%s", name, batch, k), func(b *testing.B) {
					for b.Loop() {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
				})
			}
		}
	}
}
