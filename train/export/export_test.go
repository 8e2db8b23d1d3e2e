package export

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/tensor"
)

// ticket returns LeNet-300-100 for 28×28 inputs with its initial weights
// pruned globally by magnitude to remaining (none when 1).
func ticket(t testing.TB, remaining float64) (train.Model, *train.Weights, *prune.Masks) {
	t.Helper()
	m, err := train.LeNet300100([]int{1, 28, 28}, 10)
	if err != nil {
		t.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	// non-zero biases, so that the test sees them
	for _, name := range []string{"fc1.b", "fc2.b", "fc3.b"} {
		b := w.Tensor(name).Float32s()
		for i := range b {
			b[i] = float32(i%7) / 100
		}
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if remaining < 1 {
		if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(1 - remaining)}).Prune(ms, params); err != nil {
			t.Fatal(err)
		}
		if err := ms.Apply(params); err != nil {
			t.Fatal(err)
		}
	}
	return m, w, ms
}

func inputs(n int) []float32 {
	rng := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, n*784)
	for i := range x {
		if rng.IntN(2) == 0 {
			x[i] = rng.Float32()
		}
	}
	return x
}

// TestRoundTrip32 writes a ticket at 32 bits and reads it back: the
// logits are those of the original weights bit for bit, the masks the same.
func TestRoundTrip32(t *testing.T) {
	for _, remaining := range []float64{1, 0.5, 0.07, 0.005} {
		m, w, ms := ticket(t, remaining)
		path := filepath.Join(t.TempDir(), "m.shx")
		rep, err := Save(path, m, []int{1, 28, 28}, w, ms, Options{Bits: 32})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if int(fi.Size()) != rep.Bytes {
			t.Errorf("report says %d bytes, the file has %d", rep.Bytes, fi.Size())
		}
		if rep.DenseBytes != 4*266610 {
			t.Errorf("dense bytes %d, want %d", rep.DenseBytes, 4*266610)
		}
		sum := 0
		for _, l := range rep.Layers {
			sum += l.Bytes
		}
		if sum >= rep.Bytes || rep.Bytes-sum > 200 {
			t.Errorf("layers %d bytes of %d", sum, rep.Bytes)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "lenet300100" || got.Bits != 32 || len(got.Layers) != 3 || got.Weight[1] != "fc2.w" || got.Bias[2] != "fc3.b" {
			t.Fatalf("decoded %s %v bits %d, %d layers, %v %v", got.Name, got.Input, got.Bits, len(got.Layers), got.Weight, got.Bias)
		}
		for i, l := range got.Layers {
			mk := ms.At(i)
			for j := 0; j < mk.Len(); j++ {
				if kept := l.Keep == nil || l.Keep[j]; kept != mk.Keeps(j) {
					t.Fatalf("layer %d: position %d kept %v, mask %v", i, j, kept, mk.Keeps(j))
				}
			}
		}
		want, err := infer.New(m, []int{1, 28, 28}, w, ms, train.KernelsDense)
		if err != nil {
			t.Fatal(err)
		}
		e, err := got.Engine(train.KernelsAuto)
		if err != nil {
			t.Fatal(err)
		}
		x := inputs(7)
		zw, _ := want.Run(x, 7)
		zw = append([]float32(nil), zw...)
		zg, _ := e.Run(x, 7)
		for i := range zw {
			if math.Float32bits(zw[i]) != math.Float32bits(zg[i]) {
				t.Fatalf("remaining %v: logit %d: %v after the round trip, %v before", remaining, i, zg[i], zw[i])
			}
		}
	}
}

// TestQuantised checks the 8-bit and k-bit encodings: every weight within
// half a step of its original (8 bits), the codebook's values (k bits), and
// the sizes.
func TestQuantised(t *testing.T) {
	m, w, ms := ticket(t, 0.07)
	var prev int
	for _, bits := range []int{8, 6, 5, 4, 2, 1} {
		data, rep, err := Encode(m, []int{1, 28, 28}, w, ms, Options{Bits: bits})
		if err != nil {
			t.Fatal(err)
		}
		if prev != 0 && len(data) >= prev {
			t.Errorf("%d bits: %d bytes, not fewer than with more bits (%d)", bits, len(data), prev)
		}
		prev = len(data)
		got, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range got.Layers {
			orig := w.Tensor(got.Weight[i]).Float32s()
			book := map[float32]bool{}
			for j, v := range l.W {
				if !ms.At(i).Keeps(j) {
					if v != 0 {
						t.Fatalf("%d bits: pruned weight %d of layer %d is %v", bits, j, i, v)
					}
					continue
				}
				book[v] = true
				if bits == 8 {
					colMax := float32(0)
					for r := 0; r < l.In; r++ {
						colMax = max(colMax, float32(math.Abs(float64(orig[r*l.Out+j%l.Out]))))
					}
					if d := math.Abs(float64(v - orig[j])); d > float64(colMax)/127/2*1.0001 {
						t.Fatalf("8 bits: weight %d of layer %d: %v for %v", j, i, v, orig[j])
					}
				}
			}
			if bits < 8 && len(book) > 1<<bits {
				t.Errorf("%d bits: layer %d uses %d values", bits, i, len(book))
			}
		}
		t.Logf("%d bits: %d bytes, %.1f× smaller than dense float32", bits, rep.Bytes, rep.Ratio)
	}
}

func TestKmeans(t *testing.T) {
	v := []float32{-1, -0.9, -1.1, 2, 2.1, 1.9, 5}
	book, codes := kmeans(v, 3)
	want := []float32{-1, 2, 5}
	got := []float32{book[codes[0]], book[codes[3]], book[codes[6]]}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("cluster %d centred at %v, want %v (book %v)", i, got[i], want[i], book)
		}
	}
	if codes[0] != codes[1] || codes[1] != codes[2] || codes[3] != codes[4] {
		t.Errorf("codes %v", codes)
	}
	b2, c2 := kmeans(v, 3)
	for i := range b2 {
		if b2[i] != book[i] {
			t.Error("kmeans is not deterministic")
		}
	}
	_ = c2
}

