// Package export writes and reads compressed model files: a model whose
// forward pass is a chain of dense layers (train.DenseLayers: the built-in
// MLPs and LeNet-300-100), its kept weights in a sparse form, quantised, and
// entropy-coded, as Deep Compression (Han et al. 2016) does for
// LeNet-300-100.
//
// Per layer the file holds the positions of the kept weights — a bitmap or
// the gaps between kept positions as unsigned varints, whichever compresses
// smaller — then their values with the chosen number of bits:
//
//   - 32: float32, exact;
//   - 8: int8, symmetric, with one float32 scale per output unit (column of
//     the [in, out] weight): scale = max |w| / 127;
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
// limits MaxLayerParams and MaxParams.
package export
