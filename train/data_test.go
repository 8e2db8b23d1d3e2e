package train

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// toy returns a valid Dataset of n examples of Shape [1, 2, 3], whose
// example i has the values 100*i + 0..5 and the label i%classes.
func toy(n, classes int) *Dataset {
	d := &Dataset{Name: "toy", Shape: []int{1, 2, 3}, Classes: classes}
	for i := range n {
		for j := range 6 {
			d.X = append(d.X, float32(100*i+j))
		}
		d.Y = append(d.Y, i%classes)
	}
	return d
}

// exampleID returns the index that toy gave the example at position k of d
// (recovered from its first value), checking that the example is intact.
func exampleID(t *testing.T, d *Dataset, k int) int {
	t.Helper()
	f := d.Features()
	id := int(d.X[k*f]) / 100
	for j := range f {
		if d.X[k*f+j] != float32(100*id+j) {
			t.Fatalf("example %d of %q is not an intact toy row: %v", k, d.Name, d.X[k*f:(k+1)*f])
		}
	}
	if d.Y[k] != id%d.Classes {
		t.Fatalf("example %d of %q (toy row %d) has label %d, want %d", k, d.Name, id, d.Y[k], id%d.Classes)
	}
	return id
}

func TestDatasetFeatures(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  int
	}{
		{[]int{1, 8, 8}, 64},
		{[]int{784}, 784},
		{[]int{3, 32, 32}, 3072},
		{nil, 0},
		{[]int{1, 0, 8}, 0},
		{[]int{1, -8, 8}, 0},
		{[]int{math.MaxInt / 2, 3}, 0},
	} {
		d := &Dataset{Shape: c.shape}
		if got := d.Features(); got != c.want {
			t.Errorf("Features() with Shape %v = %d, want %d", c.shape, got, c.want)
		}
	}
}

