package metrics

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"git.sr.ht/~sbinet/cmpimg"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/shearsml/shears/prune"
)

// The -regen flag (cmpimg.GenerateTestData, registered by the cmpimg
// package, which a test cannot register a second time) rewrites the golden
// images under testdata from the current code:
//
//	go test ./metrics -run Golden -regen

func trainingSeries() []Series {
	var out []Series
	for i, l := range []int{0, 3, 7, 12, 16} {
		rem := math.Pow(0.8, float64(l))
		var s Series
		s.Label = LevelLabel(l, rem)
		for it := 0; it <= 20000; it += 500 {
			x := float64(it)
			peak := 0.975 + 0.004*float64(i) - 0.006*math.Max(0, float64(i-3))
			speed := 1800 - 250*float64(i)
			if i >= 4 {
				speed = 2600
			}
			acc := peak*(1-math.Exp(-(x+100)/speed)) - 0.0000006*math.Max(0, x-9000)*(1-0.15*float64(i))
			acc += 0.001 * math.Sin(x/700+float64(i))
			s.X = append(s.X, x)
			s.Y = append(s.Y, math.Max(0, acc))
		}
		out = append(out, s)
	}
	return out
}

func layerLevels() []LayerLevel {
	var out []LayerLevel
	for l := 0; l <= 16; l++ {
		out = append(out,
			LayerLevel{Level: l, Layer: "fc1 784×300", Remaining: math.Pow(0.8, float64(l))},
			LayerLevel{Level: l, Layer: "fc2 300×100", Remaining: math.Pow(0.8, float64(l))},
			LayerLevel{Level: l, Layer: "fc3 100×10", Remaining: math.Pow(0.9, float64(l))},
		)
	}
	return out
}

// goldenPlots are the plots checked against testdata/<name>_golden.png.
var goldenPlots = []struct {
	name  string
	build func() (*plot.Plot, error)
}{
	{"accuracy", func() (*plot.Plot, error) {
		return AccuracyVsSparsity(sampleRows(21, 5), Title("LeNet-300-100 on MNIST, 5 trials (min–max)"))
	}},
	{"accuracy_band_std", func() (*plot.Plot, error) {
		return AccuracyVsSparsity(sampleRows(21, 5), WithBand(), WithSpread(StdDev), WithArms(ArmTicket, ArmRandom))
	}},
	{"earlystop", func() (*plot.Plot, error) {
		return EarlyStopVsSparsity(sampleRows(21, 5), Title("Early-stopping iteration"))
	}},
	{"layers", func() (*plot.Plot, error) {
		return LayerSparsity(layerLevels(), Title("Per-layer sparsity"))
	}},
	{"training", func() (*plot.Plot, error) {
		return TrainingCurves(trainingSeries(), Accuracy, Title("Test accuracy during training"))
	}},
}

func TestGoldenPlots(t *testing.T) {
	for _, g := range goldenPlots {
		t.Run(g.name, func(t *testing.T) {
			p, err := g.build()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(p, DefaultWidth, DefaultHeight, "png")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", g.name+"_golden.png")
			if *cmpimg.GenerateTestData {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -regen to create it)", err)
			}
			ok, err := cmpimg.EqualApprox("png", got, want, 0.01)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Errorf("%s differs from %s: %s", g.name, golden, keepFailedImage(t, g.name, got, want))
			}
			img, err := png.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			// 16 cm × 10 cm at 96 dpi.
			if b := img.Bounds(); b.Dx() != 605 || b.Dy() != 378 {
				t.Errorf("image is %v, want 605×378", b.Size())
			}
		})
	}
}

