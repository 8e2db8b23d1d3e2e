package export

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
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
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tanhNet is not a chain: a dense layer, then Gorgonia's tanh.
type tanhNet struct{}

func (tanhNet) Name() string { return "tanhnet" }
func (tanhNet) Params() []train.ParamSpec {
	return []train.ParamSpec{{Name: "w", Shape: []int{4, 2}, Init: train.Zeros{}}, {Name: "b", Shape: []int{2}, Init: train.Zeros{}}}
}
func (tanhNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	h, err := train.Dense(x, w[0], w[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Tanh(h)
}

// convTicket returns a conv model with seeded weights, non-zero biases,
// and layer-wise masks keeping remaining of each weight (applied).
func convTicket(t testing.TB, name string, input []int, remaining float64) (train.Model, *train.Weights, *prune.Masks) {
	t.Helper()
	var m train.Model
	var err error
	switch name {
	case "lenet5":
		m, err = train.LeNet5(input, 10)
	case "conv2":
		m, err = train.Conv2(input, 10)
	case "conv4":
		m, err = train.Conv4(input, 10)
	case "conv6":
		m, err = train.Conv6(input, 10)
	}
	if err != nil {
		t.Fatal(err)
	}
	w, err := train.NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(2, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Params() {
		if !s.Prunable {
			b := w.Tensor(s.Name).Float32s()
			for i := range b {
				b[i] = float32(i%5-2) / 40
			}
		}
	}
	params := w.Prunable()
	ms := prune.NewMasks(params)
	if remaining < 1 {
		if err := (prune.Layerwise{Scorer: prune.L1{}, Default: prune.Fraction(1 - remaining)}).Prune(ms, params); err != nil {
			t.Fatal(err)
		}
		if err := ms.Apply(params); err != nil {
			t.Fatal(err)
		}
	}
	return m, w, ms
}

func features(input []int) int {
	n := 1
	for _, d := range input {
		n *= d
	}
	return n
}

// TestRoundTripConv writes every built-in conv model at 32 bits and reads
// it back: the layers, geometry and masks are the same, the logits equal
// those of an engine on the original weights bit for bit. At 8 bits each
// conv weight is within half a step of its output channel's scale; at 4
// bits each layer uses at most 16 values.
func TestRoundTripConv(t *testing.T) {
	cases := []struct {
		name  string
		input []int
	}{{"lenet5", []int{1, 12, 12}}, {"conv2", []int{3, 8, 6}}, {"conv4", []int{1, 8, 8}}, {"conv6", []int{2, 8, 8}}}
	for _, c := range cases {
		// conv4 and conv6 (a million weights): geometry and logits only
		big := c.name == "conv4" || c.name == "conv6"
		for _, remaining := range []float64{1, 0.2, 0.03} {
			if big && remaining != 0.03 {
				continue
			}
			m, w, ms := convTicket(t, c.name, c.input, remaining)
			orig, err := infer.New(m, c.input, w, ms, train.KernelsDense)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, 3*features(c.input))
			for i := range x {
				x[i] = float32(i%11) / 10
			}
			want, err := orig.Run(x, 3)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]float32(nil), want...)
			chain, err := train.Chain(m, c.input)
			if err != nil {
				t.Fatal(err)
			}
			for _, bits := range []int{32, 8, 4} {
				if big && bits != 32 {
					continue
				}
				data, rep, err := Encode(m, c.input, w, ms, Options{Bits: bits})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				got, err := Decode(data)
				if err != nil {
					t.Fatalf("%s %d bits: %v", c.name, bits, err)
				}
				if len(got.Layers) != len(chain) || len(rep.Layers) != len(m.Params())/2 {
					t.Fatalf("%s: %d layers decoded, %d in the chain; %d reported", c.name, len(got.Layers), len(chain), len(rep.Layers))
				}
				for i, l := range got.Layers {
					if l.ChainLayer != chain[i] {
						t.Fatalf("%s: layer %d decoded as %+v, want %+v", c.name, i, l.ChainLayer, chain[i])
					}
					if l.Weight == "" {
						continue
					}
					ow := w.Tensor(l.Weight).Float32s()
					mk := ms.Mask(l.Weight)
					k := l.Weights() / l.Out
					book := map[float32]bool{}
					for j, v := range l.W {
						if kept := mk.Keeps(j); (l.Keep == nil) != (remaining == 1) || (l.Keep != nil && l.Keep[j] != kept) {
							t.Fatalf("%s: layer %d: mask entry %d differs", c.name, i, j)
						}
						if !mk.Keeps(j) {
							continue
						}
						book[v] = true
						switch bits {
						case 32:
							if v != ow[j] {
								t.Fatalf("%s: %s[%d] is %v, was %v", c.name, l.Weight, j, v, ow[j])
							}
						case 8:
							if l.Kind != train.LayerConv {
								continue
							}
							unit := j / k
							s := float32(0)
							for q := unit * k; q < (unit+1)*k; q++ {
								s = max(s, float32(math.Abs(float64(ow[q]))))
							}
							if d := math.Abs(float64(v - ow[j])); d > float64(s)/127/2*1.0001 {
								t.Fatalf("%s 8 bits: %s[%d] is %v for %v (channel max %v)", c.name, l.Weight, j, v, ow[j], s)
							}
						}
					}
					if bits == 4 && len(book) > 16 {
						t.Errorf("%s 4 bits: %s uses %d values", c.name, l.Weight, len(book))
					}
				}
				if bits != 32 {
					continue
				}
				e, err := got.Engine(train.KernelsAuto)
				if err != nil {
					t.Fatal(err)
				}
				z, err := e.Run(x, 3)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if math.Float32bits(z[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s remaining %v: logit %d is %v, the original %v", c.name, remaining, i, z[i], want[i])
					}
				}
				if remaining == 0.03 {
					t.Logf("%s at 3%%: %d bytes, %.1f× smaller than dense float32", c.name, rep.Bytes, rep.Ratio)
				}
			}
		}
	}
}

