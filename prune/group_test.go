package prune

import (
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mlpGraph builds x·W1 + b1 → Rectify → ·W2 + b2 → Rectify → ·W3 + b3 with
// Gorgonia's own ops: sizes in → h1 → h2 → out. Weight values are given by
// val(name, i).
func mlpGraph(t *testing.T, sizes []int, val func(name string, i int) float32) (*gorgonia.Node, []*gorgonia.Node, []Param) {
	t.Helper()
	g := gorgonia.NewGraph()
	h := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, sizes[0]), gorgonia.WithName("x"))
	var nodes []*gorgonia.Node
	for l := 1; l < len(sizes); l++ {
		wn, bn := "w"+string(rune('0'+l)), "b"+string(rune('0'+l))
		wt := tensor.New(tensor.WithShape(sizes[l-1], sizes[l]), tensor.Of(tensor.Float32))
		for i, d := 0, wt.Float32s(); i < len(d); i++ {
			d[i] = val(wn, i)
		}
		bt := tensor.New(tensor.WithShape(sizes[l]), tensor.Of(tensor.Float32))
		for i, d := 0, bt.Float32s(); i < len(d); i++ {
			d[i] = val(bn, i)
		}
		w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(sizes[l-1], sizes[l]), gorgonia.WithName(wn), gorgonia.WithValue(wt))
		b := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(sizes[l]), gorgonia.WithName(bn), gorgonia.WithValue(bt))
		nodes = append(nodes, w, b)
		h = gorgonia.Must(gorgonia.Mul(h, w))
		h = gorgonia.Must(gorgonia.BroadcastAdd(h, b, nil, []byte{0}))
		if l+1 < len(sizes) {
			h = gorgonia.Must(gorgonia.Rectify(h))
		}
	}
	params, err := FromNodes(nodes...)
	if err != nil {
		t.Fatal(err)
	}
	return h, nodes, params
}

func weightsOnly(ps []Param) []Param {
	var out []Param
	for _, p := range ps {
		if strings.HasPrefix(p.Name, "w") {
			out = append(out, p)
		}
	}
	return out
}

