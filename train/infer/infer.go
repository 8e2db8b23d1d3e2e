package infer

import (
	"errors"
	"fmt"
	"math"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/tensor"
)

// Layer is one layer of a chain (see train.Chain) with its values. For a
// dense layer (Kind train.LayerDense, the zero value) W is In×Out,
// row-major (Gorgonia's x·W layout); for a conv layer W is [Out, In, KH,
// KW] (the layout of the model's param); B has Out values. Keep, when not
// nil, marks the kept entries of W (pruned entries are treated as zero
// whatever W holds there). Max-pool and flatten layers have no values.
type Layer struct {
	train.ChainLayer
	W, B []float32
	Keep []bool
}

// Engine runs a chain of dense, conv, max-pool and flatten layers on
// examples held as [C, H, W] images (row-major, the dataset's order) or
// feature vectors. It keeps its own copy of the weights, so later changes
// to the caller's values do not show. An Engine is not safe for concurrent
// use; give each goroutine its own.
type Engine struct {
	layers []layer
	// spatial is the number of conv and pool layers the chain starts
	// with; they run chunk images at a time, so that their outputs stay
	// in cache, the last one's output copied to buf[0].
	spatial, chunk int
	buf            [2][]float32 // the dense part's (and the spatial part's final) outputs
	sbuf           [2][]float32 // the spatial part's outputs, chunk images
	col            []float32    // a conv layer's unfolded input [K, lanes], K = In·KH·KW
	acc            []float32    // a conv layer's output [Out, lanes] before it is laid out as images
	batch          int          // the largest batch the buffers hold
}

// spatialValues is about how many values a conv or pool output of one
// chunk of images holds (256 KB): images then go through the conv and
// pool layers a chunk at a time, each layer's output in cache for the
// next.
const spatialValues = 1 << 16

type layer struct {
	train.ChainLayer
	w, b []float32       // dense: w [In, Out]; conv: w [Out, K] (K = In·KH·KW); w nil when sparse
	p    *kernel.Pattern // nil when dense
	kept int
	used []bool // a sparse conv layer: the rows (c, kh, kw) of its unfolded input some kept entry reads
}

// chunkCols is about how many columns (output pixels) of a conv layer's
// unfolded input the engine builds at a time: whole images, at least one.
// The columns of a chunk are one matrix product, so the weights are read
// once for them; the buffers stay small (the unfolded input of a batch of
// 60 Conv-2 images on 32×32 would be 140 MB).
const chunkCols = 1024

// imagesPerChunk is how many images of l one chunk unfolds.
func (l *layer) imagesPerChunk() int { return max(1, chunkCols/(l.OutH()*l.OutW())) }

// lanes rounds n columns up to a multiple of 8, as the sparse kernels read
// them.
func lanes(n int) int { return (n + 7) &^ 7 }

// ConvSparseThreshold is the density (fraction of a conv kernel's entries
// kept) at or below which KernelsAuto runs a conv layer with the sparse
// kernels: the kept kernel entries times the unfolded input (im2col),
// output pixels as the lanes. Measured with BenchmarkConvLayer on an AMD
// EPYC (AVX-512 sgemm; busy machine, best of 4): on Conv-2's second layer
// (64→64, 3×3, 28×28) and LeNet-5's (6→16, 5×5, 14×14), at batch 1 and
// 60, the sparse kernels were 1.3–1.9× faster than the dense at 10% kept,
// 2–4× at 2%, and 0.7–1.4× at 20–30%.
const ConvSparseThreshold = 0.1

