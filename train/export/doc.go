// Package export writes and reads compressed model files: a model whose
// forward pass is a chain of dense, conv, max-pool and flatten layers
// (train.Chain: every built-in model, MLPs, LeNet-300-100, LeNet-5 and
// Conv-2/4/6), its kept weights in a sparse form, quantised, and
// entropy-coded, as Deep Compression (Han et al. 2016) does for
// LeNet-300-100.
//
// The file describes each layer by its kind and geometry (version 2: in
// and out sizes or channels, input height and width, kernel or window,
// stride, padding, ReLU; version 1, still read, had dense layers only).
// For each dense or conv layer it holds the positions of the kept weights
// (a conv kernel [out, in, kh, kw] in its row-major order, as a dense
// weight [in, out]) — a bitmap or
// the gaps between kept positions as unsigned varints, whichever compresses
// smaller — then their values with the chosen number of bits:
//
//   - 32: float32, exact;
//   - 8: int8, symmetric, with one float32 scale per output unit (column of
//     a dense [in, out] weight, output channel of a conv kernel): scale =
//     max |w| / 127;
//   - 1 to 7: an index into a codebook of 2^bits float32 values per layer,
//     found by k-means (Lloyd's algorithm from a linear initialisation over
//     [min, max], the initialisation Deep Compression found best;
//     deterministic: the same weights give the same codebook),
//
// and the biases as float32; each layer's sections are compressed with
// compress/flate. The file is framed by the library's envelope (magic
// "SHREXPT\x00", version, checksum) and written atomically. Reading needs
// nothing but the file: Decode returns the layers, and Model.Engine runs
// them (package train/infer), with no training state. Decode validates
// every declared size before allocating, against the file's length and the
// limits MaxLayerParams, MaxParams and MaxValues, and the chain's geometry
// (train.CheckChain): a description that does not match its weights is an
// error.
package export
