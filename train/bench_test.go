package train

import (
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/prune"

	"github.com/shearsml/shears/train/internal/kernel"
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// synthetic returns n random examples of the given shape and classes.
func synthetic(n int, shape []int, classes int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := prod(shape)
	d := &Dataset{Name: "synthetic", X: make([]float32, n*f), Y: make([]int, n), Shape: append([]int(nil), shape...), Classes: classes}
	for i := range d.X {
		d.X[i] = rng.Float32()
	}
	for i := range d.Y {
		d.Y[i] = rng.IntN(classes)
	}
	return d
}

// BenchmarkTrainLeNet300100 measures one optimizer step (forward, backward,
// Adam update) of LeNet-300-100 (784-300-100-10, ReLU, softmax
// cross-entropy), float32, batch 60: the figure compared with PyTorch's
// (scripts/bench_torch_train.py). Run it with -cpu 1 for a one-thread
// comparison.
//
// The sub-benchmarks prune the weights globally by magnitude to 100%, 20%,
// 7% and 2% of them kept (a lottery ticket's range) and train with
// KernelsAuto, which runs the layers at or below SparseThreshold with the
// sparse kernels; "7%-dense" forces the dense kernel at 7%. The steps'
// results are the same bit for bit; compare the samples/s of a density
// with "100%" for the speed-up of a pruned network.
func BenchmarkTrainLeNet300100(b *testing.B) {
	d := synthetic(600, []int{1, 28, 28}, 10, 1)
	m, err := LeNet300100(d.Shape, 10)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		remaining float64
		k         Kernels
	}{{"100%", 1, KernelsAuto}, {"20%", 0.2, KernelsAuto}, {"7%", 0.07, KernelsAuto}, {"7%-dense", 0.07, KernelsDense}, {"2%", 0.02, KernelsAuto}} {
		b.Run(c.name, func(b *testing.B) {
			w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
			if err != nil {
				b.Fatal(err)
			}
			t, err := NewTrainer(m, w, Config{Batch: 60, Optimizer: Adam{LR: 1.2e-3}, Kernels: c.k})
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close()
			if c.remaining < 1 {
				params := w.Prunable()
				ms := prune.NewMasks(params)
				if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(1 - c.remaining)}).Prune(ms, params); err != nil {
					b.Fatal(err)
				}
				if err := t.SetMasks(ms); err != nil {
					b.Fatal(err)
				}
			}
			if err := t.ensureTrainGraph(d); err != nil {
				b.Fatal(err)
			}
			if _, err := t.trainStep(d); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := t.trainStep(d); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(60*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, c := range []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"fwd-60x784x300", false, false, 60, 300, 784},
		{"gradW-784x60x300", true, false, 784, 300, 60},
		{"gradX-60x100x300", false, true, 60, 300, 100},
	} {
		a := make([]float32, c.m*c.k)
		bb := make([]float32, c.k*c.n)
		out := make([]float32, c.m*c.n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range bb {
			bb[i] = float32(i%5) * 0.1
		}
		lda, ldb := c.k, c.n
		if c.tA {
			lda = c.m
		}
		if c.tB {
			ldb = c.k
		}
		flops := 2 * float64(c.m*c.n*c.k)
		b.Run("kernel/"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if !kernel.Sgemm(c.tA, c.tB, c.m, c.n, c.k, a, lda, bb, ldb, 0, out, c.n) {
					b.Skip("no AVX2")
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(BLAS+"/"+c.name, func(b *testing.B) {
			ta, tb := blas.NoTrans, blas.NoTrans
			if c.tA {
				ta = blas.Trans
			}
			if c.tB {
				tb = blas.Trans
			}
			impl := gorgonia.WhichBLAS()
			for i := 0; i < b.N; i++ {
				impl.Sgemm(ta, tb, c.m, c.n, c.k, 1, a, lda, bb, ldb, 0, out, c.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkTrainConv measures one optimizer step (Adam, float32, batch 60)
// of LeNet-5 on 28×28 images and of Conv-2 and Conv-6 on CIFAR-10-shaped
// inputs (3×32×32). With -cpu 1,2 it gives the one- and two-thread rates
// (the convolutions, pooling and Adam split their work over GOMAXPROCS
// goroutines; the numbers do not change).
func BenchmarkTrainConv(b *testing.B) {
	for _, c := range []struct {
		name  string
		make  func([]int, int) (Model, error)
		shape []int
	}{
		{"lenet5-28x28", LeNet5, []int{1, 28, 28}},
		{"conv2-32x32", Conv2, []int{3, 32, 32}},
		{"conv6-32x32", Conv6, []int{3, 32, 32}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := synthetic(120, c.shape, 10, 1)
			m, err := c.make(c.shape, 10)
			if err != nil {
				b.Fatal(err)
			}
			w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
			if err != nil {
				b.Fatal(err)
			}
			t, err := NewTrainer(m, w, Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close()
			if err := t.ensureTrainGraph(d); err != nil {
				b.Fatal(err)
			}
			if _, err := t.trainStep(d); err != nil { // buffers allocated
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := t.trainStep(d); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(60*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkGorgoniaLeNet300100 is the baseline: the same step written as a
// Gorgonia user would, with Gorgonia's ops (Mul, BroadcastAdd, Rectify,
// LogSoftMax, HadamardProd, Mean), a TapeMachine with BindDualValues and
// Gorgonia's Adam solver, on the same data.
func BenchmarkGorgoniaLeNet300100(b *testing.B) {
	const batch = 60
	rng := rand.New(rand.NewPCG(1, 2))
	g := gorgonia.NewGraph()
	param := func(name string, s ...int) *gorgonia.Node {
		t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(s...))
		for i := range t.Float32s() {
			t.Float32s()[i] = float32(rng.NormFloat64() * 0.05)
		}
		return gorgonia.NewTensor(g, tensor.Float32, len(s), gorgonia.WithShape(s...), gorgonia.WithName(name), gorgonia.WithValue(t))
	}
	w1, b1 := param("w1", 784, 300), param("b1", 300)
	w2, b2 := param("w2", 300, 100), param("b2", 100)
	w3, b3 := param("w3", 100, 10), param("b3", 10)
	xv := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(batch, 784))
	yv := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(batch, 10))
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(batch, 784), gorgonia.WithName("x"), gorgonia.WithValue(xv))
	y := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(batch, 10), gorgonia.WithName("y"), gorgonia.WithValue(yv))
	layer := func(h, w, bias *gorgonia.Node, relu bool) *gorgonia.Node {
		z := gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(h, w)), bias, nil, []byte{0}))
		if relu {
			z = gorgonia.Must(gorgonia.Rectify(z))
		}
		return z
	}
	out := layer(layer(layer(x, w1, b1, true), w2, b2, true), w3, b3, false)
	cost := gorgonia.Must(gorgonia.Neg(gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.HadamardProd(gorgonia.Must(gorgonia.LogSoftMax(out)), y))))))
	params := gorgonia.Nodes{w1, b1, w2, b2, w3, b3}
	if _, err := gorgonia.Grad(cost, params...); err != nil {
		b.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(params...))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(1.2e-3))
	d := synthetic(600, []int{784}, 10, 1)
	step := func(s int) {
		xd, yd := xv.Float32s(), yv.Float32s()
		clear(yd)
		for i := 0; i < batch; i++ {
			ex := (s*batch + i) % d.Len()
			copy(xd[i*784:(i+1)*784], d.X[ex*784:(ex+1)*784])
			yd[i*10+d.Y[ex]] = 1
		}
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(params)); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
	step(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(i + 1)
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "samples/s")
}
