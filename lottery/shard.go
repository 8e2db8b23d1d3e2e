package lottery

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard selects the part of a sweep one machine runs, so that a batch
// scheduler (a Kubernetes Indexed Job, a Slurm job array) spreads the trials
// of an experiment over Count machines: trial t belongs to shard t mod
// Count. The zero Shard (Count 0) and Count 1 run every trial.
//
// The shards' output folders merge into one with Merge, which gives the
// result of a single-machine run; shards may also share one folder on a
// shared file system, since their trials' files never overlap.
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" (0 ≤ i < n, n ≥ 1), the -shard flag of the example. The
// empty string is the zero Shard.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("lottery: shard %q: want i/n, e.g. 0/4", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("lottery: shard %q: want i/n with integers, e.g. 0/4", s)
	}
	sh := Shard{Index: i, Count: n}
	if n < 1 {
		return Shard{}, fmt.Errorf("lottery: shard %q: the count must be at least 1", s)
	}
	if err := sh.Validate(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

// Validate reports a Shard whose Index is not in [0, Count), or a negative
// Count.
func (s Shard) Validate() error {
	if s.Count < 0 || (s.Count == 0 && s.Index != 0) || (s.Count > 0 && (s.Index < 0 || s.Index >= s.Count)) {
		return fmt.Errorf("lottery: shard %d/%d: the index must lie in [0, count)", s.Index, s.Count)
	}
	return nil
}

// Owns reports whether trial t belongs to the shard.
func (s Shard) Owns(t int) bool {
	if s.Count <= 1 {
		return true
	}
	return t%s.Count == s.Index
}

// String returns "i/n", or "all" for the whole sweep.
func (s Shard) String() string {
	if s.Count <= 1 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// trials returns the trials of a sweep of n trials that s owns.
func (s Shard) trials(n int) []int {
	var out []int
	for t := range n {
		if s.Owns(t) {
			out = append(out, t)
		}
	}
	return out
}
