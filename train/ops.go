package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"slices"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds the Gorgonia ops that the built-in models are made of:
// dense and convolution layers with fused bias and ReLU, max pooling, and the
// softmax cross-entropy loss. Each is an ordinary gorgonia.Op (with symbolic
// differentiation), so they mix freely with Gorgonia's own ops in a user's
// model. Unlike most of Gorgonia's ops they allocate their outputs once and
// reuse them on every run of the graph, and they call the matrix products
// directly, which removes most of the per-step cost of a TapeMachine.

type float interface{ ~float32 | ~float64 }

// floats returns t's backing slice (exactly its size) as []T. The caller has
// checked t's dtype.
func floats[T float](t *tensor.Dense) []T {
	var z T
	n := t.Shape().TotalSize()
	if unsafe.Sizeof(z) == 4 {
		s := t.Float32s()
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))[:n]
	}
	s := t.Float64s()
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))[:n]
}

// opBase holds the Op methods every op of this file shares.
type opBase struct{}

func (opBase) ReturnsPtr() bool     { return false }
func (opBase) CallsExtern() bool    { return false }
func (opBase) OverwritesInput() int { return -1 }

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// outBuf is an op's output tensor, allocated on first use and reused while
// the dtype and shape stay the same.
type outBuf struct {
	t     *tensor.Dense
	shape []int
}

func (b *outBuf) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t != nil && b.t.Dtype() == dt && slices.Equal(b.shape, shape) {
		if slices.Equal(b.t.Shape(), shape) {
			return b.t
		}
		// another op reshaped the value in place: put it back.
		if err := b.t.Reshape(b.shape...); err == nil {
			return b.t
		}
	}
	// copy shape so that the variadic argument does not escape (no
	// allocation on the fast path above)
	b.shape = append(b.shape[:0:0], shape...)
	b.t = tensor.New(tensor.Of(dt), tensor.WithShape(append([]int(nil), shape...)...))
	return b.t
}

// dense returns input i as a contiguous *tensor.Dense of dtype dt.
func dense(op fmt.Stringer, vals []gorgonia.Value, i int, dt tensor.Dtype) (*tensor.Dense, error) {
	if i >= len(vals) {
		return nil, fmt.Errorf("train: %v: %d inputs, want at least %d", op, len(vals), i+1)
	}
	t, ok := vals[i].(*tensor.Dense)
	if !ok || t == nil {
		return nil, fmt.Errorf("train: %v: input %d is %T, want *tensor.Dense", op, i, vals[i])
	}
	if dt != (tensor.Dtype{}) && t.Dtype() != dt {
		return nil, fmt.Errorf("train: %v: input %d has dtype %v, want %v", op, i, t.Dtype(), dt)
	}
	if t.Dtype() != tensor.Float32 && t.Dtype() != tensor.Float64 {
		return nil, fmt.Errorf("train: %v: input %d has dtype %v, want float32 or float64", op, i, t.Dtype())
	}
	if t.RequiresIterator() || !t.IsNativelyAccessible() {
		return nil, fmt.Errorf("train: %v: input %d is not contiguous", op, i)
	}
	return t, nil
}

// inputs fetches the op's inputs (at most 4), all of one dtype (that of
// the first).
func inputs(op interface {
	fmt.Stringer
	Arity() int
}, vals []gorgonia.Value) (in [4]*tensor.Dense, err error) {
	if len(vals) != op.Arity() || len(vals) > len(in) {
		return in, fmt.Errorf("train: %v: %d inputs, want %d", op, len(vals), op.Arity())
	}
	var dt tensor.Dtype
	for i := range vals {
		t, err := dense(op, vals, i, dt)
		if err != nil {
			return in, err
		}
		dt = t.Dtype()
		in[i] = t
	}
	return in, nil
}

func tensorT(dims int) hm.Type {
	if dims == 0 {
		return hm.TypeVariable('a')
	}
	return &gorgonia.TensorType{Dims: dims, Of: hm.TypeVariable('a')}
}

