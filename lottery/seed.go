package lottery

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
)

// Every random choice of an experiment draws from its own stream, derived
// from the experiment's seed and the purpose, trial, level and arm it serves.
// A choice therefore never depends on what ran before it in the same
// process, which is what makes a resumed run give the numbers of an
// uninterrupted one, whatever order the workers ran in.
//
// The derivation is SHA-256 of a fixed text, so it is the same on every
// machine and Go version; it must never change (it would change every
// stored experiment's numbers).
func derive(seed uint64, purpose string, trial, level int, arm string) (uint64, uint64) {
	text := "shears/lottery/v1|" + strconv.FormatUint(seed, 10) + "|" + purpose + "|" +
		strconv.Itoa(trial) + "|" + strconv.Itoa(level) + "|" + arm
	sum := sha256.Sum256([]byte(text))
	return binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])
}

// newRand returns the PCG stream of (seed, purpose, trial, level, arm).
func newRand(seed uint64, purpose string, trial, level int, arm string) *rand.Rand {
	a, b := derive(seed, purpose, trial, level, arm)
	return rand.New(rand.NewPCG(a, b))
}

// seedOf returns a single 64-bit seed for (seed, purpose, trial, level, arm),
// for APIs that take one (the training data order).
func seedOf(seed uint64, purpose string, trial, level int, arm string) uint64 {
	a, _ := derive(seed, purpose, trial, level, arm)
	return a
}

// Purposes of the random streams.
const (
	purposeInit    = "init"       // initial weights of a trial (level -1, arm "")
	purposeData    = "data-order" // order of training examples of a training
	purposeReinit  = "reinit"     // fresh initialisation of the reinit control
	purposeRandom  = "random-mask"
	purposeScorer  = "scorer" // the random scorer of Pruning.Scorer "random"; at-init scores' batches
	purposeShuffle = "shuffle-mask"
)