func TestDatasetValidate(t *testing.T) {
	if err := toy(5, 3).Validate(); err != nil {
		t.Fatalf("valid toy dataset: %v", err)
	}
	if err := (&Dataset{Shape: []int{4}, Classes: 2}).Validate(); err != nil {
		t.Fatalf("empty dataset: %v", err)
	}
	var nilDS *Dataset
	if err := nilDS.Validate(); err == nil {
		t.Error("nil Dataset: no error")
	}
	for _, c := range []struct {
		name   string
		change func(d *Dataset)
		want   string
	}{
		{"empty shape", func(d *Dataset) { d.Shape = nil }, "Shape is empty"},
		{"zero dim", func(d *Dataset) { d.Shape = []int{1, 0, 3} }, "Shape[1] = 0"},
		{"negative dim", func(d *Dataset) { d.Shape = []int{-1, 2, 3} }, "Shape[0] = -1"},
		{"overflow", func(d *Dataset) { d.Shape = []int{math.MaxInt / 2, 3} }, "more elements"},
		{"short X", func(d *Dataset) { d.X = d.X[:len(d.X)-1] }, "len(X) = 29"},
		{"long X", func(d *Dataset) { d.X = append(d.X, 0) }, "len(X) = 31"},
		{"extra label", func(d *Dataset) { d.Y = append(d.Y, 0) }, "len(X) = 30, want len(Y)*Features() = 6*6"},
		{"no classes", func(d *Dataset) { d.Classes = 0 }, "Classes = 0"},
		{"label too big", func(d *Dataset) { d.Y[3] = 3 }, "label 3 of example 3"},
		{"negative label", func(d *Dataset) { d.Y[2] = -1 }, "label -1 of example 2"},
		{"NaN", func(d *Dataset) { d.X[13] = float32(math.NaN()) }, "X[13] (example 2) is NaN"},
		{"Inf", func(d *Dataset) { d.X[0] = float32(math.Inf(-1)) }, "X[0] (example 0) is -Inf"},
	} {
		d := toy(5, 3)
		c.change(d)
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "train: ") {
			t.Errorf("%s: Validate() = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestDatasetSubset(t *testing.T) {
	d := toy(6, 4)
	orig := d.Clone()
	idx := []int{4, 0, 4, 5}
	s, err := d.Subset(idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Len() != len(idx) || !slices.Equal(s.Shape, d.Shape) || s.Classes != d.Classes {
		t.Fatalf("Subset: Len %d Shape %v Classes %d", s.Len(), s.Shape, s.Classes)
	}
	for k, i := range idx {
		if got := exampleID(t, s, k); got != i {
			t.Errorf("Subset example %d is toy row %d, want %d", k, got, i)
		}
	}
	// The result shares no memory with d.
	s.X[0], s.Y[0], s.Shape[0] = -1, 3, 7
	if !slices.Equal(d.X, orig.X) || !slices.Equal(d.Y, orig.Y) || !slices.Equal(d.Shape, orig.Shape) {
		t.Error("changing the Subset changed the source")
	}
	empty, err := d.Subset(nil)
	if err != nil || empty.Len() != 0 || len(empty.X) != 0 {
		t.Errorf("Subset(nil) = %v, %v", empty, err)
	}
	for _, bad := range [][]int{{0, 6}, {-1}, {2, 3, 100}} {
		if _, err := d.Subset(bad); err == nil || !strings.Contains(err.Error(), "outside [0, 6)") {
			t.Errorf("Subset(%v) error = %v", bad, err)
		}
	}
	broken := toy(3, 2)
	broken.X = broken.X[:5]
	if _, err := broken.Subset([]int{0}); err == nil {
		t.Error("Subset of a Dataset with a short X: no error")
	}
}

func TestDatasetSplit(t *testing.T) {
	d := toy(7, 3)
	for n := 0; n <= 7; n++ {
		a, b, err := d.Split(n)
		if err != nil {
			t.Fatalf("Split(%d): %v", n, err)
		}
		if a.Len() != n || b.Len() != 7-n {
			t.Fatalf("Split(%d) gave %d and %d examples", n, a.Len(), b.Len())
		}
		for k := range a.Len() {
			if id := exampleID(t, a, k); id != k {
				t.Errorf("Split(%d) first[%d] is row %d", n, k, id)
			}
		}
		for k := range b.Len() {
			if id := exampleID(t, b, k); id != n+k {
				t.Errorf("Split(%d) rest[%d] is row %d", n, k, id)
			}
		}
		if a.Validate() != nil || b.Validate() != nil {
			t.Errorf("Split(%d) gave an invalid part", n)
		}
		if n > 0 {
			a.X[0] = -5
			if d.X[0] != 0 {
				t.Fatal("changing Split's first part changed the source")
			}
		}
	}
	for _, n := range []int{-1, 8, math.MaxInt} {
		if _, _, err := d.Split(n); err == nil || !strings.Contains(err.Error(), "outside [0, 7]") {
			t.Errorf("Split(%d) error = %v", n, err)
		}
	}
}

func TestDatasetShuffled(t *testing.T) {
	d := toy(50, 7)
	orig := d.Clone()
	shuffled := func(rng *rand.Rand) *Dataset {
		t.Helper()
		s, err := d.Shuffled(rng)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := shuffled(rand.New(rand.NewPCG(1, 2)))
	b := shuffled(rand.New(rand.NewPCG(1, 2)))
	c := shuffled(rand.New(rand.NewPCG(3, 2)))
	if !slices.Equal(d.X, orig.X) || !slices.Equal(d.Y, orig.Y) {
		t.Fatal("Shuffled changed its receiver")
	}
	if !slices.Equal(a.X, b.X) || !slices.Equal(a.Y, b.Y) {
		t.Error("the same seed gave different orders")
	}
	if slices.Equal(a.X, c.X) {
		t.Error("different seeds gave the same order")
	}
	if slices.Equal(a.X, d.X) {
		t.Error("Shuffled returned the original order")
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, d.Len())
	for k := range a.Len() {
		id := exampleID(t, a, k)
		if seen[id] {
			t.Fatalf("row %d appears twice", id)
		}
		seen[id] = true
	}
	a.X[0] = -1
	if d.X[0] != orig.X[0] {
		t.Error("changing the shuffled copy changed the source")
	}
	// Every position receives every row about equally often.
	counts := make([]int, 5)
	rng := rand.New(rand.NewPCG(9, 9))
	small := toy(5, 5)
	for range 5000 {
		s, err := small.Shuffled(rng)
		if err != nil {
			t.Fatal(err)
		}
		counts[exampleID(t, s, 0)]++
	}
	for id, n := range counts {
		if n < 850 || n > 1150 { // expected 1000, standard deviation 28
			t.Errorf("row %d came first %d times of 5000", id, n)
		}
	}
	broken := toy(3, 2)
	broken.Y = broken.Y[:2]
	if _, err := broken.Shuffled(rng); err == nil {
		t.Error("Shuffled of an inconsistent Dataset returned no error")
	}
	if _, err := d.Shuffled(nil); err == nil {
		t.Error("Shuffled with a nil rng returned no error")
	}
}

func TestDatasetBatch(t *testing.T) {
	d := toy(11, 3)
	f := d.Features()
	x := make([]float32, 4*f)
	y := make([]int, 4)
	var got []int
	var sizes []int
	for start := 0; start < d.Len(); start += 4 {
		n := d.Batch(start, 4, x, y)
		sizes = append(sizes, n)
		b := &Dataset{X: x[:n*f], Y: y[:n], Shape: d.Shape, Classes: d.Classes}
		for k := range n {
			got = append(got, exampleID(t, b, k))
		}
	}
	if !slices.Equal(sizes, []int{4, 4, 3}) {
		t.Errorf("batch sizes %v, want [4 4 3]", sizes)
	}
	for i, id := range got {
		if id != i {
			t.Fatalf("batches visited rows %v, want 0..10 in order", got)
		}
	}
	for _, c := range []struct {
		name        string
		start, size int
		x           []float32
		y           []int
		want        int
	}{
		{"past the end", 11, 4, x, y, 0},
		{"negative start", -1, 4, x, y, 0},
		{"zero size", 0, 0, x, y, 0},
		{"negative size", 0, -3, x, y, 0},
		{"short y", 0, 4, x, y[:2], 2},
		{"short x", 0, 4, x[:3*f-1], y, 2},
		{"nil buffers", 0, 4, nil, nil, 0},
		{"size beyond buffers", 8, 100, x, y, 3},
	} {
		if n := d.Batch(c.start, c.size, c.x, c.y); n != c.want {
			t.Errorf("%s: Batch(%d, %d) = %d, want %d", c.name, c.start, c.size, n, c.want)
		}
	}
	broken := toy(3, 2)
	broken.X = broken.X[:7]
	if n := broken.Batch(0, 2, x, y); n != 0 {
		t.Errorf("Batch of an inconsistent Dataset = %d, want 0", n)
	}
	if allocs := testing.AllocsPerRun(100, func() { d.Batch(3, 4, x, y) }); allocs != 0 {
		t.Errorf("Batch allocates %v times per call", allocs)
	}
}

func TestDatasetMeanStd(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := &Dataset{Shape: []int{10}, Classes: 1, Y: make([]int, 1000)}
	for range 10000 {
		d.X = append(d.X, float32(3+2*rng.NormFloat64()))
	}
	// Reference: float64 two-pass over the same values.
	var sum float64
	for _, x := range d.X {
		sum += float64(x)
	}
	m := sum / float64(len(d.X))
	var ss float64
	for _, x := range d.X {
		ss += (float64(x) - m) * (float64(x) - m)
	}
	s := math.Sqrt(ss / float64(len(d.X)))
	mean, std := d.MeanStd()
	if mean != float32(m) || std != float32(s) {
		t.Fatalf("MeanStd = %v, %v, want %v, %v", mean, std, float32(m), float32(s))
	}
	if math.Abs(float64(mean)-3) > 0.1 || math.Abs(float64(std)-2) > 0.1 {
		t.Fatalf("MeanStd of N(3, 2) samples = %v, %v", mean, std)
	}
	d.Standardize(mean, std)
	m2, s2 := d.MeanStd()
	if math.Abs(float64(m2)) > 1e-5 || math.Abs(float64(s2)-1) > 1e-5 {
		t.Errorf("after Standardize: mean %v std %v, want 0 and 1", m2, s2)
	}

	// Constant data: std 0, Standardize only centres.
	c := &Dataset{X: []float32{2, 2, 2, 2}, Y: []int{0, 0}, Shape: []int{2}, Classes: 1}
	cm, cs := c.MeanStd()
	if cm != 2 || cs != 0 {
		t.Fatalf("MeanStd of constant data = %v, %v, want 2, 0", cm, cs)
	}
	c.Standardize(cm, cs)
	if !slices.Equal(c.X, []float32{0, 0, 0, 0}) {
		t.Errorf("Standardize(2, 0) = %v, want zeros", c.X)
	}
	c.X = []float32{1, 3, 5, 7}
	c.Standardize(1, float32(math.NaN()))
	if !slices.Equal(c.X, []float32{0, 2, 4, 6}) {
		t.Errorf("Standardize(1, NaN) = %v, want centred values", c.X)
	}
	if m, s := (&Dataset{}).MeanStd(); m != 0 || s != 0 {
		t.Errorf("MeanStd of nothing = %v, %v", m, s)
	}
}

func TestSplitsValidate(t *testing.T) {
	good := Splits{Train: toy(4, 3), Val: toy(2, 3), Test: toy(3, 3)}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	noVal := good
	noVal.Val = nil
	if err := noVal.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Splits{
		"no train":      {Test: toy(3, 3)},
		"no test":       {Train: toy(3, 3)},
		"classes":       {Train: toy(4, 3), Test: toy(3, 4)},
		"shape":         {Train: toy(4, 3), Test: &Dataset{Shape: []int{6}, Classes: 3}},
		"invalid val":   {Train: toy(4, 3), Val: &Dataset{Shape: []int{1, 2, 3}, Classes: 3, Y: []int{1}}, Test: toy(3, 3)},
		"invalid train": {Train: &Dataset{Shape: []int{1, 2, 3}, Classes: 3, Y: []int{5}, X: make([]float32, 6)}, Test: toy(3, 3)},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil", name)
		}
	}
}

// TestDigitsMatchesCSV parses the embedded file independently (encoding/csv,
// strconv) and compares every value and label.
func TestDigitsMatchesCSV(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1797 || !slices.Equal(d.Shape, []int{1, 8, 8}) || d.Classes != 10 || d.Features() != 64 {
		t.Fatalf("Digits: Len %d Shape %v Classes %d", d.Len(), d.Shape, d.Classes)
	}
	zr, err := gzip.NewReader(bytes.NewReader(digitsGz))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != d.Len() {
		t.Fatalf("csv has %d rows, Digits %d", len(rows), d.Len())
	}
	perClass := make([]int, 10)
	for i, row := range rows {
		if len(row) != 65 {
			t.Fatalf("csv row %d has %d fields", i, len(row))
		}
		for j := range 64 {
			v, err := strconv.Atoi(row[j])
			if err != nil {
				t.Fatal(err)
			}
			if got := d.X[i*64+j]; got != float32(v)/16 {
				t.Fatalf("example %d pixel %d = %v, want %d/16", i, j, got, v)
			}
		}
		y, err := strconv.Atoi(row[64])
		if err != nil {
			t.Fatal(err)
		}
		if d.Y[i] != y {
			t.Fatalf("example %d label %d, want %d", i, d.Y[i], y)
		}
		perClass[y]++
	}
	for c, n := range perClass {
		if n < 170 || n > 190 {
			t.Errorf("class %d has %d examples; the set has about 180 of each", c, n)
		}
	}
}

func TestDigitsReturnsCopy(t *testing.T) {
	a, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	want := a.Clone()
	a.X[0], a.Y[0], a.Shape[0], a.Classes = 99, 7, 3, 2
	a.Standardize(0.5, 0.25)
	b, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.X, want.X) || !slices.Equal(b.Y, want.Y) || !slices.Equal(b.Shape, want.Shape) || b.Classes != 10 {
		t.Error("changing one result of Digits changed the next")
	}
}

func TestDigitsConcurrent(t *testing.T) {
	done := make(chan *Dataset)
	for range 4 {
		go func() {
			d, err := Digits()
			if err != nil {
				t.Error(err)
			}
			d.X[5] = 1 // each caller owns its copy
			done <- d
		}()
	}
	for range 4 {
		if d := <-done; d != nil && d.Len() != DigitsLen {
			t.Errorf("Len %d", d.Len())
		}
	}
}

func TestParseDigitsErrors(t *testing.T) {
	row := func(label string, pix ...string) string {
		p := make([]string, 64)
		for i := range p {
			p[i] = "0"
		}
		copy(p, pix)
		return strings.Join(append(p, label), ",")
	}
	good := row("3", "16", "1") + "\n"
	d, err := parseDigits([]byte(good + row("9")))
	if err != nil {
		t.Fatalf("two good rows, the last without a newline: %v", err)
	}
	if d.Len() != 2 || d.Y[0] != 3 || d.Y[1] != 9 || d.X[0] != 1 || d.X[1] != 1.0/16 {
		t.Fatalf("parsed %v %v", d.Y, d.X[:2])
	}
	for _, c := range []struct {
		name, text, want string
	}{
		{"empty file", "", "empty"},
		{"blank line", good + "\n" + good, "line 2 is empty"},
		{"trailing blank line", good + "\n", "line 2 is empty"},
		{"too few columns", good + strings.Repeat("0,", 63) + "1\n", "line 2 has 64 columns, want 65"},
		{"too many columns", good + row("1") + ",0\n", "line 2 has more than 65 columns"},
		{"non-integer", good + row("1", "0", "x") + "\n", "line 2, column 2: \"x\" is not an unsigned integer"},
		{"float", good + row("1", "1.5") + "\n", "line 2, column 1"},
		{"negative", good + row("1", "-1") + "\n", "line 2, column 1"},
		{"plus sign", row("1", "+1") + "\n", "line 1, column 1"},
		{"space", good + row("1", " 1") + "\n", "line 2, column 1"},
		{"CRLF", row("1") + "\r\n", "line 1, column 65"},
		{"empty field", good + row("1", "") + "\n", "line 2, column 1: empty value"},
		{"pixel 17", good + good + row("0", "0", "0", "17") + "\n", "line 3, column 3: pixel value 17 is outside 0..16"},
		{"huge pixel", row("0", "99999999999999999999") + "\n", "line 1, column 1: \"99999999999999999999\" is out of range"},
		{"label 10", good + row("10") + "\n", "line 2, column 65: label 10 is outside 0..9"},
	} {
		_, err := parseDigits([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "train: digits: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := parseDigitsGz([]byte("not gzip")); err == nil {
		t.Error("parseDigitsGz of non-gzip data: no error")
	}
	corrupt := slices.Clone(digitsGz)
	corrupt[len(corrupt)-6] ^= 0xff // inside the CRC-32 of the gzip trailer
	if _, err := parseDigitsGz(corrupt); err == nil {
		t.Error("parseDigitsGz with a bad checksum: no error")
	}
}

// FuzzParseDigits checks that the digits parser never panics and that what
// it accepts is a valid Dataset of whole rows.
func FuzzParseDigits(f *testing.F) {
	zr, err := gzip.NewReader(bytes.NewReader(digitsGz))
	if err != nil {
		f.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	f.Add(bytes.Join(lines[:3], nil))
	f.Add(bytes.TrimSuffix(lines[0], []byte("\n")))
	f.Add([]byte(strings.Repeat("16,", 64) + "9\n"))
	f.Add([]byte(strings.Repeat("1,", 64) + "10\n"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDigits(b)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parseDigits accepted %q but Validate says %v", b, err)
		}
		if d.Len() == 0 || len(d.X) != 64*d.Len() {
			t.Fatalf("parseDigits accepted %q with %d rows", b, d.Len())
		}
		for _, x := range d.X {
			if x < 0 || x > 1 {
				t.Fatalf("value %v outside [0, 1]", x)
			}
		}
	})
}

// key identifies an example by its values and label.
func key(d *Dataset, i int) string {
	f := d.Features()
	return fmt.Sprint(d.X[i*f:(i+1)*f], d.Y[i])
}

// multiset counts the examples of the given sets.
func multiset(sets ...*Dataset) map[string]int {
	m := map[string]int{}
	for _, d := range sets {
		if d == nil {
			continue
		}
		for i := range d.Len() {
			m[key(d, i)]++
		}
	}
	return m
}

func sameMultiset(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, n := range a {
		if b[k] != n {
			return false
		}
	}
	return true
}

func TestLoadDigits(t *testing.T) {
	all, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	whole := multiset(all)
	var firstTest *Dataset
	for _, c := range []struct {
		val  int
		seed uint64
	}{{0, 1}, {300, 1}, {300, 2}, {1436, 7}} {
		s, err := Load("digits", c.val, c.seed)
		if err != nil {
			t.Fatalf("Load(digits, %d, %d): %v", c.val, c.seed, err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.Test.Len() != 360 || s.Train.Len() != 1797-360-c.val {
			t.Errorf("val %d: train %d test %d", c.val, s.Train.Len(), s.Test.Len())
		}
		if c.val == 0 && s.Val != nil {
			t.Error("val 0 gave a validation set")
		}
		if c.val > 0 && (s.Val == nil || s.Val.Len() != c.val) {
			t.Errorf("val %d: validation set %v", c.val, s.Val)
		}
		if !sameMultiset(multiset(s.Train, s.Val, s.Test), whole) {
			t.Errorf("val %d seed %d: train, val and test are not a partition of the digits", c.val, c.seed)
		}
		if s.Train.Name != "digits-train" || s.Test.Name != "digits-test" {
			t.Errorf("names %q %q", s.Train.Name, s.Test.Name)
		}
		// The test set is the same for every seed and val.
		if firstTest == nil {
			firstTest = s.Test
		} else if !slices.Equal(firstTest.X, s.Test.X) || !slices.Equal(firstTest.Y, s.Test.Y) {
			t.Errorf("val %d seed %d: a different test set", c.val, c.seed)
		}
		// Every class is in the test set.
		seen := map[int]int{}
		for _, y := range s.Test.Y {
			seen[y]++
		}
		if len(seen) != 10 {
			t.Errorf("test set has %d classes", len(seen))
		}
	}
	a, _ := Load("digits", 300, 1)
	b, _ := Load("digits", 300, 1)
	c, _ := Load("digits", 300, 2)
	if !slices.Equal(a.Val.X, b.Val.X) || !slices.Equal(a.Train.Y, b.Train.Y) {
		t.Error("the same seed gave different validation sets")
	}
	if slices.Equal(a.Val.X, c.Val.X) {
		t.Error("seeds 1 and 2 gave the same validation set")
	}
	for _, val := range []int{-1, 1437, 5000} {
		if _, err := Load("digits", val, 1); err == nil {
			t.Errorf("Load(digits, %d): no error", val)
		}
	}
}

func TestLoadUnknownSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{
		"mnist":                      `unknown data source "mnist": it is not "digits" and no such folder exists`,
		"":                           "unknown data source",
		filepath.Join(dir, "absent"): "no such folder",
		file:                         "it is a file, not a folder",
		dir:                          "has no file train-images-idx3-ubyte",
	} {
		_, err := Load(src, 0, 1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q): %v, want an error containing %q", src, err, want)
		}
	}
}
