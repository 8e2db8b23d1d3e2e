package metrics

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The size the plot builders lay out for (tick labels, legend) when no
// WithSize option is given: a figure that fits a page or a notebook cell.
const (
	DefaultWidth  = 16 * vg.Centimeter
	DefaultHeight = 10 * vg.Centimeter
)

// Option changes how a plot builder draws. The zero set of options gives:
// no title, the builder's axis labels, the MinMax spread drawn as error bars,
// every arm, laid out for DefaultWidth × DefaultHeight. Each builder lists
// the options it takes; it returns an error for any other, rather than
// ignore it. The zero Option changes nothing.
type Option struct{ apply func(*config) }

type config struct {
	title          string
	xLabel, yLabel string
	spread         Spread
	arms           []string
	armsSet        bool
	w, h           vg.Length
	band           bool
	err            error
	used           []string // names of the options given, in order
}

// use records that the option called name was given.
func (c *config) use(name string) { c.used = append(c.used, name) }

// only returns an error naming the first option given that builder does
// not take: an option must never be silently ignored.
func (c *config) only(builder string, allowed ...string) error {
	for _, u := range c.used {
		ok := false
		for _, a := range allowed {
			ok = ok || u == a
		}
		if !ok {
			return fmt.Errorf("metrics: %s does not take the %s option", builder, u)
		}
	}
	return nil
}

// Title sets the plot's title.
func Title(s string) Option { return Option{func(c *config) { c.title = s; c.use("Title") }} }

// XLabel replaces the builder's label of the x axis.
func XLabel(s string) Option { return Option{func(c *config) { c.xLabel = s; c.use("XLabel") }} }

// YLabel replaces the builder's label of the y axis.
func YLabel(s string) Option { return Option{func(c *config) { c.yLabel = s; c.use("YLabel") }} }

// WithSpread chooses how the spread over trials is shown: MinMax (the
// default), StdDev or NoSpread.
func WithSpread(s Spread) Option {
	return Option{func(c *config) {
		c.use("WithSpread")
		if s < MinMax || s > NoSpread {
			c.err = fmt.Errorf("metrics: unknown spread %d", int(s))
		}
		c.spread = s
	}}
}

// WithBand draws the spread as a shaded band around each line instead of
// error bars.
func WithBand() Option { return Option{func(c *config) { c.band = true; c.use("WithBand") }} }

// WithArms draws only these arms, in this order (by default every arm, in
// ArmOrder's order). Naming an arm that has no rows is an error.
func WithArms(arms ...string) Option {
	return Option{func(c *config) {
		c.arms, c.armsSet = append([]string(nil), arms...), true
		c.use("WithArms")
	}}
}

// WithSize sets the size a plot against the percent of weights remaining
// is laid out for: the level labels that fit are chosen for it (see
// LevelTicks). Render and Save lay out again for the size they are given;
// it matters for p.Save. The legend's place is always chosen when drawing.
func WithSize(w, h vg.Length) Option {
	return Option{func(c *config) {
		c.use("WithSize")
		if !(w > 0 && h > 0) || math.IsInf(float64(w), 0) || math.IsInf(float64(h), 0) {
			c.err = fmt.Errorf("metrics: plot size %v × %v is not positive and finite", w, h)
		}
		c.w, c.h = w, h
	}}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{w: DefaultWidth, h: DefaultHeight}
	for _, o := range opts {
		if o.apply == nil {
			continue // the zero Option changes nothing
		}
		o.apply(c)
		if c.err != nil {
			return nil, c.err
		}
	}
	return c, nil
}

func (c *config) label(def string, override string) string {
	if override != "" {
		return override
	}
	return def
}

// palette is Okabe and Ito's colour-blind-safe palette, yellow last.
var palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{0, 0, 0, 255},       // black
	{240, 228, 66, 255},  // yellow
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{},
	draw.RingGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.BoxGlyph{},
}

var dashes = [][]vg.Length{
	nil, {vg.Points(5), vg.Points(2.5)}, {vg.Points(1.5), vg.Points(1.5)},
	{vg.Points(5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
}

// style is the look of the i-th series: its colour, marker and dash.
type style struct {
	color color.RGBA
	glyph draw.GlyphDrawer
	dash  []vg.Length
}

func seriesStyle(i int) style {
	return style{
		color: palette[i%len(palette)],
		glyph: glyphs[i%len(glyphs)],
		dash:  dashes[i%len(dashes)],
	}
}

// armStyle keeps ticket, reinit and random in the same look whichever arms
// are drawn; other arms take the next styles in order.
func armStyle(arm string, others map[string]int) style {
	switch arm {
	case ArmTicket:
		return seriesStyle(0)
	case ArmReinit:
		return seriesStyle(1)
	case ArmRandom:
		return seriesStyle(2)
	}
	return seriesStyle(3 + others[arm])
}

func withAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a}
}

