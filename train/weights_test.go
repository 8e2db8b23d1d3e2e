package train

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

func testWeights(t testing.TB, dt tensor.Dtype, seed uint64) (Model, *Weights) {
	t.Helper()
	m, err := LeNet5([]int{1, 8, 8}, 10)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWeights(m, dt, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return m, w
}

func TestNewWeights(t *testing.T) {
	m, a := testWeights(t, tensor.Float32, 1)
	_, b := testWeights(t, tensor.Float32, 1)
	_, c := testWeights(t, tensor.Float32, 2)
	if !a.Equal(b) {
		t.Error("same seed, different weights")
	}
	if a.Equal(c) {
		t.Error("different seeds, same weights")
	}
	if err := a.Matches(m); err != nil {
		t.Error(err)
	}
	_, d64 := testWeights(t, tensor.Float64, 1)
	if d64.Dtype() != tensor.Float64 || a.Dtype() != tensor.Float32 {
		t.Error("dtypes")
	}
	// float64 weights of a seed round to the float32 weights of that seed.
	for _, n := range a.Names() {
		f32, f64 := a.Tensor(n).Float32s(), d64.Tensor(n).Float64s()
		for i := range f32 {
			if f32[i] != float32(f64[i]) {
				t.Fatalf("%s[%d]: float32 %v, float64 %v", n, i, f32[i], f64[i])
			}
		}
	}
	if got := strings.Join(a.Names(), " "); got != "conv1.w conv1.b conv2.w conv2.b fc1.w fc1.b fc2.w fc2.b fc3.w fc3.b" {
		t.Errorf("names %s", got)
	}
	var pr []string
	for _, p := range a.Prunable() {
		pr = append(pr, p.Name)
		if p.Value != a.Tensor(p.Name) {
			t.Errorf("Prunable %s does not share memory", p.Name)
		}
	}
	if strings.Join(pr, " ") != "conv1.w conv2.w fc1.w fc2.w fc3.w" {
		t.Errorf("prunable %v", pr)
	}
	if len(a.Params()) != 10 || a.Tensor("nope") != nil || !a.IsPrunable("fc1.w") || a.IsPrunable("fc1.b") {
		t.Error("Params/Tensor/IsPrunable")
	}
	for _, n := range a.Names() {
		if strings.HasSuffix(n, ".b") {
			for _, v := range a.Tensor(n).Float32s() {
				if v != 0 {
					t.Errorf("bias %s not zero", n)
				}
			}
		}
	}
	// zero dtype means float32
	if _, w := testWeights(t, tensor.Dtype{}, 1); !w.Equal(a) {
		t.Error("zero Dtype is not float32")
	}
	if _, err := NewWeights(m, tensor.Int, rand.New(rand.NewPCG(1, 0))); err == nil {
		t.Error("accepted dtype int")
	}
	if _, err := NewWeights(m, tensor.Float32, nil); err == nil {
		t.Error("accepted a nil rng")
	}
	if _, err := NewWeights(nil, tensor.Float32, rand.New(rand.NewPCG(1, 0))); err == nil {
		t.Error("accepted a nil model")
	}
}

func TestWeightsCloneCopy(t *testing.T) {
	_, a := testWeights(t, tensor.Float32, 1)
	c := a.Clone()
	if !c.Equal(a) {
		t.Fatal("clone differs")
	}
	a.Tensor("fc1.w").Float32s()[3] = 42
	if c.Equal(a) || c.Tensor("fc1.w").Float32s()[3] == 42 {
		t.Fatal("clone shares memory")
	}
	if err := c.CopyFrom(a); err != nil || !c.Equal(a) {
		t.Fatal("CopyFrom", err)
	}
	_, b64 := testWeights(t, tensor.Float64, 1)
	if err := c.CopyFrom(b64); err == nil {
		t.Error("CopyFrom accepted another dtype")
	}
	m2, _ := LeNet300100([]int{64}, 10)
	if err := a.Matches(m2); err == nil {
		t.Error("Matches accepted another model")
	}
}

func TestWeightsFileRoundTrip(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		_, w := testWeights(t, dt, 3)
		var buf bytes.Buffer
		n, err := w.WriteTo(&buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatal(n, err)
		}
		data := buf.Bytes()
		if string(data[:8]) != "SHRWGHT\x00" {
			t.Errorf("magic %q", data[:8])
		}
		r, err := ReadWeights(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Equal(w) {
			t.Fatal("round trip changed the weights")
		}
		path := filepath.Join(t.TempDir(), "w.shw")
		if err := w.Save(path); err != nil {
			t.Fatal(err)
		}
		l, err := LoadWeights(path)
		if err != nil || !l.Equal(w) {
			t.Fatal("Save/Load", err)
		}
		// corruption, truncation, foreign files
		bad := append([]byte(nil), data...)
		bad[len(bad)/2] ^= 1
		if _, err := ReadWeights(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("corrupted file: %v", err)
		}
		if _, err := ReadWeights(bytes.NewReader(data[:len(data)-5])); err == nil {
			t.Error("truncated file accepted")
		}
		if _, err := ReadWeights(strings.NewReader("SHRMASK\x00whatever")); !errors.Is(err, envelope.ErrForeign) {
			t.Errorf("foreign file: %v", err)
		}
		if _, err := LoadWeights(filepath.Join(t.TempDir(), "missing")); err == nil {
			t.Error("missing file accepted")
		}
	}
	// a payload that passes the checksum but lies about its content
	for _, payload := range [][]byte{
		{9, 1, 0, 0, 0},               // unknown dtype
		{1, 0, 0, 0, 0},               // no tensors
		{1, 200, 0, 0, 0, 1, 0, 'a'},  // too many tensors
		{1, 1, 0, 0, 0, 1, 0, 'a', 0}, // truncated
		{1, 1, 0, 0, 0, 1, 0, 'a', 0, 1, 255, 255, 255, 255}, // huge shape
	} {
		var buf bytes.Buffer
		envelope.Write(&buf, weightsMagic, weightsVersion, payload)
		if _, err := ReadWeights(&buf); err == nil {
			t.Errorf("payload %v accepted", payload)
		}
	}
}

func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	_, w := testWeights(t, tensor.Float32, 1)
	path := filepath.Join(dir, "w")
	if err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left %d files, want 1", len(entries))
	}
	if err := w.Save(filepath.Join(dir, "no", "such", "dir")); err == nil {
		t.Error("Save into a missing folder succeeded")
	}
}

func FuzzReadWeights(f *testing.F) {
	_, w := testWeights(f, tensor.Float32, 1)
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f.Add(buf.Bytes())
	m, _ := MLP([]int{2}, nil, 2)
	w2, _ := NewWeights(m, tensor.Float64, rand.New(rand.NewPCG(1, 1)))
	buf.Reset()
	w2.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("SHRWGHT\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ReadWeights(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := w.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		w2, err := ReadWeights(&out)
		if err != nil || !w2.Equal(w) {
			t.Fatal("re-encoding changed the weights", err)
		}
		_ = prune.NewMasks(w.Prunable())
	})
}
