//go:build race

package infer_test

// raceEnabled: the race detector makes sync.Pool (the dense kernel's
// scratch) drop items at random, so allocation counts mean nothing.
const raceEnabled = true
