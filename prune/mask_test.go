package prune

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mtDense returns a tensor of the given dtype and shape filled from rng with
// values that are never zero, so that a zero can only come from a mask.
func mtDense(dt tensor.Dtype, shape []int, rng *rand.Rand) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	val := func() float64 { return (0.5 + rng.Float64()) * float64(1-2*rng.IntN(2)) }
	switch dt {
	case tensor.Float32:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(val())
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	case tensor.Float64:
		d := make([]float64, n)
		for i := range d {
			d[i] = val()
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	}
	panic("mtDense: dtype")
}

// mtBits returns the raw bits of every element of t, to compare tensors
// exactly (NaN and -0 included).
func mtBits(t *tensor.Dense) []uint64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]uint64, len(d))
		for i, x := range d {
			out[i] = uint64(math.Float32bits(x))
		}
		return out
	case []float64:
		out := make([]uint64, len(d))
		for i, x := range d {
			out[i] = math.Float64bits(x)
		}
		return out
	}
	panic("mtBits: dtype")
}

// mtPattern sets m's bits by name: "kept", "pruned", "alternate", or
// "randomP" with P the percentage kept.
func mtPattern(m *Mask, pattern string, rng *rand.Rand) {
	for i := 0; i < m.Len(); i++ {
		switch {
		case pattern == "kept":
		case pattern == "pruned":
			m.Set(i, false)
		case pattern == "alternate":
			m.Set(i, i%2 == 0)
		case strings.HasPrefix(pattern, "random"):
			p := map[string]int{"random10": 10, "random50": 50, "random90": 90}[pattern]
			m.Set(i, rng.IntN(100) < p)
		default:
			panic("mtPattern: " + pattern)
		}
	}
}

var mtShapes = [][]int{{1}, {7}, {63}, {64}, {65}, {3, 43}, {2, 3, 4, 5}, {1000}, {4097}}

func TestNewMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	params := []Param{
		{Name: "a", Value: mtDense(tensor.Float32, []int{3, 4}, rng)},
		{Name: "b", Value: mtDense(tensor.Float64, []int{5}, rng)},
		{Name: "c", Value: mtDense(tensor.Float32, []int{2, 3, 4, 5}, rng)},
	}
	ms := NewMasks(params)
	if ms.Len() != 3 || ms.Total() != 12+5+120 || ms.Kept() != ms.Total() || ms.Sparsity() != 0 || ms.Remaining() != 1 {
		t.Fatalf("Len %d Total %d Kept %d Sparsity %v", ms.Len(), ms.Total(), ms.Kept(), ms.Sparsity())
	}
	if got := strings.Join(ms.Names(), ","); got != "a,b,c" {
		t.Errorf("Names %s", got)
	}
	for i, p := range params {
		m := ms.At(i)
		if ms.Mask(p.Name) != m || m.Name() != p.Name || m.Len() != p.Size() || m.Kept() != m.Len() || m.Pruned() != 0 {
			t.Errorf("mask %d: %q len %d kept %d", i, m.Name(), m.Len(), m.Kept())
		}
		if !slices.Equal(m.Shape(), p.Shape()) {
			t.Errorf("mask %q shape %v, want %v", m.Name(), m.Shape(), p.Shape())
		}
		for j := 0; j < m.Len(); j++ {
			if !m.Keeps(j) {
				t.Fatalf("mask %q element %d pruned in a new mask", m.Name(), j)
			}
		}
	}
	if ms.Mask("missing") != nil {
		t.Error("Mask of a missing name is not nil")
	}
	// Shape returns a copy.
	ms.At(0).Shape()[0] = 99
	if ms.At(0).Shape()[0] != 3 {
		t.Error("changing Shape's result changed the mask")
	}
	if _, err := NewMask("neg", []int{2, -1}); err == nil || !strings.Contains(err.Error(), `"neg"`) {
		t.Errorf("NewMask with a negative dimension: %v", err)
	}
	if _, err := NewMasksOf(ms.At(0), nil); err == nil {
		t.Error("NewMasksOf accepted a nil mask")
	}
	if _, err := NewMasksOf(ms.At(0), ms.At(0).Clone()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("NewMasksOf with a name twice: %v", err)
	}
}