// New returns an Engine for model m (a chain of layers on examples of
// shape input, see train.Chain: every built-in model), with weights w and,
// when masks is not nil, the pruning masks of the prunable weights; k
// chooses the kernels per layer. float64 weights are converted to float32.
func New(m train.Model, input []int, w *train.Weights, masks *prune.Masks, k train.Kernels) (*Engine, error) {
	if w == nil {
		return nil, errors.New("infer: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	chain, err := train.Chain(m, input)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	layers := make([]Layer, len(chain))
	for i, d := range chain {
		l := Layer{ChainLayer: d}
		if d.Weight != "" {
			l.W, l.B = values(w.Tensor(d.Weight)), values(w.Tensor(d.Bias))
		}
		if masks != nil && d.Weight != "" {
			if mk := masks.Mask(d.Weight); mk != nil {
				if mk.Len() != d.Weights() {
					return nil, fmt.Errorf("infer: mask %q has %d entries, weight %d", d.Weight, mk.Len(), d.Weights())
				}
				l.Keep = make([]bool, mk.Len())
				for j := range l.Keep {
					l.Keep[j] = mk.Keeps(j)
				}
			}
		}
		layers[i] = l
	}
	return FromLayers(layers, k)
}

// values returns t's values as float32 (a copy).
func values(t *tensor.Dense) []float32 {
	if t == nil {
		return nil
	}
	if t.Dtype() == tensor.Float64 {
		s := t.Float64s()
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = float32(v)
		}
		return out
	}
	return append([]float32(nil), t.Float32s()...)
}

// SparseAvailable reports whether this CPU and build run the sparse kernels
// (amd64 with AVX2 and FMA, without the purego tag); without them every
// layer runs dense.
func SparseAvailable() bool { return kernel.HasAVX2 }

// FromLayers returns an Engine for the chain of layers, which must fit
// (train.CheckChain, with the first layer's inputs); k chooses the kernels
// per dense or conv layer by the density of its Keep (for conv layers with
// ConvSparseThreshold in place of train.SparseThreshold). Without AVX2 and
// FMA every layer runs dense.
func FromLayers(layers []Layer, k train.Kernels) (*Engine, error) {
	if len(layers) == 0 {
		return nil, errors.New("infer: no layers")
	}
	chain := make([]train.ChainLayer, len(layers))
	for i, l := range layers {
		chain[i] = l.ChainLayer
	}
	if err := train.CheckChain(chain, layers[0].Inputs()); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	e := &Engine{layers: make([]layer, len(layers))}
	for i, l := range layers {
		el := layer{ChainLayer: l.ChainLayer}
		if l.Kind != train.LayerDense && l.Kind != train.LayerConv {
			if l.W != nil || l.B != nil || l.Keep != nil {
				return nil, fmt.Errorf("infer: layer %d: a %v layer with values", i, l.Kind)
			}
			e.layers[i] = el
			continue
		}
		n := l.Weights()
		if len(l.W) != n || len(l.B) != l.Out {
			return nil, fmt.Errorf("infer: layer %d: %d weights and %d biases, want %v and %d", i, len(l.W), len(l.B), l.WeightShape(), l.Out)
		}
		if l.Keep != nil && len(l.Keep) != n {
			return nil, fmt.Errorf("infer: layer %d: %d mask entries for %d weights", i, len(l.Keep), n)
		}
		kept := n
		if l.Keep != nil {
			kept = 0
			for _, b := range l.Keep {
				if b {
					kept++
				}
			}
		}
		el.b, el.kept = append([]float32(nil), l.B...), kept
		// W with its pruned entries zero: what the dense kernel reads (a
		// dense layer's [In, Out], a conv layer's [Out, K])
		w := make([]float32, n)
		for j := range w {
			if l.Keep == nil || l.Keep[j] {
				w[j] = l.W[j]
			}
		}
		if l.Keep != nil && kernel.HasAVX2 && useSparse(k, l.Kind, kept, n) {
			// the sparse kernels read a [rows, cols] matrix: a dense
			// layer's weight, a conv layer's kernel transposed
			rows, cols, pw := l.In, l.Out, w
			keep := func(i int) bool { return l.Keep[i] }
			if l.Kind == train.LayerConv {
				rows = l.In * l.KH * l.KW
				pw = make([]float32, n)
				for j := range pw {
					pw[j] = w[(j%cols)*rows+j/cols]
				}
				keep = func(i int) bool { return l.Keep[(i%cols)*rows+i/cols] }
			}
			p, err := kernel.NewPattern(rows, cols, keep)
			if err != nil {
				return nil, fmt.Errorf("infer: layer %d: %w", i, err)
			}
			p.SetWeights(pw)
			el.p = p
			if l.Kind == train.LayerConv {
				el.used = make([]bool, rows)
				for j := 0; j < rows*cols; j++ {
					el.used[j/cols] = el.used[j/cols] || keep(j)
				}
			}
		} else {
			el.w = w
		}
		e.layers[i] = el
	}
	widest := 1
	for e.spatial < len(e.layers) && (e.layers[e.spatial].Kind == train.LayerConv || e.layers[e.spatial].Kind == train.LayerMaxPool) {
		widest = max(widest, e.layers[e.spatial].Outputs())
		e.spatial++
	}
	e.chunk = max(1, spatialValues/widest)
	return e, nil
}

// useSparse: k's choice for a layer of kind that keeps kept of n weights.
func useSparse(k train.Kernels, kind train.LayerKind, kept, n int) bool {
	if kind == train.LayerConv && k == train.KernelsAuto {
		return float64(kept) <= ConvSparseThreshold*float64(n)
	}
	return k.UseSparse(kept, n)
}

// Inputs returns the number of values of one example; Classes the number
// of logits.
func (e *Engine) Inputs() int { return e.layers[0].Inputs() }

// Classes returns the number of logits per example.
func (e *Engine) Classes() int { return e.layers[len(e.layers)-1].Out }

// Layers returns the chain the engine runs.
func (e *Engine) Layers() []train.ChainLayer {
	out := make([]train.ChainLayer, len(e.layers))
	for i, l := range e.layers {
		out[i] = l.ChainLayer
	}
	return out
}

// Sparse reports, per layer, whether the layer runs with the sparse
// kernels (always false for pool and flatten layers).
func (e *Engine) Sparse() []bool {
	out := make([]bool, len(e.layers))
	for i, l := range e.layers {
		out[i] = l.p != nil
	}
	return out
}

// Run computes the logits of batch examples, x holding batch·Inputs()
// values example-major, and returns them (batch·Classes(), example-major) in
// a slice that the next Run overwrites.
func (e *Engine) Run(x []float32, batch int) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("infer: batch %d, want at least 1", batch)
	}
	if len(x) != batch*e.Inputs() {
		return nil, fmt.Errorf("infer: %d values, want %d examples × %d", len(x), batch, e.Inputs())
	}
	if batch > e.batch {
		widest, col, acc := 0, 0, 0
		for i := range e.layers {
			l := &e.layers[i]
			if i >= e.spatial || i == e.spatial-1 {
				widest = max(widest, l.Outputs())
			}
			if l.Kind == train.LayerConv {
				ld := lanes(min(l.imagesPerChunk(), batch) * l.OutH() * l.OutW())
				col = max(col, ld*l.In*l.KH*l.KW)
				acc = max(acc, ld*l.Out)
			}
		}
		e.buf[0] = make([]float32, batch*widest)
		e.buf[1] = make([]float32, batch*widest)
		if e.spatial > 0 {
			sw := 0
			for _, l := range e.layers[:e.spatial] {
				sw = max(sw, l.Outputs())
			}
			e.sbuf[0] = make([]float32, min(batch, e.chunk)*sw)
			e.sbuf[1] = make([]float32, min(batch, e.chunk)*sw)
		}
		e.col = make([]float32, col)
		e.acc = make([]float32, acc)
		e.batch = batch
	}
	in, next := x, 0
	if e.spatial > 0 {
		inSz, flat := e.Inputs(), e.layers[e.spatial-1].Outputs()
		dst := e.buf[0][:batch*flat]
		for i0 := 0; i0 < batch; i0 += e.chunk {
			n := min(e.chunk, batch-i0)
			y := e.runLayers(0, e.spatial, x[i0*inSz:(i0+n)*inSz], n, &e.sbuf, 0)
			copy(dst[i0*flat:(i0+n)*flat], y)
		}
		in, next = dst, 1
	}
	out := e.runLayers(e.spatial, len(e.layers), in, batch, &e.buf, next)
	return out, nil
}

