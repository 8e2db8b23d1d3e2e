package train

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encodeIDX writes an IDX file of element type typ, independently of the
// reader under test.
func encodeIDX(typ byte, dims []int, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthIDX returns n images of h×w random bytes and n labels below classes.
func synthIDX(rng *rand.Rand, n, h, w, classes int) (images, labels []byte) {
	images = make([]byte, n*h*w)
	for i := range images {
		images[i] = byte(rng.IntN(256))
	}
	labels = make([]byte, n)
	for i := range labels {
		labels[i] = byte(rng.IntN(classes))
	}
	return images, labels
}

type idxSet struct {
	n, h, w        int
	images, labels []byte
}

// writeIDXDir writes the four files of an MNIST folder into dir, with the
// file names spelled by name (e.g. adding ".gz") and gzipped when gz is set.
func writeIDXDir(t *testing.T, dir string, tr, te idxSet, name func(string) string, gz bool) {
	t.Helper()
	write := func(base string, content []byte) {
		if gz {
			content = gzipBytes(t, content)
		}
		if err := os.WriteFile(filepath.Join(dir, name(base)), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train-images-idx3-ubyte", encodeIDX(8, []int{tr.n, tr.h, tr.w}, tr.images))
	write("train-labels-idx1-ubyte", encodeIDX(8, []int{tr.n}, tr.labels))
	write("t10k-images-idx3-ubyte", encodeIDX(8, []int{te.n, te.h, te.w}, te.images))
	write("t10k-labels-idx1-ubyte", encodeIDX(8, []int{te.n}, te.labels))
}

func newIDXSet(rng *rand.Rand, n, h, w, classes int) idxSet {
	im, lb := synthIDX(rng, n, h, w, classes)
	return idxSet{n, h, w, im, lb}
}

func TestReadIDX(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	im, _ := synthIDX(rng, 5, 3, 4, 10)
	for _, c := range []struct {
		name string
		dims []int
		data []byte
	}{
		{"images", []int{5, 3, 4}, im},
		{"vector", []int{7}, im[:7]},
		{"four dims", []int{1, 2, 3, 2}, im[:12]},
		{"empty", []int{0, 28, 28}, nil},
	} {
		file := encodeIDX(8, c.dims, c.data)
		for _, gz := range []bool{false, true} {
			in := file
			if gz {
				in = gzipBytes(t, file)
			}
			idx, err := ReadIDX(bytes.NewReader(in))
			if err != nil {
				t.Fatalf("%s (gzip %v): %v", c.name, gz, err)
			}
			if !slices.Equal(idx.Dims, c.dims) || !bytes.Equal(idx.Data, c.data) {
				t.Errorf("%s (gzip %v): got dims %v and %d bytes", c.name, gz, idx.Dims, len(idx.Data))
			}
		}
	}
}

func TestReadIDXLarge(t *testing.T) {
	// More than the 1 MiB first buffer, so that readExact grows it.
	rng := rand.New(rand.NewPCG(2, 2))
	im, _ := synthIDX(rng, 3000, 28, 28, 10)
	idx, err := ReadIDX(bytes.NewReader(gzipBytes(t, encodeIDX(8, []int{3000, 28, 28}, im))))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(idx.Data, im) {
		t.Error("data differ")
	}
}

func TestReadIDXErrors(t *testing.T) {
	valid := encodeIDX(8, []int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	gz := gzipBytes(t, valid)
	badCRC := slices.Clone(gz)
	badCRC[len(badCRC)-8] ^= 1
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "the input is empty"},
		{"short header", []byte{0, 0, 8}, "truncated header: 3 of 4 bytes"},
		{"bad magic", []byte{1, 2, 8, 1, 0, 0, 0, 0}, "bad magic number 01 02 08 01"},
		{"text", []byte("hello, world"), "not an IDX file"},
		{"float32", encodeIDX(0x0D, []int{1}, []byte{0, 0, 0, 0}), "element type 0x0d (float32) is not supported"},
		{"int32", encodeIDX(0x0C, []int{1}, []byte{0, 0, 0, 0}), "0x0c (int32)"},
		{"unknown type", encodeIDX(0x42, []int{1}, []byte{0}), "unknown element type 0x42"},
		{"no dims", encodeIDX(8, nil, nil), "no dimensions"},
		{"short dims", valid[:9], "truncated dimensions: 5 of 8 bytes"},
		{"short data", valid[:len(valid)-1], "truncated data: 5 of 6 bytes"},
		{"no data", valid[:12], "truncated data: 0 of 6 bytes"},
		{"trailing", append(slices.Clone(valid), 0), "trailing bytes after the 6 data bytes"},
		{"too many", encodeIDX(8, []int{1 << 16, 1 << 16}, nil), "more than MaxIDXElements"},
		{"overflow", encodeIDX(8, []int{1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil), "more than MaxIDXElements"},
		{"gzip truncated", gz[:len(gz)-10], "gzip"},
		{"gzip bad checksum", badCRC, "checksum"},
		{"gzip of garbage", gzipBytes(t, []byte("garbage!")), "bad magic"},
		{"gzip trailing", gzipBytes(t, append(slices.Clone(valid), 9)), "trailing bytes"},
		{"gzip header only", []byte{0x1f, 0x8b}, "gzip"},
	} {
		_, err := ReadIDX(bytes.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "train: IDX: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	_, err := ReadIDX(bytes.NewReader(badCRC))
	if !errors.Is(err, gzip.ErrChecksum) {
		t.Errorf("bad checksum: error %v does not wrap gzip.ErrChecksum", err)
	}
}

// TestReadIDXHostileHeader checks that a header claiming 2^31-1 elements in a
// small file is rejected without allocating anything near that.
func TestReadIDXHostileHeader(t *testing.T) {
	in := encodeIDX(8, []int{MaxIDXElements}, make([]byte, 100))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadIDX(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated data: 100 of 2147483647 bytes") {
		t.Fatalf("error %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("ReadIDX allocated %d bytes for a 100-byte file", got)
	}
}

func TestLoadIDX(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	tr := newIDXSet(rng, 30, 5, 7, 10)
	te := newIDXSet(rng, 12, 5, 7, 10)
	tr.labels[4] = 9 // at least one 9, so that Classes is 10 from the data too
	for _, c := range []struct {
		name string
		file func(string) string
		gz   bool
	}{
		{"plain", func(s string) string { return s }, false},
		{"gz", func(s string) string { return s + ".gz" }, true},
		{"gzip without .gz", func(s string) string { return s }, true},
		{"dotted", func(s string) string { return strings.Replace(s, "-idx", ".idx", 1) }, false},
		{"dotted gz", func(s string) string { return strings.Replace(s, "-idx", ".idx", 1) + ".gz" }, true},
	} {
		dir := filepath.Join(t.TempDir(), "my-mnist")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeIDXDir(t, dir, tr, te, c.file, c.gz)
		train, test, err := LoadIDX(dir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, p := range []struct {
			d   *Dataset
			set idxSet
			nm  string
		}{{train, tr, "my-mnist-train"}, {test, te, "my-mnist-test"}} {
			d := p.d
			if err := d.Validate(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if d.Name != p.nm || d.Len() != p.set.n || !slices.Equal(d.Shape, []int{1, 5, 7}) || d.Classes != 10 {
				t.Fatalf("%s: %q Len %d Shape %v Classes %d", c.name, d.Name, d.Len(), d.Shape, d.Classes)
			}
			for i, b := range p.set.images {
				if d.X[i] != float32(b)/255 {
					t.Fatalf("%s: X[%d] = %v, want %d/255", c.name, i, d.X[i], b)
				}
			}
			for i, b := range p.set.labels {
				if d.Y[i] != int(b) {
					t.Fatalf("%s: Y[%d] = %d, want %d", c.name, i, d.Y[i], b)
				}
			}
		}
	}
}

func TestLoadIDXClasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, c := range []struct {
		trainMax, testMax byte
		want              int
	}{{3, 2, 10}, {9, 9, 10}, {25, 3, 26}, {4, 26, 27}} {
		tr := newIDXSet(rng, 8, 2, 2, 3)
		te := newIDXSet(rng, 4, 2, 2, 3)
		tr.labels[0], te.labels[1] = c.trainMax, c.testMax
		dir := t.TempDir()
		writeIDXDir(t, dir, tr, te, func(s string) string { return s }, false)
		train, test, err := LoadIDX(dir)
		if err != nil {
			t.Fatal(err)
		}
		if train.Classes != c.want || test.Classes != c.want {
			t.Errorf("largest labels %d and %d: Classes %d and %d, want %d",
				c.trainMax, c.testMax, train.Classes, test.Classes, c.want)
		}
	}
}

func TestLoadIDXErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	same := func(s string) string { return s }
	tr := newIDXSet(rng, 6, 4, 4, 10)
	te := newIDXSet(rng, 3, 4, 4, 10)
	overwrite := func(dir, file string, content []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		change func(dir string)
		want   string
	}{
		{"missing labels", func(dir string) { os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte")) },
			"has no file t10k-labels-idx1-ubyte"},
		{"count mismatch", func(dir string) {
			overwrite(dir, "train-labels-idx1-ubyte", encodeIDX(8, []int{5}, tr.labels[:5]))
		}, "has 5 labels but"},
		{"images 2-D", func(dir string) {
			overwrite(dir, "train-images-idx3-ubyte", encodeIDX(8, []int{6, 16}, tr.images))
		}, "images have 2 dimensions [6 16], want 3"},
		{"labels 2-D", func(dir string) {
			overwrite(dir, "t10k-labels-idx1-ubyte", encodeIDX(8, []int{3, 1}, te.labels))
		}, "labels have 2 dimensions"},
		{"no images", func(dir string) {
			overwrite(dir, "t10k-images-idx3-ubyte", encodeIDX(8, []int{0, 4, 4}, nil))
			overwrite(dir, "t10k-labels-idx1-ubyte", encodeIDX(8, []int{0}, nil))
		}, "no images"},
		{"sizes differ", func(dir string) {
			overwrite(dir, "t10k-images-idx3-ubyte", encodeIDX(8, []int{3, 2, 8}, te.images))
		}, "training images are 4×4 but test images are 2×8"},
		{"truncated file", func(dir string) {
			overwrite(dir, "train-images-idx3-ubyte", encodeIDX(8, []int{6, 4, 4}, tr.images[:50]))
		}, "train-images-idx3-ubyte: truncated data"},
		{"float file", func(dir string) {
			overwrite(dir, "train-labels-idx1-ubyte", encodeIDX(0x0D, []int{6}, make([]byte, 24)))
		}, "(float32) is not supported"},
	} {
		dir := t.TempDir()
		writeIDXDir(t, dir, tr, te, same, false)
		c.change(dir)
		_, _, err := LoadIDX(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "train: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, _, err := LoadIDX(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("LoadIDX of a missing folder: no error")
	}
}

func TestLoadIDXFolder(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tr := newIDXSet(rng, 40, 3, 3, 10)
	te := newIDXSet(rng, 9, 3, 3, 10)
	writeIDXDir(t, dir, tr, te, func(s string) string { return s + ".gz" }, true)
	full, test, err := LoadIDX(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, val := range []int{0, 10, 39} {
		s, err := Load(dir, val, 11)
		if err != nil {
			t.Fatalf("val %d: %v", val, err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.Train.Len() != 40-val || (val > 0 && s.Val.Len() != val) || (val == 0 && s.Val != nil) {
			t.Fatalf("val %d: train %d val %v", val, s.Train.Len(), s.Val)
		}
		if !slices.Equal(s.Test.X, test.X) || !slices.Equal(s.Test.Y, test.Y) || s.Test.Name != "tiny-test" {
			t.Errorf("val %d: the test set is not the t10k files", val)
		}
		if !sameMultiset(multiset(s.Train, s.Val), multiset(full)) {
			t.Errorf("val %d: train and val are not a partition of the training files", val)
		}
		if s.Train.Name != "tiny-train" || (s.Val != nil && s.Val.Name != "tiny-val") {
			t.Errorf("names %q %v", s.Train.Name, s.Val)
		}
	}
	a, _ := Load(dir, 10, 1)
	b, _ := Load(dir, 10, 1)
	c, _ := Load(dir, 10, 2)
	if !slices.Equal(a.Val.X, b.Val.X) {
		t.Error("the same seed gave different validation sets")
	}
	if slices.Equal(a.Val.X, c.Val.X) {
		t.Error("seeds 1 and 2 gave the same validation set")
	}
	for _, val := range []int{40, 41, -1} {
		if _, err := Load(dir, val, 1); err == nil {
			t.Errorf("Load(dir, %d): no error", val)
		}
	}
}

const fashionDir = "/usr/share/datasets/fashion-mnist"

func TestLoadIDXFashionMNIST(t *testing.T) {
	if _, err := os.Stat(fashionDir); err != nil {
		t.Skipf("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist puts it in %s): %v", fashionDir, err)
	}
	if testing.Short() {
		t.Skip("-short: skipping the 30 MB Fashion-MNIST load")
	}
	train, test, err := LoadIDX(fashionDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d *Dataset
		n int
	}{{train, 60000}, {test, 10000}} {
		if err := c.d.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.d.Len() != c.n || !slices.Equal(c.d.Shape, []int{1, 28, 28}) || c.d.Classes != 10 {
			t.Errorf("%s: Len %d Shape %v Classes %d", c.d.Name, c.d.Len(), c.d.Shape, c.d.Classes)
		}
		// Fashion-MNIST is balanced: a tenth of each set per class.
		per := make([]int, 10)
		for _, y := range c.d.Y {
			per[y]++
		}
		for k, n := range per {
			if n != c.n/10 {
				t.Errorf("%s: class %d has %d examples, want %d", c.d.Name, k, n, c.n/10)
			}
		}
	}
}

func BenchmarkDigitsParse(b *testing.B) {
	for b.Loop() {
		if _, err := parseDigitsGz(digitsGz); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadIDXFashionMNIST(b *testing.B) {
	if _, err := os.Stat(fashionDir); err != nil {
		b.Skipf("Fashion-MNIST is not installed in %s: %v", fashionDir, err)
	}
	for b.Loop() {
		if _, _, err := LoadIDX(fashionDir); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadIDX checks that ReadIDX never panics, that what it accepts is
// consistent, and that an uncompressed file it accepts is exactly the
// encoding of what it returned.
func FuzzReadIDX(f *testing.F) {
	f.Add(encodeIDX(8, []int{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(encodeIDX(8, []int{3}, []byte{7, 8, 9}))
	f.Add(encodeIDX(8, []int{1, 2, 2, 1}, []byte{0, 255, 1, 254}))
	f.Add(encodeIDX(8, []int{0, 28, 28}, nil))
	f.Add(encodeIDX(0x0D, []int{1}, []byte{0, 0, 128, 63}))
	f.Add(gzipBytes(f, encodeIDX(8, []int{2, 2}, []byte{1, 2, 3, 4})))
	f.Add([]byte{0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		idx, err := ReadIDX(bytes.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "train: IDX: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		n := 1
		for _, d := range idx.Dims {
			n *= d
		}
		if len(idx.Dims) == 0 || n != len(idx.Data) || n > MaxIDXElements {
			t.Fatalf("dims %v but %d bytes", idx.Dims, len(idx.Data))
		}
		if len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b {
			return
		}
		if !bytes.Equal(encodeIDX(8, idx.Dims, idx.Data), in) {
			t.Fatalf("ReadIDX accepted %x, which is not the encoding of dims %v and its data", in, idx.Dims)
		}
	})
}

// FuzzIDXDataset checks that any pair of image and label files that decode
// either give a valid Dataset or an error, never a panic.
func FuzzIDXDataset(f *testing.F) {
	f.Add(encodeIDX(8, []int{2, 2, 2}, []byte{0, 1, 2, 3, 4, 5, 6, 255}), encodeIDX(8, []int{2}, []byte{0, 9}))
	f.Add(encodeIDX(8, []int{1, 1, 3}, []byte{0, 1, 2}), encodeIDX(8, []int{1}, []byte{200}))
	f.Add(encodeIDX(8, []int{2, 4}, make([]byte, 8)), encodeIDX(8, []int{2}, []byte{1, 2}))
	f.Add(encodeIDX(8, []int{0, 4, 4}, nil), encodeIDX(8, []int{0}, nil))
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		im, err := ReadIDX(bytes.NewReader(images))
		if err != nil {
			return
		}
		lb, err := ReadIDX(bytes.NewReader(labels))
		if err != nil {
			return
		}
		d, most, err := idxDataset("fuzz", im, lb, "images", "labels")
		if err != nil {
			return
		}
		d.Classes = max(10, most+1)
		if err := d.Validate(); err != nil {
			t.Fatalf("idxDataset gave an invalid Dataset: %v", err)
		}
	})
}