// TestMaskSetKeepsKept drives a mask with random Sets and checks it against
// a []bool model after each.
func TestMaskSetKeepsKept(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, shape := range mtShapes {
		m, err := NewMask("m", shape)
		if err != nil {
			t.Fatal(err)
		}
		model := make([]bool, m.Len())
		for i := range model {
			model[i] = true
		}
		for op := 0; op < 3*m.Len()+10; op++ {
			i, keep := rng.IntN(m.Len()), rng.IntN(3) == 0
			m.Set(i, keep)
			model[i] = keep
			if op%7 != 0 && op != 3*m.Len()+9 {
				continue
			}
			kept := 0
			for j, k := range model {
				if m.Keeps(j) != k {
					t.Fatalf("shape %v: element %d kept %v, model %v", shape, j, m.Keeps(j), k)
				}
				if k {
					kept++
				}
			}
			n := len(model)
			if m.Kept() != kept || m.Pruned() != n-kept {
				t.Fatalf("shape %v: Kept %d Pruned %d, model %d of %d", shape, m.Kept(), m.Pruned(), kept, n)
			}
			if s := float64(n-kept) / float64(n); m.Sparsity() != s || m.Remaining() != 1-s {
				t.Fatalf("shape %v: Sparsity %v, want %v", shape, m.Sparsity(), s)
			}
		}
	}
}

func TestMaskIndexPanics(t *testing.T) {
	m, _ := NewMask("m", []int{10})
	for _, i := range []int{-1, 10, 64} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Keeps(%d) did not panic", i)
				}
			}()
			m.Keeps(i)
		}()
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%d) did not panic", i)
				}
			}()
			m.Set(i, false)
		}()
	}
	if m.Kept() != 10 {
		t.Errorf("Kept %d after out-of-range Sets, want 10", m.Kept())
	}
}

func TestMaskCloneEqualSubset(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, shape := range mtShapes {
		m, _ := NewMask("m", shape)
		mtPattern(m, "random50", rng)
		c := m.Clone()
		if !c.Equal(m) || !m.Equal(c) || !c.SubsetOf(m) || !m.SubsetOf(c) {
			t.Fatalf("shape %v: a clone is not equal to its source", shape)
		}
		// Prune one more element of the clone: still a subset, no longer equal,
		// and the source is untouched.
		j := -1
		for i := 0; i < c.Len(); i++ {
			if c.Keeps(i) {
				j = i
				break
			}
		}
		if j < 0 {
			continue
		}
		before := m.Kept()
		c.Set(j, false)
		if !m.Keeps(j) || m.Kept() != before {
			t.Fatalf("shape %v: changing the clone changed the source", shape)
		}
		if c.Equal(m) || m.Equal(c) {
			t.Fatalf("shape %v: masks differing in element %d are equal", shape, j)
		}
		if !c.SubsetOf(m) || m.SubsetOf(c) {
			t.Fatalf("shape %v: SubsetOf wrong after pruning the clone further", shape)
		}
		// Reviving an element the source prunes breaks the subset relation.
		for i := 0; i < m.Len(); i++ {
			if !m.Keeps(i) {
				c2 := m.Clone()
				c2.Set(i, true)
				if c2.SubsetOf(m) || !m.SubsetOf(c2) {
					t.Fatalf("shape %v: SubsetOf wrong after reviving element %d", shape, i)
				}
				break
			}
		}
		// Changing the source leaves the clone alone.
		m.Set(j, false)
		if !c.Equal(m) {
			t.Fatalf("shape %v: after the same change the masks differ", shape)
		}
		m.Set(j, true)
		if c.Keeps(j) {
			t.Fatalf("shape %v: changing the source changed the clone", shape)
		}
	}
	// Same bits, different name or shape: not Equal.
	a, _ := NewMask("a", []int{2, 3})
	b, _ := NewMask("b", []int{2, 3})
	c, _ := NewMask("a", []int{3, 2})
	d, _ := NewMask("a", []int{7})
	if a.Equal(b) || a.Equal(c) || a.Equal(d) {
		t.Error("masks of different names or shapes are equal")
	}
	if !a.SubsetOf(c) || a.SubsetOf(d) {
		t.Error("SubsetOf: same size must compare bits, different sizes never")
	}
}