// runLayers runs layers [lo, hi) on batch examples in, their outputs
// alternating between the buffers of tmp from tmp[next] on, and returns
// the last output.
func (e *Engine) runLayers(lo, hi int, in []float32, batch int, tmp *[2][]float32, next int) []float32 {
	for i := lo; i < hi; i++ {
		l := &e.layers[i]
		if l.Kind == train.LayerFlatten {
			continue // [C, H, W] in row-major order is already flat
		}
		if l.Kind == train.LayerConv && i+1 < hi && e.layers[i+1].Kind == train.LayerMaxPool {
			// conv, ReLU and pool fused: each output plane is pooled
			// while in cache, and the unpooled output is never written
			pool := &e.layers[i+1]
			y := tmp[next][:batch*pool.Outputs()]
			next = 1 - next
			e.conv(l, y, in, batch, &pool.ChainLayer)
			in = y
			i++
			continue
		}
		y := tmp[next][:batch*l.Outputs()]
		next = 1 - next
		switch l.Kind {
		case train.LayerDense:
			for r := 0; r < batch; r++ {
				copy(y[r*l.Out:], l.b)
			}
			product(l, y, in, batch)
			if l.ReLU {
				relu(y)
			}
		case train.LayerConv:
			e.conv(l, y, in, batch, nil)
		case train.LayerMaxPool:
			maxPool(&l.ChainLayer, y, in, batch)
		}
		in = y
	}
	return in
}

