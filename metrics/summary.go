package metrics

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot/plotter"
)

// TestAccuracyPercent is Row.TestAccuracy in percent: a value function for
// Summarize and Curves.
func TestAccuracyPercent(r Row) float64 { return 100 * r.TestAccuracy }

// EarlyStopAccuracyPercent is Row.EarlyStopTestAccuracy in percent.
func EarlyStopAccuracyPercent(r Row) float64 { return 100 * r.EarlyStopTestAccuracy }

// TestLoss is Row.TestLoss.
func TestLoss(r Row) float64 { return r.TestLoss }

// EarlyStopIteration is Row.EarlyStopIteration as a float64.
func EarlyStopIteration(r Row) float64 { return float64(r.EarlyStopIteration) }

// TrainSeconds is Row.TrainSeconds.
func TrainSeconds(r Row) float64 { return r.TrainSeconds }

// Summary aggregates one value over the trials of one arm at one level.
type Summary struct {
	// Arm and Level identify the group.
	Arm   string
	Level int
	// Remaining is the fraction of weights kept, averaged over the trials
	// (they normally agree exactly).
	Remaining float64
	// N is the number of trials.
	N int
	// Mean is the mean over trials; Std the sample standard deviation
	// (divided by N−1; 0 for one trial); Min and Max the extremes.
	Mean, Std, Min, Max float64
}

// Percent returns Remaining in percent.
func (s Summary) Percent() float64 { return 100 * s.Remaining }

// Summarize groups rows by arm and level and aggregates value(row) over the
// trials of each group. The result is ordered by arm (see ArmOrder), then
// by level.
//
// It returns an error for no rows, an invalid row, a NaN or infinite value,
// or two rows with the same trial, level and arm (a result counted twice
// would bias the mean).
func Summarize(rows []Row, value func(Row) float64) ([]Summary, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("metrics: no rows to summarize")
	}
	if value == nil {
		return nil, fmt.Errorf("metrics: nil value function")
	}
	type key struct {
		arm   string
		level int
	}
	type trialKey struct {
		key
		trial int
	}
	groups := make(map[key][]int)
	var order []key
	seen := make(map[trialKey]bool, len(rows))
	vals := make([]float64, len(rows))
	for i, r := range rows {
		if err := r.Validate(); err != nil {
			return nil, at(err, i, 0)
		}
		k := key{r.Arm, r.Level}
		tk := trialKey{k, r.Trial}
		if seen[tk] {
			return nil, fmt.Errorf("metrics: row %d: trial %d, level %d, arm %q appears twice", i, r.Trial, r.Level, r.Arm)
		}
		seen[tk] = true
		v := value(r)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("metrics: row %d (trial %d, level %d, arm %q): value %v is not finite", i, r.Trial, r.Level, r.Arm, v)
		}
		vals[i] = v
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	arms := make([]string, 0, len(order))
	for _, k := range order {
		arms = append(arms, k.arm)
	}
	rank := armRank(arms)
	sort.Slice(order, func(a, b int) bool {
		if ra, rb := rank[order[a].arm], rank[order[b].arm]; ra != rb {
			return ra < rb
		}
		return order[a].level < order[b].level
	})
	out := make([]Summary, 0, len(order))
	xs := make([]float64, 0, len(rows))
	for _, k := range order {
		idx := groups[k]
		xs = xs[:0]
		s := Summary{Arm: k.arm, Level: k.level, N: len(idx), Min: math.Inf(1), Max: math.Inf(-1)}
		for _, i := range idx {
			v := vals[i]
			xs = append(xs, v)
			s.Remaining += rows[i].Remaining
			s.Min = math.Min(s.Min, v)
			s.Max = math.Max(s.Max, v)
		}
		s.Remaining /= float64(len(idx))
		if sameRemaining(rows, idx) {
			s.Remaining = rows[idx[0]].Remaining // exact when the trials agree, as they should
		}
		if len(xs) == 1 {
			s.Mean = xs[0]
		} else {
			s.Mean, s.Std = stat.MeanStdDev(xs, nil)
		}
		// Rounding can put the mean a hair outside [Min, Max] when all
		// values are equal.
		s.Mean = math.Min(math.Max(s.Mean, s.Min), s.Max)
		out = append(out, s)
	}
	return out, nil
}

