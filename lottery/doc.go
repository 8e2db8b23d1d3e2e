// Package lottery runs lottery-ticket experiments (Frankle & Carbin 2019,
// "The Lottery Ticket Hypothesis", and its successors) on any train.Model:
// the built-in ones and a user's own Gorgonia graph alike.
//
// # An experiment
//
// An Experiment is a description that round-trips through JSON: model, data,
// training settings, pruning strategy, rewinding, seed, and the extent of the
// sweep (levels, trials, controls, workers). Every zero-valued field means a
// documented default: {} trains the paper's LeNet-300-100 on the embedded
// digits data, and Levels sets how many times it is pruned. Its Hash covers the fields that decide the numbers,
// with defaults left out, so that writing a default out, or a field added by
// a later version, keeps the hash. For a user's own model the hash also
// covers the fingerprint of the graph its Forward builds (Experiment.Graph),
// so a changed Forward never reuses old results. In a JSON description a
// field left out takes its default, and a 0 written where the default is
// not 0 is an error; sizes (trials, levels, batch) are bounded before
// anything is allocated, and an experiment whose pruning would leave no
// weight is refused before it trains.
//
// Level 0 trains the dense network from the trial's initialisation. Level L
// prunes the trained weights of level L−1's ticket (layer-wise, by default
// 20% of each hidden layer's remaining weights and 10% of the output
// layer's, or one global rate; by magnitude by default, or by |w·g| with
// the "taylor" scorer), then starts the
// survivors again from the rewind point and retrains them:
//
//   - RewindInit: the weights at initialisation (Frankle & Carbin 2019);
//   - RewindIteration: the weights after k steps of level 0, the schedule
//     resuming at step k (Frankle et al. 2020);
//   - RewindLR: the trained weights, a fresh optimizer and the whole
//     learning-rate schedule again (Renda et al. 2020);
//   - RewindFinetune: the trained weights at a small constant rate, the
//     baseline.
//
// Two controls can run at every level from 1 on, from the ticket's mask:
// ArmReinit (the same mask, a fresh random initialisation, trained from step
// 0) and ArmRandom (a random mask with the ticket's per-layer sparsity, from
// the ticket's rewind point). Controls do not feed the next level.
//
// Methods at initialisation (Pruning.Method: MethodSNIP, MethodGraSP,
// MethodSynFlow, MethodMagnitude, MethodRandom) prune the trial's initial
// weights once, ranking all prunable weights together, to the sparsity of
// each level (Pruning.Sparsity), and train the result from initialisation
// like a ticket. Their scores are prune scorers (prune.SNIP, prune.GraSP,
// prune.SynFlow) fed by train.Trainer.Gradients, Trainer.HessianGradient
// and train.SynFlowParams.
//
// The ablations of Frankle et al. (2021) run as arms beside the controls:
// ArmShuffle (the ticket's mask shuffled within each layer) and ArmInvert
// (the same per-layer counts, kept by the inverted scores). Experiment.Instability
// runs the instability analysis of Frankle et al. (2020) at every level from
// each rewind point k (see Path). Training.Dropout adds seeded dropout to the
// built-in models.
//
// Every setting is registered once (Settings): its key, the example's flag,
// its default, its validation and, for the named choices, what each builds;
// WithDefaults, Validate, the hash's canonical form and the flags derive
// from that table.
//
// Trials (seeds) run concurrently, at most Workers trainings at a time.
// Every random choice comes from a stream derived from (Seed, trial, level,
// arm) alone, so the order the workers run in never changes a number.
//
// # Results that survive
//
// Everything lives under one output folder:
//
//	DIR/experiment.json                          the description (defaults written out)
//	DIR/results.csv, DIR/results.json            one row per trial × level × arm
//	DIR/summary.csv                              mean, std, min, max over trials per level and arm
//	DIR/HASH/trial-T/init.shw                    trial T's initial weights
//	DIR/HASH/trial-T/rewind-K.shw                its weights after K steps (rewinding to iteration K)
//	DIR/HASH/trial-T/level-L/ARM/masks.shm       the masks of that training
//	DIR/HASH/trial-T/level-L/ARM/weights.shw     its trained weights
//	DIR/HASH/trial-T/level-L/ARM/result.json     its result, written last
//	DIR/instability.csv, instability_summary.csv the instability paths and barriers
//
// Every file is written atomically (temporary file, sync, rename). Masks
// and weights are checksummed binary files (prune's and train's formats);
// the JSON files carry a format name, a version and a SHA-256 of their
// payload. A training is done when its result.json exists and verifies; it
// is never computed again. Each training reads what it starts from (the
// previous ticket's weights and masks, the initial or rewind weights) from
// disk, so a run killed at any moment and started again finishes with the
// numbers of an uninterrupted run. A damaged or foreign file is an error
// naming it, never a silent recomputation; a folder that is not empty and
// holds no experiment.json, or holds another experiment, is refused. A new
// folder is claimed atomically (experiment.json is created only if absent),
// so of two different experiments started into it at once, the second is
// refused; the shards of one experiment may share it.
//
// results.csv has the columns trial, level, arm, remaining (the fraction of
// prunable weights kept), test_accuracy, test_loss (at the end of
// training), early_stop_iteration and early_stop_test_accuracy (at the
// evaluation of least validation loss), train_seconds and strategy (the
// pruning method); results.json holds
// the same rows and the summary. The metrics package reads and plots them.
//
// # Shards
//
// A sweep splits over machines with Options.Shard (Shard{Index, Count}):
// trial t belongs to shard t mod Count. Each machine runs its shard into its
// own folder (or all into one folder on a shared file system: their files
// never overlap), and Merge gathers the folders into one result identical to
// a single-machine run. The example program examples/lottery shows a
// Kubernetes Indexed Job and a Slurm job array.
//
// # Your own model
//
// Run trains any train.Model: pass it in Options.Model (and, if you like,
// your own train.Splits in Options.Data); the description then names them
// with a label starting with "custom".
package lottery
