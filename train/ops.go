package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	"github.com/shearsml/shears/train/internal/kernel"
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
//
// Every op is written once:
//   - its shape rule and checks in one method, outShape, which both
//     InferShape (when the graph is built) and Do (at every run) call
//     through inferShape and run;
//   - its computation in one generic function over float32 and float64,
//     which run calls with the inputs' backing slices; run is the only
//     place that looks at dtypes.

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

// maxArity is the most inputs an op of this package takes.
const maxArity = 4

// kernelOp is what inferShape and run need from an op.
type kernelOp interface {
	fmt.Stringer
	Arity() int
	kit() *opKit
	// outShape checks the shapes of the inputs (one per input; a scalar
	// input has an empty shape) and appends the output's shape to dst (none
	// for a scalar output). It must not keep in.
	outShape(dst []int, in []tensor.Shape) ([]int, error)
}

// args are the inputs and output of one run of an op, as T slices.
type args[T float] struct {
	in    [maxArity][]T // each tensor input's backing slice (nil for a scalar)
	scal  [maxArity]float64
	shape []tensor.Shape // the inputs' shapes
	out   []T            // the output's backing slice (nil for a scalar output)
	dims  []int          // the output's shape
	loss  float64        // a scalar output's value, set by the kernel
}

// opKit is the run-time state every op of this package embeds: its output
// buffer and the views of its inputs, reused on every run so that a run
// allocates nothing.
type opKit struct {
	out   outBuf
	dims  []int
	shape [maxArity]tensor.Shape
	a32   args[float32]
	a64   args[float64]
	s32   gorgonia.F32
	s64   gorgonia.F64
}

func (k *opKit) kit() *opKit        { return k }
func (*opKit) ReturnsPtr() bool     { return false }
func (*opKit) CallsExtern() bool    { return false }
func (*opKit) OverwritesInput() int { return -1 }

// inferShape implements gorgonia.Op's InferShape for every op: it checks
// that there is one tensor.Shape per input and hands them to op.outShape.
func inferShape(op kernelOp, ds []gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != op.Arity() {
		return nil, fmt.Errorf("train: %v: %d input shapes, want %d", op, len(ds), op.Arity())
	}
	in := make([]tensor.Shape, len(ds))
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("train: %v: input %d has a %T, want a tensor.Shape", op, i, d)
		}
		in[i] = s
	}
	out, err := op.outShape(nil, in)
	if err != nil {
		return nil, fmt.Errorf("train: %v: %w", op, err)
	}
	if out == nil {
		return tensor.ScalarShape(), nil
	}
	return tensor.Shape(out), nil
}

