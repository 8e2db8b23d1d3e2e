// Package train trains classifiers built on Gorgonia graphs, for pruning and
// lottery-ticket experiments: models, data sets, seeded initialisation,
// optimizers, a training loop that keeps pruning masks in force, evaluation,
// early-stopping records, snapshots and checkpoint files.
//
// # Models
//
// A Model describes a network: its parameters (Params, a list of ParamSpec
// with stable names such as "fc1.w" or "conv1.w", shapes, whether pruning
// applies, and an Initializer) and its forward pass (Forward, which builds
// the logits on a Gorgonia graph from an input node and one node per
// parameter). A Model holds no weights and no graph, so one value serves
// any number of trainers.
//
// Built in:
//
//   - MLP(input, hidden, classes): dense layers with ReLU; LeNet300100 is
//     MLP(input, [300, 100], classes), Frankle & Carbin's LeNet.
//   - LeNet5: two 5×5 convolutions (6 and 16 channels, padded by 2) with 2×2
//     max-pools, then dense 120, 84, classes. The padding lets it run on the
//     8×8 digits as on 28×28 MNIST.
//   - Conv2, Conv4, Conv6: Frankle & Carbin's convolutional networks (3×3
//     convolutions of 64, 64 [, 128, 128 [, 256, 256]] channels, a max-pool
//     after each pair, then dense 256, 256, classes), for any input size and
//     channel count the pools allow; a too-small input is an error.
//
// Their weights are prunable and start GlorotNormal (as in Frankle &
// Carbin); biases are not prunable and start at zero. WithInit changes the
// weights' initializer, e.g. to KaimingNormal (OpenLTH's choice). A dense
// weight is [in, out] (Gorgonia's x·W layout: a layer's output units lie on
// dimension 1); a convolution kernel is [out, in, kh, kw].
//
// A user's own network is a type with the three methods; the documentation
// of Model (go doc train.Model) shows one made of Gorgonia's ops (Mul,
// BroadcastAdd), and ExampleModel runs it. Such a model trains,
// prunes and runs in lottery experiments like the built-in ones. The
// built-in models are made of this package's ops — Dense, DenseReLU, Conv,
// ConvReLU, MaxPool — which a user's model may use too: each is one
// Gorgonia op with symbolic differentiation that reuses its buffers between
// runs, and does in one pass what takes a chain of Gorgonia's ops (a
// matrix product, a broadcast addition, a rectifier) several.
//
// # Weights
//
// NewWeights allocates a model's parameters, float32 by default or float64
// on request, and initialises them from an explicit *rand.Rand (never
// Gorgonia's clock-seeded initialisers): the same model, dtype and seed give
// the same bits. Weights.Prunable returns the prunable tensors as
// []prune.Param sharing memory with the weights, ready for prune.NewMasks
// and the pruners. Clone, Equal (bit for bit), CopyFrom, and weights files
// (Save, LoadWeights, WriteTo, ReadWeights; magic "SHRWGHT\x00") complete it.
//
// # Training
//
// A Trainer trains one Weights of one Model in place with softmax
// cross-entropy. Config sets the batch (60 by default), the length
// (Iterations, or Epochs), the Optimizer (SGD, Momentum with an optional
// Nesterov, Adam; Adam{LR: 1.2e-3} by default), the learning-rate schedule
// (Constant, Step, MultiStep, Warmup; driven by the step counter), how often
// to evaluate, and the seed of the order of training examples. Every zero
// field has a documented default.
//
// Fit trains from Step() up to the configured number of steps. Training
// examples form an endless stream of seeded per-epoch permutations, and step
// s takes the next Batch of them, so every batch is full and the batch of a
// step depends only on the seed and the step: a run stopped and resumed at
// any step sees the same data. Fit evaluates the validation and test sets
// every EvalEvery steps (once per epoch by default) and after its last step;
// evaluation covers every example, the last partial batch included (a graph
// of the remainder's size runs it, so nothing is padded or dropped).
// Result.Best is the evaluation of least validation loss — the
// lottery-ticket papers' early-stopping iteration and the test accuracy
// there. An empty test or validation set is an error (set Splits.Val to nil
// for none: Best is then the last evaluation).
//
// A Fit that has no steps left — a second Fit with the same Config — returns
// ErrNoSteps instead of silently training 0 steps. To train on, raise the
// total with SetIterations (and, if wanted, SetLearningRate, SetSchedule)
// and call Fit again: the weights, masks and optimizer state carry over.
//
// Hooks run by name: OnStep after every step, Every after every n-th,
// OnEval after each evaluation. A hook's error ends Fit with it; ErrStop ends
// Fit cleanly. Fit checks its context before every step and returns the
// context's error, wrapped, when it is cancelled. A NaN or infinite loss
// ends Fit with a *NonFiniteLossError (errors.Is(err, ErrNonFinite)) before
// the bad step touches the weights.
//
// With a Config.Progress that is a terminal (os.Stdout, os.Stderr), Fit
// draws a progress bar with the rate and the time left; on anything else it
// is silent.
//
// # Masks
//
// SetMasks keeps a *prune.Masks over Weights.Prunable in force: pruned
// weights are zeroed at once, and at every step their gradients are zeroed
// before the optimizer update and the weights again after it, so they stay
// exactly zero under every optimizer (Adam's moments or momentum would
// otherwise move them).
//
// Gradients returns the prunable tensors with the gradient of the loss on
// the next batches, without taking a step: what a gradient-based scorer
// (prune.Taylor) needs.
//
// # Sparse kernels
//
// A masked dense layer (Dense, DenseReLU) can compute its forward pass, its
// input gradient and its weight gradient at the kept weights only, and the
// optimizer (Adam, Momentum) then updates kept weights only, their state
// compact. Config.Kernels chooses: KernelsAuto (the default) runs sparse
// the layers that keep at most SparseThreshold (35%, measured) of their
// weights, KernelsDense and KernelsSparse force one way; SparseLayers says
// which layers run sparse. The sparse sums follow the dense kernel's order
// (blocks of 256 terms, one fused multiply-add chain each, pruned terms left
// out), so weights, losses and optimizer state are the same bit for bit
// with either kernels. They apply to float32 weights on the default build
// with AVX2 (Backend "go-avx2" or "go-avx512"); elsewhere every layer runs
// dense.
//
// Chain describes a model as a chain of plain layers (ChainLayer: dense,
// conv, max-pool, flatten, with their geometry; every built-in model is
// one), for graph-free inference (package train/infer) and compressed
// model files (package train/export); DenseLayers is Chain restricted to
// dense layers.
//
// # Compaction
//
// Groups traces the graph a Model builds and returns its dependency groups
// (prune.Trace): which slices of which params belong to each unit or filter.
// After structured pruning (prune.Grouped), Compact returns a physically
// smaller Model and Weights with the pruned units removed wherever their
// groups reach, the constant output of a unit whose weights are pruned folded
// into the next layer's bias, so that the logits equal the masked model's
// within float32 rounding; the compacted model trains, saves and loads like
// any other (Resize rebuilds it from saved weights). Predictor runs a
// model's forward pass on batches of a fixed size (Logits over a data set),
// which is what latency is measured on.
//
// # Snapshots and checkpoints
//
// Snapshot copies the weights, the optimizer's state, the step and the
// masks in force; Restore puts them back, masks included, so a trainer
// restored without SetMasks keeps pruned weights at zero. SaveCheckpoint and
// LoadCheckpoint do the same through a file (magic "SHRCKPT\x00", version 2,
// CRC-32C checksum, written atomically; version-1 files, without masks,
// still load). Because batches and learning rates depend only on the step,
// a restored trainer continues bit for bit as the original would have. The
// readers reject truncated, corrupted and foreign files.
//
// # Determinism
//
// Randomness comes only from explicit seeds: NewWeights' *rand.Rand and
// Config.Seed. With the same seeds, the same model, data and Config give
// bit-identical weights and results on a given machine and build. Each
// Trainer owns its graphs and their tapes (closed by Close) and shares
// nothing mutable with other trainers, so trainers in parallel goroutines
// give exactly the results of sequential runs. A training's numbers do not
// depend on GOMAXPROCS: ops that split their work over goroutines compute
// each output element the same way whatever the split. On amd64 the
// AVX-512 and AVX2 kernels give bit-identical results, so the numbers are
// the same on every x86 CPU with AVX2 and FMA; they differ in the last bits
// on CPUs without them (pure Go: no float32 fused multiply-add) and in the
// openblas build.
//
// # Speed
//
// A training step runs the ops of a graph ordered once, with only the nodes
// the loss and gradients need, one after the other on the calling goroutine
// (not Gorgonia's TapeMachine, whose RunAll hands the work to a second OS
// thread and back on every call: about 500 µs a step on a virtual machine). The package's ops write into
// buffers allocated on the first step; gradients are read in place; a batch
// costs one copy into the input tensor; the optimizers update the tensors'
// backing slices in place, Adam with an assembly kernel that flushes
// moments and gradients below the smallest normal float to zero (its speed
// does not fall on denormals, which decaying moments of pruned weights
// become). On amd64 with AVX2 and FMA, float32 matrix products use the
// package's own assembly kernels, AVX-512 where the CPU and OS support it;
// other products use the BLAS Gorgonia uses. The environment variable
// SHEARS_CPU, read at start, runs an older CPU's paths on this one:
// SHEARS_CPU=avx2 leaves AVX-512 out, SHEARS_CPU=generic every assembly
// kernel (run tests with -count=1 then: the test cache does not see it). Convolutions, pooling and Adam
// use up to GOMAXPROCS cores. BenchmarkTrainLeNet300100 measures
// one step of LeNet-300-100 (float32, batch 60, Adam) in samples per second;
// scripts/bench_torch_train.py measures the same step in PyTorch:
//
//	go test ./train -run '^$' -bench TrainLeNet300100 -cpu 1
//	go test ./train -run '^$' -bench TrainLeNet300100 -cpu 1 -tags openblas
//	/usr/bin/python3 scripts/bench_torch_train.py
//
// On a 2-core AMD EPYC virtual machine, one thread each, the step runs at about
// 50,000 samples/s in either build, where PyTorch 1.13 gave 11,000 to
// 42,000 on the same, busy machine and a plain Gorgonia graph (Mul, BroadcastAdd, Rectify,
// LogSoftMax, Gorgonia's Adam solver) 3,000 to 5,000 (10,000 on OpenBLAS).
//
// # OpenBLAS
//
// Building with the openblas tag (go test -tags openblas ./train) makes
// Gorgonia, and the matrix products of this package's ops, use OpenBLAS
// through gonum.org/v1/netlib/blas/netlib, linked with -lopenblas by a cgo
// directive in this package (Debian: apt install libopenblas-dev); no
// environment variable is needed. OpenBLAS is limited to one thread at
// start-up, as the one-thread comparison with PyTorch wants and so that
// parallel trainers do not oversubscribe the machine; SetBLASThreads changes
// it. The default build is pure Go (plus assembly) and needs nothing but the
// Go toolchain. Backend says which one is running.
//
// # Data
//
// A Dataset holds labelled examples in memory, example-major: X has
// Len()*Features() float32 values, Y one label in [0, Classes) per example,
// and Shape the shape of one example ([C, H, W] for images). Digits returns
// the default data set, compiled into the package so that nothing needs to be
// downloaded: 1797 handwritten digits of 8×8 pixels, 10 classes (the UCI
// "Optical Recognition of Handwritten Digits" test part, E. Alpaydin and
// C. Kaynak, 1998, CC BY 4.0, as scikit-learn ships it). LoadIDX reads a
// folder of MNIST-format IDX files, gzipped or not, such as MNIST or
// Fashion-MNIST (Debian's dataset-fashion-mnist installs it in
// /usr/share/datasets/fashion-mnist); ReadIDX decodes a single file. Load
// returns training, validation and test sets (Splits) from "digits" or from
// such a folder, with the validation set chosen by a seed; for the digits the
// test set is the same 360 examples whatever the seed. Every Dataset this
// package returns is a copy the caller owns: Subset, Split and Shuffled copy,
// Batch fills the caller's buffers without allocating and keeps the last,
// partial batch, and MeanStd and Standardize normalise with the training
// set's statistics.
//
// # Accuracy
//
// Measured with the default Config (Adam at 1.2e-3, batch 60) and
// LeNet-300-100: on the digits (Load("digits", 300, seed): 1137 training,
// 300 validation, 360 test examples) it passes 95% test accuracy within 500
// steps, under a second (TestDigitsAccuracy checks it), and reached 98.3% in
// 600 steps. On Fashion-MNIST (5,000 training images held out for
// validation) 12 epochs took 19 s here: 88.48% test accuracy at the
// early-stopping iteration (9,170) and 88.72% at the end; it first passes 88%
// after about 6 epochs (go test ./train -run FashionMNIST -v -args -fashion).
package train
