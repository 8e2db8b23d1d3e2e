package metrics

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"

	"github.com/shearsml/shears/internal/atomicfile"
)

// layout fits p's LevelTicks, if it has any, to a w × h drawing: their
// label style and the length of the x axis in the data area.
func layout(p *plot.Plot, w, h vg.Length) {
	lt, ok := p.X.Tick.Marker.(*LevelTicks)
	if !ok {
		return
	}
	lt.Style = p.X.Tick.Label
	lt.Scale = p.X.Scale
	// The data area depends a little on which labels are shown (the
	// outermost ones may widen the padding): measure twice.
	lt.Length = w
	for range 2 {
		dc := p.DataCanvas(draw.NewCanvas(new(recorder.Canvas), w, h))
		lt.Length = dc.Max.X - dc.Min.X
	}
}

// Render draws p at w × h in format ("png", "svg", "pdf", "eps", "jpg",
// "jpeg", "tif", "tiff" or "tex"; a leading dot and upper case are
// accepted) and returns the file's bytes: for example PNG bytes to show in
// a notebook. Raster formats are drawn at 96 dots per inch.
//
// Before drawing, the plot's level ticks are fitted to the size (see
// LevelTicks): like p.Draw, Render changes the plot a little, so one plot
// must not be rendered from two goroutines at once. It returns an error for a nil plot, a size that is not
// positive and finite, an unknown format, or a plot that fails to draw.
func Render(p *plot.Plot, w, h vg.Length, format string) (b []byte, err error) {
	if p == nil {
		return nil, fmt.Errorf("metrics: nil plot")
	}
	if !(w > 0 && h > 0) || math.IsInf(float64(w), 0) || math.IsInf(float64(h), 0) {
		return nil, fmt.Errorf("metrics: plot size %v × %v is not positive and finite", w, h)
	}
	format = strings.ToLower(strings.TrimPrefix(format, "."))
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer func() {
		// gonum/plot panics on some bad plots (a log axis over values ≤ 0, a
		// broken Ticker); report it rather than crash the caller.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("metrics: drawing the plot: %v", r)
		}
	}()
	layout(p, w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("metrics: encoding the plot as %s: %w", format, err)
	}
	return buf.Bytes(), nil
}

// Save draws p at w × h into the file at path, in the format its extension
// names (see Render), atomically: a reader sees the old file or the new one,
// never a part. Image files are written as they are, without the envelope
// of shears' data files, so that any viewer opens them.
func Save(p *plot.Plot, w, h vg.Length, path string) error {
	ext := filepath.Ext(path)
	if ext == "" {
		return fmt.Errorf("metrics: %s: no file extension to choose the format from", path)
	}
	b, err := Render(p, w, h, ext)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("metrics: saving plot: %w", err)
	}
	return nil
}
