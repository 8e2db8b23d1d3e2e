// Package shears is a library for neural-network pruning and lottery-ticket
// experiments on Gorgonia graphs.
//
// It is organised in four packages, each usable on its own:
//
//   - prune: masks (one bit per weight), amounts, importance scores (L1, L2,
//     Taylor, random, your own) and pruners (unstructured, global, layer-wise,
//     structured, N:M), schedules, and mask files. Masks are exact and
//     deterministic and equal torch.nn.utils.prune's wherever scores do not tie.
//   - train: data sets (the embedded digits set, MNIST-format IDX files),
//     Gorgonia models (MLP, LeNet-300-100, LeNet-5, Conv-2/4/6, or your own
//     graph through the Model interface), seeded initialisers, optimizers and
//     a deterministic training loop that keeps masks in force.
//   - lottery: iterative prune, rewind, retrain experiments (Frankle & Carbin
//     2019 and its successors: rewinding to iteration k, learning-rate
//     rewinding), with controls, concurrent trials, shards, and a result store
//     that survives a crash and resumes.
//   - metrics: sparsity, parameter and FLOP accounting, and the plots of
//     accuracy against the fraction of weights remaining.
//
// # Pruning a Gorgonia graph
//
// A Gorgonia user hands the weight nodes of a graph to prune, prunes them, and
// keeps them pruned while training goes on by zeroing the pruned gradients
// before each solver step and the pruned weights after it:
//
//	params, err := prune.FromNodes(w1, w2, w3) // named, bound *tensor.Dense values
//	if err != nil { ... }
//	masks := prune.NewMasks(params)
//	err = prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(0.2)}.Prune(masks, params)
//	err = masks.Apply(params) // zero the pruned weights
//
//	for step := 0; step < steps; step++ {
//		vm.Reset()
//		if err := vm.RunAll(); err != nil { ... }
//		params, _ = prune.FromNodes(w1, w2, w3) // picks up the gradients
//		masks.ApplyGrad(params)                 // pruned gradients are 0
//		solver.Step(gorgonia.NodesToValueGrads(learnables))
//		masks.Apply(params)                     // pruned weights stay exactly 0
//	}
//
// Pruning again composes: only entries still kept are candidates, so
// Global{L1{}, Fraction(0.2)} twice keeps 64% of the weights. Masks save to a
// checksummed file with Masks.WriteTo and load with prune.ReadMasks.
//
// The train package does all of this for you: train.Trainer.SetMasks keeps a
// model's masks in force under SGD, momentum and Adam.
package shears
