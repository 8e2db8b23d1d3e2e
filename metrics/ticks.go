package metrics

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// LevelTicks is a plot.Ticker for an axis of percent of weights remaining:
// a tick mark at every pruning level's value, and a label on as many of them
// as fit without overlapping. The first and the last value are always
// labelled; in between, labels are kept from the largest value down while
// they leave at least a space's width to the previous label.
//
// To measure, it needs the length of the axis it is drawn on (Length) and
// the style of its labels (Style). The plot builders of this package set
// both for the size passed to WithSize (DefaultWidth × DefaultHeight when
// none), and Render and Save set them again for the size they draw at; a
// plot saved with p.Save at another size keeps the labels chosen for the
// size it was built for.
type LevelTicks struct {
	// Values are the tick positions, in axis units (percent remaining).
	Values []float64
	// Scale is the axis scale used to place them; nil means plot.LogScale.
	// (An inverted scale places labels at the same distances.)
	Scale plot.Normalizer
	// Length is the axis length; 0 labels every value.
	Length vg.Length
	// Style is the tick-label text style used to measure labels.
	Style text.Style
	// Format formats a label; nil means FormatPercent.
	Format func(float64) string
}

var _ plot.Ticker = (*LevelTicks)(nil)

// Ticks returns a tick at each of t.Values within [min, max], labelled as
// described on LevelTicks; the others are minor ticks (no label).
func (t *LevelTicks) Ticks(min, max float64) []plot.Tick {
	format := t.Format
	if format == nil {
		format = FormatPercent
	}
	var scale plot.Normalizer = plot.LogScale{}
	if t.Scale != nil {
		scale = t.Scale
	}
	if _, inv := scale.(plot.InvertedScale); inv {
		scale = scale.(plot.InvertedScale).Normalizer
	}
	vals := make([]float64, 0, len(t.Values))
	lo, hi := math.Min(min, max), math.Max(min, max)
	for _, v := range t.Values {
		if v >= lo && v <= hi && !math.IsNaN(v) {
			if _, log := scale.(plot.LogScale); log && v <= 0 {
				continue
			}
			vals = append(vals, v)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(vals)))
	vals = dedupe(vals)
	ticks := make([]plot.Tick, len(vals))
	if len(vals) == 0 {
		return ticks
	}
	labels := make([]string, len(vals))
	for i, v := range vals {
		ticks[i].Value = v
		labels[i] = format(v)
	}
	keep := make([]bool, len(vals))
	if t.Length <= 0 || t.Style.Font.Size == 0 || lo == hi {
		for i := range keep {
			keep[i] = true
		}
	} else {
		pos := func(i int) vg.Length {
			return vg.Length(math.Abs(scale.Normalize(lo, hi, vals[i])-scale.Normalize(lo, hi, vals[0]))) * t.Length
		}
		gap := t.Style.Width("  ")
		half := func(i int) vg.Length { return t.Style.Width(labels[i]) / 2 }
		fits := func(a, b int) bool { return pos(b)-pos(a) >= half(a)+half(b)+gap }
		last := 0
		keep[0] = true
		for i := 1; i < len(vals); i++ {
			if fits(last, i) {
				keep[i] = true
				last = i
			}
		}
		// Label the last value too, dropping the labels it collides with.
		n := len(vals) - 1
		if !keep[n] {
			keep[n] = true
			for j := n - 1; j > 0; j-- {
				if keep[j] && !fits(j, n) {
					keep[j] = false
				}
			}
		}
	}
	for i := range ticks {
		if keep[i] {
			ticks[i].Label = labels[i]
		}
	}
	return ticks
}

// dedupe removes values within a relative 1e-9 of the previous one from a
// sorted slice.
func dedupe(vals []float64) []float64 {
	out := vals[:0]
	for _, v := range vals {
		if len(out) > 0 && math.Abs(v-out[len(out)-1]) <= 1e-9*math.Abs(v) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// FormatPercent formats a percentage for an axis label: "100", "51.2",
// "7", "3.6", "0.92", "0.074": one decimal at 1 and above, two significant
// digits below, trailing zeros dropped.
func FormatPercent(v float64) string {
	dec := 1
	if a := math.Abs(v); a > 0 && a < 1 {
		dec = 1 - int(math.Floor(math.Log10(a)))
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// intTicks labels integers (pruning levels) with a step of 1, 2, 5, 10, ...
// chosen so that at most maxLabels are labelled; the others get minor ticks.
type intTicks struct{ maxLabels int }

func (t intTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := int(math.Ceil(min)), int(math.Floor(max))
	n := hi - lo + 1
	if n <= 0 {
		return nil
	}
	step := 1
	for mult := 1; ; mult *= 10 {
		for _, s := range []int{1, 2, 5} {
			step = s * mult
			if (n+step-1)/step <= t.maxLabels {
				goto found
			}
		}
	}
found:
	var ticks []plot.Tick
	for v := lo; v <= hi; v++ {
		tk := plot.Tick{Value: float64(v)}
		if v%step == 0 {
			tk.Label = strconv.Itoa(v)
		}
		if step == 1 || tk.Label != "" || n <= 50 {
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

// log10PercentTicks labels an axis whose values are log10(percent) at
// percentages 1, 2 and 5 × 10ⁿ, with minor ticks at the other integers
// times 10ⁿ. (A linear axis of log10 values, rather than plot.LogScale,
// keeps gonum/plot's centring of the axis label right.)
type log10PercentTicks struct{}

func (log10PercentTicks) Ticks(min, max float64) []plot.Tick {
	if !(max >= min) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		return nil
	}
	var ticks []plot.Tick
	for e := int(math.Floor(min)) - 1; e <= int(math.Ceil(max)); e++ {
		for m := 1; m <= 9; m++ {
			v := math.Log10(float64(m)) + float64(e)
			if v < min-1e-12 || v > max+1e-12 {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				tk.Label = FormatPercent(float64(m) * math.Pow10(e))
			}
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

// niceTicks labels a linear axis at multiples of a round step (1, 2, 2.5
// or 5 × 10ⁿ) chosen so that at most maxLabels labels show, with minor
// ticks in between.
type niceTicks struct{ maxLabels int }

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	min, max := lo, hi
	if !(max > min) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		return nil
	}
	n := t.maxLabels
	if n < 2 {
		n = 2
	}
	e := int(math.Floor(math.Log10((max - min) / float64(n))))
	var step float64
	var minors int
	var dec int
search:
	for ; ; e++ {
		for _, c := range []struct {
			m      float64
			minors int
			extra  int
		}{{1, 5, 0}, {2, 4, 0}, {2.5, 5, 1}, {5, 5, 0}} {
			s := c.m * math.Pow10(e)
			if math.Floor(max/s)-math.Ceil(min/s)+1 <= float64(n) {
				step, minors, dec = s, c.minors, -e+c.extra
				if dec < 0 {
					dec = 0
				}
				break search
			}
		}
	}
	var ticks []plot.Tick
	minor := step / float64(minors)
	first := math.Floor(min/minor) * minor
	for i := 0; ; i++ {
		v := first + float64(i)*minor
		if v > max+minor*1e-9 {
			break
		}
		if v < min-minor*1e-9 {
			continue
		}
		tk := plot.Tick{Value: v}
		if q := v / step; math.Abs(q-math.Round(q)) < 1e-6 {
			tk.Value = math.Round(q) * step
			tk.Label = strconv.FormatFloat(tk.Value, 'f', dec, 64)
			if tk.Label == "-0" {
				tk.Label = "0"
			}
		}
		ticks = append(ticks, tk)
	}
	return ticks
}
