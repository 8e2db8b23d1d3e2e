package train

import (
	"fmt"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
)

// TestChainBuiltins traces every built-in model: the kinds in order, the
// geometry of each layer read from the model's params, and a chain that
// CheckChain accepts.
func TestChainBuiltins(t *testing.T) {
	type want struct {
		make   func() (Model, error)
		input  []int
		kinds  string // one letter a layer: d dense, c conv, p pool, f flatten
		convs  [][6]int
		dense  [][2]int
		reluOf string // ReLU flags of the weighted layers, in order
	}
	cases := map[string]want{
		"mlp": {func() (Model, error) { return MLP([]int{1, 8, 8}, []int{20, 7}, 10) }, []int{1, 8, 8}, "ddd", nil, [][2]int{{64, 20}, {20, 7}, {7, 10}}, "110"},
		"lenet300100": {func() (Model, error) { return LeNet300100([]int{1, 28, 28}, 10) }, []int{1, 28, 28}, "ddd", nil,
			[][2]int{{784, 300}, {300, 100}, {100, 10}}, "110"},
		"lenet5": {func() (Model, error) { return LeNet5([]int{1, 28, 28}, 10) }, []int{1, 28, 28}, "cpcpfddd",
			[][6]int{{6, 1, 5, 28, 28, 2}, {16, 6, 5, 14, 14, 2}}, [][2]int{{784, 120}, {120, 84}, {84, 10}}, "11110"},
		"conv2": {func() (Model, error) { return Conv2([]int{3, 32, 32}, 10) }, []int{3, 32, 32}, "ccpfddd",
			[][6]int{{64, 3, 3, 32, 32, 1}, {64, 64, 3, 32, 32, 1}}, [][2]int{{64 * 16 * 16, 256}, {256, 256}, {256, 10}}, "11110"},
		"conv4": {func() (Model, error) { return Conv4([]int{3, 32, 32}, 10) }, []int{3, 32, 32}, "ccpccpfddd",
			[][6]int{{64, 3, 3, 32, 32, 1}, {64, 64, 3, 32, 32, 1}, {128, 64, 3, 16, 16, 1}, {128, 128, 3, 16, 16, 1}}, [][2]int{{128 * 8 * 8, 256}, {256, 256}, {256, 10}}, "1111110"},
		"conv6": {func() (Model, error) { return Conv6([]int{1, 28, 28}, 10) }, []int{1, 28, 28}, "ccpccpccpfddd",
			[][6]int{{64, 1, 3, 28, 28, 1}, {64, 64, 3, 28, 28, 1}, {128, 64, 3, 14, 14, 1}, {128, 128, 3, 14, 14, 1}, {256, 128, 3, 7, 7, 1}, {256, 256, 3, 7, 7, 1}},
			[][2]int{{256 * 3 * 3, 256}, {256, 256}, {256, 10}}, "111111110"},
	}
	for name, c := range cases {
		m, err := c.make()
		if err != nil {
			t.Fatal(err)
		}
		layers, err := Chain(m, c.input)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var kinds, relu strings.Builder
		var convs [][6]int
		var dense [][2]int
		for _, l := range layers {
			kinds.WriteByte(l.Kind.String()[0])
			switch l.Kind {
			case LayerConv:
				convs = append(convs, [6]int{l.Out, l.In, l.KH, l.H, l.W, l.Pad})
				if l.KW != l.KH || l.Stride != 1 {
					t.Errorf("%s: %+v: kernel %dx%d stride %d", name, l, l.KH, l.KW, l.Stride)
				}
			case LayerDense:
				dense = append(dense, [2]int{l.In, l.Out})
			case LayerMaxPool:
				if l.KH != 2 || l.KW != 2 || l.Stride != 2 {
					t.Errorf("%s: pool %+v", name, l)
				}
			}
			if l.Kind == LayerDense || l.Kind == LayerConv {
				relu.WriteString(map[bool]string{true: "1", false: "0"}[l.ReLU])
				if m := paramShape(m, l.Weight); fmt.Sprint(m) != fmt.Sprint(l.WeightShape()) {
					t.Errorf("%s: %s has shape %v, the layer says %v", name, l.Weight, m, l.WeightShape())
				}
			}
		}
		kk := strings.NewReplacer("m", "p").Replace(kinds.String())
		if kk != c.kinds || relu.String() != c.reluOf || fmt.Sprint(convs) != fmt.Sprint(c.convs) || fmt.Sprint(dense) != fmt.Sprint(c.dense) {
			t.Errorf("%s: kinds %s relu %s convs %v dense %v, want %s %s %v %v", name, kk, relu.String(), convs, dense, c.kinds, c.reluOf, c.convs, c.dense)
		}
		_, err = DenseLayers(m, c.input)
		if dense := !strings.ContainsAny(c.kinds, "cpf"); (err == nil) != dense {
			t.Errorf("%s: DenseLayers: %v", name, err)
		}
	}
}