// product computes y += x·W for rows rows of x with l's kernel (a dense
// layer's).
func product(l *layer, y, x []float32, rows int) {
	k, n := len(x)/rows, len(y)/rows
	switch {
	case l.p != nil && rows < 8:
		l.p.ForwardScatter(y, x, rows)
	case l.p != nil:
		l.p.Forward(y, x, nil, rows)
	default:
		gemm(rows, n, k, x, l.w, y)
	}
}

// relu sets the negative values of y to +0, and leaves -0, NaN and the
// rest as they are (as the graph's `if v < 0 { v = 0 }`), without a branch
// (a branch on the sign of activations mispredicts half the time): a
// float32 is negative, non-zero and not NaN exactly when its bits b are in
// [0x80000001, 0xff800000].
func relu(y []float32) { reluTo(y, y) }

// reluTo sets dst to relu(src); they have the same length.
func reluTo(dst, src []float32) {
	dst = dst[:len(src)]
	for j, v := range src {
		b := math.Float32bits(v)
		d := uint64(b - 0x80000001)               // wraps below the range
		m := uint32(^(int64(0x7f7fffff-d) >> 63)) // all ones when d ≤ 0x7f7fffff
		dst[j] = math.Float32frombits(b &^ m)
	}
}

// conv computes a conv layer on batch images x [batch, In, H, W] into y
// [batch, Out, OutH, OutW], a chunk of images at a time: their unfolded
// inputs side by side in one matrix col [In·KH·KW, lanes] (a column per
// output pixel, the lanes rounded up to 8 for the sparse kernels), the
// kernel [Out, In·KH·KW] times col into rows [Out, lanes] started from the
// bias, then each image's columns copied to its output with the ReLU. Each
// output is the sum the graph's Conv op computes, in the same order (the
// bias, then the kernel's entries in increasing (c, kh, kw), in blocks of
// 256), so the results are the same bit for bit.
//
// When pool is not nil, y is the output of the max-pool pool that follows
// the conv layer instead: each image's output plane, after the ReLU, is
// pooled from the product's rows.
func (e *Engine) conv(l *layer, y, x []float32, batch int, pool *train.ChainLayer) {
	pix := l.OutH() * l.OutW()
	k := l.In * l.KH * l.KW
	inSz, outSz := l.Inputs(), l.Outputs()
	var plane train.ChainLayer // pool on one plane
	pooled := 0                // the pooled plane's values
	if pool != nil {
		plane = *pool
		plane.In, plane.Out = 1, 1
		pooled = plane.Outputs()
		outSz = pool.Outputs()
	}
	per := l.imagesPerChunk()
	for i0 := 0; i0 < batch; i0 += per {
		n := min(per, batch-i0)
		cols := n * pix
		ld := lanes(cols)
		col, acc := e.col[:k*ld], e.acc[:l.Out*ld]
		for j := 0; j < n; j++ {
			im2col(&l.ChainLayer, x[(i0+j)*inSz:(i0+j+1)*inSz], col[j*pix:], ld, l.used)
		}
		if ld > cols {
			for r := 0; r < k; r++ {
				if l.used == nil || l.used[r] {
					clear(col[r*ld+cols : (r+1)*ld])
				}
			}
		}
		for o := 0; o < l.Out; o++ {
			row := acc[o*ld : (o+1)*ld]
			for q := range row {
				row[q] = l.b[o]
			}
		}
		if l.p != nil {
			l.p.ForwardT(acc, col, ld)
		} else if !kernel.Sgemm(false, false, l.Out, ld, k, l.w, k, col, ld, 1, acc, ld) {
			plainGemm(l.Out, ld, k, l.w, col, acc)
		}
		for j := 0; j < n; j++ {
			out := y[(i0+j)*outSz : (i0+j+1)*outSz]
			for o := 0; o < l.Out; o++ {
				src := acc[o*ld+j*pix : o*ld+(j+1)*pix]
				if pool != nil {
					if l.ReLU {
						relu(src)
					}
					maxPool(&plane, out[o*pooled:(o+1)*pooled], src, 1)
					continue
				}
				dst := out[o*pix : (o+1)*pix]
				if l.ReLU {
					reluTo(dst, src)
				} else {
					copy(dst, src)
				}
			}
		}
	}
}

