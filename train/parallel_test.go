package train

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train/internal/kernel"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convOutputs runs the forward, kernel-gradient and input-gradient ops of
// one convolution, big enough to be split over several goroutines, and
// returns copies of their outputs.
func convOutputs(t *testing.T, x, w, b, dz *tensor.Dense) [][]float32 {
	t.Helper()
	fwd := &convOp{stride: 1, pad: 1, relu: true}
	gw := &convGradWOp{stride: 1, pad: 1, wShape: w.Shape().Clone()}
	gx := &convGradXOp{stride: 1, pad: 1, xShape: x.Shape().Clone()}
	var out [][]float32
	for _, c := range []struct {
		op interface {
			Do(...gorgonia.Value) (gorgonia.Value, error)
		}
		in []gorgonia.Value
	}{{fwd, []gorgonia.Value{x, w, b}}, {gw, []gorgonia.Value{x, dz}}, {gx, []gorgonia.Value{dz, w}}} {
		v, err := c.op.Do(c.in...)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, slices.Clone(v.(*tensor.Dense).Float32s()))
	}
	return out
}

// TestConvSameOnAnyThreads checks that the convolution ops give
// bit-identical results on 1, 2 and 3 threads (GOMAXPROCS), and the same
// as the one-goroutine functions, so that a training's numbers do not
// depend on the machine's cores.
func TestConvSameOnAnyThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	rnd := func(s ...int) *tensor.Dense {
		d := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(s...))
		for i := range d.Float32s() {
			d.Float32s()[i] = float32(rng.NormFloat64())
		}
		return d
	}
	x, w, b, dz := rnd(6, 16, 16, 16), rnd(32, 16, 3, 3), rnd(32), rnd(6, 32, 16, 16)
	g, err := newConvGeom(x.Shape(), w.Shape(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if workers(6*32*g.colRows()*g.colCols(), minParallelWork) < 2 && runtime.GOMAXPROCS(0) > 1 {
		t.Fatal("the test convolution is too small to be split")
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	want := convOutputs(t, x, w, b, dz)
	// the one-goroutine functions
	col := make([]float32, g.colRows()*g.colCols())
	y := make([]float32, len(want[0]))
	convFwd(g, 6, x.Float32s(), w.Float32s(), b.Float32s(), y, make([]float32, fwdBufLen(g)), true)
	// and image by image, one product each: grouping images in one
	// product must not change the numbers
	if convGroup(g) < 2 {
		t.Fatal("the test convolution does not group images")
	}
	hw := g.colCols()
	in, out := 16*16*16, 32*hw
	// Only the library's own kernels promise the same sums for products of
	// any size; OpenBLAS and gonum may not (the grouping is then still the
	// same on any number of threads, checked below).
	ownKernel := strings.HasPrefix(Backend(), "go-")
	for i := 0; i < 6 && ownKernel; i++ {
		yi := make([]float32, out)
		for o := 0; o < g.O; o++ {
			for p := 0; p < hw; p++ {
				yi[o*hw+p] = b.Float32s()[o]
			}
		}
		im2col(g, x.Float32s()[i*in:(i+1)*in], col)
		gemm(false, false, g.O, hw, g.colRows(), w.Float32s(), g.colRows(), col, hw, 1, yi, hw)
		for p, v := range yi {
			if max(v, 0) != y[i*out+p] || (v > 0 && math.Float32bits(v) != math.Float32bits(y[i*out+p])) {
				t.Fatalf("image %d, entry %d: grouped %v, one image per product %v", i, p, y[i*out+p], max(v, 0))
			}
		}
	}
	dw := make([]float32, len(want[1]))
	convGradW(g, 6, x.Float32s(), dz.Float32s(), dw, make([]float32, gradWBufLen(g, g.colRows())))
	if ownKernel {
		// the plain product dz·colᵀ, image after image: the same sums
		ref := make([]float32, len(dw))
		for i := 0; i < 6; i++ {
			im2col(g, x.Float32s()[i*in:(i+1)*in], col)
			gemm(false, true, g.O, g.colRows(), hw, dz.Float32s()[i*out:(i+1)*out], hw, col, hw, float32(min(i, 1)), ref, g.colRows())
		}
		if !slices.EqualFunc(dw, ref, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Error("the kernel gradient differs from dz·colᵀ summed image after image")
		}
	}
	dx := make([]float32, len(want[2]))
	convGradX(g, 6, dz.Float32s(), w.Float32s(), dx, make([]float32, gradXBufLen(g)))
	if ownKernel {
		// col2im(wᵀ·dz) image by image: the same terms in the same order
		// (== and not bits: the padded product adds zeros, which may turn
		// a -0 into +0)
		for i := 0; i < 6; i++ {
			gemm(true, false, g.colRows(), hw, g.O, w.Float32s(), g.colRows(), dz.Float32s()[i*out:(i+1)*out], hw, 0, col, hw)
			ref := make([]float32, in)
			col2im(g, col, ref)
			for p, v := range ref {
				if got := dx[i*in+p]; got != v && !(got != got && v != v) {
					t.Fatalf("image %d, input gradient %d: %v, col2im gives %v", i, p, got, v)
				}
			}
		}
	}
	for i, s := range [][]float32{y, dw, dx} {
		if !slices.EqualFunc(s, want[i], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("output %d: the op on 1 thread differs from the one-goroutine function", i)
		}
	}
	for _, threads := range []int{2, 3} {
		runtime.GOMAXPROCS(threads)
		got := convOutputs(t, x, w, b, dz)
		for i := range got {
			if !slices.EqualFunc(got[i], want[i], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Errorf("GOMAXPROCS %d: output %d differs from GOMAXPROCS 1", threads, i)
			}
		}
	}
}

// TestIm2colRows checks that the rows of im2colRows are those of im2col.
func TestIm2colRows(t *testing.T) {
	g, err := newConvGeom([]int{1, 3, 6, 5}, []int{2, 3, 3, 2}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*6*5)
	for i := range x {
		x[i] = float32(i + 1)
	}
	n := g.colCols()
	all := make([]float32, g.colRows()*n)
	im2col(g, x, all)
	for _, r := range [][2]int{{0, 1}, {2, 9}, {5, g.colRows()}} {
		part := make([]float32, (r[1]-r[0])*n)
		im2colRows(g, x, part, r[0], r[1])
		if !slices.Equal(part, all[r[0]*n:r[1]*n]) {
			t.Errorf("rows %v differ from im2col's", r)
		}
	}
}

// TestElementwiseSameOnAnyThreads checks that max pooling, its gradient,
// the ReLU gradient, the bias gradient (channel sums) and Adam, split over
// goroutines when large, give bit-identical results on 1, 2 and 3 threads.
func TestElementwiseSameOnAnyThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 1))
	rnd := func(s ...int) *tensor.Dense {
		d := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(s...))
		for i := range d.Float32s() {
			d.Float32s()[i] = float32(rng.NormFloat64())
		}
		return d
	}
	x, dy := rnd(16, 32, 32, 33), rnd(16, 32, 16, 16)
	if workers(x.Shape().TotalSize(), minParallelElems) < 2 && runtime.GOMAXPROCS(0) > 1 {
		t.Fatal("the test tensors are too small to be split")
	}
	w0, g := rnd(600000), rnd(600000)
	outputs := func() [][]float32 {
		pool := &maxPoolOp{size: 2}
		grad := &maxPoolGradOp{fwd: pool, xShape: x.Shape().Clone()}
		relu := &reluGradOp{dims: 4}
		y, err := pool.Do(x)
		if err != nil {
			t.Fatal(err)
		}
		dx, err := grad.Do(y, dy)
		if err != nil {
			t.Fatal(err)
		}
		dr, err := relu.Do(x, x)
		if err != nil {
			t.Fatal(err)
		}
		db, err := (&chanSumOp{}).Do(x)
		if err != nil {
			t.Fatal(err)
		}
		w := w0.Clone().(*tensor.Dense)
		st, err := Adam{}.NewState(paramsOf(w, g))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := st.Update(paramsOf(w, g), 1e-3); err != nil {
				t.Fatal(err)
			}
		}
		return [][]float32{slices.Clone(y.(*tensor.Dense).Float32s()), slices.Clone(dx.(*tensor.Dense).Float32s()),
			slices.Clone(dr.(*tensor.Dense).Float32s()), w.Float32s(), argFloats(pool.arg), slices.Clone(db.(*tensor.Dense).Float32s())}
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	want := outputs()
	for _, threads := range []int{2, 3} {
		runtime.GOMAXPROCS(threads)
		got := outputs()
		for i := range got {
			if !slices.EqualFunc(got[i], want[i], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Errorf("GOMAXPROCS %d: output %d differs from GOMAXPROCS 1", threads, i)
			}
		}
	}
}