func paramShape(m Model, name string) []int {
	for _, s := range m.Params() {
		if s.Name == name {
			return s.Shape
		}
	}
	return nil
}

// chainTanhNet is a dense layer followed by Gorgonia's tanh: not a chain.
type chainTanhNet struct{}

func (chainTanhNet) Name() string { return "chaintanh" }
func (chainTanhNet) Params() []ParamSpec {
	return []ParamSpec{{Name: "w", Shape: []int{4, 2}, Init: Zeros{}}, {Name: "b", Shape: []int{2}, Init: Zeros{}}}
}
func (chainTanhNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	h, err := Dense(x, w[0], w[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Tanh(h)
}

func TestChainRejectsOtherOps(t *testing.T) {
	_, err := Chain(chainTanhNet{}, []int{4})
	if err == nil || !strings.Contains(err.Error(), "tanh") {
		t.Errorf("Chain of a tanh model: %v, want an error naming tanh", err)
	}
}

// TestChainCheck: CheckChain refuses chains that do not fit.
func TestChainCheck(t *testing.T) {
	conv := ChainLayer{Kind: LayerConv, Weight: "c", In: 1, Out: 2, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}
	pool := ChainLayer{Kind: LayerMaxPool, In: 2, Out: 2, H: 4, W: 4, KH: 2, KW: 2, Stride: 2}
	flat := ChainLayer{Kind: LayerFlatten, In: 2, H: 2, W: 2, Out: 8}
	dense := ChainLayer{Weight: "d", In: 8, Out: 3}
	if err := CheckChain([]ChainLayer{conv, pool, flat, dense}, 16); err != nil {
		t.Fatalf("a good chain: %v", err)
	}
	bad := map[string][]ChainLayer{
		"no flatten":          {conv, pool, dense},
		"flatten after dense": {dense, flat},
		"pool channels":       {conv, func() ChainLayer { p := pool; p.In, p.Out = 3, 3; return p }(), flat, dense},
		"dense size":          {conv, pool, flat, func() ChainLayer { d := dense; d.In = 9; return d }()},
		"kernel too big":      {func() ChainLayer { c := conv; c.KH = 7; return c }(), pool, flat, dense},
		"ends with pool":      {conv, pool},
		"huge":                {func() ChainLayer { c := conv; c.Out = 1 << 30; return c }(), pool, flat, dense},
		"pool no name":        {conv, func() ChainLayer { p := pool; p.Weight = "x"; return p }(), flat, dense},
		"conv stride 0":       {func() ChainLayer { c := conv; c.Stride = 0; return c }(), pool, flat, dense},
		"first flatten":       {ChainLayer{Kind: LayerFlatten, In: 1, H: 4, W: 4, Out: 16}, ChainLayer{Weight: "d", In: 16, Out: 2}},
	}
	for name, ls := range bad {
		if err := CheckChain(ls, 16); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
