package metrics

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// LatencyConfig says how long MeasureLatency times. The zero value means 7
// rounds of at least 40 ms each per function.
type LatencyConfig struct {
	// Rounds is the number of timed rounds per function (default 7); the
	// reported figure is the median round.
	Rounds int
	// RoundTime is the least time a round takes (default 40 ms): a round
	// runs the function as many times as that needs (at least once).
	RoundTime time.Duration
}

// Latency is the measured time of one call of a function, typically one
// forward pass of a model on one batch.
type Latency struct {
	// Ms is the median over rounds of the mean milliseconds per call;
	// MinMs the fastest round's.
	Ms, MinMs float64
	// Calls is the number of timed calls in all rounds.
	Calls int
}

// Speedup returns base.Ms / l.Ms: how many times faster l is than base.
func (l Latency) Speedup(base Latency) float64 {
	if l.Ms <= 0 {
		return 0
	}
	return base.Ms / l.Ms
}

// MeasureLatency times each function (for example the forward pass of a
// dense and of a compacted model at one batch size), interleaving their
// rounds (round 1 of each, then round 2 of each, ...) so that a machine
// busy with other work slows all of them alike and their ratios hold. Each
// function runs once untimed first (warm-up). A function's error stops the
// measurement and is returned. Timing is the caller's: metrics does not know
// models, it calls what it is given.
func MeasureLatency(cfg LatencyConfig, fns ...func() error) ([]Latency, error) {
	if len(fns) == 0 {
		return nil, errors.New("metrics: MeasureLatency: no functions")
	}
	if cfg.Rounds < 0 || cfg.RoundTime < 0 {
		return nil, fmt.Errorf("metrics: MeasureLatency: negative Rounds %d or RoundTime %v", cfg.Rounds, cfg.RoundTime)
	}
	rounds, roundTime := cfg.Rounds, cfg.RoundTime
	if rounds == 0 {
		rounds = 7
	}
	if roundTime == 0 {
		roundTime = 40 * time.Millisecond
	}
	// Warm up, and learn how many calls fill a round.
	per := make([]int, len(fns))
	for i, f := range fns {
		if f == nil {
			return nil, fmt.Errorf("metrics: MeasureLatency: function %d is nil", i)
		}
		start := time.Now()
		if err := f(); err != nil {
			return nil, fmt.Errorf("metrics: MeasureLatency: function %d: %w", i, err)
		}
		d := max(time.Since(start), time.Microsecond)
		per[i] = max(1, int(roundTime/d))
	}
	ms := make([][]float64, len(fns))
	out := make([]Latency, len(fns))
	for r := 0; r < rounds; r++ {
		for i, f := range fns {
			start := time.Now()
			for k := 0; k < per[i]; k++ {
				if err := f(); err != nil {
					return nil, fmt.Errorf("metrics: MeasureLatency: function %d: %w", i, err)
				}
			}
			el := time.Since(start)
			ms[i] = append(ms[i], float64(el)/float64(time.Millisecond)/float64(per[i]))
			out[i].Calls += per[i]
			// adapt to a round that ran much shorter than asked
			if el < roundTime/2 {
				per[i] = max(per[i]+1, int(float64(per[i])*float64(roundTime)/float64(max(el, time.Microsecond))))
			}
		}
	}
	for i := range fns {
		s := slices.Clone(ms[i])
		slices.Sort(s)
		out[i].Ms = s[len(s)/2]
		out[i].MinMs = s[0]
	}
	return out, nil
}
