package prune

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// ---- helpers ----

func dense32(shape []int, data []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func dense64(shape []int, data []float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// genParams makes Params of the given shapes from values drawn by gen, as
// float32 (f32) or float64 holding the same float32-representable values,
// with gradients.
func genParams(shapes [][]int, f32 bool, gen func() float32) []Param {
	ps := make([]Param, len(shapes))
	for i, sh := range shapes {
		n := 1
		for _, d := range sh {
			n *= d
		}
		v32, g32 := make([]float32, n), make([]float32, n)
		for j := range v32 {
			v32[j] = gen()
			g32[j] = gen()
		}
		name := fmt.Sprintf("p%d", i)
		if f32 {
			ps[i] = Param{Name: name, Value: dense32(sh, v32), Grad: dense32(sh, g32)}
			continue
		}
		v64, g64 := make([]float64, n), make([]float64, n)
		for j := range v32 {
			v64[j], g64[j] = float64(v32[j]), float64(g32[j])
		}
		ps[i] = Param{Name: name, Value: dense64(sh, v64), Grad: dense64(sh, g64)}
	}
	return ps
}

// valueGen returns a generator of weights: continuous, or drawn from a few
// values (many ties, zeros of both signs) when ties.
func valueGen(rng *rand.Rand, ties bool) func() float32 {
	if ties {
		return func() float32 {
			switch x := rng.IntN(7); x {
			case 0:
				return float32(math.Copysign(0, -1))
			default:
				return float32(x-3) * 0.5
			}
		}
	}
	return func() float32 { return float32(rng.NormFloat64()) }
}

// elems returns the values of t as float64.
func elems(t *tensor.Dense) []float64 {
	if isFloat32(t) {
		d := data32(t)
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	}
	return slices.Clone(data64(t))
}

// setEngine sets the selection engine's tuning knobs for one test and
// restores them after.
func setEngine(t *testing.T, perRange, ranges, collect, small int) {
	t.Helper()
	a, b, c, d := minPerRange, maxRanges, collectLimit, smallSelect
	minPerRange, maxRanges, collectLimit, smallSelect = perRange, ranges, collect, small
	t.Cleanup(func() { minPerRange, maxRanges, collectLimit, smallSelect = a, b, c, d })
}

// engines are settings of the selection engine that exercise its paths: the
// defaults, many small ranges (ties split across goroutines), every radix
// pass without the early collect, and radix selection even on tiny inputs.
var engines = []struct {
	name                             string
	perRange, ranges, collect, small int
}{
	{"default", 1 << 18, 0, 1 << 16, 4096},
	{"ranges", 64, 5, 1 << 16, 0},
	{"allpasses", 100, 3, 0, 0},
	{"collect", 1 << 18, 0, 1 << 30, 0},
}

// ---- reference implementation: score everything, stable sort ----

type refScorer struct {
	kind string // "l1", "l2", "taylor", "signed", "random"
	rand *rand.Rand
}

func (r *refScorer) scores(p Param) []float64 {
	w := elems(p.Value)
	switch r.kind {
	case "l1", "l2":
		for i := range w {
			w[i] = math.Abs(w[i])
		}
	case "taylor":
		g := elems(p.Grad)
		for i := range w {
			w[i] = math.Abs(w[i] * g[i])
		}
	case "signed":
		// w itself, negative scores included.
	case "random":
		for i := range w {
			w[i] = r.rand.Float64()
		}
	}
	return w
}

// refSelect prunes the k lowest of the kept positions by a full stable sort.
func refSelect(scores []float64, kept []bool, k int) {
	idx := []int{}
	for i, ok := range kept {
		if ok {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	for _, i := range idx[:k] {
		kept[i] = false
	}
}

func maskBools(m *Mask) []bool {
	out := make([]bool, m.Len())
	for i := range out {
		out[i] = m.Keeps(i)
	}
	return out
}

func setBools(m *Mask, b []bool) {
	for i, k := range b {
		m.Set(i, k)
	}
}

// refPrune applies the pruner described by mode ("unstructured", "global",
// "layerwise" with amounts per param) with the reference method.
func refPrune(t *testing.T, mode string, ms *Masks, params []Param, rs *refScorer, amounts []Amount) error {
	t.Helper()
	switch mode {
	case "global":
		var scores []float64
		var kept []bool
		for i, p := range params {
			scores = append(scores, rs.scores(p)...)
			kept = append(kept, maskBools(ms.At(i))...)
		}
		k, err := amounts[0].ToPrune(ms.Kept(), ms.Total())
		if err != nil {
			return err
		}
		refSelect(scores, kept, k)
		for i := range params {
			n := ms.At(i).Len()
			setBools(ms.At(i), kept[:n])
			kept = kept[n:]
		}
		return nil
	default:
		for i, p := range params {
			if amounts[i] == nil {
				continue
			}
			m := ms.At(i)
			k, err := amounts[i].ToPrune(m.Kept(), m.Len())
			if err != nil {
				return err
			}
			kept := maskBools(m)
			refSelect(rs.scores(p), kept, k)
			setBools(m, kept)
		}
		return nil
	}
}

func randomShape(rng *rand.Rand, big bool) []int {
	switch rng.IntN(4) {
	case 0:
		return []int{1 + rng.IntN(70)}
	case 1:
		return []int{1 + rng.IntN(40), 1 + rng.IntN(40)}
	case 2:
		if big {
			return []int{50 + rng.IntN(150), 50 + rng.IntN(100)}
		}
		return []int{1 + rng.IntN(6), 1 + rng.IntN(5), 1 + rng.IntN(4)}
	default:
		return []int{1 + rng.IntN(5), 1 + rng.IntN(4), 1 + rng.IntN(3), 1 + rng.IntN(3)}
	}
}

func randomAmount(rng *rand.Rand) Amount {
	switch rng.IntN(4) {
	case 0:
		return Count(rng.IntN(7))
	case 1:
		return TargetSparsity(rng.Float64())
	case 2:
		return Fraction([]float64{0, 0.2, 0.5, 1, 0.125}[rng.IntN(5)])
	default:
		return Fraction(rng.Float64())
	}
}

// TestUnstructuredMatchesReference checks Unstructured, Global and Layerwise
// against a full stable sort over random shapes, amounts, scorers, both
// dtypes, ties, several rounds, and every path of the selection engine.
func TestUnstructuredMatchesReference(t *testing.T) {
	trials := 120
	if testing.Short() {
		trials = 40
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			setEngine(t, eng.perRange, eng.ranges, eng.collect, eng.small)
			rng := rand.New(rand.NewPCG(7, uint64(len(eng.name))))
			for trial := range trials {
				nparams := 1 + rng.IntN(4)
				shapes := make([][]int, nparams)
				for i := range shapes {
					shapes[i] = randomShape(rng, trial%5 == 0)
				}
				ties := rng.IntN(2) == 0
				f32 := rng.IntN(2) == 0
				params := genParams(shapes, f32, valueGen(rng, ties))
				kinds := []string{"l1", "l2", "taylor", "signed", "random"}
				kind := kinds[rng.IntN(len(kinds))]
				mode := []string{"unstructured", "global", "layerwise"}[rng.IntN(3)]
				seed := rng.Uint64()
				var scorer Scorer
				switch kind {
				case "l1":
					scorer = L1{}
				case "l2":
					scorer = &L2{}
				case "taylor":
					scorer = Taylor{}
				case "signed":
					scorer = ScoreFunc(func(p Param, dst []float64) error {
						copy(dst, elems(p.Value))
						return nil
					})
				case "random":
					scorer = Random{Rand: rand.New(rand.NewPCG(seed, 1))}
				}
				rs := &refScorer{kind: kind, rand: rand.New(rand.NewPCG(seed, 1))}
				got, want := NewMasks(params), NewMasks(params)
				for round := range 3 {
					amounts := make([]Amount, nparams)
					var pr Pruner
					switch mode {
					case "unstructured":
						a := randomAmount(rng)
						for i := range amounts {
							amounts[i] = a
						}
						pr = Unstructured{Scorer: scorer, Amount: a}
					case "global":
						amounts[0] = randomAmount(rng)
						pr = Global{Scorer: scorer, Amount: amounts[0]}
					case "layerwise":
						lw := Layerwise{Scorer: scorer, Amounts: map[string]Amount{}}
						if rng.IntN(2) == 0 {
							lw.Default = randomAmount(rng)
						}
						for i, p := range params {
							if rng.IntN(2) == 0 {
								lw.Amounts[p.Name] = randomAmount(rng)
								amounts[i] = lw.Amounts[p.Name]
							} else {
								amounts[i] = lw.Default
							}
						}
						pr = lw
					}
					before := got.Clone()
					errGot := pr.Prune(got, params)
					errWant := refPrune(t, mode, want, params, rs, amounts)
					desc := fmt.Sprintf("trial %d round %d: %s %s shapes %v f32=%v ties=%v amounts %v", trial, round, mode, kind, shapes, f32, ties, amounts)
					if (errGot != nil) != (errWant != nil) {
						t.Fatalf("%s: error %v, reference error %v", desc, errGot, errWant)
					}
					if errGot != nil {
						if !got.Equal(before) {
							t.Fatalf("%s: masks changed on error %v", desc, errGot)
						}
						// The reference may have pruned some params before
						// its error: resynchronise.
						want = got.Clone()
						if kind == "random" {
							// Draws consumed differ on error: stop this trial.
							break
						}
						continue
					}
					if !got.Equal(want) {
						for i := range params {
							if !got.At(i).Equal(want.At(i)) {
								t.Fatalf("%s: param %d mask differs:\n got  %v\n want %v", desc, i, maskBools(got.At(i)), maskBools(want.At(i)))
							}
						}
						t.Fatalf("%s: masks differ", desc)
					}
					if !got.SubsetOf(before) {
						t.Fatalf("%s: a pruned entry was revived", desc)
					}
				}
			}
		})
	}
}

// refSliceScores computes slice scores naively: each element's slice index
// is its coordinate on dim; sums in flat order over kept elements.
func refSliceScores(kind string, p Param, m *Mask, dim int, rng *rand.Rand) []float64 {
	shape := p.Value.Shape()
	inner := 1
	for _, d := range shape[dim+1:] {
		inner *= d
	}
	size := shape[dim]
	out := make([]float64, size)
	if kind == "random" {
		for i := range out {
			out[i] = rng.Float64()
		}
		return out
	}
	w := elems(p.Value)
	var g []float64
	if p.Grad != nil {
		g = elems(p.Grad)
	}
	for i, x := range w {
		if !m.Keeps(i) {
			continue
		}
		s := (i / inner) % size
		switch kind {
		case "l1":
			out[s] += math.Abs(x)
		case "l2":
			out[s] += x * x
		case "taylor":
			out[s] += math.Abs(x * g[i])
		case "signed":
			out[s] += x
		}
	}
	if kind == "l2" {
		for i := range out {
			out[i] = math.Sqrt(out[i])
		}
	}
	return out
}

func refStructured(p Param, m *Mask, dim int, kind string, rng *rand.Rand, a Amount) error {
	shape := p.Value.Shape()
	inner := 1
	for _, d := range shape[dim+1:] {
		inner *= d
	}
	size := shape[dim]
	alive := make([]bool, size)
	for i := range m.Len() {
		if m.Keeps(i) {
			alive[(i/inner)%size] = true
		}
	}
	nAlive := 0
	for _, ok := range alive {
		if ok {
			nAlive++
		}
	}
	k, err := a.ToPrune(nAlive, size)
	if err != nil {
		return err
	}
	scores := refSliceScores(kind, p, m, dim, rng)
	refSelect(scores, alive, k)
	for i := range m.Len() {
		if !alive[(i/inner)%size] {
			m.Set(i, false)
		}
	}
	return nil
}

func TestStructuredMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := range 300 {
		shape := randomShape(rng, false)
		dim := rng.IntN(len(shape))
		f32 := rng.IntN(2) == 0
		ties := rng.IntN(3) == 0
		params := genParams([][]int{shape}, f32, valueGen(rng, ties))
		kind := []string{"l1", "l2", "taylor", "signed", "random"}[rng.IntN(5)]
		seed := rng.Uint64()
		var scorer Scorer
		switch kind {
		case "l1":
			scorer = L1{}
		case "l2":
			scorer = L2{}
		case "taylor":
			scorer = &Taylor{}
		case "signed":
			scorer = ScoreFunc(func(p Param, dst []float64) error {
				copy(dst, elems(p.Value))
				return nil
			})
		case "random":
			scorer = Random{Rand: rand.New(rand.NewPCG(seed, 3))}
		}
		refRng := rand.New(rand.NewPCG(seed, 3))
		got, want := NewMasks(params), NewMasks(params)
		// Start some trials from an unstructured mask, as torch allows.
		if rng.IntN(3) == 0 {
			if err := (Unstructured{Scorer: L1{}, Amount: Fraction(rng.Float64())}).Prune(got, params); err != nil {
				t.Fatal(err)
			}
			want = got.Clone()
		}
		for round := range 3 {
			a := randomAmount(rng)
			before := got.Clone()
			errGot := Structured{Scorer: scorer, Dim: dim, Amount: a}.Prune(got, params)
			errWant := refStructured(params[0], want.At(0), dim, kind, refRng, a)
			desc := fmt.Sprintf("trial %d round %d: %s shape %v dim %d f32=%v amount %v", trial, round, kind, shape, dim, f32, a)
			if (errGot != nil) != (errWant != nil) {
				t.Fatalf("%s: error %v, reference %v", desc, errGot, errWant)
			}
			if errGot != nil {
				if !got.Equal(before) {
					t.Fatalf("%s: masks changed on error", desc)
				}
				break
			}
			if !got.Equal(want) {
				t.Fatalf("%s:\n got  %v\n want %v", desc, maskBools(got.At(0)), maskBools(want.At(0)))
			}
		}
	}
}

func refNM(p Param, m *Mask, n, mm, dim int, scores []float64) {
	shape := p.Value.Shape()
	inner := 1
	for _, d := range shape[dim+1:] {
		inner *= d
	}
	size := shape[dim]
	groups := map[[3]int][]int{} // (outer, inner, group) -> flat indices in dim order
	var keys [][3]int
	for i := range m.Len() {
		o, s, in := i/(inner*size), (i/inner)%size, i%inner
		key := [3]int{o, in, s / mm}
		if _, ok := groups[key]; !ok {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], i)
	}
	for _, key := range keys {
		idx := groups[key] // increasing flat index = increasing index on dim
		kept := make([]bool, len(idx))
		sc := make([]float64, len(idx))
		nk := 0
		for j, i := range idx {
			kept[j] = m.Keeps(i)
			sc[j] = scores[i]
			if kept[j] {
				nk++
			}
		}
		if nk > n {
			refSelect(sc, kept, nk-n)
		}
		for j, i := range idx {
			m.Set(i, kept[j])
		}
	}
}

func TestNMMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		mm := 1 + rng.IntN(5)
		n := 1 + rng.IntN(mm)
		shape := randomShape(rng, false)
		dim := rng.IntN(len(shape))
		shape[dim] = mm * (1 + rng.IntN(4))
		f32 := rng.IntN(2) == 0
		params := genParams([][]int{shape}, f32, valueGen(rng, rng.IntN(2) == 0))
		kind := []string{"l1", "taylor", "signed"}[rng.IntN(3)]
		var scorer Scorer = L1{}
		rs := &refScorer{kind: kind}
		switch kind {
		case "taylor":
			scorer = Taylor{}
		case "signed":
			scorer = ScoreFunc(func(p Param, dst []float64) error {
				copy(dst, elems(p.Value))
				return nil
			})
		}
		got := NewMasks(params)
		if rng.IntN(2) == 0 {
			if err := (Unstructured{Amount: Fraction(rng.Float64())}).Prune(got, params); err != nil {
				t.Fatal(err)
			}
		}
		want := got.Clone()
		if err := (NM{N: n, M: mm, Scorer: scorer, Dim: dim}).Prune(got, params); err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		refNM(params[0], want.At(0), n, mm, dim, rs.scores(params[0]))
		if !got.Equal(want) {
			t.Fatalf("trial %d: %d:%d dim %d shape %v %s:\n got  %v\n want %v", trial, n, mm, dim, shape, kind, maskBools(got.At(0)), maskBools(want.At(0)))
		}
	}
}

