package metrics

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
)

// Measure says what the values of a training curve are.
type Measure int

const (
	// Accuracy values are fractions in [0, 1], drawn in percent.
	Accuracy Measure = iota
	// Loss values are losses (any finite number), drawn as they are.
	Loss
)

// Series is one training curve: Y[i] measured at iteration X[i].
type Series struct {
	// Label names the series in the legend (see LevelLabel); empty means
	// "series i".
	Label string
	// X holds the iterations, in increasing order; Y the values, as many.
	X, Y []float64
}

// LevelLabel returns the legend label of a level's curve, "level 3
// (51.2%)", remaining being the fraction of weights kept.
func LevelLabel(level int, remaining float64) string {
	return fmt.Sprintf("level %d (%s%%)", level, FormatPercent(100*remaining))
}

// TrainingCurves draws test accuracy or loss (m) against the training
// iteration, one line per series (typically one per pruning level, in
// level order). Colours run along a dark-blue-to-green sequence in the
// order of series, so denser and sparser levels read as a progression; a
// legend names each line. It suits a handful of series (up to about eight):
// choose the levels to show.
//
// It returns an error for no series, a series with no points, X and Y of
// different lengths, X not increasing, a NaN or infinite value, or an
// accuracy outside [0, 1]. Options: Title, XLabel, YLabel.
func TrainingCurves(series []Series, m Measure, opts ...Option) (*plot.Plot, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := c.only("TrainingCurves", "Title", "XLabel", "YLabel"); err != nil {
		return nil, err
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("metrics: no training series to plot")
	}
	var yLabel string
	switch m {
	case Accuracy:
		yLabel = "Test accuracy (%)"
	case Loss:
		yLabel = "Test loss"
	default:
		return nil, fmt.Errorf("metrics: unknown measure %d", int(m))
	}
	p := newPlot(c, "Iteration", yLabel)
	p.X.Tick.Marker = niceTicks{maxLabels: 6}
	lg := newLegendPlotter()
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		name := s.Label
		if name == "" {
			name = fmt.Sprintf("series %d", i)
		}
		if len(s.X) == 0 {
			return nil, fmt.Errorf("metrics: series %q has no points", name)
		}
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("metrics: series %q has %d iterations but %d values", name, len(s.X), len(s.Y))
		}
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				return nil, fmt.Errorf("metrics: series %q, point %d: (%v, %v) is not finite", name, j, x, y)
			}
			if j > 0 && !(x > s.X[j-1]) {
				return nil, fmt.Errorf("metrics: series %q, point %d: iteration %v does not follow %v", name, j, x, s.X[j-1])
			}
			if m == Accuracy {
				if y < 0 || y > 1 {
					return nil, fmt.Errorf("metrics: series %q, point %d: accuracy %v is not a fraction in [0, 1]", name, j, y)
				}
				y *= 100
			}
			xys[j] = plotter.XY{X: x, Y: y}
		}
		xmin, xmax = math.Min(xmin, s.X[0]), math.Max(xmax, s.X[len(s.X)-1])
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("metrics: series %q: %w", name, err)
		}
		l.LineStyle = draw.LineStyle{Color: sequential(i, len(series)), Width: lineWidth}
		p.Add(l)
		lg.addLine(0, xys)
		lg.entry(name, l)
	}
	p.Add(lg)
	p.X.Min, p.X.Max = xmin, xmax
	if xmin == xmax {
		p.X.Min, p.X.Max = xmin-1, xmax+1
	}
	return p, nil
}

// viridis samples the viridis colour map from dark purple to green, leaving
// out the light yellow end, which is faint on white.
var viridis = []color.RGBA{
	{68, 1, 84, 255}, {59, 82, 139, 255}, {33, 145, 140, 255}, {94, 201, 98, 255}, {170, 220, 50, 255},
}

// sequential returns the colour of series i of n along viridis.
func sequential(i, n int) color.RGBA {
	if n <= 1 {
		return viridis[1]
	}
	t := float64(i) / float64(n-1) * float64(len(viridis)-1)
	k := int(t)
	if k >= len(viridis)-1 {
		return viridis[len(viridis)-1]
	}
	f := t - float64(k)
	a, b := viridis[k], viridis[k+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}