// run implements gorgonia.Op's Do for every op: it checks the inputs
// (contiguous float32 or float64 tensors of one dtype, or float scalars),
// checks their shapes with op.outShape, gets the reused output buffer and
// calls k32 or k64, the two instantiations of the op's kernel. A scalar
// output (no dimensions) is the kernel's args.loss.
func run[O kernelOp](op O, vals []gorgonia.Value, k32 func(O, *args[float32]) error, k64 func(O, *args[float64]) error) (gorgonia.Value, error) {
	n := op.Arity()
	if len(vals) != n || n > maxArity {
		return nil, fmt.Errorf("train: %v: %d inputs, want %d", op, len(vals), n)
	}
	k := op.kit()
	var dt tensor.Dtype
	var scal [maxArity]float64
	for i, v := range vals {
		switch t := v.(type) {
		case *tensor.Dense:
			if t == nil {
				return nil, fmt.Errorf("train: %v: input %d is a nil tensor", op, i)
			}
			if d := t.Dtype(); d != tensor.Float32 && d != tensor.Float64 {
				return nil, fmt.Errorf("train: %v: input %d has dtype %v, want float32 or float64", op, i, d)
			}
			if dt != (tensor.Dtype{}) && t.Dtype() != dt {
				return nil, fmt.Errorf("train: %v: input %d has dtype %v, want %v like the inputs before it", op, i, t.Dtype(), dt)
			}
			if t.RequiresIterator() || !t.IsNativelyAccessible() {
				return nil, fmt.Errorf("train: %v: input %d is not contiguous", op, i)
			}
			dt = t.Dtype()
			k.shape[i] = t.Shape()
		case *gorgonia.F32:
			scal[i], k.shape[i] = float64(*t), tensor.Shape{}
		case *gorgonia.F64:
			scal[i], k.shape[i] = float64(*t), tensor.Shape{}
		default:
			return nil, fmt.Errorf("train: %v: input %d is %T, want a *tensor.Dense or a float scalar", op, i, v)
		}
	}
	if dt == (tensor.Dtype{}) {
		return nil, fmt.Errorf("train: %v: no tensor input", op)
	}
	dims, err := op.outShape(k.dims[:0], k.shape[:n])
	k.dims = dims
	if err != nil {
		return nil, fmt.Errorf("train: %v: %w", op, err)
	}
	var out *tensor.Dense
	if len(dims) > 0 {
		out = k.out.get(dt, dims...)
	}
	if dt == tensor.Float32 {
		a := &k.a32
		fill(a, vals, scal, k.shape[:n], out, dims)
		if err := k32(op, a); err != nil {
			return nil, err
		}
		if out == nil {
			k.s32 = gorgonia.F32(a.loss)
			return &k.s32, nil
		}
		return out, nil
	}
	a := &k.a64
	fill(a, vals, scal, k.shape[:n], out, dims)
	if err := k64(op, a); err != nil {
		return nil, err
	}
	if out == nil {
		k.s64 = gorgonia.F64(a.loss)
		return &k.s64, nil
	}
	return out, nil
}

func fill[T float](a *args[T], vals []gorgonia.Value, scal [maxArity]float64, shape []tensor.Shape, out *tensor.Dense, dims []int) {
	for i := range a.in {
		a.in[i] = nil
		if i < len(vals) {
			if t, ok := vals[i].(*tensor.Dense); ok {
				a.in[i] = floats[T](t)
			}
		}
	}
	a.scal, a.shape, a.dims, a.loss = scal, shape, dims, 0
	a.out = nil
	if out != nil {
		a.out = floats[T](out)
	}
}

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