// ---- properties ----

func TestExactCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	params := genParams([][]int{{30, 20}, {7, 5}, {6, 3, 5, 5}, {10}}, true, valueGen(rng, false))
	cases := []struct {
		name string
		pr   Pruner
		want []int // kept per param
	}{
		{"unstructured fraction", Unstructured{Amount: Fraction(0.3)}, []int{600 - 180, 35 - 10, 450 - 135, 10 - 3}},
		{"unstructured count", Unstructured{Amount: Count(5)}, []int{595, 30, 445, 5}},
		{"layerwise", Layerwise{Default: Fraction(0.5), Amounts: map[string]Amount{"p1": Count(1), "p3": nil}}, []int{300, 34, 225, 10}},
		{"layerwise nil default", Layerwise{Amounts: map[string]Amount{"p0": Fraction(0.1)}}, []int{540, 35, 450, 10}},
		{"structured rows", Structured{Dim: 0, Amount: Count(2)}, []int{560, 25, 300, 8}},
	}
	for _, c := range cases {
		ms := NewMasks(params)
		if err := c.pr.Prune(ms, params); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i, want := range c.want {
			if got := ms.At(i).Kept(); got != want {
				t.Errorf("%s: param %d keeps %d, want %d", c.name, i, got, want)
			}
		}
	}
	nmParams := genParams([][]int{{30, 20}, {10, 4}, {5, 2, 3, 3}, {15}}, true, valueGen(rng, false))
	ms := NewMasks(nmParams)
	if err := (NM{N: 2, M: 5}).Prune(ms, nmParams); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{240, 16, 36, 6} {
		if got := ms.At(i).Kept(); got != want {
			t.Errorf("nm 2:5: param %d keeps %d, want %d", i, got, want)
		}
	}
	// Global counts over all params.
	ms = NewMasks(params)
	if err := (Global{Amount: Fraction(0.25)}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	total := 600 + 35 + 450 + 10
	if got, want := ms.Kept(), total-int(math.RoundToEven(0.25*float64(total))); got != want {
		t.Errorf("global keeps %d, want %d", got, want)
	}
}

func TestTwoRoundsOfTwentyPercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := [][]int{{33, 17}, {101}, {5, 3, 3, 3}}
	params := genParams(shapes, true, valueGen(rng, false))
	for _, pr := range []Pruner{Global{Amount: Fraction(0.2)}, Unstructured{Amount: Fraction(0.2)}} {
		ms := NewMasks(params)
		for range 2 {
			if err := pr.Prune(ms, params); err != nil {
				t.Fatal(err)
			}
		}
		switch pr.(type) {
		case Global:
			kept := ms.Total()
			for range 2 {
				kept -= int(math.RoundToEven(0.2 * float64(kept)))
			}
			if ms.Kept() != kept {
				t.Errorf("global: kept %d, want %d", ms.Kept(), kept)
			}
		default:
			for i := range params {
				kept := ms.At(i).Len()
				for range 2 {
					kept -= int(math.RoundToEven(0.2 * float64(kept)))
				}
				if ms.At(i).Kept() != kept {
					t.Errorf("unstructured param %d: kept %d, want %d", i, ms.At(i).Kept(), kept)
				}
			}
		}
	}
}

func TestFloat32AndFloat64Agree(t *testing.T) {
	shapes := [][]int{{40, 30}, {9, 6}, {4, 3, 3, 3}}
	for _, ties := range []bool{false, true} {
		p32 := genParams(shapes, true, valueGen(rand.New(rand.NewPCG(9, 9)), ties))
		p64 := genParams(shapes, false, valueGen(rand.New(rand.NewPCG(9, 9)), ties))
		pruners := []Pruner{
			Unstructured{Amount: Fraction(0.37)},
			Global{Scorer: L2{}, Amount: Fraction(0.5)},
			Global{Scorer: Taylor{}, Amount: Count(100)},
			Layerwise{Default: Fraction(0.3), Amounts: map[string]Amount{"p0": Count(3)}},
			Structured{Scorer: L2{}, Dim: 1, Amount: Fraction(0.4)},
			Structured{Scorer: Taylor{}, Dim: 0, Amount: Count(1)},
			NM{N: 1, M: 3, Dim: 1},
		}
		for _, pr := range pruners {
			a, b := NewMasks(p32), NewMasks(p64)
			for range 2 {
				if err := pr.Prune(a, p32); err != nil {
					t.Fatal(err)
				}
				if err := pr.Prune(b, p64); err != nil {
					t.Fatal(err)
				}
			}
			if !a.Equal(b) {
				t.Errorf("%T (ties %v): float32 and float64 masks differ", pr, ties)
			}
		}
	}
	// A Global over float32 and float64 Params together ranks as if all were float64.
	mixed := []Param{genParams(shapes[:1], true, valueGen(rand.New(rand.NewPCG(9, 9)), false))[0]}
	all64 := genParams(shapes, false, valueGen(rand.New(rand.NewPCG(9, 9)), false))
	mixed = append(mixed, all64[1:]...)
	a, b := NewMasks(mixed), NewMasks(all64)
	if err := (Global{Amount: Fraction(0.6)}).Prune(a, mixed); err != nil {
		t.Fatal(err)
	}
	if err := (Global{Amount: Fraction(0.6)}).Prune(b, all64); err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Error("mixed-dtype Global differs from all-float64")
	}
}

