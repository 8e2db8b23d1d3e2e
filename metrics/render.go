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
	"gonum.org/v1/plot/vg/vgimg"

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

// DefaultDPI is the resolution of raster images drawn by Render and Save.
const DefaultDPI = 96

// MaxDPI bounds the resolution RenderDPI and SaveDPI accept.
const MaxDPI = 2400

// Render draws p at w × h in format ("png", "svg", "pdf", "eps", "jpg",
// "jpeg", "tif", "tiff" or "tex"; a leading dot and upper case are
// accepted) and returns the file's bytes: for example PNG bytes to show in
// a notebook. Raster formats are drawn at DefaultDPI (96) dots per inch;
// RenderDPI takes another resolution.
//
// Before drawing, the plot's level ticks are fitted to the size (see
// LevelTicks): like p.Draw, Render changes the plot a little, so one plot
// must not be rendered from two goroutines at once. It returns an error for a nil plot, a size that is not
// positive and finite, an unknown format, or a plot that fails to draw.
func Render(p *plot.Plot, w, h vg.Length, format string) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("metrics: nil plot")
	}
	if !(w > 0 && h > 0) || math.IsInf(float64(w), 0) || math.IsInf(float64(h), 0) {
		return nil, fmt.Errorf("metrics: plot size %v × %v is not positive and finite", w, h)
	}
	return render(p, w, h, format, 0)
}

// RenderDPI is Render for a raster format (png, jpg, jpeg, tif, tiff) at
// dpi dots per inch, in [1, MaxDPI]: a 16 cm wide plot at 300 dpi is 1890
// pixels wide, for print. The vector formats have no resolution: RenderDPI
// returns an error for them rather than ignore dpi.
func RenderDPI(p *plot.Plot, w, h vg.Length, format string, dpi int) ([]byte, error) {
	if dpi < 1 || dpi > MaxDPI {
		return nil, fmt.Errorf("metrics: %d dpi is not in [1, %d]", dpi, MaxDPI)
	}
	if p == nil {
		return nil, fmt.Errorf("metrics: nil plot")
	}
	if !(w > 0 && h > 0) || math.IsInf(float64(w), 0) || math.IsInf(float64(h), 0) {
		return nil, fmt.Errorf("metrics: plot size %v × %v is not positive and finite", w, h)
	}
	if px := float64(w/vg.Inch) * float64(dpi) * float64(h/vg.Inch) * float64(dpi); px > 1<<28 {
		return nil, fmt.Errorf("metrics: %v × %v at %d dpi is %.0f pixels, more than %d", w, h, dpi, px, 1<<28)
	}
	return render(p, w, h, format, dpi)
}

// render draws p; dpi 0 means the format's own canvas (96 dpi for rasters).
func render(p *plot.Plot, w, h vg.Length, format string, dpi int) (b []byte, err error) {
	format = strings.ToLower(strings.TrimPrefix(format, "."))
	var c vg.CanvasWriterTo
	if dpi == 0 {
		if c, err = draw.NewFormattedCanvas(w, h, format); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	} else {
		img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
		switch format {
		case "png":
			c = vgimg.PngCanvas{Canvas: img}
		case "jpg", "jpeg":
			c = vgimg.JpegCanvas{Canvas: img}
		case "tif", "tiff":
			c = vgimg.TiffCanvas{Canvas: img}
		default:
			return nil, fmt.Errorf("metrics: format %q is not a raster format (png, jpg, tif): it has no dpi", format)
		}
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
	return save(p, w, h, path, 0)
}

// SaveDPI is Save for a raster format at dpi dots per inch (see RenderDPI).
func SaveDPI(p *plot.Plot, w, h vg.Length, path string, dpi int) error {
	if dpi == 0 {
		return fmt.Errorf("metrics: SaveDPI: 0 dpi (use Save for the default %d)", DefaultDPI)
	}
	return save(p, w, h, path, dpi)
}

func save(p *plot.Plot, w, h vg.Length, path string, dpi int) error {
	ext := filepath.Ext(path)
	if ext == "" {
		return fmt.Errorf("metrics: %s: no file extension to choose the format from", path)
	}
	var b []byte
	var err error
	if dpi == 0 {
		b, err = Render(p, w, h, ext)
	} else {
		b, err = RenderDPI(p, w, h, ext, dpi)
	}
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("metrics: saving plot: %w", err)
	}
	return nil
}