func tensorT(dims int) hm.Type {
	if dims == 0 {
		return hm.TypeVariable('a')
	}
	return &gorgonia.TensorType{Dims: dims, Of: hm.TypeVariable('a')}
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// wantDims checks that shape s of input i (named what) has dims
// dimensions (at least dims if atLeast), each of positive size.
func wantDims(s tensor.Shape, i, dims int, atLeast bool, what string) error {
	if atLeast && len(s) < dims {
		return fmt.Errorf("input %d (%s) has shape %v, want at least %d dimensions", i, what, s, dims)
	}
	if !atLeast && len(s) != dims {
		return fmt.Errorf("input %d (%s) has shape %v, want %d dimensions", i, what, s, dims)
	}
	for _, d := range s {
		if d < 1 {
			return fmt.Errorf("input %d (%s) has shape %v, want positive sizes", i, what, s)
		}
	}
	return nil
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
	op := &denseOp{relu: relu, xdims: x.Dims()}
	if _, err := op.outShape(nil, []tensor.Shape{x.Shape(), w.Shape(), b.Shape()}); err != nil {
		return nil, fmt.Errorf("train: Dense: %w", err)
	}
	return gorgonia.ApplyOp(op, x, w, b)
}

type denseOp struct {
	opKit
	relu  bool
	xdims int
	// sparse, when not nil, is the weight's mask as the sparse kernels
	// read it (set by the Trainer, see sparse.go); the op and its two
	// gradient ops then compute at the kept weights only.
	sparse *kernel.Pattern
}

func (op *denseOp) Arity() int { return 3 }
func (op *denseOp) Type() hm.Type {
	return hm.NewFnType(tensorT(op.xdims), tensorT(2), tensorT(1), tensorT(2))
}
func (op *denseOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}

// outShape: x [batch, ...] with in = the product of the rest, w [in, out],
// b [out] → [batch, out].
func (op *denseOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	xs, ws, bs := in[0], in[1], in[2]
	if err := wantDims(xs, 0, 2, true, "x"); err != nil {
		return nil, err
	}
	if err := wantDims(ws, 1, 2, false, "weight"); err != nil {
		return nil, err
	}
	if err := wantDims(bs, 2, 1, false, "bias"); err != nil {
		return nil, err
	}
	if prod(xs[1:]) != ws[0] || bs[0] != ws[1] {
		return nil, fmt.Errorf("input %v, weight %v and bias %v do not fit", xs, ws, bs)
	}
	return append(dst, xs[0], ws[1]), nil
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
	return run(op, vals, denseKernel[float32], denseKernel[float64])
}

func denseKernel[T float](op *denseOp, a *args[T]) error {
	ws := a.shape[1]
	if op.sparse != nil && isF32[T]() {
		sparseFwd(op.sparse, as32(a.in[0]), as32(a.in[1]), as32(a.in[2]), as32(a.out), a.dims[0], op.relu)
		return nil
	}
	denseFwd(a.in[0], a.in[1], a.in[2], a.out, a.dims[0], ws[0], ws[1], op.relu)
	return nil
}

func denseFwd[T float](x, w, b, y []T, batch, k, n int, relu bool) {
	for i := 0; i < batch; i++ {
		copy(y[i*n:(i+1)*n], b)
	}
	gemm(false, false, batch, n, k, x, k, w, n, 1, y, n)
	if relu && isF32[T]() {
		kernel.ReLU(as32(y))
	} else if relu {
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
	dw, err := gorgonia.ApplyOp(&matTNOp{xdims: x.Dims(), fwd: op}, x, dz)
	if err != nil {
		return nil, err
	}
	db, err := gorgonia.ApplyOp(&colSumOp{}, dz)
	if err != nil {
		return nil, err
	}
	dx, err := gorgonia.ApplyOp(&matNTOp{xShape: x.Shape().Clone(), fwd: op}, dz, w)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// reluGradOp: dy·[y > 0], for y and dy of any equal size; the output has
// y's shape.
type reluGradOp struct {
	opKit
	dims int
	job  any // *reluGradJob[T]
	wg   sync.WaitGroup
}

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(op.dims), tensorT(op.dims), tensorT(op.dims))
}
func (op *reluGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *reluGradOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	if err := wantDims(in[0], 0, 1, true, "y"); err != nil {
		return nil, err
	}
	if in[0].TotalSize() != in[1].TotalSize() {
		return nil, fmt.Errorf("output %v and its gradient %v differ in size", in[0], in[1])
	}
	return append(dst, in[0]...), nil
}
func (op *reluGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.reluGrad{%d}", op.dims) }
func (op *reluGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *reluGradOp) String() string        { return "ReLUGrad" }
func (op *reluGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, reluGradKernel[float32], reluGradKernel[float64])
}

func reluGradKernel[T float](op *reluGradOp, a *args[T]) error {
	j := jobOf[reluGradJob[T]](&op.job)
	j.y, j.dy, j.out = a.in[0], a.in[1], a.out
	n := len(j.y)
	parallel(j, n, workers(n, minParallelElems), &op.wg)
	return nil
}

// minParallelElems is the least number of entries of an elementwise
// operation worth a goroutine of its own.
const minParallelElems = 1 << 18

type reluGradJob[T float] struct{ y, dy, out []T }

func (j *reluGradJob[T]) runRange(_, lo, hi int) { reluGrad(j.y[lo:hi], j.dy[lo:hi], j.out[lo:hi]) }

func reluGrad[T float](y, dy, out []T) {
	out = out[:len(y)]
	dy = dy[:len(y)]
	if isF32[T]() {
		reluGrad32(as32(y), as32(dy), as32(out))
		return
	}
	for i, v := range y {
		if v > 0 {
			out[i] = dy[i]
		} else {
			out[i] = 0
		}
	}
}

// reluGrad32 is reluGrad with the vector kernel (kernel.ReLUGrad: no
// branch, whose misprediction on random signs cost more than the rest of
// the op).
func reluGrad32(y, dy, out []float32) { kernel.ReLUGrad(y, dy, out) }

// matTNOp: xᵀ·dz, x [batch, ...] flattened to [batch, k], dz [batch, n] → [k, n].
type matTNOp struct {
	opKit
	xdims int
	fwd   *denseOp // the layer, for its sparse kernels; nil in tests
}

func (op *matTNOp) Arity() int    { return 2 }
func (op *matTNOp) Type() hm.Type { return hm.NewFnType(tensorT(op.xdims), tensorT(2), tensorT(2)) }
func (op *matTNOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *matTNOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	xs, zs := in[0], in[1]
	if err := wantDims(xs, 0, 2, true, "x"); err != nil {
		return nil, err
	}
	if err := wantDims(zs, 1, 2, false, "gradient"); err != nil {
		return nil, err
	}
	if xs[0] != zs[0] {
		return nil, fmt.Errorf("input %v and gradient %v have different batch sizes", xs, zs)
	}
	return append(dst, prod(xs[1:]), zs[1]), nil
}
func (op *matTNOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.matTN{%d}", op.xdims) }
func (op *matTNOp) Hashcode() uint32      { return hashOf(op) }
func (op *matTNOp) String() string        { return "DenseGradW" }
func (op *matTNOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, matTNKernel[float32], matTNKernel[float64])
}

func matTNKernel[T float](op *matTNOp, a *args[T]) error {
	batch, k, n := a.shape[1][0], a.dims[0], a.dims[1]
	if op.fwd != nil && op.fwd.sparse != nil && isF32[T]() {
		op.fwd.sparse.GradW(as32(a.out), as32(a.in[0]), as32(a.in[1]), batch)
		return nil
	}
	gemm(true, false, k, n, batch, a.in[0], k, a.in[1], n, 0, a.out, n)
	return nil
}

// matNTOp: dz·wᵀ, dz [batch, n], w [k, n] → [batch, k], reshaped to x's
// shape (xShape).
type matNTOp struct {
	opKit
	xShape tensor.Shape
	fwd    *denseOp // the layer, for its sparse kernels; nil in tests
}

func (op *matNTOp) Arity() int { return 2 }
func (op *matNTOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2), tensorT(len(op.xShape)))
}
func (op *matNTOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *matNTOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	zs, ws := in[0], in[1]
	if err := wantDims(zs, 0, 2, false, "gradient"); err != nil {
		return nil, err
	}
	if err := wantDims(ws, 1, 2, false, "weight"); err != nil {
		return nil, err
	}
	if len(op.xShape) < 2 || zs[1] != ws[1] || op.xShape[0] != zs[0] || prod(op.xShape[1:]) != ws[0] {
		return nil, fmt.Errorf("gradient %v and weight %v do not give the input shape %v", zs, ws, op.xShape)
	}
	return append(dst, op.xShape...), nil
}
func (op *matNTOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.matNT{%v}", op.xShape) }
func (op *matNTOp) Hashcode() uint32      { return hashOf(op) }
func (op *matNTOp) String() string        { return "DenseGradX" }
func (op *matNTOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, matNTKernel[float32], matNTKernel[float64])
}

