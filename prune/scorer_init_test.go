package prune

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func TestInitScorers(t *testing.T) {
	v := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float64{1, -2, 3, -4}))
	g := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float64{0.5, 0.5, -1, -1}))
	p := Param{Name: "w", Value: v, Grad: g}
	cases := []struct {
		name string
		s    Scorer
		want []float64
	}{
		{"snip", SNIP{}, []float64{0.5, 1, 3, 4}},
		{"grasp", GraSP{}, []float64{0.5, -1, -3, 4}},
		{"synflow", SynFlow{}, []float64{0.5, 1, 3, 4}},
		{"inverted-grasp", Inverted(GraSP{}), []float64{-0.5, 1, 3, -4}},
		{"inverted-l1", Inverted(L1{}), []float64{-1, -2, -3, -4}},
	}
	for _, c := range cases {
		dst := make([]float64, 4)
		if err := c.s.Score(p, dst); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i := range dst {
			if math.Abs(dst[i]-c.want[i]) > 1e-12 {
				t.Errorf("%s: scores %v, want %v", c.name, dst, c.want)
				break
			}
		}
	}
	if err := (GraSP{}).Score(Param{Name: "w", Value: v}, make([]float64, 4)); err == nil {
		t.Error("GraSP without Grad: no error")
	}
	// GraSP keeps the largest w·Hg: pruning two of four keeps indices 0 and 3.
	ms := NewMasks([]Param{p})
	if err := (Global{Scorer: GraSP{}, Amount: Count(2)}).Prune(ms, []Param{p}); err != nil {
		t.Fatal(err)
	}
	m := ms.Mask("w")
	if !m.Keeps(0) || m.Keeps(1) || m.Keeps(2) || !m.Keeps(3) {
		t.Errorf("GraSP global prune kept %v %v %v %v", m.Keeps(0), m.Keeps(1), m.Keeps(2), m.Keeps(3))
	}
}