func TestMasksCloneEqualSubset(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var params []Param
	for i, shape := range mtShapes {
		params = append(params, Param{Name: string(rune('a' + i)), Value: mtDense(tensor.Float32, shape, rng)})
	}
	ms := NewMasks(params)
	for i := 0; i < ms.Len(); i++ {
		mtPattern(ms.At(i), "random50", rng)
	}
	c := ms.Clone()
	if !c.Equal(ms) || !c.SubsetOf(ms) || c.Mask("c") != c.At(2) || c.At(2) == ms.At(2) {
		t.Fatal("Masks.Clone is not an equal, independent copy")
	}
	last := c.At(c.Len() - 1)
	for i := 0; i < last.Len(); i++ {
		last.Set(i, false)
	}
	if ms.At(ms.Len()-1).Kept() == 0 || c.Equal(ms) || !c.SubsetOf(ms) || ms.SubsetOf(c) {
		t.Fatal("Masks: clone not independent, or Equal/SubsetOf wrong")
	}
	// Order matters; so do names.
	rev, err := NewMasksOf(ms.At(1), ms.At(0))
	if err != nil {
		t.Fatal(err)
	}
	two, _ := NewMasksOf(ms.At(0), ms.At(1))
	if rev.Equal(two) || rev.SubsetOf(two) {
		t.Error("masks in another order compare equal")
	}
	if two.Equal(ms) || two.SubsetOf(ms) {
		t.Error("masks of different lengths compare equal")
	}
	renamed := ms.At(0).Clone()
	renamed.name = "zz"
	other, _ := NewMasksOf(renamed, ms.At(1))
	if other.SubsetOf(two) || other.Equal(two) {
		t.Error("masks of other names compare equal")
	}
}

func TestMasksSparsity(t *testing.T) {
	a, _ := NewMask("a", []int{10})
	b, _ := NewMask("b", []int{30})
	for i := 0; i < 5; i++ {
		a.Set(i, false)
	}
	for i := 0; i < 3; i++ {
		b.Set(i*10, false)
	}
	ms, _ := NewMasksOf(a, b)
	if ms.Total() != 40 || ms.Kept() != 32 || ms.Sparsity() != 0.2 || ms.Remaining() != 0.8 {
		t.Errorf("Total %d Kept %d Sparsity %v Remaining %v; want 40 32 0.2 0.8", ms.Total(), ms.Kept(), ms.Sparsity(), ms.Remaining())
	}
	if a.Sparsity() != 0.5 || b.Sparsity() != 0.1 {
		t.Errorf("per-mask sparsity %v %v, want 0.5 0.1", a.Sparsity(), b.Sparsity())
	}
	empty, _ := NewMasksOf()
	if empty.Sparsity() != 0 || empty.Remaining() != 1 {
		t.Error("empty Masks: Sparsity must be 0")
	}
	var zero Mask
	if zero.Sparsity() != 0 || zero.Len() != 0 {
		t.Error("zero Mask: Sparsity must be 0")
	}
}

// TestApply checks that Apply zeroes exactly the pruned weights and leaves
// every kept one bit for bit, NaN and Inf included, and that ApplyGrad does
// the same to gradients only.
func TestApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, pattern := range []string{"kept", "pruned", "alternate", "random10", "random50", "random90"} {
			var params []Param
			for i, shape := range mtShapes {
				p := Param{Name: string(rune('a' + i)), Value: mtDense(dt, shape, rng), Grad: mtDense(dt, shape, rng)}
				// Special values must survive when kept and vanish when pruned.
				switch d := p.Value.Data().(type) {
				case []float32:
					d[0], d[len(d)-1] = float32(math.NaN()), float32(math.Inf(-1))
				case []float64:
					d[0], d[len(d)-1] = math.NaN(), math.Copysign(0, -1)
				}
				params = append(params, p)
			}
			ms := NewMasks(params)
			for i := 0; i < ms.Len(); i++ {
				mtPattern(ms.At(i), pattern, rng)
			}
			values, grads := mtSnapshot(params)
			if err := ms.Apply(params); err != nil {
				t.Fatal(err)
			}
			mtCheckMasked(t, ms, params, values, false)
			mtCheckSame(t, "Apply changed a gradient", params, grads, true)
			// Apply is idempotent.
			v2, _ := mtSnapshot(params)
			if err := ms.Apply(params); err != nil {
				t.Fatal(err)
			}
			mtCheckSame(t, "a second Apply changed weights", params, v2, false)

			if err := ms.ApplyGrad(params); err != nil {
				t.Fatal(err)
			}
			mtCheckMasked(t, ms, params, grads, true)
			mtCheckSame(t, "ApplyGrad changed a weight", params, v2, false)
		}
	}
}