func sameRemaining(rows []Row, idx []int) bool {
	for _, i := range idx[1:] {
		if rows[i].Remaining != rows[idx[0]].Remaining {
			return false
		}
	}
	return true
}

// ArmOrder returns the distinct arms of rows in the order plots and
// summaries use: ArmTicket, ArmReinit, ArmRandom, then any other arms by
// name.
func ArmOrder(rows []Row) []string {
	arms := make([]string, 0, 4)
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Arm] {
			seen[r.Arm] = true
			arms = append(arms, r.Arm)
		}
	}
	rank := armRank(arms)
	sort.Slice(arms, func(a, b int) bool { return rank[arms[a]] < rank[arms[b]] })
	return arms
}

// armRank gives each arm its position in ArmOrder's order.
func armRank(arms []string) map[string]int {
	known := []string{ArmTicket, ArmReinit, ArmRandom}
	var others []string
	rank := make(map[string]int, len(arms))
	for _, a := range arms {
		if _, ok := rank[a]; ok {
			continue
		}
		rank[a] = -1
		found := false
		for i, k := range known {
			if a == k {
				rank[a] = i
				found = true
			}
		}
		if !found {
			others = append(others, a)
		}
	}
	sort.Strings(others)
	for i, a := range others {
		rank[a] = len(known) + i
	}
	return rank
}

// Spread chooses how the spread over trials is shown around a mean.
type Spread int

const (
	// MinMax spans the smallest to the largest value over trials (the
	// lottery-ticket papers' error bars). It is the zero value.
	MinMax Spread = iota
	// StdDev spans one sample standard deviation either side of the mean.
	StdDev
	// NoSpread shows the mean only.
	NoSpread
)

// String returns "min-max", "±1 std" or "none".
func (s Spread) String() string {
	switch s {
	case MinMax:
		return "min-max"
	case StdDev:
		return "±1 std"
	case NoSpread:
		return "none"
	}
	return fmt.Sprintf("Spread(%d)", int(s))
}

// Bounds returns the low and high ends of the spread of sm.
func (s Spread) Bounds(sm Summary) (lo, hi float64) {
	switch s {
	case StdDev:
		return sm.Mean - sm.Std, sm.Mean + sm.Std
	case NoSpread:
		return sm.Mean, sm.Mean
	}
	return sm.Min, sm.Max
}

// Curve is one arm's value against the percent of weights remaining, one
// point per level, ordered by level. It implements plotter.XYer (x is the
// percent of weights remaining, y the mean over trials) and
// plotter.YErrorer (the spread chosen by Spread), so it can be handed to
// plotter.NewLine, plotter.NewScatter or plotter.NewYErrorBars directly.
type Curve struct {
	Arm    string
	Points []Summary
	Spread Spread
}

var (
	_ plotter.XYer     = Curve{}
	_ plotter.YErrorer = Curve{}
)

// Len returns the number of points.
func (c Curve) Len() int { return len(c.Points) }

// XY returns the percent of weights remaining and the mean of point i.
func (c Curve) XY(i int) (x, y float64) { return c.Points[i].Percent(), c.Points[i].Mean }

// YError returns how far the spread of point i reaches below and above the
// mean (both ≥ 0).
func (c Curve) YError(i int) (low, high float64) {
	lo, hi := c.Spread.Bounds(c.Points[i])
	m := c.Points[i].Mean
	return math.Max(m-lo, 0), math.Max(hi-m, 0)
}

// Curves summarizes value over trials (see Summarize) and returns one Curve
// per arm, in ArmOrder's order, with the MinMax spread.
func Curves(rows []Row, value func(Row) float64) ([]Curve, error) {
	sums, err := Summarize(rows, value)
	if err != nil {
		return nil, err
	}
	var out []Curve
	for _, s := range sums {
		if len(out) == 0 || out[len(out)-1].Arm != s.Arm {
			out = append(out, Curve{Arm: s.Arm})
		}
		c := &out[len(out)-1]
		c.Points = append(c.Points, s)
	}
	return out, nil
}