const (
	lineWidth   = vg.Length(1.25)
	glyphRadius = vg.Length(2.75)
	// dodgeStep is how far apart neighbouring arms are drawn when their
	// error bars would otherwise coincide.
	dodgeStep = vg.Length(3)
)

// shifted draws a plotter dx to the right of where its data lie: the dodge
// of ValueVsSparsity's arms. It keeps the plotter's data range and glyph
// boxes.
type shifted struct {
	plot.Plotter
	dx vg.Length
}

func (s shifted) Plot(c draw.Canvas, p *plot.Plot) {
	if s.dx == 0 {
		s.Plotter.Plot(c, p)
		return
	}
	c.Push()
	c.Translate(vg.Point{X: s.dx})
	s.Plotter.Plot(c, p)
	c.Pop()
}

func (s shifted) DataRange() (xmin, xmax, ymin, ymax float64) {
	return s.Plotter.(plot.DataRanger).DataRange()
}

func (s shifted) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	gb, ok := s.Plotter.(plot.GlyphBoxer)
	if !ok {
		return nil
	}
	boxes := gb.GlyphBoxes(p)
	for i := range boxes {
		boxes[i].Rectangle = boxes[i].Rectangle.Add(vg.Point{X: s.dx})
	}
	return boxes
}

func newPlot(c *config, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = c.title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = c.label(xLabel, c.xLabel)
	p.Y.Label.Text = c.label(yLabel, c.yLabel)
	p.X.Label.Padding = vg.Points(2)
	p.Y.Label.Padding = vg.Points(4)
	p.Y.Tick.Marker = niceTicks{maxLabels: 7}
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal = draw.LineStyle{Color: color.Gray{Y: 225}, Width: vg.Points(0.5)}
	p.Add(grid)
	return p
}

// AccuracyVsSparsity draws test accuracy (in percent) against the percent
// of weights remaining: one line per arm (ticket, reinit, random and any
// other, each with its own colour, marker and dash), the mean over trials
// with the spread over trials (WithSpread; min–max by default) as error
// bars or, WithBand, a shaded band. With error bars, the arms are drawn 3
// points apart (less than 1% of a level on a usual axis) so that their bars
// do not hide each other.
//
// The x axis is logarithmic and runs from 100% on the left to the sparsest
// level on the right, with a tick at every level (see LevelTicks). The
// legend goes in the corner where it covers the least data.
//
// It returns an error for no rows, an invalid row, rows that repeat a trial,
// level and arm, or an unknown arm in WithArms. Options: Title, XLabel,
// YLabel, WithSpread, WithBand, WithArms, WithSize.
func AccuracyVsSparsity(rows []Row, opts ...Option) (*plot.Plot, error) {
	return ValueVsSparsity(rows, TestAccuracyPercent, "Test accuracy (%)", opts...)
}

// EarlyStopVsSparsity draws the early-stopping iteration (the iteration of
// least validation loss) against the percent of weights remaining, per arm,
// with the spread over trials, on the axes of AccuracyVsSparsity.
func EarlyStopVsSparsity(rows []Row, opts ...Option) (*plot.Plot, error) {
	return ValueVsSparsity(rows, EarlyStopIteration, "Early-stop iteration", opts...)
}