// TestApplyTo checks Mask.ApplyTo on one tensor and its errors.
func TestApplyTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	m, _ := NewMask("w", []int{3, 43})
	mtPattern(m, "random50", rng)
	w := mtDense(tensor.Float64, []int{129}, rng) // another shape, same size
	before := mtBits(w)
	if err := m.ApplyTo(w); err != nil {
		t.Fatal(err)
	}
	for i, b := range mtBits(w) {
		if m.Keeps(i) && b != before[i] || !m.Keeps(i) && b != 0 {
			t.Fatalf("element %d: bits %x, before %x, kept %v", i, b, before[i], m.Keeps(i))
		}
	}
	ints := tensor.New(tensor.WithShape(129), tensor.WithBacking(make([]int, 129)))
	for _, tc := range []struct {
		t    *tensor.Dense
		want string
	}{
		{nil, "nil tensor"},
		{mtDense(tensor.Float32, []int{128}, rng), "has 129 elements but the tensor has 128"},
		{ints, "dtype int is not float32 or float64"},
	} {
		err := m.ApplyTo(tc.t)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("ApplyTo: error %v, want %q naming the mask", err, tc.want)
		}
	}
}

// TestApplyMismatch checks that Apply and ApplyGrad reject Params that do
// not match the masks, name the problem, and change nothing at all (not even
// the Params before the bad one).
func TestApplyMismatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	mk := func() []Param {
		return []Param{
			{Name: "w1", Value: mtDense(tensor.Float32, []int{4, 5}, rng), Grad: mtDense(tensor.Float32, []int{4, 5}, rng)},
			{Name: "w2", Value: mtDense(tensor.Float32, []int{5, 3}, rng), Grad: mtDense(tensor.Float32, []int{5, 3}, rng)},
		}
	}
	base := mk()
	ms := NewMasks(base)
	for i := 0; i < ms.Len(); i++ {
		mtPattern(ms.At(i), "alternate", rng)
	}
	ints := tensor.New(tensor.WithShape(5, 3), tensor.WithBacking(make([]int, 15)))
	cases := []struct {
		name   string
		change func(ps []Param) []Param
		want   string
	}{
		{"fewer params", func(ps []Param) []Param { return ps[:1] }, "2 masks for 1 params"},
		{"no params", func(ps []Param) []Param { return nil }, "no params"},
		{"renamed", func(ps []Param) []Param { ps[1].Name = "w3"; return ps }, `param 1 is "w3" but mask 1 is "w2"`},
		{"swapped", func(ps []Param) []Param { ps[0], ps[1] = ps[1], ps[0]; return ps }, `param 0 is "w2" but mask 0 is "w1"`},
		{"resized", func(ps []Param) []Param {
			ps[1].Value = mtDense(tensor.Float32, []int{4, 3}, rng)
			ps[1].Grad = nil
			return ps
		}, `param "w2" has 12 elements but its mask has 15`},
		{"int dtype", func(ps []Param) []Param { ps[1].Value, ps[1].Grad = ints, nil; return ps }, `param "w2": dtype int`},
		{"nil value", func(ps []Param) []Param { ps[1].Value = nil; return ps }, `param "w2": nil Value`},
		{"name twice", func(ps []Param) []Param { ps[1].Name = "w1"; return ps }, `"w1" appears twice`},
		{"grad of other dtype", func(ps []Param) []Param {
			ps[1].Grad = mtDense(tensor.Float64, []int{5, 3}, rng)
			return ps
		}, `param "w2": Grad dtype float64 differs`},
		{"grad of other size", func(ps []Param) []Param {
			ps[1].Grad = mtDense(tensor.Float32, []int{5, 2}, rng)
			return ps
		}, `param "w2": Grad has 10 elements`},
	}
	for _, tc := range cases {
		for _, apply := range []string{"Apply", "ApplyGrad"} {
			ps := tc.change(mk())
			values, grads := mtSnapshot(ps)
			var err error
			if apply == "Apply" {
				err = ms.Apply(ps)
			} else {
				err = ms.ApplyGrad(ps)
			}
			if err == nil {
				t.Errorf("%s, %s: no error", tc.name, apply)
				continue
			}
			if !strings.HasPrefix(err.Error(), "prune: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, %s: error %q, want %q", tc.name, apply, err, tc.want)
			}
			mtCheckSame(t, tc.name+", "+apply+": changed weights", ps, values, false)
			mtCheckSame(t, tc.name+", "+apply+": changed gradients", ps, grads, true)
		}
	}
	var nilMasks *Masks
	if err := nilMasks.Apply(base); err == nil || !strings.Contains(err.Error(), "nil Masks") {
		t.Errorf("nil Masks: %v", err)
	}
	// A Param without a gradient is skipped by ApplyGrad, not an error.
	ps := mk()
	ps[0].Grad = nil
	_, grads := mtSnapshot(ps)
	if err := ms.ApplyGrad(ps); err != nil {
		t.Fatal(err)
	}
	for i, b := range mtBits(ps[1].Grad) {
		if ms.At(1).Keeps(i) && b != grads[1][i] || !ms.At(1).Keeps(i) && b != 0 {
			t.Fatalf("ApplyGrad with one nil Grad: element %d wrong", i)
		}
	}
}