func TestRandomSeeds(t *testing.T) {
	params := genParams([][]int{{20, 10}, {50}}, true, valueGen(rand.New(rand.NewPCG(1, 1)), false))
	mask := func(pr func(r *rand.Rand) Pruner, seed uint64) *Masks {
		ms := NewMasks(params)
		if err := pr(rand.New(rand.NewPCG(seed, 0))).Prune(ms, params); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	pruners := map[string]func(r *rand.Rand) Pruner{
		"global":     func(r *rand.Rand) Pruner { return Global{Scorer: Random{Rand: r}, Amount: Fraction(0.5)} },
		"structured": func(r *rand.Rand) Pruner { return Structured{Scorer: Random{Rand: r}, Dim: 0, Amount: Fraction(0.5)} },
		"nm":         func(r *rand.Rand) Pruner { return NM{N: 1, M: 2, Scorer: Random{Rand: r}} },
	}
	for name, pr := range pruners {
		if !mask(pr, 42).Equal(mask(pr, 42)) {
			t.Errorf("%s: the same seed gave different masks", name)
		}
		if mask(pr, 42).Equal(mask(pr, 43)) {
			t.Errorf("%s: different seeds gave the same mask", name)
		}
	}
}

func TestTiesPruneEarliestFirst(t *testing.T) {
	for _, eng := range engines {
		setEngine(t, eng.perRange, eng.ranges, eng.collect, eng.small)
		for _, f32 := range []bool{true, false} {
			params := genParams([][]int{{70, 80}, {300}}, f32, func() float32 { return -1.5 })
			ms := NewMasks(params)
			if err := (Global{Amount: Count(5700)}).Prune(ms, params); err != nil {
				t.Fatal(err)
			}
			for i := range 5600 {
				if ms.At(0).Keeps(i) {
					t.Fatalf("%s: element %d of p0 kept", eng.name, i)
				}
			}
			for i := range 300 {
				if ms.At(1).Keeps(i) != (i >= 100) {
					t.Fatalf("%s: element %d of p1: kept %v", eng.name, i, ms.At(1).Keeps(i))
				}
			}
		}
	}
	// Slices: the lower index goes first.
	params := genParams([][]int{{4, 6}}, true, func() float32 { return 1 })
	ms := NewMasks(params)
	if err := (Structured{Dim: 1, Amount: Count(2)}).Prune(ms, params); err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		if ms.At(0).Keeps(i) != (i%6 >= 2) {
			t.Fatalf("structured tie: element %d kept %v", i, ms.At(0).Keeps(i))
		}
	}
}

// ---- errors ----

