package metrics

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/shearsml/shears/prune"
)

// LayerLevel is the fraction of one layer's weights kept at one pruning
// level: the input of LayerSparsity.
type LayerLevel struct {
	Level int
	Layer string
	// Remaining is the fraction of the layer's weights kept, in [0, 1].
	Remaining float64
}

// LayerLevelsOf returns the per-layer remaining fractions of a sequence of
// masks, level i being levels[i] (for example the masks of levels 0, 1, 2,
// ... of one trial).
func LayerLevelsOf(levels []*prune.Masks) ([]LayerLevel, error) {
	var out []LayerLevel
	for i, ms := range levels {
		if ms == nil {
			return nil, fmt.Errorf("metrics: masks of level %d are nil", i)
		}
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			out = append(out, LayerLevel{Level: i, Layer: m.Name(), Remaining: m.Remaining()})
		}
	}
	return out, nil
}

// LayerSparsity draws, for each layer, the percent of its weights remaining
// against the pruning level: one line per layer (colour, marker and dash
// each its own), in the order layers first appear in levels.
//
// The y axis is logarithmic (labels at 1, 2, 5 × 10ⁿ %; the plotted y
// values are log10 of the percentage, on a linear axis) so that the same
// pruning rate per level gives a straight line; when some layer is pruned
// away entirely (0% remaining, possible under global pruning), it is linear
// from 0 instead, so that the collapse shows.
//
// It returns an error for no input, a negative level, an empty layer name,
// a Remaining outside [0, 1] or NaN, or a layer listed twice at one level.
// Options: Title, XLabel, YLabel.
func LayerSparsity(levels []LayerLevel, opts ...Option) (*plot.Plot, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := c.only("LayerSparsity", "Title", "XLabel", "YLabel"); err != nil {
		return nil, err
	}
	if len(levels) == 0 {
		return nil, fmt.Errorf("metrics: no layer levels to plot")
	}
	type key struct {
		layer string
		level int
	}
	seen := map[key]bool{}
	var layers []string
	series := map[string]plotter.XYs{}
	zero := false
	minLevel, maxLevel := math.MaxInt, math.MinInt
	for i, ll := range levels {
		switch {
		case ll.Level < 0:
			return nil, fmt.Errorf("metrics: layer level %d: negative level %d", i, ll.Level)
		case ll.Layer == "":
			return nil, fmt.Errorf("metrics: layer level %d: empty layer name", i)
		case !(ll.Remaining >= 0 && ll.Remaining <= 1):
			return nil, fmt.Errorf("metrics: layer level %d (layer %q, level %d): remaining %v is not in [0, 1]", i, ll.Layer, ll.Level, ll.Remaining)
		}
		k := key{ll.Layer, ll.Level}
		if seen[k] {
			return nil, fmt.Errorf("metrics: layer %q appears twice at level %d", ll.Layer, ll.Level)
		}
		seen[k] = true
		if _, ok := series[ll.Layer]; !ok {
			layers = append(layers, ll.Layer)
		}
		series[ll.Layer] = append(series[ll.Layer], plotter.XY{X: float64(ll.Level), Y: 100 * ll.Remaining})
		zero = zero || ll.Remaining == 0
		minLevel, maxLevel = min(minLevel, ll.Level), max(maxLevel, ll.Level)
	}

	p := newPlot(c, "Pruning level", "Weights remaining in the layer (%)")
	p.X.Tick.Marker = intTicks{maxLabels: 12}
	if zero {
		p.Y.Min = 0
		p.Y.Tick.Marker = niceTicks{maxLabels: 6}
	} else {
		// log10 of the percentage on a linear axis, labelled in percent.
		p.Y.Tick.Marker = log10PercentTicks{}
		for _, name := range layers {
			for i := range series[name] {
				series[name][i].Y = math.Log10(series[name][i].Y)
			}
		}
	}
	lg := newLegendPlotter()
	for i, name := range layers {
		xys := series[name]
		sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		st := seriesStyle(i)
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("metrics: layer %q: %w", name, err)
		}
		l.LineStyle = draw.LineStyle{Color: st.color, Width: lineWidth, Dashes: st.dash}
		s.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: glyphRadius, Shape: st.glyph}
		p.Add(l, s)
		lg.addLine(0, l.XYs)
		lg.entry(name, l, s)
	}
	p.Add(lg)
	p.X.Min, p.X.Max = float64(minLevel), float64(maxLevel)
	if minLevel == maxLevel {
		p.X.Min, p.X.Max = float64(minLevel)-0.5, float64(maxLevel)+0.5
	}
	if p.Y.Min == p.Y.Max {
		// One value only: give the axis some room around it.
		if zero {
			p.Y.Max = 100
		} else {
			p.Y.Min, p.Y.Max = p.Y.Min-0.3, math.Min(p.Y.Max+0.3, 2)
			if p.Y.Min == p.Y.Max {
				p.Y.Min = p.Y.Max - 0.3
			}
		}
	}
	return p, nil
}