// mtSnapshot returns the bits of every Value and Grad (nil where absent).
func mtSnapshot(ps []Param) (values, grads [][]uint64) {
	for _, p := range ps {
		var v, g []uint64
		if p.Value != nil && (p.Value.Dtype() == tensor.Float32 || p.Value.Dtype() == tensor.Float64) {
			v = mtBits(p.Value)
		}
		if p.Grad != nil {
			g = mtBits(p.Grad)
		}
		values, grads = append(values, v), append(grads, g)
	}
	return values, grads
}

func mtCheckSame(t *testing.T, what string, ps []Param, want [][]uint64, grad bool) {
	t.Helper()
	got, gotG := mtSnapshot(ps)
	if grad {
		got = gotG
	}
	for i := range ps {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("%s: param %q element %d", what, ps[i].Name, j)
			}
		}
	}
}

// mtCheckMasked checks that each tensor equals before where the mask keeps
// and is +0 where it prunes.
func mtCheckMasked(t *testing.T, ms *Masks, ps []Param, before [][]uint64, grad bool) {
	t.Helper()
	for i, p := range ps {
		x := p.Value
		if grad {
			x = p.Grad
		}
		m := ms.At(i)
		for j, b := range mtBits(x) {
			if m.Keeps(j) && b != before[i][j] {
				t.Fatalf("param %q element %d is kept but changed: %x → %x", p.Name, j, before[i][j], b)
			}
			if !m.Keeps(j) && b != 0 {
				t.Fatalf("param %q element %d is pruned but %x, not +0", p.Name, j, b)
			}
		}
	}
}

// mtGraph builds a tiny graph: cost = Σ(x·W1) + Σ(b), with named, bound
// weights W1 (2×3, float64) and b (3, float64).
func mtGraph(t *testing.T) (g *gorgonia.ExprGraph, w1, b, cost *gorgonia.Node) {
	t.Helper()
	g = gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(4, 2), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6, 7, 8}))))
	w1 = gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithName("W1"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, -2, 3, -4, 5, -6}))))
	b = gorgonia.NewVector(g, tensor.Float64, gorgonia.WithName("b"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{0.5, 0.25, -1}))))
	xw := gorgonia.Must(gorgonia.Mul(x, w1))
	cost = gorgonia.Must(gorgonia.Add(gorgonia.Must(gorgonia.Sum(xw)), gorgonia.Must(gorgonia.Sum(b))))
	return g, w1, b, cost
}