func TestEncodeRejects(t *testing.T) {
	m, w, ms := ticket(t, 0.5)
	for _, bits := range []int{-1, 9, 16, 33} {
		if _, _, err := Encode(m, []int{1, 28, 28}, w, ms, Options{Bits: bits}); err == nil {
			t.Errorf("accepted %d bits", bits)
		}
	}
	tw, _ := train.NewWeights(tanhNet{}, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	if _, _, err := Encode(tanhNet{}, []int{4}, tw, nil, Options{}); err == nil || !strings.Contains(err.Error(), "tanh") {
		t.Errorf("a model with a tanh: %v", err)
	}
	w.Tensor("fc2.w").Float32s()[3] = float32(math.NaN())
	if _, _, err := Encode(m, []int{1, 28, 28}, w, nil, Options{}); err == nil || !strings.Contains(err.Error(), "fc2.w") {
		t.Errorf("a NaN weight: %v", err)
	}
	// nothing is written when Encode fails
	path := filepath.Join(t.TempDir(), "m.shx")
	if _, err := Save(path, m, []int{1, 28, 28}, w, nil, Options{}); err == nil {
		t.Error("Save accepted a NaN weight")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed Save left a file: %v", err)
	}
}

// reframe replaces the payload of a valid file, with a valid envelope.
func reframe(payload []byte) []byte { return envelope.Encode(magic, version, payload) }

func TestDecodeRejects(t *testing.T) {
	m, w, ms := ticket(t, 0.07)
	good, _, err := Encode(m, []int{1, 28, 28}, w, ms, Options{Bits: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err := envelope.Decode(good, magic, what, version)
	if err != nil {
		t.Fatal(err)
	}
	// offset of layer 0's header: name (2+11), dims 1, shape 3×4, bits 1,
	// layers 2; the layer: kind 1, geometry 8×4 (in, out, h, w, kh, kw,
	// stride, pad), relu 1, names 2×(2+5), then positions 1, kept 4,
	// positions length 4, length 4, compressed length 4
	l0 := 2 + len("lenet300100") + 1 + 12 + 1 + 2
	data0 := l0 + 1 + 32 + 1 + 14
	set32 := func(p []byte, off int, v uint32) []byte {
		q := bytes.Clone(p)
		binary.LittleEndian.PutUint32(q[off:], v)
		return q
	}
	cases := map[string][]byte{
		"empty":         nil,
		"truncated":     good[:len(good)/2],
		"corrupted":     func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }(),
		"other version": func() []byte { return envelope.Encode(magic, version+1, payload) }(),
		"foreign":       envelope.Encode("SHRMASK\x00", 1, payload),
		"huge layer":    reframe(set32(set32(payload, l0+1, 1<<20), l0+5, 1<<20)),
		"wrong input":   reframe(set32(payload, l0+1, 783)),
		"kept > size":   reframe(set32(payload, data0+1, 1<<30)),
		"raw too large": reframe(set32(payload, data0+9, 1<<30)),
		"unknown kind":  reframe(func() []byte { q := bytes.Clone(payload); q[l0] = 9; return q }()),
		"dense as conv": reframe(func() []byte { q := bytes.Clone(payload); q[l0] = 1; return q }()),
		"stray kernel":  reframe(set32(payload, l0+1+16, 3)),
		"short payload": reframe(payload[:len(payload)-10]),
		"extra payload": reframe(append(bytes.Clone(payload), 0)),
		"header only":   reframe(payload[:l0+5]),
	}
	for name, data := range cases {
		if _, err := Decode(data); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "export: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	if _, err := Decode(good); err != nil {
		t.Fatalf("the good file: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	m, w, ms := ticket(f, 0.02)
	for _, bits := range []int{32, 8, 3} {
		data, _, err := Encode(m, []int{1, 28, 28}, w, ms, Options{Bits: bits})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	mlp, _ := train.MLP([]int{3}, []int{2}, 2)
	mw, _ := train.NewWeights(mlp, tensor.Float32, rand.New(rand.NewPCG(1, 0)))
	small, _, _ := Encode(mlp, []int{3}, mw, nil, Options{Bits: 2})
	f.Add(small)
	// conv chains: LeNet-5 and Conv-2 on small images
	for _, c := range []struct {
		name  string
		input []int
		bits  int
	}{{"lenet5", []int{1, 4, 4}, 32}, {"lenet5", []int{1, 8, 8}, 8}, {"conv2", []int{1, 2, 3}, 3}} {
		m, w, ms := convTicket(f, c.name, c.input, 0.3)
		data, _, err := Encode(m, c.input, w, ms, Options{Bits: c.bits})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// version-1 files
	v1, _ := filepath.Glob("testdata/v1-*.shx")
	for _, p := range v1 {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// the checksum stops random damage; fuzz the payload behind a
		// valid envelope too
		for _, d := range [][]byte{data, reframe(data)} {
			got, err := Decode(d)
			if err != nil {
				continue
			}
			e, err := got.Engine(train.KernelsAuto)
			if err != nil {
				t.Fatalf("decoded a file the engine rejects: %v", err)
			}
			// run one example through a small decoded chain
			work := 0
			for _, l := range got.Layers {
				work += l.Inputs() + l.Outputs() + l.Weights()
				if l.Kind == train.LayerConv {
					work += l.OutH() * l.OutW() * l.In * l.KH * l.KW
				}
			}
			if work > 1<<18 {
				continue
			}
			z, err := e.Run(make([]float32, e.Inputs()), 1)
			if err != nil || len(z) != e.Classes() {
				t.Fatalf("running a decoded file: %d logits, %v", len(z), err)
			}
		}
	})
}
