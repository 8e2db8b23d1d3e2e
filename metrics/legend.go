package metrics

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// band is a filled polygon without an outline: the spread around a line.
type band struct {
	ring  plotter.XYs
	color color.Color
}

func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, len(b.ring))
	for i, xy := range b.ring {
		pts[i] = vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
	}
	c.FillPolygon(b.color, c.ClipPolygonXY(pts))
}

func (b *band) DataRange() (xmin, xmax, ymin, ymax float64) {
	return plotter.XYRange(b.ring)
}

func (b *band) Thumbnail(c *draw.Canvas) {
	h := (c.Max.Y - c.Min.Y) / 4
	c.FillPolygon(b.color, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y + h}, {X: c.Max.X, Y: c.Min.Y + h},
		{X: c.Max.X, Y: c.Max.Y - h}, {X: c.Min.X, Y: c.Max.Y - h},
	})
}

// legendPlotter draws the plot's legend itself, added as the last plotter,
// so that it knows the data area it is drawn into: it tries a few places
// (the corners first) and takes the one that covers the fewest samples of the
// data drawn (lines, markers, error bars, bands), then draws the legend there
// on a light box.
type legendPlotter struct {
	legend plot.Legend
	n      int
	// polylines and segments in data coordinates, drawn dx to the right,
	// that the legend should not hide; areas are closed rings (bands).
	lines []polyline
	areas []plotter.XYs
}

type polyline struct {
	xys []plotter.XY
	dx  vg.Length
}

func newLegendPlotter() *legendPlotter {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(24)
	l.TextStyle.Font.Size = vg.Points(10)
	return &legendPlotter{legend: l}
}

func (lp *legendPlotter) entry(name string, thumbs ...plot.Thumbnailer) {
	lp.legend.Add(name, thumbs...)
	lp.n++
}

func (lp *legendPlotter) addLine(dx vg.Length, xys plotter.XYs) {
	lp.lines = append(lp.lines, polyline{append([]plotter.XY(nil), xys...), dx})
}

func (lp *legendPlotter) addSegment(dx vg.Length, a, b plotter.XY) {
	lp.lines = append(lp.lines, polyline{[]plotter.XY{a, b}, dx})
}

func (lp *legendPlotter) addBand(ring plotter.XYs) { lp.areas = append(lp.areas, ring) }

const (
	legendInset  = vg.Length(5) // from the data area's edges
	legendMargin = vg.Length(4) // box around the entries
	// legendClearance is the room around the box that data should not
	// enter either.
	legendClearance = vg.Length(4)
)

// size returns the width and height of the legend's entries.
func (lp *legendPlotter) size() (w, h vg.Length) {
	r := lp.legend.Rectangle(draw.Canvas{})
	w = r.Max.X - r.Min.X
	h = r.Max.Y - r.Min.Y + lp.legend.TextStyle.FontExtents().Descent
	return w, h
}

// Plot implements plot.Plotter.
func (lp *legendPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	if lp.n == 0 {
		return
	}
	w, h := lp.size()
	bw, bh := w+2*legendMargin, h+2*legendMargin
	trX, trY := p.Transforms(&c)
	samples := lp.samples(trX, trY)

	inner := draw.Crop(c, legendInset, -legendInset, legendInset, -legendInset)
	xs := []vg.Length{inner.Min.X, inner.Max.X - bw, (inner.Min.X + inner.Max.X - bw) / 2}
	ys := []vg.Length{inner.Max.Y - bh, inner.Min.Y, (inner.Min.Y + inner.Max.Y - bh) / 2}
	// Preference among equally good places: corners, then edge middles.
	type place struct{ x, y int }
	order := []place{
		{1, 0}, {0, 0}, {0, 1}, {1, 1}, // top right, top left, bottom left, bottom right
		{2, 0}, {2, 1}, {0, 2}, {1, 2}, // top, bottom, left, right middles
	}
	best, bestHits := order[0], math.MaxInt
	for _, pl := range order {
		r := vg.Rectangle{Min: vg.Point{X: xs[pl.x], Y: ys[pl.y]}}
		r.Max = vg.Point{X: r.Min.X + bw, Y: r.Min.Y + bh}
		// Keep some clearance around the box too.
		r.Min = r.Min.Sub(vg.Point{X: legendClearance, Y: legendClearance})
		r.Max = r.Max.Add(vg.Point{X: legendClearance, Y: legendClearance})
		hits := 0
		for _, s := range samples {
			if s.X >= r.Min.X && s.X <= r.Max.X && s.Y >= r.Min.Y && s.Y <= r.Max.Y {
				hits++
			}
		}
		if hits < bestHits {
			best, bestHits = pl, hits
		}
	}
	box := vg.Rectangle{Min: vg.Point{X: xs[best.x], Y: ys[best.y]}}
	box.Max = vg.Point{X: box.Min.X + bw, Y: box.Min.Y + bh}
	corners := []vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}}
	c.FillPolygon(color.NRGBA{R: 255, G: 255, B: 255, A: 220}, corners)
	c.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 190}, Width: vg.Points(0.5)}, append(corners, box.Min))
	lc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: box.Min.X + legendMargin, Y: box.Min.Y + legendMargin},
		Max: vg.Point{X: box.Max.X - legendMargin, Y: box.Max.Y - legendMargin},
	}}
	lp.legend.Draw(lc)
}

// samples returns points, in canvas coordinates, along everything drawn:
// one every 1.5 points along lines, and a grid inside bands.
func (lp *legendPlotter) samples(trX, trY func(float64) vg.Length) []vg.Point {
	const step = 1.5
	var out []vg.Point
	seg := func(a, b vg.Point) {
		d := math.Hypot(float64(b.X-a.X), float64(b.Y-a.Y))
		n := int(d/step) + 1
		for i := 0; i <= n; i++ {
			t := vg.Length(float64(i) / float64(n))
			out = append(out, vg.Point{X: a.X + t*(b.X-a.X), Y: a.Y + t*(b.Y-a.Y)})
		}
	}
	pt := func(xy plotter.XY) vg.Point { return vg.Point{X: trX(xy.X), Y: trY(xy.Y)} }
	for _, pl := range lp.lines {
		l := pl.xys
		for i := range l {
			// A marker of radius glyphRadius around every vertex.
			v := pt(l[i]).Add(vg.Point{X: pl.dx})
			for _, d := range []vg.Point{{X: -glyphRadius}, {X: glyphRadius}, {Y: -glyphRadius}, {Y: glyphRadius}} {
				out = append(out, v.Add(d))
			}
			if i > 0 {
				seg(pt(l[i-1]).Add(vg.Point{X: pl.dx}), v)
			}
		}
	}
	for _, ring := range lp.areas {
		// A band is a ring of n low points then n high points, back.
		n := len(ring) / 2
		for i := 0; i+1 < n; i++ {
			lo0, lo1 := pt(ring[i]), pt(ring[i+1])
			hi0, hi1 := pt(ring[2*n-1-i]), pt(ring[2*n-2-i])
			cols := int(math.Abs(float64(lo1.X-lo0.X))/(2*step)) + 1
			for j := 0; j <= cols; j++ {
				t := vg.Length(float64(j) / float64(cols))
				lo := vg.Point{X: lo0.X + t*(lo1.X-lo0.X), Y: lo0.Y + t*(lo1.Y-lo0.Y)}
				hi := vg.Point{X: hi0.X + t*(hi1.X-hi0.X), Y: hi0.Y + t*(hi1.Y-hi0.Y)}
				seg(lo, hi)
			}
		}
	}
	return out
}