func TestFromNodes(t *testing.T) {
	_, w1, b, _ := mtGraph(t)
	params, err := FromNodes(w1, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(params) != 2 || params[0].Name != "W1" || params[1].Name != "b" {
		t.Fatalf("params %+v", params)
	}
	if params[0].Value != w1.Value().(*tensor.Dense) || params[1].Value != b.Value().(*tensor.Dense) {
		t.Error("Params do not share the nodes' values")
	}
	if params[0].Grad != nil || params[1].Grad != nil {
		t.Error("a Grad before the graph has run")
	}
	// Apply writes through to the graph.
	ms := NewMasks(params)
	ms.At(0).Set(4, false)
	if err := ms.Apply(params); err != nil {
		t.Fatal(err)
	}
	if got := w1.Value().Data().([]float64); got[4] != 0 || got[3] != -4 {
		t.Errorf("node value after Apply: %v", got)
	}
}

// TestFromNodesGradients runs the graph and checks that FromNodes picks up
// the gradients, both as symbolic gradient nodes and as dual values bound by
// the TapeMachine, and that ApplyGrad zeroes them in the graph.
func TestFromNodesGradients(t *testing.T) {
	for _, bind := range []bool{false, true} {
		g, w1, b, cost := mtGraph(t)
		if _, err := gorgonia.Grad(cost, w1, b); err != nil {
			t.Fatal(err)
		}
		var vm gorgonia.VM
		if bind {
			vm = gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(w1, b))
		} else {
			vm = gorgonia.NewTapeMachine(g)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		params, err := FromNodes(w1, b)
		vm.Close()
		if err != nil {
			t.Fatal(err)
		}
		if params[0].Grad == nil || params[1].Grad == nil {
			t.Fatalf("bind %v: no gradients after the run", bind)
		}
		// d cost / d W1[i][j] = Σ_rows x[r][i]: 1+3+5+7 = 16, 2+4+6+8 = 20;
		// d cost / d b = 1.
		want := []float64{16, 16, 16, 20, 20, 20}
		if got := params[0].Grad.Data().([]float64); !equalFloats(got, want) {
			t.Errorf("bind %v: W1 gradient %v, want %v", bind, got, want)
		}
		if got := params[1].Grad.Data().([]float64); !equalFloats(got, []float64{1, 1, 1}) {
			t.Errorf("bind %v: b gradient %v, want 1s", bind, got)
		}
		ms := NewMasks(params)
		ms.At(0).Set(0, false)
		ms.At(0).Set(5, false)
		if err := ms.ApplyGrad(params); err != nil {
			t.Fatal(err)
		}
		gv, err := w1.Grad()
		if err != nil {
			t.Fatal(err)
		}
		if got := gv.Data().([]float64); !equalFloats(got, []float64{0, 16, 16, 20, 20, 0}) {
			t.Errorf("bind %v: node gradient after ApplyGrad %v", bind, got)
		}
		if got := w1.Value().Data().([]float64); got[0] != 1 || got[5] != -6 {
			t.Errorf("bind %v: ApplyGrad changed weights: %v", bind, got)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFromNodesErrors(t *testing.T) {
	_, w1, b, _ := mtGraph(t)
	_, w1b, _, _ := mtGraph(t) // another graph, the same name
	g := gorgonia.NewGraph()
	unbound := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithName("unbound"), gorgonia.WithShape(2, 2))
	ints := gorgonia.NewVector(g, tensor.Int, gorgonia.WithName("ints"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]int{1, 2, 3}))))
	scalar := gorgonia.NewScalar(g, tensor.Float64, gorgonia.WithName("scalar"), gorgonia.WithValue(2.0))
	empty := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithName("empty"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(0), tensor.WithBacking([]float32{}))))
	for _, tc := range []struct {
		name  string
		nodes []*gorgonia.Node
		want  string
	}{
		{"same node twice", []*gorgonia.Node{w1, b, w1}, `node name "W1" appears twice`},
		{"same name twice", []*gorgonia.Node{w1, w1b}, `node name "W1" appears twice`},
		{"nil node", []*gorgonia.Node{w1, nil}, "node 1 is nil"},
		{"no value", []*gorgonia.Node{unbound}, `node "unbound" has no bound *tensor.Dense value`},
		{"int dtype", []*gorgonia.Node{w1, ints}, `param "ints": dtype int is not float32 or float64`},
		{"scalar value", []*gorgonia.Node{scalar}, `node "scalar" has no bound *tensor.Dense value`},
		{"empty value", []*gorgonia.Node{empty}, `param "empty": empty Value`},
	} {
		ps, err := FromNodes(tc.nodes...)
		if err == nil || ps != nil {
			t.Errorf("%s: params %v, error %v", tc.name, ps, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "prune: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, err, tc.want)
		}
	}
	if ps, err := FromNodes(); err != nil || len(ps) != 0 {
		t.Errorf("FromNodes(): %v, %v", ps, err)
	}
}

