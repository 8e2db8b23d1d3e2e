package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func specString(specs []ParamSpec) string {
	var b strings.Builder
	for _, s := range specs {
		p := ""
		if s.Prunable {
			p = "*"
		}
		fmt.Fprintf(&b, "%s%s%v ", s.Name, p, s.Shape)
	}
	return strings.TrimSpace(b.String())
}

func TestModelParams(t *testing.T) {
	mk := func(m Model, err error) Model {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		m    Model
		want string
	}{
		{mk(LeNet300100([]int{1, 28, 28}, 10)), "fc1.w*[784 300] fc1.b[300] fc2.w*[300 100] fc2.b[100] fc3.w*[100 10] fc3.b[10]"},
		{mk(LeNet300100([]int{64}, 10)), "fc1.w*[64 300] fc1.b[300] fc2.w*[300 100] fc2.b[100] fc3.w*[100 10] fc3.b[10]"},
		{mk(MLP([]int{5}, nil, 3)), "fc1.w*[5 3] fc1.b[3]"},
		{mk(MLP([]int{2, 3}, []int{4, 4, 4}, 2)), "fc1.w*[6 4] fc1.b[4] fc2.w*[4 4] fc2.b[4] fc3.w*[4 4] fc3.b[4] fc4.w*[4 2] fc4.b[2]"},
		{mk(LeNet5([]int{1, 28, 28}, 10)), "conv1.w*[6 1 5 5] conv1.b[6] conv2.w*[16 6 5 5] conv2.b[16] fc1.w*[784 120] fc1.b[120] fc2.w*[120 84] fc2.b[84] fc3.w*[84 10] fc3.b[10]"},
		{mk(LeNet5([]int{1, 8, 8}, 10)), "conv1.w*[6 1 5 5] conv1.b[6] conv2.w*[16 6 5 5] conv2.b[16] fc1.w*[64 120] fc1.b[120] fc2.w*[120 84] fc2.b[84] fc3.w*[84 10] fc3.b[10]"},
		{mk(Conv2([]int{3, 32, 32}, 10)), "conv1.w*[64 3 3 3] conv1.b[64] conv2.w*[64 64 3 3] conv2.b[64] fc1.w*[16384 256] fc1.b[256] fc2.w*[256 256] fc2.b[256] fc3.w*[256 10] fc3.b[10]"},
		{mk(Conv4([]int{3, 32, 32}, 10)), "conv1.w*[64 3 3 3] conv1.b[64] conv2.w*[64 64 3 3] conv2.b[64] conv3.w*[128 64 3 3] conv3.b[128] conv4.w*[128 128 3 3] conv4.b[128] fc1.w*[8192 256] fc1.b[256] fc2.w*[256 256] fc2.b[256] fc3.w*[256 10] fc3.b[10]"},
		{mk(Conv6([]int{3, 32, 32}, 10)), "conv1.w*[64 3 3 3] conv1.b[64] conv2.w*[64 64 3 3] conv2.b[64] conv3.w*[128 64 3 3] conv3.b[128] conv4.w*[128 128 3 3] conv4.b[128] conv5.w*[256 128 3 3] conv5.b[256] conv6.w*[256 256 3 3] conv6.b[256] fc1.w*[4096 256] fc1.b[256] fc2.w*[256 256] fc2.b[256] fc3.w*[256 10] fc3.b[10]"},
		{mk(Conv6([]int{1, 8, 8}, 10)), "conv1.w*[64 1 3 3] conv1.b[64] conv2.w*[64 64 3 3] conv2.b[64] conv3.w*[128 64 3 3] conv3.b[128] conv4.w*[128 128 3 3] conv4.b[128] conv5.w*[256 128 3 3] conv5.b[256] conv6.w*[256 256 3 3] conv6.b[256] fc1.w*[256 256] fc1.b[256] fc2.w*[256 256] fc2.b[256] fc3.w*[256 10] fc3.b[10]"},
		{mk(Conv2([]int{1, 3, 5}, 2)), "conv1.w*[64 1 3 3] conv1.b[64] conv2.w*[64 64 3 3] conv2.b[64] fc1.w*[128 256] fc1.b[256] fc2.w*[256 256] fc2.b[256] fc3.w*[256 2] fc3.b[2]"},
	} {
		if got := specString(c.m.Params()); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.m.Name(), got, c.want)
		}
	}
}