func shapeOf(ds gorgonia.DimSizer) (tensor.Shape, error) {
	s, ok := ds.(tensor.Shape)
	if !ok {
		return nil, errors.Errorf("train: expected a tensor.Shape, got %T", ds)
	}
	return s, nil
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// ---------------------------------------------------------------------------
// Dense: y = act(x·W + b)

// Dense returns x·w + b: a fully connected layer. x is [batch, ...] (the
// dimensions after the first are flattened, so an image batch
// [batch, c, h, w] feeds it directly), w is [in, out] with in the product of
// x's other dimensions, b is [out]; the result is [batch, out]. It is one
// Gorgonia op, differentiable with respect to all three inputs, that reuses
// its output and gradient buffers between runs.
func Dense(x, w, b *gorgonia.Node) (*gorgonia.Node, error) { return denseNode(x, w, b, false) }

// DenseReLU returns max(0, x·w + b), Dense followed by a ReLU, fused into one op.
func DenseReLU(x, w, b *gorgonia.Node) (*gorgonia.Node, error) { return denseNode(x, w, b, true) }

func denseNode(x, w, b *gorgonia.Node, relu bool) (*gorgonia.Node, error) {
	if x == nil || w == nil || b == nil {
		return nil, errors.New("train: Dense: nil node")
	}
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if len(xs) < 2 {
		return nil, fmt.Errorf("train: Dense: input shape %v, want [batch, ...]", xs)
	}
	if len(ws) != 2 || len(bs) != 1 {
		return nil, fmt.Errorf("train: Dense: weight shape %v and bias shape %v, want [in, out] and [out]", ws, bs)
	}
	if prod(xs[1:]) != ws[0] || bs[0] != ws[1] {
		return nil, fmt.Errorf("train: Dense: input %v, weight %v and bias %v do not fit", xs, ws, bs)
	}
	return gorgonia.ApplyOp(&denseOp{relu: relu, xdims: len(xs)}, x, w, b)
}

type denseOp struct {
	opBase
	relu  bool
	xdims int
	out   outBuf
}

func (op *denseOp) Arity() int { return 3 }
func (op *denseOp) Type() hm.Type {
	return hm.NewFnType(tensorT(op.xdims), tensorT(2), tensorT(1), tensorT(2))
}
func (op *denseOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 3 {
		return nil, errors.New("train: dense: want 3 shapes")
	}
	xs, err := shapeOf(ds[0])
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(ds[1])
	if err != nil {
		return nil, err
	}
	if len(xs) < 1 || len(ws) != 2 {
		return nil, fmt.Errorf("train: dense: shapes %v, %v", xs, ws)
	}
	return tensor.Shape{xs[0], ws[1]}, nil
}
func (op *denseOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.dense{%v,%d}", op.relu, op.xdims) }
func (op *denseOp) Hashcode() uint32      { return hashOf(op) }
func (op *denseOp) String() string {
	if op.relu {
		return "DenseReLU"
	}
	return "Dense"
}

func (op *denseOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := inputs(op, vals)
	if err != nil {
		return nil, err
	}
	x, w, b := in[0], in[1], in[2]
	xs, ws := x.Shape(), w.Shape()
	batch, k, n := xs[0], ws[0], ws[1]
	if x.Shape().TotalSize() != batch*k || b.Shape().TotalSize() != n {
		return nil, fmt.Errorf("train: %v: input %v, weight %v, bias %v do not fit", op, xs, ws, b.Shape())
	}
	y := op.out.get(x.Dtype(), batch, n)
	if x.Dtype() == tensor.Float32 {
		denseFwd(floats[float32](x), floats[float32](w), floats[float32](b), floats[float32](y), batch, k, n, op.relu)
	} else {
		denseFwd(floats[float64](x), floats[float64](w), floats[float64](b), floats[float64](y), batch, k, n, op.relu)
	}
	return y, nil
}

func denseFwd[T float](x, w, b, y []T, batch, k, n int, relu bool) {
	for i := 0; i < batch; i++ {
		copy(y[i*n:(i+1)*n], b)
	}
	gemm(false, false, batch, n, k, x, k, w, n, 1, y, n)
	if relu {
		for i, v := range y {
			if v < 0 {
				y[i] = 0
			}
		}
	}
}

func (op *denseOp) DiffWRT(inputs int) []bool { return []bool{true, true, true} }

func (op *denseOp) SymDiff(in gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(in) != 3 {
		return nil, errors.New("train: dense: SymDiff wants 3 inputs")
	}
	x, w := in[0], in[1]
	dz := grad
	var err error
	if op.relu {
		if dz, err = gorgonia.ApplyOp(&reluGradOp{dims: 2}, output, grad); err != nil {
			return nil, err
		}
	}
	dw, err := gorgonia.ApplyOp(&matTNOp{xdims: x.Dims()}, x, dz)
	if err != nil {
		return nil, err
	}
	db, err := gorgonia.ApplyOp(&colSumOp{}, dz)
	if err != nil {
		return nil, err
	}
	dx, err := gorgonia.ApplyOp(&matNTOp{outShape: x.Shape()}, dz, w)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// reluGradOp: dy·[y > 0], for y and dy of any (equal) shape.
type reluGradOp struct {
	opBase
	dims int
	out  outBuf
}

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(op.dims), tensorT(op.dims), tensorT(op.dims))
}
func (op *reluGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds[0])
	return s.Clone(), err
}
func (op *reluGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.reluGrad{%d}", op.dims) }
func (op *reluGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *reluGradOp) String() string        { return "ReLUGrad" }
func (op *reluGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := inputs(op, vals)
	if err != nil {
		return nil, err
	}
	y, dy := in[0], in[1]
	if y.Shape().TotalSize() != dy.Shape().TotalSize() {
		return nil, fmt.Errorf("train: %v: shapes %v and %v differ", op, y.Shape(), dy.Shape())
	}
	out := op.out.get(y.Dtype(), y.Shape()...)
	if y.Dtype() == tensor.Float32 {
		reluGrad(floats[float32](y), floats[float32](dy), floats[float32](out))
	} else {
		reluGrad(floats[float64](y), floats[float64](dy), floats[float64](out))
	}
	return out, nil
}

func reluGrad[T float](y, dy, out []T) {
	out = out[:len(y)]
	dy = dy[:len(y)]
	for i, v := range y {
		if v > 0 {
			out[i] = dy[i]
		} else {
			out[i] = 0
		}
	}
}

// matTNOp: xᵀ·dz, x [batch, ...] flattened to [batch, k], dz [batch, n] → [k, n].
type matTNOp struct {
	opBase
	xdims int
	out   outBuf
}

func (op *matTNOp) Arity() int    { return 2 }
func (op *matTNOp) Type() hm.Type { return hm.NewFnType(tensorT(op.xdims), tensorT(2), tensorT(2)) }
func (op *matTNOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(ds[0])
	if err != nil {
		return nil, err
	}
	zs, err := shapeOf(ds[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{prod(xs[1:]), zs[1]}, nil
}
func (op *matTNOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.matTN{%d}", op.xdims) }
func (op *matTNOp) Hashcode() uint32      { return hashOf(op) }
func (op *matTNOp) String() string        { return "DenseGradW" }
func (op *matTNOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := inputs(op, vals)
	if err != nil {
		return nil, err
	}
	x, dz := in[0], in[1]
	zs := dz.Shape()
	batch, n := zs[0], zs[1]
	k := x.Shape().TotalSize() / batch
	if x.Shape()[0] != batch {
		return nil, fmt.Errorf("train: %v: shapes %v and %v", op, x.Shape(), zs)
	}
	out := op.out.get(x.Dtype(), k, n)
	if x.Dtype() == tensor.Float32 {
		gemm(true, false, k, n, batch, floats[float32](x), k, floats[float32](dz), n, 0, floats[float32](out), n)
	} else {
		gemm(true, false, k, n, batch, floats[float64](x), k, floats[float64](dz), n, 0, floats[float64](out), n)
	}
	return out, nil
}

// matNTOp: dz·wᵀ, dz [batch, n], w [k, n] → [batch, k], reshaped to outShape.
type matNTOp struct {
	opBase
	outShape tensor.Shape
	out      outBuf
}

func (op *matNTOp) Arity() int { return 2 }
func (op *matNTOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2), tensorT(len(op.outShape)))
}
func (op *matNTOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.outShape.Clone(), nil
}
func (op *matNTOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.matNT{%v}", op.outShape) }
func (op *matNTOp) Hashcode() uint32      { return hashOf(op) }
func (op *matNTOp) String() string        { return "DenseGradX" }
func (op *matNTOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := inputs(op, vals)
	if err != nil {
		return nil, err
	}
	dz, w := in[0], in[1]
	zs, ws := dz.Shape(), w.Shape()
	batch, n, k := zs[0], zs[1], ws[0]
	if ws[1] != n || batch*k != op.outShape.TotalSize() {
		return nil, fmt.Errorf("train: %v: shapes %v and %v", op, zs, ws)
	}
	out := op.out.get(dz.Dtype(), op.outShape...)
	if dz.Dtype() == tensor.Float32 {
		gemm(false, true, batch, k, n, floats[float32](dz), n, floats[float32](w), n, 0, floats[float32](out), k)
	} else {
		gemm(false, true, batch, k, n, floats[float64](dz), n, floats[float64](w), n, 0, floats[float64](out), k)
	}
	return out, nil
}

// colSumOp: sums [batch, n] over the batch → [n].
type colSumOp struct {
	opBase
	out outBuf
}

func (op *colSumOp) Arity() int    { return 1 }
func (op *colSumOp) Type() hm.Type { return hm.NewFnType(tensorT(2), tensorT(1)) }
func (op *colSumOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[1]}, nil
}
func (op *colSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.colSum") }
func (op *colSumOp) Hashcode() uint32      { return hashOf(op) }
func (op *colSumOp) String() string        { return "DenseGradB" }
func (op *colSumOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := inputs(op, vals)
	if err != nil {
		return nil, err
	}
	dz := in[0]
	s := dz.Shape()
	out := op.out.get(dz.Dtype(), s[1])
	if dz.Dtype() == tensor.Float32 {
		colSum(floats[float32](dz), floats[float32](out), s[0], s[1])
	} else {
		colSum(floats[float64](dz), floats[float64](out), s[0], s[1])
	}
	return out, nil
}

func colSum[T float](a, out []T, rows, n int) {
	clear(out)
	for i := 0; i < rows; i++ {
		row := a[i*n : (i+1)*n]
		for j, v := range row {
			out[j] += v
		}
	}
}

// ---------------------------------------------------------------------------
// Softmax cross-entropy

// crossEntropy returns the mean over the batch of -log softmax(logits)[label]:
// logits [batch, classes], labels [batch] holding class indices as floats.
// It is the loss a Trainer puts on top of a Model's logits; its gradient is
// (softmax(logits) - onehot(label)) / batch, computed in one pass.
func crossEntropy(logits, labels *gorgonia.Node) (*gorgonia.Node, error) {
	ls, ys := logits.Shape(), labels.Shape()
	if len(ls) != 2 || len(ys) != 1 || ls[0] != ys[0] {
		return nil, fmt.Errorf("train: loss: logits shape %v and labels shape %v, want [batch, classes] and [batch]", ls, ys)
	}
	return gorgonia.ApplyOp(&xentOp{}, logits, labels)
}

type xentOp struct {
	opBase
	f32 gorgonia.F32
	f64 gorgonia.F64
}

func (op *xentOp) Arity() int    { return 2 }
func (op *xentOp) Type() hm.Type { return hm.NewFnType(tensorT(2), tensorT(1), tensorT(0)) }
func (op *xentOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *xentOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.xent") }
func (op *xentOp) Hashcode() uint32      { return hashOf(op) }
func (op *xentOp) String() string        { return "SoftmaxCrossEntropy" }
func (op *xentOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := inputs(op, vals)
	if err != nil {
		return nil, err
	}
	z, y := in[0], in[1]
	s := z.Shape()
	if len(s) != 2 || y.Shape().TotalSize() != s[0] {
		return nil, fmt.Errorf("train: %v: logits %v, labels %v", op, s, y.Shape())
	}
	if z.Dtype() == tensor.Float32 {
		loss, err := xentLoss(floats[float32](z), floats[float32](y), s[0], s[1])
		op.f32 = gorgonia.F32(loss)
		return &op.f32, err
	}
	loss, err := xentLoss(floats[float64](z), floats[float64](y), s[0], s[1])
	op.f64 = gorgonia.F64(loss)
	return &op.f64, err
}

// label converts a label stored as a float to a class index.
func label[T float](v T, classes int) (int, error) {
	c := int(v)
	if T(c) != v || c < 0 || c >= classes {
		return 0, fmt.Errorf("train: label %v is not a class index in [0,%d)", v, classes)
	}
	return c, nil
}

// rowLoss returns -log softmax(z)[c] computed in float64, and the index of the
// largest logit (the first of equal ones).
func rowLoss[T float](z []T, c int) (loss float64, argmax int) {
	mx := z[0]
	for j, v := range z {
		if v > mx {
			mx, argmax = v, j
		}
	}
	m := float64(mx)
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(float64(v) - m)
	}
	return m + math.Log(sum) - float64(z[c]), argmax
}

func xentLoss[T float](z, y []T, batch, classes int) (float64, error) {
	total := 0.0
	for i := 0; i < batch; i++ {
		c, err := label(y[i], classes)
		if err != nil {
			return 0, err
		}
		l, _ := rowLoss(z[i*classes:(i+1)*classes], c)
		total += l
	}
	return total / float64(batch), nil
}

func (op *xentOp) DiffWRT(inputs int) []bool { return []bool{true, false} }

func (op *xentOp) SymDiff(in gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(in) != 2 {
		return nil, errors.New("train: loss: SymDiff wants 2 inputs")
	}
	dz, err := gorgonia.ApplyOp(&xentGradOp{}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dz, nil}, nil
}

// xentGradOp: g·(softmax(z) - onehot(y))/batch.
type xentGradOp struct {
	opBase
	out outBuf
}

func (op *xentGradOp) Arity() int { return 3 }
func (op *xentGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(0), tensorT(2))
}
func (op *xentGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds[0])
	return s.Clone(), err
}
func (op *xentGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.xentGrad") }
func (op *xentGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *xentGradOp) String() string        { return "SoftmaxCrossEntropyGrad" }
func (op *xentGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vals) != 3 {
		return nil, fmt.Errorf("train: %v: %d inputs, want 3", op, len(vals))
	}
	z, err := dense(op, vals, 0, tensor.Dtype{})
	if err != nil {
		return nil, err
	}
	y, err := dense(op, vals, 1, z.Dtype())
	if err != nil {
		return nil, err
	}
	g, err := scalar(vals[2])
	if err != nil {
		return nil, fmt.Errorf("train: %v: %w", op, err)
	}
	s := z.Shape()
	out := op.out.get(z.Dtype(), s...)
	if z.Dtype() == tensor.Float32 {
		err = xentGrad(floats[float32](z), floats[float32](y), floats[float32](out), s[0], s[1], g)
	} else {
		err = xentGrad(floats[float64](z), floats[float64](y), floats[float64](out), s[0], s[1], g)
	}
	return out, err
}

func xentGrad[T float](z, y, out []T, batch, classes int, g float64) error {
	scale := g / float64(batch)
	for i := 0; i < batch; i++ {
		c, err := label(y[i], classes)
		if err != nil {
			return err
		}
		row := z[i*classes : (i+1)*classes]
		o := out[i*classes : (i+1)*classes]
		mx := float64(row[0])
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		inv := scale / sum
		for j, v := range row {
			o[j] = T(math.Exp(float64(v)-mx) * inv)
		}
		o[c] -= T(scale)
	}
	return nil
}

// scalar reads a scalar Value (a Gorgonia scalar or a one-element tensor).
func scalar(v gorgonia.Value) (float64, error) {
	switch s := v.(type) {
	case *gorgonia.F32:
		return float64(*s), nil
	case *gorgonia.F64:
		return float64(*s), nil
	case *tensor.Dense:
		if s.Shape().TotalSize() == 1 {
			switch s.Dtype() {
			case tensor.Float32:
				return float64(s.Float32s()[0]), nil
			case tensor.Float64:
				return s.Float64s()[0], nil
			}
		}
	}
	return 0, fmt.Errorf("not a float scalar: %T", v)
}