func TestErrorsNameTheParamAndChangeNothing(t *testing.T) {
	base := func() []Param {
		return genParams([][]int{{6, 4}, {8}}, true, valueGen(rand.New(rand.NewPCG(2, 2)), false))
	}
	withWeight := func(x float32) []Param {
		ps := base()
		data32(ps[1].Value)[3] = x
		return ps
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	bad64 := func() []Param {
		ps := base()
		ps[1].Value = dense64([]int{8}, []float64{1, 2, 3, math.Inf(-1), 5, 6, 7, 8})
		ps[1].Grad = nil
		return ps
	}
	noGrad := func() []Param {
		ps := base()
		ps[1].Grad = nil
		return ps
	}
	bigGrad := func() []Param {
		ps := base()
		ps[1].Value = dense64([]int{8}, []float64{1, 2, 3, 1e300, 5, 6, 7, 8})
		ps[1].Grad = dense64([]int{8}, []float64{1, 2, 3, 1e300, 5, 6, 7, 8})
		return ps
	}
	nilValue := func() []Param {
		ps := base()
		ps[1].Value = nil
		return ps
	}
	emptyValue := func() []Param {
		ps := base()
		ps[1].Value = dense32([]int{0}, []float32{})
		return ps
	}
	intValue := func() []Param {
		ps := base()
		ps[1].Value = tensor.New(tensor.WithShape(8), tensor.WithBacking([]int{1, 2, 3, 4, 5, 6, 7, 8}))
		ps[1].Grad = nil
		return ps
	}
	nanScore := ScoreFunc(func(p Param, dst []float64) error {
		for i := range dst {
			dst[i] = float64(i)
		}
		if p.Name == "p1" {
			dst[2] = math.NaN()
		}
		return nil
	})
	failing := ScoreFunc(func(p Param, dst []float64) error {
		if p.Name == "p1" {
			return fmt.Errorf("no scores today")
		}
		return nil
	})
	badSlices := sliceFunc(func(p Param, dim int, dst []float64) error {
		if p.Name == "p1" {
			dst[0] = math.Inf(-1)
		}
		return nil
	})
	cases := []struct {
		name   string
		params func() []Param
		masks  func(ps []Param) *Masks // nil: NewMasks(ps)
		pr     Pruner
		want   string // the error must contain it
	}{
		{"negative count", base, nil, Unstructured{Amount: Count(-1)}, `"p0"`},
		{"count over kept", base, nil, Unstructured{Amount: Count(9)}, `"p1"`},
		{"nan fraction", base, nil, Layerwise{Amounts: map[string]Amount{"p1": Fraction(math.NaN())}}, `"p1"`},
		{"fraction over 1", base, nil, Unstructured{Amount: Fraction(1.5)}, `"p0"`},
		{"negative fraction", base, nil, Structured{Dim: 0, Amount: Fraction(-0.1)}, `"p0"`},
		{"global count over kept", base, nil, Global{Amount: Count(33)}, "Global"},
		{"structured count over slices", base, nil, Structured{Dim: 0, Amount: Count(7)}, `"p0"`},
		{"nil amount", base, nil, Unstructured{}, "nil Amount"},
		{"nan weight", func() []Param { return withWeight(nan) }, nil, Unstructured{Amount: Fraction(0.5)}, `"p1": weight 3 is NaN`},
		{"inf weight global", func() []Param { return withWeight(inf) }, nil, Global{Amount: Fraction(0.5)}, `"p1": weight 3 is +Inf`},
		{"inf weight float64", bad64, nil, Global{Amount: Fraction(0.5)}, `"p1": weight 3 is -Inf`},
		{"nan weight zero amount", func() []Param { return withWeight(nan) }, nil, Global{Amount: Fraction(0)}, `"p1"`},
		{"nan weight all pruned", func() []Param { return withWeight(nan) }, nil, Unstructured{Amount: Fraction(1)}, `"p1"`},
		{"nan weight structured", func() []Param { return withWeight(nan) }, nil, Structured{Dim: 0, Amount: Count(1)}, `"p1"`},
		{"nan weight nm", func() []Param { return withWeight(nan) }, nil, NM{N: 1, M: 2}, `"p1"`},
		{"taylor overflow", bigGrad, nil, Global{Scorer: Taylor{}, Amount: Count(1)}, `"p1": Taylor score of element 3 is +Inf`},
		{"nan score", base, nil, Global{Scorer: nanScore, Amount: Count(1)}, `"p1": score of element 2 is NaN`},
		{"nan score structured", base, nil, Structured{Scorer: nanScore, Amount: Count(1)}, `"p1"`},
		{"inf slice score", base, nil, Structured{Scorer: badSlices, Amount: Count(1)}, `"p1": score of slice 0 is -Inf`},
		{"failing scorer", base, nil, Unstructured{Scorer: failing, Amount: Count(1)}, `"p1": scorer failed: no scores today`},
		{"nil value", nilValue, func([]Param) *Masks { return NewMasks(base()) }, Global{Amount: Count(1)}, `"p1": nil Value`},
		{"empty value", emptyValue, func([]Param) *Masks { return NewMasks(base()) }, Unstructured{Amount: Count(1)}, `"p1": empty Value`},
		{"int dtype", intValue, nil, Global{Amount: Count(1)}, `"p1": dtype int`},
		{"mask name", base, func(ps []Param) *Masks {
			m0, _ := NewMask("p0", []int{6, 4})
			m1, _ := NewMask("q1", []int{8})
			ms, _ := NewMasksOf(m0, m1)
			return ms
		}, Global{Amount: Count(1)}, `"p1"`},
		{"mask size", base, func(ps []Param) *Masks {
			m0, _ := NewMask("p0", []int{6, 4})
			m1, _ := NewMask("p1", []int{9})
			ms, _ := NewMasksOf(m0, m1)
			return ms
		}, Unstructured{Amount: Count(1)}, `"p1"`},
		{"mask missing", base, func(ps []Param) *Masks { return NewMasks(ps[:1]) }, Global{Amount: Count(1)}, `param "p1" has no mask of that name`},
		{"mask missing nm", base, func(ps []Param) *Masks { return NewMasks(ps[1:]) }, NM{N: 1, M: 2}, `"p0"`},
		{"dim out of range", base, nil, Structured{Dim: 1, Amount: Count(1)}, `"p1": Dim 1 is out of range`},
		{"negative dim", base, nil, Structured{Dim: -1, Amount: Count(1)}, `"p0": Dim -1`},
		{"nm dim out of range", base, nil, NM{N: 1, M: 2, Dim: 1}, `"p1": Dim 1`},
		{"n over m", base, nil, NM{N: 3, M: 2}, "N=3, M=2"},
		{"n zero", base, nil, NM{M: 2}, "N=0"},
		{"m not dividing", base, nil, NM{N: 1, M: 3}, `"p1": M=3 does not divide`},
		{"taylor without grad", noGrad, nil, Unstructured{Scorer: Taylor{}, Amount: Count(1)}, `"p1": nil Grad`},
		{"taylor without grad global", noGrad, nil, Global{Scorer: Taylor{}, Amount: Count(1)}, `"p1": nil Grad`},
		{"taylor without grad structured", noGrad, nil, Structured{Scorer: Taylor{}, Amount: Count(1)}, `"p1": nil Grad`},
		{"taylor without grad nm", noGrad, nil, NM{N: 1, M: 2, Scorer: Taylor{}}, `"p1": nil Grad`},
		{"random nil rand", base, nil, Global{Scorer: Random{}, Amount: Count(1)}, `"p0": Random scorer has a nil Rand`},
		{"random nil rand structured", base, nil, Structured{Scorer: Random{}, Amount: Count(1)}, `nil Rand`},
		{"random nil rand nm", base, nil, NM{N: 1, M: 2, Scorer: &Random{}}, `nil Rand`},
		{"layerwise unknown name", base, nil, Layerwise{Default: Count(1), Amounts: map[string]Amount{"p2": Count(1)}}, `"p2"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := c.params()
			var ms *Masks
			if c.masks != nil {
				ms = c.masks(ps)
			} else {
				ms = NewMasks(ps)
			}
			// Prune some first, so that "unchanged" means something.
			if c.masks == nil && ps[0].Value != nil {
				pre := NewMasks(ps)
				pre.At(0).Set(5, false)
				pre.At(1).Set(0, false)
				ms = pre
			}
			before := ms.Clone()
			err := c.pr.Prune(ms, ps)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.HasPrefix(err.Error(), "prune: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if !ms.Equal(before) {
				t.Errorf("masks changed on error %v", err)
			}
		})
	}
}

type sliceFunc func(p Param, dim int, dst []float64) error

func (f sliceFunc) Score(p Param, dst []float64) error { return nil }

func (f sliceFunc) ScoreSlices(p Param, dim int, dst []float64) error { return f(p, dim, dst) }

func TestScoreSlices(t *testing.T) {
	// 2×3: rows [1 -2 3], [-4 5 -6].
	p := Param{Name: "w", Value: dense32([]int{2, 3}, []float32{1, -2, 3, -4, 5, -6}),
		Grad: dense32([]int{2, 3}, []float32{1, 1, 1, 0.5, 0.5, 0.5})}
	cases := []struct {
		s    SliceScorer
		dim  int
		want []float64
	}{
		{L1{}, 0, []float64{6, 15}},
		{L1{}, 1, []float64{5, 7, 9}},
		{L2{}, 0, []float64{math.Sqrt(14), math.Sqrt(77)}},
		{Taylor{}, 1, []float64{3, 4.5, 6}},
	}
	for _, c := range cases {
		got := make([]float64, len(c.want))
		if err := c.s.ScoreSlices(p, c.dim, got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%T dim %d: %v, want %v", c.s, c.dim, got, c.want)
		}
	}
	if err := (L1{}).ScoreSlices(p, 2, make([]float64, 1)); err == nil {
		t.Error("dim 2 of a matrix: no error")
	}
	if err := (L2{}).ScoreSlices(p, 0, make([]float64, 3)); err == nil {
		t.Error("wrong dst length: no error")
	}
	if err := (Random{}).ScoreSlices(p, 0, make([]float64, 2)); err == nil {
		t.Error("nil Rand: no error")
	}
	r := make([]float64, 3)
	if err := (Random{Rand: rand.New(rand.NewPCG(1, 1))}).ScoreSlices(p, 1, r); err != nil || r[0] == r[1] {
		t.Errorf("random slice scores %v, %v", r, err)
	}
}

func TestScalarParam(t *testing.T) {
	s := tensor.New(tensor.FromScalar(float32(-3)))
	ps := []Param{{Name: "s", Value: s}, {Name: "v", Value: dense32([]int{3}, []float32{1, 2, 3})}}
	ms := NewMasks(ps)
	if err := (Global{Amount: Count(2)}).Prune(ms, ps); err != nil {
		t.Fatal(err)
	}
	if ms.At(0).Keeps(0) != true || ms.At(1).Kept() != 1 {
		t.Fatalf("scalar global: %v %v", maskBools(ms.At(0)), maskBools(ms.At(1)))
	}
	if err := (Unstructured{Amount: Count(1)}).Prune(ms, ps); err != nil {
		t.Fatal(err)
	}
	if ms.At(0).Kept() != 0 {
		t.Fatal("scalar not pruned")
	}
	if err := ms.Apply(ps); err != nil {
		t.Fatal(err)
	}
	if got := data32(s)[0]; got != 0 {
		t.Fatalf("Apply left the pruned scalar at %v", got)
	}
	if err := (Structured{Amount: Count(0)}).Prune(ms, ps); err == nil || !strings.Contains(err.Error(), `"s"`) {
		t.Fatalf("structured on a scalar: %v", err)
	}
}

// FuzzGlobalMatchesReference compares Global and Unstructured (L1) with the
// full stable sort on weights made from the input bytes (few distinct values:
// many ties), under every engine setting.
func FuzzGlobalMatchesReference(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 250, 0, 128, 7}, uint16(4), uint8(1))
	f.Add(make([]byte, 300), uint16(77), uint8(2))
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice over"), uint16(30), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, k uint16, split uint8) {
		if len(data) == 0 || len(data) > 1<<13 {
			return
		}
		// Up to 3 params, cut where split says.
		cuts := []int{0}
		for i := range int(split % 3) {
			c := (len(data) * (i + 1)) / (int(split%3) + 1)
			if c > cuts[len(cuts)-1] && c < len(data) {
				cuts = append(cuts, c)
			}
		}
		cuts = append(cuts, len(data))
		var params []Param
		for i := 1; i < len(cuts); i++ {
			w := make([]float32, 0, cuts[i]-cuts[i-1])
			for _, b := range data[cuts[i-1]:cuts[i]] {
				w = append(w, float32(int8(b))*0.25)
			}
			params = append(params, Param{Name: fmt.Sprintf("p%d", i), Value: dense32([]int{len(w)}, w)})
		}
		for _, eng := range engines {
			setEngine(t, min(eng.perRange, 64), eng.ranges, eng.collect, eng.small)
			ms := NewMasks(params)
			n := int(k) % (len(data) + 1)
			if err := (Global{Amount: Count(n)}).Prune(ms, params); err != nil {
				t.Fatal(err)
			}
			want := NewMasks(params)
			rs := &refScorer{kind: "l1"}
			if err := refPrune(t, "global", want, params, rs, []Amount{Count(n)}); err != nil {
				t.Fatal(err)
			}
			if !ms.Equal(want) {
				t.Fatalf("%s: global Count(%d) differs from the reference", eng.name, n)
			}
			// A second round, per param.
			a := Fraction(float64(k%101) / 100)
			if err := (Unstructured{Amount: a}).Prune(ms, params); err != nil {
				t.Fatal(err)
			}
			amounts := make([]Amount, len(params))
			for i := range amounts {
				amounts[i] = a
			}
			if err := refPrune(t, "unstructured", want, params, rs, amounts); err != nil {
				t.Fatal(err)
			}
			if !ms.Equal(want) {
				t.Fatalf("%s: unstructured %v differs from the reference", eng.name, a)
			}
		}
	})
}

// TestPruneSubset: every pruner takes a subset of the Params of a full
// Masks, matched by name in any order: only those masks change, and amounts
// count over the subset.
func TestPruneSubset(t *testing.T) {
	mk := func() []Param {
		rng := rand.New(rand.NewPCG(1, 2))
		var ps []Param
		for _, n := range []string{"a", "b", "c"} {
			v := make([]float32, 4*8)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			ps = append(ps, Param{Name: n, Value: tensor.New(tensor.WithShape(4, 8), tensor.WithBacking(v))})
		}
		return ps
	}
	for _, tc := range []struct {
		name string
		pr   Pruner
		kept int // of the 64 weights of c and a
	}{
		{"Unstructured", Unstructured{Amount: Fraction(0.25)}, 48},
		{"Global", Global{Amount: Fraction(0.25)}, 48},
		{"Layerwise", Layerwise{Default: Fraction(0.5)}, 32},
		{"Structured", Structured{Dim: 1, Amount: Count(2)}, 48},
		{"NM", NM{N: 2, M: 4}, 32},
	} {
		ps := mk()
		ms := NewMasks(ps)
		subset := []Param{ps[2], ps[0]} // c, a: out of order
		if err := tc.pr.Prune(ms, subset); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ms.Mask("a").Kept() + ms.Mask("c").Kept(); got != tc.kept {
			t.Errorf("%s: a and c keep %d, want %d", tc.name, got, tc.kept)
		}
		if ms.Mask("b").Kept() != 32 {
			t.Errorf("%s: b, not in the subset, keeps %d of 32", tc.name, ms.Mask("b").Kept())
		}
		// The same as pruning masks of the subset alone.
		alone := NewMasks([]Param{ps[2], ps[0]})
		ps2 := mk()
		if err := tc.pr.Prune(alone, []Param{ps2[2], ps2[0]}); err != nil {
			t.Fatal(err)
		}
		if !alone.Mask("a").Equal(ms.Mask("a")) || !alone.Mask("c").Equal(ms.Mask("c")) {
			t.Errorf("%s: pruning a subset of full masks differs from pruning masks of the subset", tc.name)
		}
	}
}