// ValueVsSparsity draws value(row) against the percent of weights remaining,
// per arm, as AccuracyVsSparsity does; yLabel labels the y axis. A NaN or
// infinite value is an error.
func ValueVsSparsity(rows []Row, value func(Row) float64, yLabel string, opts ...Option) (*plot.Plot, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := c.only("ValueVsSparsity", "Title", "XLabel", "YLabel", "WithSpread", "WithBand", "WithArms", "WithSize"); err != nil {
		return nil, err
	}
	curves, err := Curves(rows, value)
	if err != nil {
		return nil, err
	}
	if c.armsSet {
		if len(c.arms) == 0 {
			return nil, errors.New("metrics: WithArms names no arm")
		}
		byArm := make(map[string]Curve, len(curves))
		for _, cv := range curves {
			byArm[cv.Arm] = cv
		}
		picked := make([]Curve, 0, len(c.arms))
		for _, a := range c.arms {
			cv, ok := byArm[a]
			if !ok {
				return nil, fmt.Errorf("metrics: no rows for arm %q (have %v)", a, ArmOrder(rows))
			}
			picked = append(picked, cv)
			delete(byArm, a)
		}
		curves = picked
	}
	others := map[string]int{}
	for _, cv := range curves {
		switch cv.Arm {
		case ArmTicket, ArmReinit, ArmRandom:
		default:
			others[cv.Arm] = len(others)
		}
	}

	p := newPlot(c, "Weights remaining (%)", yLabel)
	p.X.Scale = plot.InvertedScale{Normalizer: plot.LogScale{}}
	ticks := &LevelTicks{}
	p.X.Tick.Marker = ticks
	lg := newLegendPlotter()
	var bands, bars, lines []plot.Plotter
	xmin, xmax := math.Inf(1), math.Inf(-1)
	// With error bars, the arms are dodged: each drawn a few points left
	// or right of the others, so that their bars do not hide each other.
	dodge := !c.band && c.spread != NoSpread && len(curves) > 1
	// The level ticks are those of one arm, the ticket when it is drawn:
	// the controls may sit at slightly different sparsities (a random mask
	// rounds per layer), and their near-duplicate ticks would crowd out
	// the levels' labels.
	ref := 0
	for k, cv := range curves {
		if cv.Arm == ArmTicket {
			ref = k
		}
	}
	for k, cv := range curves {
		cv.Spread = c.spread
		st := armStyle(cv.Arm, others)
		for _, pt := range cv.Points {
			x := pt.Percent()
			if k == ref {
				ticks.Values = append(ticks.Values, x)
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		}
		var dx vg.Length
		if dodge {
			dx = dodgeStep * vg.Length(float64(k)-float64(len(curves)-1)/2)
		}
		spread := c.spread != NoSpread && hasSpread(cv)
		if spread && c.band {
			b, err := newBand(cv, st.color)
			if err != nil {
				return nil, err
			}
			bands = append(bands, b)
			lg.addBand(b.ring)
		}
		if spread && !c.band {
			eb, err := plotter.NewYErrorBars(cv)
			if err != nil {
				return nil, fmt.Errorf("metrics: arm %q: %w", cv.Arm, err)
			}
			eb.LineStyle = draw.LineStyle{Color: st.color, Width: vg.Points(0.9)}
			eb.CapWidth = vg.Points(4)
			bars = append(bars, shifted{eb, dx})
			for i := range eb.XYs {
				lo, hi := c.spread.Bounds(cv.Points[i])
				lg.addSegment(dx, plotter.XY{X: eb.XYs[i].X, Y: lo}, plotter.XY{X: eb.XYs[i].X, Y: hi})
			}
		}
		l, s, err := plotter.NewLinePoints(cv)
		if err != nil {
			return nil, fmt.Errorf("metrics: arm %q: %w", cv.Arm, err)
		}
		l.LineStyle = draw.LineStyle{Color: st.color, Width: lineWidth, Dashes: st.dash}
		s.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: glyphRadius, Shape: st.glyph}
		lines = append(lines, shifted{l, dx}, shifted{s, dx})
		lg.addLine(dx, l.XYs)
		lg.entry(cv.Arm, l, s)
	}
	p.Add(bands...)
	p.Add(bars...)
	p.Add(lines...)
	p.Add(lg)
	p.X.Min, p.X.Max = xmin, xmax
	if xmin == xmax {
		p.X.Min, p.X.Max = xmin/1.5, xmax*1.5
	}
	layout(p, c.w, c.h)
	return p, nil
}

func hasSpread(cv Curve) bool {
	for i := range cv.Points {
		if lo, hi := cv.YError(i); lo > 0 || hi > 0 {
			return true
		}
	}
	return false
}

// newBand returns a filled polygon from the low ends of the spread, left
// to right, back along the high ends.
func newBand(cv Curve, c color.RGBA) (*band, error) {
	n := len(cv.Points)
	ring := make(plotter.XYs, 0, 2*n)
	for i := 0; i < n; i++ {
		lo, _ := cv.Spread.Bounds(cv.Points[i])
		ring = append(ring, plotter.XY{X: cv.Points[i].Percent(), Y: lo})
	}
	for i := n - 1; i >= 0; i-- {
		_, hi := cv.Spread.Bounds(cv.Points[i])
		ring = append(ring, plotter.XY{X: cv.Points[i].Percent(), Y: hi})
	}
	for _, xy := range ring {
		if err := plotter.CheckFloats(xy.X, xy.Y); err != nil {
			return nil, fmt.Errorf("metrics: arm %q: %w", cv.Arm, err)
		}
	}
	return &band{ring: ring, color: withAlpha(c, 56)}, nil
}
