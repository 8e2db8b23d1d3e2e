// Package metrics measures pruned networks and draws the curves of pruning
// experiments.
//
// # Accounting
//
// Account counts, for layers described by their weight shapes (Layer: Dense,
// Conv or Other) under a set of prune.Masks, the metrics ShrinkBench reports,
// under ShrinkBench's names: size and size_nz (parameters, and those kept),
// compression_ratio (size/size_nz), flops and flops_nz (multiply-accumulates
// of a forward pass for one example, dense and over kept weights only) and
// theoretical_speedup (flops/flops_nz), per layer and in total, with the
// sparsity of each layer. A FLOP here is one multiply-accumulate; bias
// additions, activations and pooling are not counted. LeNet-300-100 costs
// 266,200 FLOPs, LeNet-5 416,520. The Report prints as an aligned table and
// writes CSV and JSON.
//
// AccountModel counts the same from a model's dependency groups
// (prune.Groups, as train.Groups traces them), with no hand-written layer
// list, and propagates structured masks through the groups: the rows of the
// next layer that read a pruned unit count as pruned too, which is the work a
// compacted model (train.Compact) really does.
//
// # Latency
//
// MeasureLatency times functions the caller passes (a forward pass of each
// model at one batch size, say), interleaving their rounds so that a busy
// machine slows them alike, and reports the median milliseconds per call and
// speedups. metrics knows no models: it calls what it is given.
//
// # Results
//
// Row is one line of the results the lottery package writes (results.csv and
// results.json): one arm of one trial at one pruning level. ReadRowsCSV,
// ReadRowsJSON, WriteRowsCSV and WriteRowsJSON read and write them;
// Summarize and Curves aggregate them over trials (mean, sample standard
// deviation, min, max) per arm and level.
//
// # Plots
//
// AccuracyVsSparsity, EarlyStopVsSparsity and ValueVsSparsity draw a value
// against the percent of weights remaining, on a logarithmic axis from 100%
// on the left to the sparsest level on the right, one series per arm with
// the spread over trials. LayerSparsity draws each layer's remaining weights
// per level; TrainingCurves draws accuracy or loss against the iteration.
// Builders take plain values, check them (no empty input, NaN or infinity)
// and return a *plot.Plot (gonum.org/v1/plot) that the caller can change
// further, then save with p.Save, Save (atomic, format from the extension),
// or Render to bytes for a notebook. Plots are laid out for DefaultWidth ×
// DefaultHeight unless WithSize says otherwise.
//
// The package depends on prune only for prune.Masks and prune.Groups;
// callers hand it plain values.
package metrics