func TestBuildersRejectBadInput(t *testing.T) {
	nanRows := sampleRows(3, 2)
	nanRows[4].TestLoss = math.NaN()
	tests := []struct {
		name  string
		build func() (*plot.Plot, error)
		want  string
	}{
		{"accuracy empty", func() (*plot.Plot, error) { return AccuracyVsSparsity(nil) }, "no rows"},
		{"accuracy invalid", func() (*plot.Plot, error) {
			rows := sampleRows(2, 1)
			rows[1].TestAccuracy = math.NaN()
			return AccuracyVsSparsity(rows)
		}, "test_accuracy"},
		{"loss NaN", func() (*plot.Plot, error) { return ValueVsSparsity(nanRows, TestLoss, "loss") }, "not finite"},
		{"unknown arm", func() (*plot.Plot, error) { return AccuracyVsSparsity(sampleRows(2, 1), WithArms("lottery")) }, `no rows for arm "lottery"`},
		{"no arms", func() (*plot.Plot, error) { return AccuracyVsSparsity(sampleRows(2, 1), WithArms()) }, "names no arm"},
		{"bad size", func() (*plot.Plot, error) { return AccuracyVsSparsity(sampleRows(2, 1), WithSize(0, 1)) }, "not positive"},
		{"bad spread", func() (*plot.Plot, error) { return AccuracyVsSparsity(sampleRows(2, 1), WithSpread(7)) }, "unknown spread"},
		{"layers empty", func() (*plot.Plot, error) { return LayerSparsity(nil) }, "no layer levels"},
		{"layers NaN", func() (*plot.Plot, error) {
			return LayerSparsity([]LayerLevel{{Level: 0, Layer: "a", Remaining: math.NaN()}})
		}, "not in [0, 1]"},
		{"layers Inf", func() (*plot.Plot, error) {
			return LayerSparsity([]LayerLevel{{Level: 0, Layer: "a", Remaining: math.Inf(1)}})
		}, "not in [0, 1]"},
		{"layers twice", func() (*plot.Plot, error) {
			return LayerSparsity([]LayerLevel{{Layer: "a", Remaining: 1}, {Layer: "a", Remaining: 1}})
		}, "twice"},
		{"layers no name", func() (*plot.Plot, error) { return LayerSparsity([]LayerLevel{{Remaining: 1}}) }, "empty layer name"},
		{"training empty", func() (*plot.Plot, error) { return TrainingCurves(nil, Loss) }, "no training series"},
		{"training no points", func() (*plot.Plot, error) { return TrainingCurves([]Series{{Label: "a"}}, Loss) }, "no points"},
		{"training lengths", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{1, 2}, Y: []float64{1}}}, Loss)
		}, "2 iterations but 1 values"},
		{"training NaN", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{1, 2}, Y: []float64{1, math.NaN()}}}, Loss)
		}, "not finite"},
		{"training Inf x", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{1, math.Inf(1)}, Y: []float64{1, 1}}}, Loss)
		}, "not finite"},
		{"training order", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{2, 1}, Y: []float64{1, 1}}}, Loss)
		}, "does not follow"},
		{"training accuracy", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{1}, Y: []float64{97}}}, Accuracy)
		}, "not a fraction"},
		{"option not taken", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{1}, Y: []float64{1}}}, Loss, WithSpread(StdDev))
		}, "TrainingCurves does not take the WithSpread option"},
		{"layers size", func() (*plot.Plot, error) {
			return LayerSparsity([]LayerLevel{{Layer: "a", Remaining: 1}}, WithSize(DefaultWidth, DefaultHeight))
		}, "does not take the WithSize option"},
		{"training measure", func() (*plot.Plot, error) {
			return TrainingCurves([]Series{{X: []float64{1}, Y: []float64{1}}}, Measure(9))
		}, "unknown measure"},
	}
	for _, tt := range tests {
		p, err := tt.build()
		if err == nil || p != nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("%s: plot %v, error %v, want one containing %q", tt.name, p != nil, err, tt.want)
		}
	}
}