func TestTraceMLP(t *testing.T) {
	out, nodes, _ := mlpGraph(t, []int{5, 4, 3, 2}, func(string, int) float32 { return 1 })
	gs, err := Trace(out, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	want := "w1: 4 units: w1[out dim 1] b1[out dim 0] w2[in dim 0]\n" +
		"w2: 3 units: w2[out dim 1] b2[out dim 0] w3[in dim 0]\n" +
		"w3: 2 units (logits): w3[out dim 1] b3[out dim 0]\n"
	if gs.String() != want {
		t.Fatalf("groups:\n%s\nwant:\n%s", gs, want)
	}
	in := gs[0].Members[2]
	if in.Next != 1 || in.NextDim != 1 || in.Padded || len(in.Steps) != 2 || in.Steps[0].Kind != StepBias || in.Steps[0].Param != "b1" || in.Steps[1].Kind != StepReLU {
		t.Errorf("reader member %+v", in)
	}
	if len(gs[0].Shape) != 2 || gs[0].Shape[0] != 5 || gs[0].Spatial != nil {
		t.Errorf("layer description %v %v", gs[0].Shape, gs[0].Spatial)
	}
}

func TestTraceErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"))
	w1 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(3, 4), gorgonia.WithName("w1"))
	w2 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 4), gorgonia.WithName("w2"))
	w3 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(8, 2), gorgonia.WithName("w3"))
	h1 := gorgonia.Must(gorgonia.Mul(x, w1))
	h2 := gorgonia.Must(gorgonia.Mul(h1, w2))
	for _, c := range []struct {
		name   string
		out    *gorgonia.Node
		params []*gorgonia.Node
		want   string
	}{
		{"unknown op", gorgonia.Must(gorgonia.Mul(gorgonia.Must(gorgonia.Concat(1, h1, h1)), w3)), []*gorgonia.Node{w1, w3}, "Concat"},
		{"residual", gorgonia.Must(gorgonia.Add(h1, h2)), []*gorgonia.Node{w1, w2}, "residual"},
		{"weight arithmetic", gorgonia.Must(gorgonia.Mul(x, gorgonia.Must(gorgonia.HadamardProd(w1, w1)))), []*gorgonia.Node{w1}, "w1"},
		{"no layer", gorgonia.Must(gorgonia.Tanh(x)), []*gorgonia.Node{w1}, "logits"},
		{"repeated name", h2, []*gorgonia.Node{w1, w1}, "repeated"},
	} {
		_, err := Trace(c.out, c.params...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "prune: ") {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
}

// Units score by the sum of |w| over the whole group: unit u of layer 1 is
// column u of w1, entry u of b1 and row u of w2.
func TestGroupedPerLayer(t *testing.T) {
	// w1 column j and w2 row j carry weight j+1 (ties nowhere); b is ignored
	// by the masks but counts in the score.
	out, nodes, params := mlpGraph(t, []int{3, 6, 4, 2}, func(name string, i int) float32 {
		switch name {
		case "w1":
			return float32(6 - i%6) // column j: 6-j, so the last columns score least
		case "w2":
			return float32(1 + i/4) // row j: j+1
		}
		return 0
	})
	gs, err := Trace(out, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	ms := NewMasks(weightsOnly(params))
	// layer 1: unit j scores 3·(6-j) + 4·(j+1) = 22 + j: the lowest are 0, 1, 2.
	if err := (Grouped{Groups: gs, Amount: Fraction(0.5)}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	w1, w2 := ms.Mask("w1"), ms.Mask("w2")
	for j := 0; j < 6; j++ {
		pruned := j < 3
		for r := 0; r < 3; r++ {
			if w1.Keeps(r*6+j) == pruned {
				t.Errorf("w1[%d,%d] kept = %v", r, j, !pruned)
			}
		}
		if pruned {
			for c := 0; c < 4; c++ {
				if w2.Keeps(j*4 + c) {
					t.Errorf("w2[%d,%d] is kept: row %d reads a pruned unit", j, c, j)
				}
			}
		}
	}
	if w1.Kept() != 9 {
		t.Errorf("w1 keeps %d, want 9", w1.Kept())
	}
	// layer 2 (4 units) loses 2, the logits none.
	if got := ms.Mask("w3").Kept(); got != 2*2 {
		t.Errorf("w3 keeps %d, want the 2 rows of the 2 surviving layer-2 units × 2", got)
	}
	dead, err := gs.Dead(0, ms)
	if err != nil || !dead[0] || !dead[2] || dead[3] {
		t.Errorf("Dead: %v %v", dead, err)
	}
}

func TestGroupedTiesAndOptions(t *testing.T) {
	out, nodes, params := mlpGraph(t, []int{3, 16, 8, 2}, func(string, int) float32 { return 1 })
	gs, err := Trace(out, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	kept := func(ms *Masks, gi int) (k []int) {
		dead, err := gs.Dead(gi, ms)
		if err != nil {
			t.Fatal(err)
		}
		for u, d := range dead {
			if !d {
				k = append(k, u)
			}
		}
		return k
	}
	// All scores tie: the lowest units go first.
	ms := NewMasks(weightsOnly(params))
	if err := (Grouped{Groups: gs, Amount: Count(3)}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	if k := kept(ms, 0); len(k) != 13 || k[0] != 3 {
		t.Errorf("layer 1 kept %v", k)
	}
	// Multiple rounds the kept count up: 16 - 11 = 5 → 8.
	ms = NewMasks(weightsOnly(params))
	if err := (Grouped{Groups: gs, Amount: Count(11), Multiple: 8, MinUnits: 2}).Prune(ms, params); err == nil {
		t.Errorf("Count(11) of layer 2's 8 units: no error")
	}
	ms = NewMasks(weightsOnly(params))
	if err := (Grouped{Groups: gs, Amount: Fraction(0.7), Multiple: 4}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	// layer 1: 16 - round(11.2)=11 → 5 → 8; layer 2: 8 - round(5.6)=6 → 2 → 4.
	if a, b := len(kept(ms, 0)), len(kept(ms, 1)); a != 8 || b != 4 {
		t.Errorf("kept %d and %d units, want 8 and 4", a, b)
	}
	// Emptying a layer is an error, and nothing changes.
	ms = NewMasks(weightsOnly(params))
	before := ms.Clone()
	if err := (Grouped{Groups: gs, Amount: Fraction(1)}).Prune(ms, params); err == nil || !strings.Contains(err.Error(), "below the minimum") {
		t.Errorf("Fraction(1): %v", err)
	}
	if !ms.Equal(before) {
		t.Error("masks changed on error")
	}
	// Global: 24 units, 12 go, never below MinUnits.
	ms = NewMasks(weightsOnly(params))
	if err := (Grouped{Groups: gs, Amount: Fraction(0.5), Global: true, MinUnits: 6}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	if a, b := len(kept(ms, 0)), len(kept(ms, 1)); a+b != 12 || b < 6 {
		t.Errorf("global kept %d + %d", a, b)
	}
	// The logits only when asked.
	ms = NewMasks(weightsOnly(params))
	if err := (Grouped{Groups: gs, Amount: Count(1), Output: true}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	if ms.Mask("w3").Kept() == ms.Mask("w3").Len() {
		t.Error("Output: the logits' group was not pruned")
	}
	// Masks of another model.
	other := NewMasks([]Param{{Name: "w1", Value: tensor.New(tensor.WithShape(2, 2), tensor.Of(tensor.Float32))}})
	if err := (Grouped{Groups: gs, Amount: Count(1)}).Prune(other, params); err == nil {
		t.Error("a mask of another shape: no error")
	}
	// Random is seeded.
	a, b := NewMasks(weightsOnly(params)), NewMasks(weightsOnly(params))
	for _, m := range []*Masks{a, b} {
		if err := (Grouped{Groups: gs, Scorer: Random{Rand: rand.New(rand.NewPCG(4, 5))}, Amount: Fraction(0.5)}).Prune(m, params); err != nil {
			t.Fatal(err)
		}
	}
	if !a.Equal(b) {
		t.Error("Random with the same seed gave different masks")
	}
}

func TestPropagate(t *testing.T) {
	out, nodes, params := mlpGraph(t, []int{3, 4, 2}, func(string, int) float32 { return 1 })
	gs, err := Trace(out, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	// Column 1 of w1 pruned by hand: unit 1 is dead, so row 1 of w2 reads
	// nothing.
	ms := NewMasks(weightsOnly(params))
	for r := 0; r < 3; r++ {
		ms.Mask("w1").Set(r*4+1, false)
	}
	p, err := gs.Propagate(ms)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mask("w2").Kept() != 6 || ms.Mask("w2").Kept() != 8 {
		t.Errorf("propagated w2 keeps %d (want 6), original %d (want 8)", p.Mask("w2").Kept(), ms.Mask("w2").Kept())
	}
}