func argFloats(a []int32) []float32 {
	out := make([]float32, len(a))
	for i, v := range a {
		out[i] = float32(v)
	}
	return out
}

func paramsOf(w, g *tensor.Dense) []prune.Param {
	return []prune.Param{{Name: "w", Value: w, Grad: g}}
}

// TestMaxPool2MatchesGeneric checks the unrolled 2×2 pooling against the
// generic loop, NaN and ties included.
func TestMaxPool2MatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const planes, h, w = 3, 6, 7
	x := make([]float32, planes*h*w)
	for i := range x {
		x[i] = float32(rng.IntN(4)) // many ties
	}
	x[5], x[20], x[21] = float32(math.NaN()), float32(math.NaN()), float32(math.Inf(1))
	// and a second set of planes of NaN, ±Inf, -0 and +0 in every order
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, 1, -1}
	for range 2 {
		for i := 0; i < planes*h*w; i++ {
			x = append(x, special[rng.IntN(len(special))])
		}
	}
	const all = 3 * planes
	n := all * (h / 2) * (w / 2)
	y2, a2 := make([]float32, n), make([]int32, n)
	// maxPool sends k = 2 to maxPool2: compare with a copy of its generic loop
	genericMaxPool(x, y2, a2, all, h, w, 2)
	// with the AVX-512 kernel (where there is one) and without
	defer kernel.SetAVX512(kernel.SetAVX512(false))
	for _, avx512 := range []bool{false, true} {
		kernel.SetAVX512(avx512)
		y1, a1 := make([]float32, n), make([]int32, n)
		maxPool2(x, y1, a1, all, h, w)
		if !slices.Equal(a1, a2) {
			t.Errorf("AVX-512 %v: argmax %v, generic %v", avx512, a1, a2)
		}
		for i := range y1 {
			if math.Float32bits(y1[i]) != math.Float32bits(y2[i]) {
				t.Errorf("AVX-512 %v: y[%d] = %v, generic %v", avx512, i, y1[i], y2[i])
			}
		}
	}
}

// genericMaxPool is maxPool's generic loop.
func genericMaxPool(x, y []float32, arg []int32, planes, h, w, k int) {
	oh, ow := h/k, w/k
	o := 0
	for p := 0; p < planes; p++ {
		base := p * h * w
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best := base + i*k*w + j*k
				mx := x[best]
				for di := 0; di < k; di++ {
					row := base + (i*k+di)*w + j*k
					for dj := 0; dj < k; dj++ {
						if v := x[row+dj]; v > mx || (v != v && mx == mx) {
							mx, best = v, row+dj
						}
					}
				}
				y[o], arg[o] = mx, int32(best)
				o++
			}
		}
	}
}
