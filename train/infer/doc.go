// Package infer runs a trained model whose forward pass is a chain of dense
// layers (the built-in MLPs and LeNet-300-100, see train.DenseLayers) on
// batches of examples without a Gorgonia graph: each layer is a matrix
// product, a bias and an optional ReLU, computed with the dense kernel or,
// for a pruned layer, with the sparse kernels that read only the kept
// weights (chosen per layer by density, as train.Kernels says). Once an
// Engine has run a batch of a given size, running it again allocates
// nothing.
//
// The dense and the sparse kernels give the same logits bit for bit, and
// the same as the model's Gorgonia graph on float32 weights: they sum in the
// same order.
package infer