// im2col unfolds one image x [In, H, W] for conv layer l into the columns
// of col, rows ld apart: row (c, kh, kw) of the kernel, column p = (oh, ow)
// of the output holds the input value the kernel entry meets at p, zero on
// the padding. Rows where used is false (no kept kernel entry reads them)
// are left as they are; used nil means all.
func im2col(l *train.ChainLayer, x, col []float32, ld int, used []bool) {
	oh, ow := l.OutH(), l.OutW()
	r := -1
	for c := 0; c < l.In; c++ {
		plane := x[c*l.H*l.W : (c+1)*l.H*l.W]
		for a := 0; a < l.KH; a++ {
			for b := 0; b < l.KW; b++ {
				r++
				if used != nil && !used[r] {
					continue
				}
				dst := col[r*ld : r*ld+oh*ow]
				if l.Stride == 1 && ow == l.W {
					shifted(dst, plane, oh, ow, b-l.Pad, a-l.Pad, l.H)
					continue
				}
				for i := 0; i < oh; i++ {
					d := dst[i*ow : (i+1)*ow]
					ih := i*l.Stride - l.Pad + a
					if ih < 0 || ih >= l.H {
						clear(d)
						continue
					}
					src := plane[ih*l.W : (ih+1)*l.W]
					for j := range d {
						if iw := j*l.Stride - l.Pad + b; iw >= 0 && iw < l.W {
							d[j] = src[iw]
						} else {
							d[j] = 0
						}
					}
				}
			}
		}
	}
}

// shifted sets dst [oh, w] to plane [h, w] shifted by (dy, dx):
// dst[i, j] = plane[i+dy, j+dx], zero outside the plane. The rows inside
// are one copy (the columns shifted past an edge take values of the next
// or previous row, then set to zero).
func shifted(dst, plane []float32, oh, w, dx, dy, h int) {
	i0, i1 := max(0, -dy), min(oh, h-dy) // rows inside the plane
	if i0 >= i1 {
		clear(dst)
		return
	}
	clear(dst[:i0*w])
	clear(dst[i1*w:])
	d := dst[i0*w : i1*w]
	s0 := (i0+dy)*w + dx // plane index of d[0]
	lo, hi := max(0, -s0), min(len(d), len(plane)-s0)
	clear(d[:lo])
	copy(d[lo:hi], plane[s0+lo:s0+hi])
	clear(d[hi:])
	jlo, jhi := max(0, -dx), min(w, w-dx) // columns inside the plane
	for i := 0; i < i1-i0; i++ {
		row := d[i*w : (i+1)*w]
		for j := 0; j < jlo; j++ {
			row[j] = 0
		}
		for j := jhi; j < w; j++ {
			row[j] = 0
		}
	}
}