// TestApplyPaths checks every path of Apply's inner loops against the
// definition: whole words kept, pruned or mixed, the partial last word,
// float32 data that is not 8-byte aligned, and tensors split over goroutines.
func TestApplyPaths(t *testing.T) {
	defer func(v int) { applyParallelMin = v }(applyParallelMin)
	rng := rand.New(rand.NewPCG(8, 8))
	word := func() uint64 {
		switch rng.IntN(5) {
		case 0:
			return 0
		case 1:
			return ^uint64(0)
		case 2:
			a := rng.Uint64()
			return a & rng.Uint64()
		}
		return rng.Uint64()
	}
	for _, par := range []int{1 << 22, 64, 100} {
		applyParallelMin = par
		for _, n := range []int{1, 63, 64, 65, 127, 128, 129, 1000, 4096 + 13} {
			for _, offset := range []int{0, 1} {
				for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
					m, _ := NewMask("m", []int{n})
					for i := range m.bits {
						m.bits[i] = word()
					}
					m.clearTail()
					m.recount()
					full := mtDense(dt, []int{n + offset}, rng)
					var x *tensor.Dense
					if dt == tensor.Float32 {
						x = tensor.New(tensor.WithShape(n), tensor.WithBacking(full.Data().([]float32)[offset:]))
					} else {
						x = tensor.New(tensor.WithShape(n), tensor.WithBacking(full.Data().([]float64)[offset:]))
					}
					before := mtBits(full)
					if err := m.ApplyTo(x); err != nil {
						t.Fatal(err)
					}
					after := mtBits(full)
					for i := range after {
						j := i - offset
						keep := j < 0 || m.Keeps(j)
						if keep && after[i] != before[i] || !keep && after[i] != 0 {
							t.Fatalf("parallel min %d, n %d, offset %d, %v: element %d is %x, was %x, kept %v",
								par, n, offset, dt, j, after[i], before[i], keep)
						}
					}
				}
			}
		}
	}
}

// TestApplyScalar checks a 0-d tensor, whose Data is not a slice.
func TestApplyScalar(t *testing.T) {
	for _, v := range []any{float32(3), float64(-2)} {
		x := tensor.New(tensor.FromScalar(v))
		ps := []Param{{Name: "s", Value: x}}
		ms := NewMasks(ps)
		if ms.Total() != 1 {
			t.Fatalf("%T scalar: %d elements, want 1", v, ms.Total())
		}
		if err := ms.Apply(ps); err != nil {
			t.Fatal(err)
		}
		if got := x.Data(); got != v {
			t.Fatalf("%T scalar kept: %v, want %v", v, got, v)
		}
		ms.At(0).Set(0, false)
		if err := ms.Apply(ps); err != nil {
			t.Fatal(err)
		}
		if got := x.Data(); got != reflectZero(v) {
			t.Fatalf("%T scalar pruned: %v, want 0", v, got)
		}
	}
}

func reflectZero(v any) any {
	if _, ok := v.(float32); ok {
		return float32(0)
	}
	return float64(0)
}
