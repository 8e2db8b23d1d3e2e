// Package infer runs a trained model whose forward pass is a chain of
// dense, conv, max-pool and flatten layers (every built-in model, see
// train.Chain) on batches of examples without a Gorgonia graph. A dense
// layer is a matrix product, a bias and an optional ReLU; a conv layer
// unfolds its input (im2col: one row per output pixel, In·KH·KW values)
// and multiplies it by the kernel [In·KH·KW, Out], a chunk of images at a
// time; a max-pool takes the largest value of each window. The products
// use the dense kernel or, for a pruned layer, the sparse kernels that
// read only the kept weights (chosen per layer by density: for dense
// layers as train.Kernels says, for conv layers at ConvSparseThreshold).
// Once an Engine has run a batch of a given size, running it again
// allocates nothing.
//
// The dense and the sparse kernels give the same logits bit for bit, and
// the same as the model's Gorgonia graph (train.Predictor) on float32
// weights: every sum is computed in the same order (the bias, then the
// inputs in increasing order, in blocks of 256), and the pools compare in
// the same order.
package infer
