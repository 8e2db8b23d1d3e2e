package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// TestHessianGradientLinear checks the finite-difference Hg against the
// exact Hessian-gradient product of softmax regression, where
// H = mean_n x_n x_nᵀ ⊗ (diag(p_n) − p_n p_nᵀ).
func TestHessianGradientLinear(t *testing.T) {
	const n, f, classes = 12, 5, 3
	rng := rand.New(rand.NewPCG(1, 2))
	d := &Dataset{Name: "toy", Shape: []int{f}, Classes: classes}
	for i := 0; i < n; i++ {
		for j := 0; j < f; j++ {
			d.X = append(d.X, float32(rng.Float64()))
		}
		d.Y = append(d.Y, i%classes)
	}
	m, err := MLP([]int{f}, nil, classes)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWeights(m, tensor.Float64, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	before := w.Clone()
	tr, err := NewTrainer(m, w, Config{Batch: n, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	hg, err := tr.HessianGradient(d, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Equal(before) {
		t.Fatal("HessianGradient changed the weights")
	}
	W := w.Tensor("fc1.w").Float64s()
	b := w.Tensor("fc1.b").Float64s()
	probs := make([][]float64, n)
	G := make([]float64, f*classes)
	for i := 0; i < n; i++ {
		x := d.X[i*f : (i+1)*f]
		z := make([]float64, classes)
		mx := math.Inf(-1)
		for c := range z {
			z[c] = b[c]
			for j := range x {
				z[c] += float64(x[j]) * W[j*classes+c]
			}
			mx = math.Max(mx, z[c])
		}
		s := 0.0
		for c := range z {
			z[c] = math.Exp(z[c] - mx)
			s += z[c]
		}
		for c := range z {
			z[c] /= s
		}
		probs[i] = z
		for j := range x {
			for c := range z {
				e := 0.0
				if c == d.Y[i] {
					e = 1
				}
				G[j*classes+c] += float64(x[j]) * (z[c] - e) / n
			}
		}
	}
	want := make([]float64, f*classes)
	for i := 0; i < n; i++ {
		x, p := d.X[i*f:(i+1)*f], probs[i]
		v := make([]float64, classes)
		for c := range v {
			for j := range x {
				v[c] += float64(x[j]) * G[j*classes+c]
			}
		}
		pv := 0.0
		for c := range v {
			pv += p[c] * v[c]
		}
		for j := range x {
			for c := range v {
				want[j*classes+c] += float64(x[j]) * (p[c]*v[c] - p[c]*pv) / n
			}
		}
	}
	if len(hg) != 1 || hg[0].Name != "fc1.w" {
		t.Fatalf("params %v", hg)
	}
	got := hg[0].Grad.Float64s()
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		t.Fatal("zero Hg: a degenerate test")
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-5*scale {
			t.Fatalf("Hg[%d] = %g, want %g (max |Hg| %g)", i, got[i], want[i], scale)
		}
	}
}

// TestSynFlowParams: for a one-hidden-layer MLP with |W| and an all-ones
// input, every unit is active, so ∂R/∂W1[i,j] = Σ_c |W2[j,c]| and
// ∂R/∂W2[j,c] = Σ_i |W1[i,j]| + |b1[j]|.
func TestSynFlowParams(t *testing.T) {
	m, err := MLP([]int{4}, []int{3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWeights(m, tensor.Float64, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	copy(w.Tensor("fc1.b").Float64s(), []float64{-0.5, 0.25, 1})
	ms := prune.NewMasks(w.Prunable())
	if err := (prune.Unstructured{Scorer: prune.L1{}, Amount: prune.Count(2)}).Prune(ms, w.Prunable()); err != nil {
		t.Fatal(err)
	}
	before := w.Clone()
	ps, err := SynFlowParams(m, w, ms, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Equal(before) {
		t.Fatal("SynFlowParams changed the weights")
	}
	abs := func(name string, i int) float64 {
		if mk := ms.Mask(name); mk != nil && !mk.Keeps(i) {
			return 0
		}
		return math.Abs(w.Tensor(name).Float64s()[i])
	}
	g1, g2 := ps[0].Grad.Float64s(), ps[1].Grad.Float64s()
	for i := 0; i < 4; i++ {
		for j := 0; j < 3; j++ {
			want := abs("fc2.w", j*2) + abs("fc2.w", j*2+1)
			if math.Abs(g1[i*3+j]-want) > 1e-12 {
				t.Errorf("dR/dW1[%d,%d] = %g, want %g", i, j, g1[i*3+j], want)
			}
			if v := ps[0].Value.Float64s()[i*3+j]; v != abs("fc1.w", i*3+j) {
				t.Errorf("|W1|[%d,%d] = %g, want %g", i, j, v, abs("fc1.w", i*3+j))
			}
		}
	}
	for j := 0; j < 3; j++ {
		want := abs("fc1.b", j)
		for i := 0; i < 4; i++ {
			want += abs("fc1.w", i*3+j)
		}
		for c := 0; c < 2; c++ {
			if math.Abs(g2[j*2+c]-want) > 1e-12 {
				t.Errorf("dR/dW2[%d,%d] = %g, want %g", j, c, g2[j*2+c], want)
			}
		}
	}
	if _, err := SynFlowParams(m, w, nil, []int{5}); err == nil {
		t.Error("wrong input shape: no error")
	}
}
