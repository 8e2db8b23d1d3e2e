// Package prune prunes the weights of neural networks: it decides which
// weights to remove, records the decision in masks of one bit per weight, and
// keeps the removed weights at zero while training goes on. It works on
// Gorgonia tensors and imports nothing else of shears.
//
// # Params, masks
//
// A Param is one prunable tensor of a model: a unique Name, its weights
// (Value, a float32 or float64 *tensor.Dense) and optionally its gradient
// (Grad). A Param shares its tensors with the model; FromNodes makes Params of
// the weight nodes of a Gorgonia graph, with their bound values and, once the
// graph has run, their gradients.
//
// A Mask is the keep/prune state of one Param, one bit per element in flat
// (row-major) order, 1 = kept. Masks holds one Mask per Param, in Param order;
// NewMasks starts with every weight kept. Masks are matched to Params by
// position, name and size: Apply, ApplyGrad and every pruner check all three
// and return an error on a mismatch. Masks.Apply zeroes the pruned weights,
// Masks.ApplyGrad the gradients of pruned weights; Kept, Sparsity and
// Remaining count, per Mask or over all.
//
// # Pruners and scores
//
// A Scorer rates each weight (larger = more important): L1 and L2 by |w|,
// Taylor by |w·g| (first-order Taylor, needs gradients), Random from a seeded
// *rand.Rand, and ScoreFunc adapts a function of the caller's. Pruners decide
// where and how much, and prune the lowest-scoring weights still kept:
//
//   - Unstructured: each Param on its own, the same Amount for each.
//   - Global: one ranking over all Params, one Amount for all of them
//     (torch.nn.utils.prune.global_unstructured).
//   - Layerwise: each Param on its own, an Amount per Param name and a
//     Default (the lottery-ticket recipe: 20% of hidden layers, 10% of the
//     output layer, each round).
//   - Structured: whole slices along Dim (rows, columns, convolution
//     filters), ranked by the L1 sum or L2 norm of the slice
//     (torch.nn.utils.prune.ln_structured). Gorgonia's x·W layout puts a
//     dense layer's output units on Dim 1.
//   - NM: N of every M consecutive weights along Dim (2:4 sparsity).
//
// Pruners change masks only; call Masks.Apply afterwards to zero the weights.
//
// # Dependency groups: structured pruning that shrinks the model
//
// Structured masks alone make nothing smaller: a pruned unit keeps its bias
// and the next layer still multiplies its rows. Trace walks the Gorgonia
// graph a network builds, from each parameter node through its consumers,
// and returns its Groups: for each layer, the slices of every parameter that
// must go together with each of its units (a dense unit: its weight column,
// its bias entry, the next layer's row; a filter: its kernel, its bias, the
// next convolution's input channel or, after a flatten, the block of rows
// of the next dense layer), as Torch-Pruning's DepGraph does for PyTorch. It
// knows Gorgonia's Mul, BroadcastAdd, Rectify, Conv2d, MaxPool2D, Reshape and
// Dropout, and ops that describe themselves through the Coupler interface
// (train's fused layers do); anything else is an error that names the op and
// the node, never a silently wrong group.
//
// Grouped prunes whole units by the importance of all their slices
// together (the sum of |w| or the norm over the group), per layer or ranked
// globally, with exact counts, a minimum of units per layer and kept counts
// rounded to a multiple; the logits' layer is left whole unless asked.
// Groups.Dead says which units are dead under any masks, Groups.Propagate
// extends masks to every slice of the dead units. The surgery that removes
// them (train.Compact) lives in package train, which owns models and
// weights: prune does not import train, and train's ops reach prune through
// Coupler.
//
// # Amounts
//
// An Amount says how many to prune from a group of candidates (a Param, or
// all Params for Global; slices for Structured):
//
//   - Fraction(f): that fraction of the candidates still kept, rounded half
//     to even (Python's round, as torch.nn.utils.prune counts):
//     Fraction(0.2) of 7 kept prunes round(1.4) = 1; Fraction(0.5) of 5
//     prunes round(2.5) = 2, of 7 round(3.5) = 4.
//   - Count(n): exactly n more.
//   - TargetSparsity(s): as many as it takes for round(s × total) of the
//     group, kept and pruned, to be pruned; nothing when already that sparse.
//
// An amount that cannot be met (more than is left, negative, NaN, a fraction
// above 1) is an error, never clamped.
//
// # Composition, ties, errors
//
// Only weights (or slices) still kept are candidates, so pruning again
// composes as torch's PruningContainer does: Global{L1{}, Fraction(0.2)} twice
// keeps 64% of the weights. Counts are exact. Ties in score are broken by
// position: the weight in the earlier Param, then at the lower flat index, is
// pruned first, so the same inputs give the same masks on every run and
// machine. Wherever no scores tie, the masks equal torch.nn.utils.prune's
// l1_unstructured, global_unstructured and ln_structured for the same
// weights.
//
// Bad input returns an error that starts with "prune: " and names the Param
// and the problem: a nil or empty Value, a dtype other than float32 or
// float64, masks that do not match the Params, NaN or Inf scores, a Dim out of
// range, N > M. When a pruner or Apply returns an error, it has changed
// nothing.
//
// # Mask files
//
// Masks.WriteTo and ReadMasks (and Save and LoadMasks for files, written
// atomically) store masks in a small binary format: a magic number
// ("SHRMASK\x00"), a format version, the payload length and a CRC-32C
// checksum, around each mask's name, shape and bits. At one bit a weight, a
// file is about 1/32 of the size of the float32 weights it covers. ReadMasks
// rejects a truncated, corrupted, foreign or inconsistent file with an error
// that says what is wrong, and never allocates more than the file's size
// warrants.
//
// # Schedules
//
// A Schedule tells a training loop, step by step, whether to prune (Due) and
// to what sparsity (Sparsity); Target(s, step) turns that into an Amount:
//
//   - OneShot: once, at step At, to Target.
//   - Iterative: Rate of what is left in each of Rounds rounds, for
//     iterative magnitude pruning and lottery tickets; its steps are rounds.
//     Kept gives the exact counts that pruning Fraction(Rate) a round leaves.
//   - Gradual: Zhu & Gupta's (2017) cubic ramp from Initial to Final
//     sparsity, pruning every Every steps from Start on, Steps times.
//
// # Keeping a Gorgonia graph pruned while it trains
//
// Prune the weight nodes, zero the pruned weights, then in each training step
// zero the pruned gradients before the solver's step and the pruned weights
// after it. The second Apply is needed: solvers with state (momentum, Adam)
// move weights whose gradient is zero.
//
//	learnables := gorgonia.Nodes{w1, w2, w3}
//	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learnables...))
//	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(1e-3))
//
//	params, err := prune.FromNodes(learnables...)
//	if err != nil { ... }
//	masks := prune.NewMasks(params)
//	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.8)}).Prune(masks, params); err != nil { ... }
//	if err := masks.Apply(params); err != nil { ... }
//
//	for step := 0; step < steps; step++ {
//		vm.Reset()
//		if err := vm.RunAll(); err != nil { ... }
//		params, err := prune.FromNodes(learnables...) // this run's gradients
//		if err != nil { ... }
//		if err := masks.ApplyGrad(params); err != nil { ... }
//		if err := solver.Step(gorgonia.NodesToValueGrads(learnables)); err != nil { ... }
//		if err := masks.Apply(params); err != nil { ... }
//	}
//	err = masks.Save("masks.bin")
//
// With a Schedule, prune on the steps it says are due, before the step's
// forward pass:
//
//	if sched.Due(step) {
//		err := prune.Global{Scorer: prune.L1{}, Amount: prune.Target(sched, step)}.Prune(masks, params)
//		...
//		err = masks.Apply(params)
//	}
//
// # Cost
//
// A Mask costs one bit a weight. Apply and ApplyGrad read the mask 64 weights
// at a time: a word that keeps all 64 is skipped without touching the
// weights, one that keeps none clears them, and any other is applied with
// table-driven bit masks, eight weights at a time, with no branch per
// weight. Tensors of 8M weights and more are split over up to GOMAXPROCS
// goroutines, 4M weights or more each. On a partly pruned tensor larger than the caches, Apply runs at
// about the speed of copying the tensor (BenchmarkApply against
// BenchmarkCopy).
package prune