func TestModelErrors(t *testing.T) {
	for name, err := range map[string]error{
		"mlp empty input":     second(MLP(nil, []int{3}, 2)),
		"mlp zero dim":        second(MLP([]int{3, 0}, nil, 2)),
		"mlp hidden 0":        second(MLP([]int{3}, []int{0}, 2)),
		"mlp 1 class":         second(MLP([]int{3}, nil, 1)),
		"lenet5 flat input":   second(LeNet5([]int{64}, 10)),
		"lenet5 3x3":          second(LeNet5([]int{1, 3, 3}, 10)),
		"conv4 3x3":           second(Conv4([]int{3, 3, 3}, 10)),
		"conv6 4x32":          second(Conv6([]int{3, 4, 32}, 10)),
		"conv2 1x1":           second(Conv2([]int{1, 1, 1}, 10)),
		"lenet300100 classes": second(LeNet300100([]int{64}, 0)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "train: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	if _, err := Conv6([]int{3, 8, 8}, 10); err != nil {
		t.Errorf("Conv6 on 8x8: %v", err)
	}
	if _, err := LeNet5([]int{1, 4, 4}, 10); err != nil {
		t.Errorf("LeNet5 on 4x4: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestModelsRun builds every model on a small batch, checks the logits'
// shape, and takes a few steps.
func TestModelsRun(t *testing.T) {
	for _, c := range []struct {
		make  func([]int, int) (Model, error)
		shape []int
	}{
		{LeNet300100, []int{1, 8, 8}},
		{LeNet5, []int{1, 8, 8}},
		{LeNet5, []int{1, 28, 28}},
		{Conv2, []int{3, 8, 8}},
		{Conv4, []int{3, 8, 8}},
		{Conv6, []int{2, 8, 9}},
	} {
		m, err := c.make(c.shape, 3)
		if err != nil {
			t.Fatal(err)
		}
		d := synthetic(7, c.shape, 3, 1)
		w, err := NewWeights(m, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(m, w, Config{Batch: 4, Iterations: 3})
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.Fit(t.Context(), Splits{Train: d, Test: d})
		if err != nil {
			t.Fatalf("%s %v: %v", m.Name(), c.shape, err)
		}
		if res.Steps != 3 || tr.Step() != 3 || math.IsNaN(res.Final.TestLoss) || res.Final.TestLoss <= 0 {
			t.Errorf("%s %v: result %+v", m.Name(), c.shape, res)
		}
		eg := tr.evals[4]
		if eg == nil || !slices.Equal(eg.logits.Shape(), []int{4, 3}) {
			t.Errorf("%s: no [4,3] evaluation graph", m.Name())
		}
		tr.Close()
	}
}

func TestWithInit(t *testing.T) {
	m, _ := LeNet300100([]int{64}, 10)
	k := WithInit(m, KaimingNormal{})
	if k.Name() != m.Name() {
		t.Errorf("name %q", k.Name())
	}
	for _, s := range k.Params() {
		_, isK := s.Init.(KaimingNormal)
		if s.Prunable != isK {
			t.Errorf("%s: init %T", s.Name, s.Init)
		}
	}
	w, err := NewWeights(k, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	// fc1.w: std sqrt(2/64)
	if sd := stddev(w.Tensor("fc1.w").Float64s()); math.Abs(sd-math.Sqrt(2.0/64)) > 0.01 {
		t.Errorf("fc1.w std %v, want %v", sd, math.Sqrt(2.0/64))
	}
}

func stddev(s []float64) float64 {
	m := 0.0
	for _, v := range s {
		m += v
	}
	m /= float64(len(s))
	ss := 0.0
	for _, v := range s {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt(ss / float64(len(s)))
}

func TestInitializers(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	n := 200000
	dst := make([]float64, n)
	for _, c := range []struct {
		init  Initializer
		shape []int
		std   float64
	}{
		{GlorotNormal{}, []int{400, 500}, math.Sqrt(2.0 / 900)},
		{GlorotUniform{}, []int{400, 500}, math.Sqrt(6.0/900) / math.Sqrt(3)},
		{KaimingNormal{}, []int{400, 500}, math.Sqrt(2.0 / 400)},
		{GlorotNormal{}, []int{50, 16, 5, 5}, math.Sqrt(2.0 / (16*25 + 50*25))},
		{KaimingNormal{}, []int{50, 16, 5, 5}, math.Sqrt(2.0 / (16 * 25))},
	} {
		c.init.Init(dst, c.shape, rng)
		if sd := stddev(dst); math.Abs(sd-c.std) > 0.02*c.std {
			t.Errorf("%T %v: std %v, want %v", c.init, c.shape, sd, c.std)
		}
	}
	GlorotUniform{}.Init(dst, []int{400, 500}, rng)
	lim := math.Sqrt(6.0 / 900)
	for _, v := range dst {
		if math.Abs(v) > lim {
			t.Fatalf("GlorotUniform gave %v beyond %v", v, lim)
		}
	}
	dst[0] = 3
	Zeros{}.Init(dst, []int{n}, rng)
	for _, v := range dst {
		if v != 0 {
			t.Fatal("Zeros left a non-zero")
		}
	}
	if fi, fo := Fans([]int{7}); fi != 7 || fo != 7 {
		t.Errorf("Fans([7]) = %d, %d", fi, fo)
	}
}