func matNTKernel[T float](op *matNTOp, a *args[T]) error {
	zs, ws := a.shape[0], a.shape[1]
	batch, n, k := zs[0], zs[1], ws[0]
	if op.fwd != nil && op.fwd.sparse != nil && isF32[T]() {
		op.fwd.sparse.GradX(as32(a.out), as32(a.in[0]), as32(a.in[1]), batch)
		return nil
	}
	gemm(false, true, batch, k, n, a.in[0], n, a.in[1], n, 0, a.out, k)
	return nil
}

// colSumOp: sums [batch, n] over the batch → [n].
type colSumOp struct {
	opKit
}

func (op *colSumOp) Arity() int    { return 1 }
func (op *colSumOp) Type() hm.Type { return hm.NewFnType(tensorT(2), tensorT(1)) }
func (op *colSumOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *colSumOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	if err := wantDims(in[0], 0, 2, false, "gradient"); err != nil {
		return nil, err
	}
	return append(dst, in[0][1]), nil
}
func (op *colSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.colSum") }
func (op *colSumOp) Hashcode() uint32      { return hashOf(op) }
func (op *colSumOp) String() string        { return "DenseGradB" }
func (op *colSumOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, colSumKernel[float32], colSumKernel[float64])
}

func colSumKernel[T float](_ *colSumOp, a *args[T]) error {
	s := a.shape[0]
	colSum(a.in[0], a.out, s[0], s[1])
	return nil
}