// maxPool pools batch images x [In, H, W] into y [In, OutH, OutW]: each
// output the largest of its window, compared in the window's row-major
// order (the first largest wins, a NaN wins over numbers), as the graph's
// MaxPool compares them.
func maxPool(l *train.ChainLayer, y, x []float32, batch int) {
	oh, ow := l.OutH(), l.OutW()
	if l.KH == 2 && l.KW == 2 && l.Stride == 2 {
		maxPool2(y, x, batch*l.In, l.H, l.W)
		return
	}
	o := 0
	for p := 0; p < batch*l.In; p++ {
		plane := x[p*l.H*l.W : (p+1)*l.H*l.W]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				base := i*l.Stride*l.W + j*l.Stride
				mx := plane[base]
				for a := 0; a < l.KH; a++ {
					for _, v := range plane[base+a*l.W : base+a*l.W+l.KW] {
						if v > mx || (v != v && mx == mx) {
							mx = v
						}
					}
				}
				y[o] = mx
				o++
			}
		}
	}
}

// maxPool2 is maxPool for 2×2 windows 2 apart, unrolled. The builtin max
// (no branch to mispredict) gives the same value as the graph's
// comparisons unless the largest value is a zero (whose sign then depends
// on the order) or a NaN (whose bits do): those windows take the graph's
// comparisons in its order.
func maxPool2(y, x []float32, planes, h, w int) {
	oh, ow := h/2, w/2
	o := 0
	for p := 0; p < planes; p++ {
		plane := x[p*h*w : (p+1)*h*w]
		for i := 0; i < oh; i++ {
			top := plane[2*i*w : 2*i*w+2*ow]
			bot := plane[(2*i+1)*w : (2*i+1)*w+2*ow]
			ys := y[o : o+ow]
			for j := range ys {
				a, b, c, d := top[2*j], top[2*j+1], bot[2*j], bot[2*j+1]
				mx := max(max(a, b), max(c, d))
				if mx == 0 || mx != mx {
					mx = a
					for _, v := range [3]float32{b, c, d} {
						if v > mx || (v != v && mx == mx) {
							mx = v
						}
					}
				}
				ys[j] = mx
			}
			o += ow
		}
	}
}

// gemm computes y += x·w, x batch×k, w k×n, with the AVX2 kernel (the order
// the sparse kernels keep) or, without it, a plain loop (which, unlike
// gonum's Sgemm, starts no goroutines and allocates nothing).
func gemm(batch, n, k int, x, w, y []float32) {
	if kernel.Sgemm(false, false, batch, n, k, x, k, w, n, 1, y, n) {
		return
	}
	plainGemm(batch, n, k, x, w, y)
}

// plainGemm computes y += x·w, x batch×k, w k×n, with plain loops.
func plainGemm(batch, n, k int, x, w, y []float32) {
	for i := 0; i < batch; i++ {
		yi := y[i*n : (i+1)*n]
		for l, v := range x[i*k : (i+1)*k] {
			if v == 0 {
				continue
			}
			for j, wv := range w[l*n : (l+1)*n] {
				yi[j] += v * wv
			}
		}
	}
}

// Accuracy returns the fraction of d's examples whose largest logit (the
// first of equal ones) is their label, running batches of at most batch
// examples.
func (e *Engine) Accuracy(d *train.Dataset, batch int) (float64, error) {
	if err := d.Validate(); err != nil {
		return 0, fmt.Errorf("infer: %w", err)
	}
	if d.Features() != e.Inputs() {
		return 0, fmt.Errorf("infer: dataset %q has %d features per example, the model takes %d", d.Name, d.Features(), e.Inputs())
	}
	if batch < 1 {
		return 0, fmt.Errorf("infer: batch %d, want at least 1", batch)
	}
	n, f, c := d.Len(), e.Inputs(), e.Classes()
	right := 0
	for s := 0; s < n; s += batch {
		b := min(batch, n-s)
		z, err := e.Run(d.X[s*f:(s+b)*f], b)
		if err != nil {
			return 0, err
		}
		for i := 0; i < b; i++ {
			row := z[i*c : (i+1)*c]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == d.Y[s+i] {
				right++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	return float64(right) / float64(n), nil
}