// TestVersion1 reads files written by the version-1 code (dense chains,
// kept in testdata with the logits that code computed on an input): they
// load, and give the same logits.
func TestVersion1(t *testing.T) {
	files, err := filepath.Glob("testdata/v1-*.shx")
	if err != nil || len(files) != 3 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	for _, f := range files {
		m, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var want struct {
			Input, Logits []float32
			Layers, Bits  int
			Name          string
		}
		b, err := os.ReadFile(f + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if m.Name != want.Name || m.Bits != want.Bits || len(m.Layers) != want.Layers {
			t.Errorf("%s: %s, %d bits, %d layers; want %s, %d, %d", f, m.Name, m.Bits, len(m.Layers), want.Name, want.Bits, want.Layers)
		}
		e, err := m.Engine(train.KernelsDense)
		if err != nil {
			t.Fatal(err)
		}
		z, err := e.Run(want.Input, len(want.Input)/e.Inputs())
		if err != nil {
			t.Fatal(err)
		}
		for i := range want.Logits {
			if math.Abs(float64(z[i]-want.Logits[i])) > 1e-6 {
				t.Errorf("%s: logit %d is %v, the version-1 code gave %v", f, i, z[i], want.Logits[i])
			}
		}
	}
}

// TestDecodeRejectsGeometry damages the geometry of a LeNet-5 file: a
// description that does not match its weights, or layers that do not fit
// together, is a clear error.
func TestDecodeRejectsGeometry(t *testing.T) {
	m, w, ms := convTicket(t, "lenet5", []int{1, 12, 12}, 0.2)
	good, _, err := Encode(m, []int{1, 12, 12}, w, ms, Options{Bits: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
	_, payload, err := envelope.Decode(good, magic, what, version)
	if err != nil {
		t.Fatal(err)
	}
	// layer 0 (conv1): name 2+6, dims 1, shape 3×4, bits 1, layers 2
	l0 := 2 + len("lenet5") + 1 + 12 + 1 + 2
	// layer 1 (the pool) follows conv1's header: kind, geometry, relu,
	// names 2×(2+7), data fields 17
	l1 := l0 + 1 + 32 + 1 + 18 + 17
	geo := func(p []byte, layer, field int, v uint32) []byte {
		q := bytes.Clone(p)
		binary.LittleEndian.PutUint32(q[layer+1+4*field:], v)
		return q
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"conv kernel does not match its weights": {geo(payload, l0, 4, 3), "bitmap"},
		"conv input channels":                    {geo(payload, l0, 0, 2), "bitmap"},
		"pool stride":                            {geo(payload, l1, 6, 3), "takes"},
		"pool channels":                          {geo(payload, l1, 0, 7), "channels"},
		"pool as flatten":                        {func() []byte { q := bytes.Clone(payload); q[l1] = byte(train.LayerFlatten); return q }(), "flatten"},
		"huge conv input":                        {geo(geo(payload, l0, 2, 1<<30), l0, 3, 1<<30), "input"},
		"zero stride":                            {geo(payload, l0, 6, 0), "stride"},
		"input shape transposed": {func() []byte {
			q := bytes.Clone(payload)
			binary.LittleEndian.PutUint32(q[2+len("lenet5")+1:], 12)
			binary.LittleEndian.PutUint32(q[2+len("lenet5")+1+8:], 1)
			return q
		}(), "input shape"},
	}
	for name, c := range cases {
		_, err := Decode(reframe(c.data))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "export: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want the package prefix and %q)", name, err, c.want)
		}
	}
}