func colSum[T float](a, out []T, rows, n int) {
	if isF32[T]() {
		kernel.ColSum(as32(a), as32(out), rows, n)
		return
	}
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
	op := &xentOp{}
	if _, err := op.outShape(nil, []tensor.Shape{logits.Shape(), labels.Shape()}); err != nil {
		return nil, fmt.Errorf("train: loss: %w", err)
	}
	return gorgonia.ApplyOp(op, logits, labels)
}

// xentShape checks logits [batch, classes] and labels [batch].
func xentShape(in []tensor.Shape) error {
	if err := wantDims(in[0], 0, 2, false, "logits"); err != nil {
		return err
	}
	if err := wantDims(in[1], 1, 1, false, "labels"); err != nil {
		return err
	}
	if in[1][0] != in[0][0] {
		return fmt.Errorf("logits %v and labels %v, want [batch, classes] and [batch]", in[0], in[1])
	}
	return nil
}

type xentOp struct {
	opKit
	memo xentMemo
}

// xentMemo is what the loss computed for the softmax of its last logits
// (at of, n of them): each row's largest logit m as float64, the
// exponentials exp(z - m) and their sum, in float64. The gradient op of the
// same graph, which runs after the loss on the same logits, reads them once
// (ok) instead of computing them again; the values are the ones it would
// compute, so the numbers do not change.
type xentMemo struct {
	m, sum, ex []float64
	of         unsafe.Pointer
	n          int
	ok         bool
}

// rows returns the memo's rows for logits z [batch, classes] if the loss
// computed them for z since the last call, nil otherwise.
func (mm *xentMemo) rows(z unsafe.Pointer, n int) *xentMemo {
	if mm == nil || !mm.ok || mm.of != z || mm.n != n {
		return nil
	}
	mm.ok = false
	return mm
}

func (op *xentOp) Arity() int    { return 2 }
func (op *xentOp) Type() hm.Type { return hm.NewFnType(tensorT(2), tensorT(1), tensorT(0)) }
func (op *xentOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *xentOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	return dst, xentShape(in)
}
func (op *xentOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.xent") }
func (op *xentOp) Hashcode() uint32      { return hashOf(op) }
func (op *xentOp) String() string        { return "SoftmaxCrossEntropy" }
func (op *xentOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, xentKernel[float32], xentKernel[float64])
}