func TestLayerLevelsOf(t *testing.T) {
	layers := lenet300100()
	lv, err := LayerLevelsOf([]*prune.Masks{
		masksKeeping(t, layers, []int{235200, 30000, 1000}),
		masksKeeping(t, layers, []int{188160, 24000, 900}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []LayerLevel{{0, "fc1", 1}, {0, "fc2", 1}, {0, "fc3", 1}, {1, "fc1", 0.8}, {1, "fc2", 0.8}, {1, "fc3", 0.9}}
	if len(lv) != len(want) {
		t.Fatalf("%+v", lv)
	}
	for i := range want {
		if lv[i].Level != want[i].Level || lv[i].Layer != want[i].Layer || math.Abs(lv[i].Remaining-want[i].Remaining) > 1e-12 {
			t.Errorf("%d: %+v, want %+v", i, lv[i], want[i])
		}
	}
	if _, err := LayerLevelsOf([]*prune.Masks{nil}); err == nil {
		t.Error("nil masks accepted")
	}
	// A layer pruned away entirely switches to a linear axis from 0.
	p, err := LayerSparsity(append(lv, LayerLevel{Level: 2, Layer: "fc1", Remaining: 0}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Min != 0 {
		t.Errorf("y axis starts at %v, want 0", p.Y.Min)
	}
	if _, err := Render(p, DefaultWidth, DefaultHeight, "png"); err != nil {
		t.Error(err)
	}
}

// TestLevelTicksDoNotOverlap checks, at several widths, that the labelled
// ticks leave room between their labels, and that the first and the last
// level are labelled.
// keepFailedImage writes the image a golden test got, and a diff against
// the golden one (cmpimg.Diff: differing pixels bright), into a folder that
// outlives the test (SHEARS_TEST_OUTPUT, or shears-golden-failures under
// the system's temporary folder), and says where, so that a person can look
// at them.
func keepFailedImage(t *testing.T, name string, got, want []byte) string {
	dir := os.Getenv("SHEARS_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "shears-golden-failures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Sprintf("could not keep the image: %v", err)
	}
	gotPath := filepath.Join(dir, name+"_got.png")
	if err := os.WriteFile(gotPath, got, 0o644); err != nil {
		return fmt.Sprintf("could not keep the image: %v", err)
	}
	msg := "got kept in " + gotPath
	a, err1 := png.Decode(bytes.NewReader(got))
	b, err2 := png.Decode(bytes.NewReader(want))
	if err1 == nil && err2 == nil {
		d := image.NewRGBA(a.Bounds().Union(b.Bounds()))
		r := cmpimg.Diff(d, a, b)
		var buf bytes.Buffer
		if png.Encode(&buf, d) == nil {
			diffPath := filepath.Join(dir, name+"_diff.png")
			if os.WriteFile(diffPath, buf.Bytes(), 0o644) == nil {
				msg += fmt.Sprintf(", diff (differing region %v) in %s", r, diffPath)
			}
		}
	}
	return msg
}

// TestKeepFailedImage: the image of a failing golden test survives the
// test, with a diff.
func TestKeepFailedImage(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SHEARS_TEST_OUTPUT", dir)
	p, err := AccuracyVsSparsity(sampleRows(8, 2))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Render(p, DefaultWidth, DefaultHeight, "png")
	b, _ := Render(p, DefaultWidth, DefaultHeight+vg.Centimeter, "png")
	msg := keepFailedImage(t, "probe", a, b)
	for _, f := range []string{"probe_got.png", "probe_diff.png"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not kept: %v (%s)", f, err, msg)
		}
	}
}

// TestLevelTickLabelsWithControls: arms at slightly different sparsities
// (a random control rounds per layer) keep the level labels the ticket
// alone gets.
func TestLevelTickLabelsWithControls(t *testing.T) {
	var ticket, both []Row
	for l := 0; l <= 12; l++ {
		rem := math.Pow(0.8, float64(l))
		r := Row{Trial: 0, Level: l, Arm: ArmTicket, Remaining: rem, TestAccuracy: 0.9}
		ticket = append(ticket, r)
		both = append(both, r)
		if l > 0 {
			r.Arm, r.Remaining = ArmRandom, rem*1.004
			both = append(both, r)
		}
	}
	labels := func(rows []Row) []string {
		p, err := AccuracyVsSparsity(rows)
		if err != nil {
			t.Fatal(err)
		}
		layout(p, DefaultWidth, DefaultHeight)
		var out []string
		for _, tk := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	want, got := labels(ticket), labels(both)
	if len(want) < 5 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("labels with a control arm %v, the ticket alone %v", got, want)
	}
}

// TestRenderDPI: a PNG at 300 dpi has 300/96 times the pixels; vector
// formats and absurd resolutions are errors.
func TestRenderDPI(t *testing.T) {
	p, err := AccuracyVsSparsity(sampleRows(8, 2))
	if err != nil {
		t.Fatal(err)
	}
	b, err := RenderDPI(p, DefaultWidth, DefaultHeight, "png", 300)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s.X != 1890 || s.Y != 1181 {
		t.Errorf("16 × 10 cm at 300 dpi: %v, want 1890×1181", s)
	}
	for _, tc := range []struct {
		format string
		dpi    int
	}{{"svg", 300}, {"pdf", 150}, {"png", 0}, {"png", -1}, {"png", MaxDPI + 1}} {
		if _, err := RenderDPI(p, DefaultWidth, DefaultHeight, tc.format, tc.dpi); err == nil {
			t.Errorf("RenderDPI(%s, %d): no error", tc.format, tc.dpi)
		}
	}
	path := filepath.Join(t.TempDir(), "a.png")
	if err := SaveDPI(p, DefaultWidth, DefaultHeight, path, 192); err != nil {
		t.Fatal(err)
	}
	f, _ := os.ReadFile(path)
	if img, err := png.Decode(bytes.NewReader(f)); err != nil || img.Bounds().Dx() != 1209 { // 16 cm at 192 dpi: 1209.4 pixels
		t.Errorf("SaveDPI 192: %v, %v", err, img.Bounds())
	}
}

func TestLevelTicksDoNotOverlap(t *testing.T) {
	var vals []float64
	for l := 0; l <= 30; l++ {
		vals = append(vals, 100*math.Pow(0.8, float64(l)))
	}
	p := plot.New()
	for _, w := range []vg.Length{6 * vg.Centimeter, 10 * vg.Centimeter, DefaultWidth, 30 * vg.Centimeter} {
		lt := &LevelTicks{Values: vals, Length: w, Style: p.X.Tick.Label}
		lo, hi := vals[len(vals)-1], vals[0]
		ticks := lt.Ticks(lo, hi)
		if len(ticks) != len(vals) {
			t.Fatalf("width %v: %d ticks for %d levels", w, len(ticks), len(vals))
		}
		if ticks[0].Label != "100" || ticks[len(ticks)-1].Label != FormatPercent(lo) {
			t.Errorf("width %v: first %q last %q", w, ticks[0].Label, ticks[len(ticks)-1].Label)
		}
		pos := func(v float64) vg.Length {
			return vg.Length(plot.LogScale{}.Normalize(lo, hi, hi)-plot.LogScale{}.Normalize(lo, hi, v)) * w
		}
		var prev *plot.Tick
		labelled := 0
		for i := range ticks {
			tk := &ticks[i]
			if tk.Label == "" {
				continue
			}
			labelled++
			if prev != nil {
				room := pos(tk.Value) - pos(prev.Value)
				need := (lt.Style.Width(tk.Label) + lt.Style.Width(prev.Label)) / 2
				if room < need {
					t.Errorf("width %v: labels %q and %q overlap (%v < %v)", w, prev.Label, tk.Label, room, need)
				}
			}
			prev = tk
		}
		if labelled < 3 {
			t.Errorf("width %v: only %d labels", w, labelled)
		}
		t.Logf("width %v: %d of %d labelled", w, labelled, len(vals))
	}
}

func TestFormatPercent(t *testing.T) {
	for v, want := range map[float64]string{
		100: "100", 80: "80", 64: "64", 51.2: "51.2", 40.96: "41", 32.768: "32.8", 21.1: "21.1",
		7.0: "7", 3.6: "3.6", 0.92: "0.92", 0.0744: "0.074", 99.96: "100",
	} {
		if got := FormatPercent(v); got != want {
			t.Errorf("FormatPercent(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRenderAndSave(t *testing.T) {
	p, err := AccuracyVsSparsity(sampleRows(5, 2))
	if err != nil {
		t.Fatal(err)
	}
	magic := map[string]string{"png": "\x89PNG", "svg": "<?xml", "pdf": "%PDF", ".PNG": "\x89PNG", "jpg": "\xff\xd8"}
	for format, m := range magic {
		b, err := Render(p, DefaultWidth, DefaultHeight, format)
		if err != nil {
			t.Errorf("%s: %v", format, err)
			continue
		}
		if !bytes.HasPrefix(b, []byte(m)) {
			t.Errorf("%s: starts %q", format, b[:8])
		}
	}
	if _, err := Render(p, DefaultWidth, DefaultHeight, "bmp"); err == nil {
		t.Error("bmp accepted")
	}
	if _, err := Render(nil, DefaultWidth, DefaultHeight, "png"); err == nil {
		t.Error("nil plot accepted")
	}
	if _, err := Render(p, -1, DefaultHeight, "png"); err == nil {
		t.Error("negative width accepted")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "acc.svg")
	if err := Save(p, DefaultWidth, DefaultHeight, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("<?xml")) {
		t.Errorf("saved SVG: %v %q", err, b[:5])
	}
	if err := Save(p, DefaultWidth, DefaultHeight, filepath.Join(dir, "noext")); err == nil {
		t.Error("no extension accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files left in the folder, want 1", len(ents))
	}

	// A plot broken after it was built (a log axis over 0) gives an error,
	// not a panic.
	bad := plot.New()
	bad.X.Scale = plot.LogScale{}
	bad.X.Tick.Marker = plot.LogTicks{}
	bad.X.Min, bad.X.Max = -1, 1
	if _, err := Render(bad, DefaultWidth, DefaultHeight, "png"); err == nil {
		t.Error("broken plot rendered without error")
	}
}