func xentKernel[T float](op *xentOp, a *args[T]) (err error) {
	s := a.shape[0]
	a.loss, err = xentLoss(a.in[0], a.in[1], s[0], s[1], &op.memo)
	return err
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

// xentLoss returns the mean loss of the batch; with memo, it keeps the
// softmax's terms there for the gradient.
func xentLoss[T float](z, y []T, batch, classes int, memo *xentMemo) (float64, error) {
	if memo != nil {
		memo.ok = false
		n := batch * classes
		if cap(memo.ex) < n || cap(memo.m) < batch {
			memo.ex, memo.m, memo.sum = make([]float64, n), make([]float64, batch), make([]float64, batch)
		}
		memo.ex, memo.m, memo.sum = memo.ex[:n], memo.m[:batch], memo.sum[:batch]
	}
	total := 0.0
	for i := 0; i < batch; i++ {
		c, err := label(y[i], classes)
		if err != nil {
			return 0, err
		}
		row := z[i*classes : (i+1)*classes]
		if memo == nil {
			l, _ := rowLoss(row, c)
			total += l
			continue
		}
		// rowLoss, keeping its terms
		mx := row[0]
		for _, v := range row {
			if v > mx {
				mx = v
			}
		}
		m, sum, ex := float64(mx), 0.0, memo.ex[i*classes:(i+1)*classes]
		for j, v := range row {
			e := math.Exp(float64(v) - m)
			ex[j] = e
			sum += e
		}
		memo.m[i], memo.sum[i] = m, sum
		total += m + math.Log(sum) - float64(row[c])
	}
	if memo != nil && batch > 0 {
		memo.of, memo.n, memo.ok = unsafe.Pointer(&z[0]), batch*classes, true
	}
	return total / float64(batch), nil
}

func (op *xentOp) DiffWRT(inputs int) []bool { return []bool{true, false} }

func (op *xentOp) SymDiff(in gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(in) != 2 {
		return nil, errors.New("train: loss: SymDiff wants 2 inputs")
	}
	dz, err := gorgonia.ApplyOp(&xentGradOp{fwd: op}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dz, nil}, nil
}

// xentGradOp: g·(softmax(z) - onehot(y))/batch, for the loss's gradient g (a
// scalar).
type xentGradOp struct {
	opKit
	fwd *xentOp // the loss, whose softmax terms it reuses; nil in tests
}

func (op *xentGradOp) Arity() int { return 3 }
func (op *xentGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(0), tensorT(2))
}
func (op *xentGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *xentGradOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	if err := xentShape(in); err != nil {
		return nil, err
	}
	if in[2].TotalSize() != 1 {
		return nil, fmt.Errorf("input 2 (the loss's gradient) has shape %v, want a scalar", in[2])
	}
	return append(dst, in[0]...), nil
}
func (op *xentGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.xentGrad") }
func (op *xentGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *xentGradOp) String() string        { return "SoftmaxCrossEntropyGrad" }
func (op *xentGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, xentGradKernel[float32], xentGradKernel[float64])
}

func xentGradKernel[T float](op *xentGradOp, a *args[T]) error {
	g := a.scal[2]
	if a.in[2] != nil { // a one-element tensor
		g = float64(a.in[2][0])
	}
	s := a.shape[0]
	var memo *xentMemo
	if op.fwd != nil {
		memo = op.fwd.memo.rows(unsafe.Pointer(&a.in[0][0]), s[0]*s[1])
	}
	return xentGrad(a.in[0], a.in[1], a.out, s[0], s[1], g, memo)
}

// xentGrad computes the loss's gradient; with memo (the loss's terms for
// these logits), it takes the exponentials and sums of the rows whose
// largest logit is the one it finds (all but rows holding NaN) from there.
func xentGrad[T float](z, y, out []T, batch, classes int, g float64, memo *xentMemo) error {
	scale := g / float64(batch)
	var buf [16]float64
	ex := buf[:]
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
		var sum float64
		var e []float64
		if memo != nil && memo.m[i] == mx {
			sum, e = memo.sum[i], memo.ex[i*classes:(i+1)*classes]
		} else {
			// each exponential computed once, kept in float64
			if len(ex) < classes {
				ex = make([]float64, classes)
			}
			e = ex[:classes]
			for j, v := range row {
				x := math.Exp(float64(v) - mx)
				e[j] = x
				sum += x
			}
		}
		inv := scale / sum
		for j := range row {
			o[j] = T(e[j] * inv)
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
