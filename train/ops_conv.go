package train

import (
	"fmt"
	"hash"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/pkg/errors"
	"github.com/shearsml/shears/train/internal/kernel"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGeom is the geometry of a 2-D convolution over NCHW tensors.
type convGeom struct {
	C, H, W     int // input channels, height, width
	O, KH, KW   int // output channels, kernel
	Stride, Pad int
	OH, OW      int // output height, width
}

func newConvGeom(xs, ws []int, stride, pad int) (convGeom, error) {
	if len(xs) != 4 || len(ws) != 4 {
		return convGeom{}, fmt.Errorf("train: Conv: input %v and kernel %v, want [batch, c, h, w] and [out, c, kh, kw]", xs, ws)
	}
	if stride < 1 || pad < 0 {
		return convGeom{}, fmt.Errorf("train: Conv: stride %d and padding %d, want stride ≥ 1 and padding ≥ 0", stride, pad)
	}
	g := convGeom{C: xs[1], H: xs[2], W: xs[3], O: ws[0], KH: ws[2], KW: ws[3], Stride: stride, Pad: pad}
	if ws[1] != g.C {
		return convGeom{}, fmt.Errorf("train: Conv: input %v has %d channels, kernel %v wants %d", xs, g.C, ws, ws[1])
	}
	g.OH = (g.H+2*pad-g.KH)/stride + 1
	g.OW = (g.W+2*pad-g.KW)/stride + 1
	if g.H+2*pad < g.KH || g.W+2*pad < g.KW || g.OH < 1 || g.OW < 1 {
		return convGeom{}, fmt.Errorf("train: Conv: a %dx%d kernel does not fit a %dx%d input padded by %d", g.KH, g.KW, g.H, g.W, pad)
	}
	return g, nil
}

func (g convGeom) colRows() int { return g.C * g.KH * g.KW }
func (g convGeom) colCols() int { return g.OH * g.OW }

// im2col unfolds one image x [C,H,W] into col [C·KH·KW, OH·OW].
func im2col[T float](g convGeom, x, col []T) { im2colRows(g, x, col, 0, g.colRows()) }

// im2colRows writes rows [r0, r1) of im2col's col into col [r1-r0, OH·OW].
func im2colRows[T float](g convGeom, x, col []T, r0, r1 int) {
	im2colLd(g, x, col, r0, r1, g.colCols())
}

// im2colLd is im2colRows into a matrix whose rows are ld apart (ld ≥
// OH·OW): several images' columns side by side.
func im2colLd[T float](g convGeom, x, col []T, r0, r1, ld int) {
	n := g.colCols()
	row := 0
	for c := 0; c < g.C; c++ {
		plane := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				row++
				if row <= r0 || row > r1 {
					continue
				}
				dst := col[(row-1-r0)*ld : (row-1-r0)*ld+n]
				for oh := 0; oh < g.OH; oh++ {
					ih := oh*g.Stride - g.Pad + ki
					d := dst[oh*g.OW : (oh+1)*g.OW]
					if ih < 0 || ih >= g.H {
						clear(d)
						continue
					}
					src := plane[ih*g.W : (ih+1)*g.W]
					if g.Stride == 1 {
						// contiguous run: iw = ow - pad + kj
						lo, hi := g.Pad-kj, g.W+g.Pad-kj // ow range with iw in [0,W)
						lo = max(lo, 0)
						hi = min(hi, g.OW)
						if lo >= hi {
							clear(d)
							continue
						}
						clear(d[:lo])
						copy(d[lo:hi], src[lo-g.Pad+kj:hi-g.Pad+kj])
						clear(d[hi:])
						continue
					}
					for ow := range d {
						iw := ow*g.Stride - g.Pad + kj
						if iw < 0 || iw >= g.W {
							d[ow] = 0
						} else {
							d[ow] = src[iw]
						}
					}
				}
			}
		}
	}
}

// col2im adds col [C·KH·KW, OH·OW] back into one image dx [C,H,W].
func col2im[T float](g convGeom, col, dx []T) {
	n := g.colCols()
	row := 0
	for c := 0; c < g.C; c++ {
		plane := dx[c*g.H*g.W : (c+1)*g.H*g.W]
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				src := col[row*n : (row+1)*n]
				row++
				for oh := 0; oh < g.OH; oh++ {
					ih := oh*g.Stride - g.Pad + ki
					if ih < 0 || ih >= g.H {
						continue
					}
					d := plane[ih*g.W : (ih+1)*g.W]
					s := src[oh*g.OW : (oh+1)*g.OW]
					if g.Stride == 1 {
						// contiguous run: iw = ow - pad + kj
						lo, hi := max(g.Pad-kj, 0), min(g.W+g.Pad-kj, g.OW)
						if lo < hi {
							dd := d[lo-g.Pad+kj : hi-g.Pad+kj]
							for i, v := range s[lo:hi] {
								dd[i] += v
							}
						}
						continue
					}
					for ow, v := range s {
						iw := ow*g.Stride - g.Pad + kj
						if iw >= 0 && iw < g.W {
							d[iw] += v
						}
					}
				}
			}
		}
	}
}

// Conv returns the 2-D convolution of x [batch, c, h, w] with the kernel w
// [out, c, kh, kw], plus the bias b [out] on every output channel: the result
// is [batch, out, oh, ow] with oh = (h+2·pad-kh)/stride+1 (likewise ow),
// zero-padded by pad on every side. It is one Gorgonia op (im2col and a
// matrix product per image), differentiable with respect to x, w and b, that
// reuses its buffers between runs.
func Conv(x, w, b *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return convNode(x, w, b, stride, pad, false)
}

// ConvReLU returns max(0, Conv(x, w, b, stride, pad)), fused into one op.
func ConvReLU(x, w, b *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return convNode(x, w, b, stride, pad, true)
}

func convNode(x, w, b *gorgonia.Node, stride, pad int, relu bool) (*gorgonia.Node, error) {
	if x == nil || w == nil || b == nil {
		return nil, errors.New("train: Conv: nil node")
	}
	op := &convOp{stride: stride, pad: pad, relu: relu}
	if _, err := op.outShape(nil, []tensor.Shape{x.Shape(), w.Shape(), b.Shape()}); err != nil {
		return nil, fmt.Errorf("train: Conv: %w", err)
	}
	return gorgonia.ApplyOp(op, x, w, b)
}

type convOp struct {
	opKit
	stride, pad int
	relu        bool
	job         any // *convFwdJob[T]
	wg          sync.WaitGroup
}

func (op *convOp) Arity() int { return 3 }
func (op *convOp) Type() hm.Type {
	return hm.NewFnType(tensorT(4), tensorT(4), tensorT(1), tensorT(4))
}
func (op *convOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}

// outShape: x [batch, c, h, w], w [o, c, kh, kw], b [o] → [batch, o, oh, ow].
func (op *convOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	g, err := convShapes(in[0], in[1], op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	if bs := in[2]; len(bs) != 1 || bs[0] != g.O {
		return nil, fmt.Errorf("bias shape %v, want [%d]", bs, g.O)
	}
	return append(dst, in[0][0], g.O, g.OH, g.OW), nil
}

// convShapes checks an input and a kernel shape and returns their geometry.
func convShapes(xs, ws tensor.Shape, stride, pad int) (convGeom, error) {
	if err := wantDims(xs, 0, 4, false, "x"); err != nil {
		return convGeom{}, err
	}
	if err := wantDims(ws, 1, 4, false, "kernel"); err != nil {
		return convGeom{}, err
	}
	return newConvGeom(xs, ws, stride, pad)
}

func (op *convOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shears.conv{%d,%d,%v}", op.stride, op.pad, op.relu)
}
func (op *convOp) Hashcode() uint32 { return hashOf(op) }
func (op *convOp) String() string {
	if op.relu {
		return fmt.Sprintf("ConvReLU{s%d,p%d}", op.stride, op.pad)
	}
	return fmt.Sprintf("Conv{s%d,p%d}", op.stride, op.pad)
}

func (op *convOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, convKernel[float32], convKernel[float64])
}

func convKernel[T float](op *convOp, a *args[T]) error {
	g, err := newConvGeom(a.shape[0], a.shape[1], op.stride, op.pad)
	if err != nil {
		return err
	}
	j := jobOf[convFwdJob[T]](&op.job)
	batch := a.shape[0][0]
	*j = convFwdJob[T]{g: g, batch: batch, x: a.in[0], w: a.in[1], b: a.in[2], y: a.out, relu: op.relu, cols: j.cols}
	// Split by groups of images, not by images: the groups are then the
	// same on any number of threads, so the numbers are too, whatever BLAS
	// computes the products (OpenBLAS's sums may depend on a product's size).
	group := convGroup(g)
	groups := (batch + group - 1) / group
	parallel(j, groups, workers(groups*group*g.O*g.colRows()*g.colCols(), minParallelWork), &op.wg)
	return nil
}

// minParallelWork is the least work (multiply-adds) per range worth a
// goroutine of its own.
const minParallelWork = 1 << 21

// jobOf returns *slot as a *J, making it on first use.
func jobOf[J any](slot *any) *J {
	j, ok := (*slot).(*J)
	if !ok {
		j = new(J)
		*slot = j
	}
	return j
}

// scratch returns a []T of n elements backed by *buf, grown as needed.
func scratch[T float](buf *[]float64, n int) []T {
	var z T
	words := (n*int(unsafe.Sizeof(z)) + 7) / 8
	if cap(*buf) < words || *buf == nil {
		*buf = make([]float64, max(words, 1))
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(*buf))), n)
}

// convFwdJob is the forward convolution of a batch, split by groups of
// convGroup images (ranges count groups): each group's output is computed on
// its own (bias, im2col, one matrix product, ReLU), whichever range it falls
// in.
type convFwdJob[T float] struct {
	g          convGeom
	batch      int
	x, w, b, y []T
	relu       bool
	cols       [maxWorkers][]float64 // im2col scratch of each worker
}

func (j *convFwdJob[T]) runRange(wk, lo, hi int) {
	g := j.g
	buf := scratch[T](&j.cols[wk], fwdBufLen(g))
	group := convGroup(g)
	convImages(g, lo*group, min(hi*group, j.batch), j.x, j.w, j.b, j.y, buf, j.relu)
}

// fwdCols is how many columns one image takes in the forward product. For
// stride 1 it is OH·(W+2·Pad): the output is computed on the padded width,
// each row's last KW-1 entries to be dropped, so that each row of the
// unfolded input is one contiguous run of the padded image (one copy, not
// OH copies and clears). Each kept entry is the same sum as on OH·OW
// columns. For other strides it is OH·OW.
func (g convGeom) fwdCols() int {
	if g.Stride == 1 {
		return g.OH * g.padW()
	}
	return g.colCols()
}

func (g convGeom) padW() int { return g.W + 2*g.Pad }
func (g convGeom) padH() int { return g.H + 2*g.Pad }

// padLen is the length of a padded image: C·(H+2·Pad)·(W+2·Pad), plus KW-1
// entries that the last unfolded row reads past the end (into dropped
// columns).
func (g convGeom) padLen() int { return g.C*g.padH()*g.padW() + g.KW - 1 }

// convGroup is how many images the forward convolution puts in one matrix
// product: enough for about 1024 columns, so that the kernel matrix is
// packed once for them all.
func convGroup(g convGeom) int { return max(1, 1024/g.fwdCols()) }

// fwdBufLen is the scratch convImages needs: the unfolded inputs and the
// product of a group, and a padded image.
func fwdBufLen(g convGeom) int {
	return (g.colRows()+g.O)*convGroup(g)*g.fwdCols() + g.padLen()
}

// convFwd is the forward convolution of a batch on one goroutine; buf
// holds fwdBufLen(g) entries.
func convFwd[T float](g convGeom, batch int, x, w, b, y, buf []T, relu bool) {
	convImages(g, 0, batch, x, w, b, y, buf, relu)
}

// padImage writes image x [C,H,W] into xp [C, H+2·Pad, W+2·Pad] (and
// padLen's tail) with zeros around it.
func padImage[T float](g convGeom, x, xp []T) {
	hp, wp := g.padH(), g.padW()
	xp = xp[:g.padLen()]
	if g.Pad == 0 {
		copy(xp, x[:g.C*g.H*g.W])
		clear(xp[g.C*g.H*g.W:])
		return
	}
	clear(xp)
	for c := 0; c < g.C; c++ {
		for i := 0; i < g.H; i++ {
			copy(xp[(c*hp+i+g.Pad)*wp+g.Pad:][:g.W], x[(c*g.H+i)*g.W:][:g.W])
		}
	}
}

// im2colPad unfolds a padded image xp (stride 1) into col's columns [off,
// off+fwdCols) of rows [r0, r1) of the unfolded matrix, rows ld apart:
// row (c, ki, kj) is the run of xp from (c, ki, kj) on.
func im2colPad[T float](g convGeom, xp, col []T, r0, r1, ld, off int) {
	hp, wp, n := g.padH(), g.padW(), g.fwdCols()
	kk := g.KH * g.KW
	for r := r0; r < r1; r++ {
		c, ki, kj := r/kk, r%kk/g.KW, r%g.KW
		copy(col[(r-r0)*ld+off:][:n], xp[(c*hp+ki)*wp+kj:][:n])
	}
}

// fillWith sets every entry of s to v (doubling copies: memmove, not a loop of
// stores).
func fillWith[T float](s []T, v T) {
	if len(s) == 0 {
		return
	}
	s[0] = v
	for n := 1; n < len(s); n *= 2 {
		copy(s[n:], s[:n])
	}
}

// convImages computes the outputs of images [lo, hi), convGroup(g) at a
// time: their unfolded inputs side by side in one matrix col [C·KH·KW,
// n·fwdCols], one product with the kernel into acc [O, n·fwdCols] started
// from the bias, then each image's kept columns copied to its output with
// the ReLU. Each output element is the same chain of sums as with one
// image per product on OH·OW columns (im2col), so neither the grouping nor
// the padded width changes the numbers.
func convImages[T float](g convGeom, lo, hi int, x, w, b, y, buf []T, relu bool) {
	in, out := g.C*g.H*g.W, g.O*g.OH*g.OW
	hw, k := g.fwdCols(), g.colRows()
	group := convGroup(g)
	xp := buf[len(buf)-g.padLen():]
	for i0 := lo; i0 < hi; i0 += group {
		n := min(group, hi-i0)
		ld := n * hw
		col, acc := buf[:k*ld], buf[k*ld:(k+g.O)*ld]
		for j := 0; j < n; j++ {
			xi := x[(i0+j)*in : (i0+j+1)*in]
			if g.Stride == 1 {
				padImage(g, xi, xp)
				im2colPad(g, xp, col, 0, k, ld, j*hw)
			} else {
				im2colLd(g, xi, col[j*hw:], 0, k, ld)
			}
		}
		for o := 0; o < g.O; o++ {
			fillWith(acc[o*ld:(o+1)*ld], b[o])
		}
		gemm(false, false, g.O, ld, k, w, k, col, ld, 1, acc, ld)
		rowLen, rowStride := g.OW, g.OW // of acc's rows of an output plane
		if g.Stride == 1 {
			rowStride = g.padW()
		}
		for j := 0; j < n; j++ {
			yi := y[(i0+j)*out : (i0+j+1)*out]
			for o := 0; o < g.O; o++ {
				src := acc[o*ld+j*hw:]
				for oh := 0; oh < g.OH; oh++ {
					dst, s := yi[(o*g.OH+oh)*g.OW:][:rowLen], src[oh*rowStride:][:rowLen]
					if relu {
						reluTo(dst, s)
					} else {
						copy(dst, s)
					}
				}
			}
		}
	}
}

// reluTo sets dst to src with its negative entries replaced by zero (NaN
// and -0 kept); dst and src may be the same slice. It has no branch: the
// signs of a convolution's outputs are random, and a mispredicted branch
// per entry cost more than the rest of the forward pass.
func reluTo[T float](dst, src []T) {
	dst = dst[:len(src)]
	if isF32[T]() {
		d, s := as32(dst), as32(src)
		for i, v := range s {
			keep := ^uint32(0)
			if v < 0 {
				keep = 0
			}
			d[i] = math.Float32frombits(math.Float32bits(v) & keep)
		}
		return
	}
	d, s := as64(dst), as64(src)
	for i, v := range s {
		keep := ^uint64(0)
		if v < 0 {
			keep = 0
		}
		d[i] = math.Float64frombits(math.Float64bits(v) & keep)
	}
}

func (op *convOp) DiffWRT(inputs int) []bool { return []bool{true, true, true} }

func (op *convOp) SymDiff(in gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(in) != 3 {
		return nil, errors.New("train: conv: SymDiff wants 3 inputs")
	}
	x, w := in[0], in[1]
	dz := grad
	var err error
	if op.relu {
		if dz, err = gorgonia.ApplyOp(&reluGradOp{dims: 4}, output, grad); err != nil {
			return nil, err
		}
	}
	dw, err := gorgonia.ApplyOp(&convGradWOp{stride: op.stride, pad: op.pad, wShape: w.Shape().Clone()}, x, dz)
	if err != nil {
		return nil, err
	}
	db, err := gorgonia.ApplyOp(&chanSumOp{}, dz)
	if err != nil {
		return nil, err
	}
	dx, err := gorgonia.ApplyOp(&convGradXOp{stride: op.stride, pad: op.pad, xShape: x.Shape().Clone()}, dz, w)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// convGradShape checks the output gradient dz against geometry g and the
// batch size.
func convGradShape(zs tensor.Shape, batch int, g convGeom) error {
	if len(zs) != 4 || zs[0] != batch || zs[1] != g.O || zs[2] != g.OH || zs[3] != g.OW {
		return fmt.Errorf("gradient shape %v, want [%d %d %d %d]", zs, batch, g.O, g.OH, g.OW)
	}
	return nil
}

// convGradWOp: the kernel gradient Σ_images dz·colᵀ, from x and dz.
type convGradWOp struct {
	opKit
	stride, pad int
	wShape      tensor.Shape
	job         any // *convGradWJob[T]
	wg          sync.WaitGroup
}

func (op *convGradWOp) Arity() int { return 2 }
func (op *convGradWOp) Type() hm.Type {
	return hm.NewFnType(tensorT(4), tensorT(4), tensorT(4))
}
func (op *convGradWOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}

// outShape: x [batch, c, h, w], dz [batch, o, oh, ow] → the kernel's shape.
func (op *convGradWOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	g, err := convShapes(in[0], op.wShape, op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	if err := convGradShape(in[1], in[0][0], g); err != nil {
		return nil, err
	}
	return append(dst, op.wShape...), nil
}
func (op *convGradWOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shears.convGradW{%d,%d,%v}", op.stride, op.pad, op.wShape)
}
func (op *convGradWOp) Hashcode() uint32 { return hashOf(op) }
func (op *convGradWOp) String() string   { return "ConvGradW" }
func (op *convGradWOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, convGradWKernel[float32], convGradWKernel[float64])
}

func convGradWKernel[T float](op *convGradWOp, a *args[T]) error {
	g, err := newConvGeom(a.shape[0], op.wShape, op.stride, op.pad)
	if err != nil {
		return err
	}
	j := jobOf[convGradWJob[T]](&op.job)
	*j = convGradWJob[T]{g: g, batch: a.shape[0][0], x: a.in[0], dz: a.in[1], dw: a.out, cols: j.cols}
	rows := g.colRows()
	nw := workers(j.batch*g.O*rows*g.colCols(), minParallelWork)
	if !ownGemm[T]() {
		// Another BLAS may sum a row differently in a product of fewer
		// rows: one range, so that the numbers do not depend on threads.
		nw = 1
	}
	parallel(j, g.C*g.KH, nw, &op.wg) // ranges of kernel rows (c, ki)
	return nil
}

// convGradWJob is the kernel gradient Σ_images dz·col, split by kernel
// rows (c, ki), KW columns of col each: each range unfolds its rows of every image and
// sums their products image after image, so that each element of the
// gradient is summed in the same order whatever the ranges.
type convGradWJob[T float] struct {
	g         convGeom
	batch     int
	x, dz, dw []T
	cols      [maxWorkers][]float64
}

func (j *convGradWJob[T]) runRange(wk, lo, hi int) {
	g := j.g
	buf := scratch[T](&j.cols[wk], gradWBufLen(g, (hi-lo)*g.KW))
	convGradWRows(g, j.batch, j.x, j.dz, j.dw, buf, lo, hi)
}

// gradWBufLen is the scratch convGradWRows needs for rows [r0, r0+n): the
// transposed unfolded input, the columns past its end that the matrix
// product reads (and drops), and a padded image.
func gradWBufLen(g convGeom, n int) int {
	return g.colCols()*n + 32 + g.padLen()
}

// convGradW is the kernel gradient on one goroutine; buf holds
// gradWBufLen(g, g.colRows()) entries.
func convGradW[T float](g convGeom, batch int, x, dz, dw, buf []T) {
	convGradWRows(g, batch, x, dz, dw, buf, 0, g.C*g.KH)
}

// convGradWRows computes the columns of kernel rows [u0, u1) (columns
// [u0·KW, u1·KW)) of the kernel gradient dw [O, C·KH·KW]: for each image,
// dz [O, OH·OW] times the image's unfolded input transposed, colT [OH·OW,
// (u1-u0)·KW], which im2colT writes row by row and the
// product reads in place (the plain product dz·colᵀ had to transpose col
// while packing it, which cost more than the product). Each entry is
// summed over OH·OW in increasing order, images one after the other.
func convGradWRows[T float](g convGeom, batch int, x, dz, dw, buf []T, u0, u1 int) {
	in, out := g.C*g.H*g.W, g.O*g.OH*g.OW
	hw, k, n, r0 := g.colCols(), g.colRows(), (u1-u0)*g.KW, u0*g.KW
	colT := buf[:hw*n+32]
	xp := buf[len(buf)-g.padLen():]
	var beta T
	for i := 0; i < batch; i++ {
		padImage(g, x[i*in:(i+1)*in], xp)
		im2colT(g, xp, colT, u0, u1)
		gemm(false, false, g.O, n, hw, dz[i*out:(i+1)*out], hw, colT, n, beta, dw[r0:], k)
		beta = 1
	}
}

// unalignedOK says whether loads and stores of 8 and 16 bytes may be
// unaligned.
const unalignedOK = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// im2colT writes columns [u0·KW, u1·KW) of the unfolded input, transposed,
// from the padded image xp: colT[p, r-u0·KW] = col[r, p], rows (u1-u0)·KW
// apart. u counts kernel rows (c, ki): each is KW consecutive columns, one
// run of xp.
func im2colT[T float](g convGeom, xp, colT []T, u0, u1 int) {
	hp, wp, kw, st := g.padH(), g.padW(), g.KW, g.Stride
	n := (u1 - u0) * kw
	// Kernel row by kernel row (c, ki), then along the output row: the
	// source of one kernel row moves by the stride from a pixel to the next
	// and its destination by n, so the inner loop is the copies alone.
	for oh := 0; oh < g.OH; oh++ {
		row := colT[oh*g.OW*n:]
		c, ki := u0/g.KH, u0%g.KH
		for r := 0; r < n; r += kw {
			src := xp[(c*hp+oh*st+ki)*wp:]
			switch {
			case kw == 5 && isF32[T]() && unalignedOK:
				// 16 + 4 bytes (float32 only)
				for ow, d := 0, r; ow < g.OW; ow, d = ow+1, d+n {
					s, dd := src[ow*st:ow*st+5:ow*st+5], row[d:d+5:d+5]
					*(*[2]uint64)(unsafe.Pointer(&dd[0])) = *(*[2]uint64)(unsafe.Pointer(&s[0]))
					dd[4] = s[4]
				}
			case kw == 3 && isF32[T]() && unalignedOK:
				// 8 + 4 bytes
				for ow, d := 0, r; ow < g.OW; ow, d = ow+1, d+n {
					s, dd := src[ow*st:ow*st+3:ow*st+3], row[d:d+3:d+3]
					*(*uint64)(unsafe.Pointer(&dd[0])) = *(*uint64)(unsafe.Pointer(&s[0]))
					dd[2] = s[2]
				}
			default:
				for ow, d := 0, r; ow < g.OW; ow, d = ow+1, d+n {
					copy(row[d:d+kw], src[ow*st:ow*st+kw])
				}
			}
			if ki++; ki == g.KH {
				ki = 0
				c++
			}
		}
	}
}

// convGradXOp: the input gradient col2im(wᵀ·dz), from dz and w.
type convGradXOp struct {
	opKit
	stride, pad int
	xShape      tensor.Shape
	job         any // *convGradXJob[T]
	wg          sync.WaitGroup
}

func (op *convGradXOp) Arity() int { return 2 }
func (op *convGradXOp) Type() hm.Type {
	return hm.NewFnType(tensorT(4), tensorT(4), tensorT(4))
}
func (op *convGradXOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}

// outShape: dz [batch, o, oh, ow], w [o, c, kh, kw] → x's shape.
func (op *convGradXOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	g, err := convShapes(op.xShape, in[1], op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	if err := convGradShape(in[0], op.xShape[0], g); err != nil {
		return nil, err
	}
	return append(dst, op.xShape...), nil
}
func (op *convGradXOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shears.convGradX{%d,%d,%v}", op.stride, op.pad, op.xShape)
}
func (op *convGradXOp) Hashcode() uint32 { return hashOf(op) }
func (op *convGradXOp) String() string   { return "ConvGradX" }
func (op *convGradXOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, convGradXKernel[float32], convGradXKernel[float64])
}

func convGradXKernel[T float](op *convGradXOp, a *args[T]) error {
	g, err := newConvGeom(op.xShape, a.shape[1], op.stride, op.pad)
	if err != nil {
		return err
	}
	j := jobOf[convGradXJob[T]](&op.job)
	*j = convGradXJob[T]{g: g, dz: a.in[0], w: a.in[1], dx: a.out, cols: j.cols}
	batch := op.xShape[0]
	parallel(j, batch, workers(batch*g.O*g.colRows()*g.colCols(), minParallelWork), &op.wg)
	return nil
}

// convGradXJob is the input gradient col2im(wᵀ·dz), split by images.
type convGradXJob[T float] struct {
	g         convGeom
	dz, w, dx []T
	cols      [maxWorkers][]float64
}

func (j *convGradXJob[T]) runRange(wk, lo, hi int) {
	buf := scratch[T](&j.cols[wk], gradXBufLen(j.g))
	convGradXImages(j.g, lo, hi, j.dz, j.w, j.dx, buf)
}

// gradXBufLen is the scratch convGradXImages needs: for stride 1, the
// product and the gradient on the padded width (fwdCols columns) and a
// padded image; else the unfolded matrix.
func gradXBufLen(g convGeom) int {
	if g.Stride == 1 {
		return (g.colRows()+g.O)*g.fwdCols() + g.padLen()
	}
	return g.colRows() * g.colCols()
}

// convGradX is the input gradient on one goroutine; buf holds
// gradXBufLen(g) entries.
func convGradX[T float](g convGeom, batch int, dz, w, dx, buf []T) {
	convGradXImages(g, 0, batch, dz, w, dx, buf)
}

// convGradXImages computes the input gradients of images [lo, hi): col =
// wᵀ·dz, then each row of col added back into the image (col2im). For
// stride 1 the product is on the padded width, from dz with zero columns
// in the dropped places, so that each row of col goes back in one run
// into a padded image, which is then cropped: each entry receives the same
// terms in the same order as from col2im (plus zeros: a -0 sum may become
// +0).
func convGradXImages[T float](g convGeom, lo, hi int, dz, w, dx, buf []T) {
	in, out := g.C*g.H*g.W, g.O*g.OH*g.OW
	k := g.colRows()
	if g.Stride != 1 {
		hw := g.colCols()
		col := buf[:k*hw]
		for i := lo; i < hi; i++ {
			gemm(true, false, k, hw, g.O, w, k, dz[i*out:(i+1)*out], hw, 0, col, hw)
			dxi := dx[i*in : (i+1)*in]
			clear(dxi)
			col2im(g, col, dxi)
		}
		return
	}
	n, hp, wp, kk := g.fwdCols(), g.padH(), g.padW(), g.KH*g.KW
	col, dzp, xp := buf[:k*n], buf[k*n:(k+g.O)*n], buf[(k+g.O)*n:][:g.padLen()]
	clear(dzp) // the dropped columns stay zero
	for i := lo; i < hi; i++ {
		dzi := dz[i*out : (i+1)*out]
		for o := 0; o < g.O; o++ {
			for oh := 0; oh < g.OH; oh++ {
				copy(dzp[o*n+oh*wp:][:g.OW], dzi[(o*g.OH+oh)*g.OW:][:g.OW])
			}
		}
		gemm(true, false, k, n, g.O, w, k, dzp, n, 0, col, n)
		clear(xp)
		for r := 0; r < k; r++ {
			c, ki, kj := r/kk, r%kk/g.KW, r%g.KW
			addTo(xp[(c*hp+ki)*wp+kj:][:n], col[r*n:][:n])
		}
		dxi := dx[i*in : (i+1)*in]
		for c := 0; c < g.C; c++ {
			for ih := 0; ih < g.H; ih++ {
				copy(dxi[(c*g.H+ih)*g.W:][:g.W], xp[(c*hp+ih+g.Pad)*wp+g.Pad:][:g.W])
			}
		}
	}
}

// addTo adds src to dst entry by entry (float32 with the AVX kernel: the
// same sums).
func addTo[T float](dst, src []T) {
	if isF32[T]() {
		kernel.AddF32(as32(dst), as32(src))
		return
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// chanSumOp: sums [batch, c, h, w] over everything but the channel → [c].
type chanSumOp struct {
	opKit
	job any // *chanSumJob[T]
	wg  sync.WaitGroup
}

func (op *chanSumOp) Arity() int    { return 1 }
func (op *chanSumOp) Type() hm.Type { return hm.NewFnType(tensorT(4), tensorT(1)) }
func (op *chanSumOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}
func (op *chanSumOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	if err := wantDims(in[0], 0, 4, false, "gradient"); err != nil {
		return nil, err
	}
	return append(dst, in[0][1]), nil
}
func (op *chanSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "shears.chanSum") }
func (op *chanSumOp) Hashcode() uint32      { return hashOf(op) }
func (op *chanSumOp) String() string        { return "ConvGradB" }
func (op *chanSumOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, chanSumKernel[float32], chanSumKernel[float64])
}

func chanSumKernel[T float](op *chanSumOp, a *args[T]) error {
	s := a.shape[0]
	j := jobOf[chanSumJob[T]](&op.job)
	*j = chanSumJob[T]{dz: a.in[0], out: a.out, batch: s[0], c: s[1], hw: s[2] * s[3]}
	parallel(j, s[1], workers(len(a.in[0]), minParallelElems), &op.wg)
	return nil
}

// chanSumJob sums a range of channels (each channel's sum is the same
// chain of additions whatever the ranges).
type chanSumJob[T float] struct {
	dz, out      []T
	batch, c, hw int
}

func (j *chanSumJob[T]) runRange(_, lo, hi int) {
	chanSumRange(j.dz, j.out, j.batch, j.c, j.hw, lo, hi)
}

// chanSumRange sets out[j], lo ≤ j < hi, to the sum of channel j over the
// batch: image after image, each image's plane summed first.
func chanSumRange[T float](dz, out []T, batch, c, hw, lo, hi int) {
	clear(out[lo:hi])
	for i := 0; i < batch; i++ {
		for j := lo; j < hi; j++ {
			var s T
			for _, v := range dz[(i*c+j)*hw : (i*c+j+1)*hw] {
				s += v
			}
			out[j] += s
		}
	}
}

// ---------------------------------------------------------------------------
// Max pooling

// MaxPool returns the maximum over each size×size window of x
// [batch, c, h, w], with stride size and no padding: the result is
// [batch, c, h/size, w/size] (rounded down, as PyTorch's MaxPool2d). The
// gradient goes to the first largest entry of each window.
func MaxPool(x *gorgonia.Node, size int) (*gorgonia.Node, error) {
	if x == nil {
		return nil, errors.New("train: MaxPool: nil node")
	}
	op := &maxPoolOp{size: size}
	if _, err := op.outShape(nil, []tensor.Shape{x.Shape()}); err != nil {
		return nil, fmt.Errorf("train: MaxPool: %w", err)
	}
	return gorgonia.ApplyOp(op, x)
}

type maxPoolOp struct {
	opKit
	size int
	arg  []int32 // flat input index of each output's maximum
	job  any     // *maxPoolJob[T]
	wg   sync.WaitGroup
}

func (op *maxPoolOp) Arity() int    { return 1 }
func (op *maxPoolOp) Type() hm.Type { return hm.NewFnType(tensorT(4), tensorT(4)) }
func (op *maxPoolOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}

// outShape: x [batch, c, h, w] → [batch, c, h/size, w/size].
func (op *maxPoolOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	s := in[0]
	if err := wantDims(s, 0, 4, false, "x"); err != nil {
		return nil, err
	}
	if op.size < 1 || s[2] < op.size || s[3] < op.size {
		return nil, fmt.Errorf("a %dx%d window does not fit a %dx%d input", op.size, op.size, s[2], s[3])
	}
	if s.TotalSize() > math.MaxInt32 {
		return nil, fmt.Errorf("input of %d elements is too large", s.TotalSize())
	}
	return append(dst, s[0], s[1], s[2]/op.size, s[3]/op.size), nil
}
func (op *maxPoolOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "shears.maxpool{%d}", op.size) }
func (op *maxPoolOp) Hashcode() uint32      { return hashOf(op) }
func (op *maxPoolOp) String() string        { return fmt.Sprintf("MaxPool{%d}", op.size) }
func (op *maxPoolOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, maxPoolKernel[float32], maxPoolKernel[float64])
}

func maxPoolKernel[T float](op *maxPoolOp, a *args[T]) error {
	s := a.shape[0]
	n := len(a.out)
	if cap(op.arg) < n {
		op.arg = make([]int32, n)
	}
	op.arg = op.arg[:n]
	j := jobOf[maxPoolJob[T]](&op.job)
	*j = maxPoolJob[T]{x: a.in[0], y: a.out, arg: op.arg, h: s[2], w: s[3], k: op.size}
	planes := s[0] * s[1]
	parallel(j, planes, workers(len(a.in[0]), minParallelElems), &op.wg)
	return nil
}

// maxPoolJob pools a range of planes (image channels).
type maxPoolJob[T float] struct {
	x, y    []T
	arg     []int32
	h, w, k int
}

func (j *maxPoolJob[T]) runRange(_, lo, hi int) {
	in, out := j.h*j.w, (j.h/j.k)*(j.w/j.k)
	maxPool(j.x[lo*in:hi*in], j.y[lo*out:hi*out], j.arg[lo*out:hi*out], hi-lo, j.h, j.w, j.k)
	if lo > 0 { // maxPool's indices are relative to its first plane
		for i := range j.arg[lo*out : hi*out] {
			j.arg[lo*out+i] += int32(lo * in)
		}
	}
}

func maxPool[T float](x, y []T, arg []int32, planes, h, w, k int) {
	oh, ow := h/k, w/k
	if k == 2 {
		maxPool2(x, y, arg, planes, h, w)
		return
	}
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
						// NaN propagates: a NaN entry wins, as in PyTorch.
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

// maxPool2 is maxPool for 2×2 windows, unrolled: the same comparisons in
// the same order (the window's entries row by row; the first largest wins,
// a NaN wins over numbers). float32 goes to maxPool2F32, which has no
// branch.
func maxPool2[T float](x, y []T, arg []int32, planes, h, w int) {
	if isF32[T]() {
		maxPool2F32(as32(x), as32(y), arg, planes, h, w)
		return
	}
	oh, ow := h/2, w/2
	o := 0
	for p := 0; p < planes; p++ {
		base := p * h * w
		for i := 0; i < oh; i++ {
			r0 := base + 2*i*w
			r1 := r0 + w
			top, bot := x[r0:r0+2*ow], x[r1:r1+2*ow]
			ys, as := y[o:o+ow], arg[o:o+ow]
			for j := range ys {
				best, mx := r0+2*j, top[2*j]
				if v := top[2*j+1]; v > mx || (v != v && mx == mx) {
					mx, best = v, r0+2*j+1
				}
				if v := bot[2*j]; v > mx || (v != v && mx == mx) {
					mx, best = v, r1+2*j
				}
				if v := bot[2*j+1]; v > mx || (v != v && mx == mx) {
					mx, best = v, r1+2*j+1
				}
				ys[j], as[j] = mx, int32(best)
			}
			o += ow
		}
	}
}

// maxPool2F32 is maxPool2 on float32: a row at a time with the AVX-512
// kernel where it runs, else without a branch per entry (after a
// ReLU a quarter to half of the windows tie or change their winner at
// random, and the mispredicted branches cost more than the rest): v takes
// the place of mx exactly when !(v <= mx) && mx == mx, which is maxPool's
// v > mx || (v != v && mx == mx) (a NaN mx is never replaced; a NaN v
// replaces a number), selected with masks.
func maxPool2F32(x, y []float32, arg []int32, planes, h, w int) {
	oh, ow := h/2, w/2
	o := 0
	for p := 0; p < planes; p++ {
		base := p * h * w
		for i := 0; i < oh; i++ {
			r0 := base + 2*i*w
			r1 := r0 + w
			top, bot := x[r0:r0+2*ow], x[r1:r1+2*ow]
			ys, as := y[o:o+ow], arg[o:o+ow]
			if kernel.MaxPool2Row(top, bot, ys, as, int32(r0), int32(w)) {
				o += ow
				continue
			}
			for j := range ys {
				i0, i1 := int32(r0+2*j), int32(r1+2*j)
				mx, best := takeIf(top[2*j], i0, top[2*j+1], i0+1)
				mx, best = takeIf(mx, best, bot[2*j], i1)
				mx, best = takeIf(mx, best, bot[2*j+1], i1+1)
				ys[j], as[j] = mx, best
			}
			o += ow
		}
	}
}

// takeIf returns (v, vi) if v wins over mx in maxPool's order, else (mx,
// mi), without a branch.
func takeIf(mx float32, mi int32, v float32, vi int32) (float32, int32) {
	var gt, ord uint32
	if !(v <= mx) {
		gt = 1
	}
	if mx == mx {
		ord = 1
	}
	m := -(gt & ord)
	mb, vb := math.Float32bits(mx), math.Float32bits(v)
	return math.Float32frombits(mb ^ (mb^vb)&m), mi ^ (mi^vi)&int32(m)
}

func (op *maxPoolOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op *maxPoolOp) SymDiff(in gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(in) != 1 {
		return nil, errors.New("train: maxpool: SymDiff wants 1 input")
	}
	// output is an input of the gradient op so that it runs after the
	// forward op, whose argmax it reads.
	dx, err := gorgonia.ApplyOp(&maxPoolGradOp{fwd: op, xShape: in[0].Shape().Clone()}, output, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx}, nil
}

type maxPoolGradOp struct {
	opKit
	fwd    *maxPoolOp
	xShape tensor.Shape
	job    any // *scatterJob[T]
	wg     sync.WaitGroup
}

func (op *maxPoolGradOp) Arity() int    { return 2 }
func (op *maxPoolGradOp) Type() hm.Type { return hm.NewFnType(tensorT(4), tensorT(4), tensorT(4)) }
func (op *maxPoolGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, ds)
}

// outShape: the pooled output y and its gradient dy, both of the pooled
// shape of xShape → xShape.
func (op *maxPoolGradOp) outShape(dst []int, in []tensor.Shape) ([]int, error) {
	xs, k := op.xShape, op.fwd.size
	if len(xs) != 4 || k < 1 {
		return nil, fmt.Errorf("input shape %v and window %d, want [batch, c, h, w] and a positive window", xs, k)
	}
	n := xs[0] * xs[1] * (xs[2] / k) * (xs[3] / k)
	if in[0].TotalSize() != n || in[1].TotalSize() != n {
		return nil, fmt.Errorf("pooled output %v and gradient %v, want %d elements (%v pooled by %d)", in[0], in[1], n, xs, k)
	}
	return append(dst, op.xShape...), nil
}
func (op *maxPoolGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shears.maxpoolGrad{%p}", op.fwd)
}
func (op *maxPoolGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *maxPoolGradOp) String() string   { return "MaxPoolGrad" }
func (op *maxPoolGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, vals, maxPoolGradKernel[float32], maxPoolGradKernel[float64])
}

func maxPoolGradKernel[T float](op *maxPoolGradOp, a *args[T]) error {
	if len(a.in[1]) != len(op.fwd.arg) {
		return fmt.Errorf("train: %v: gradient of %d elements for %d pooled outputs", op, len(a.in[1]), len(op.fwd.arg))
	}
	j := jobOf[scatterJob[T]](&op.job)
	xs := op.xShape
	*j = scatterJob[T]{dy: a.in[1], dx: a.out, arg: op.fwd.arg, in: xs[2] * xs[3], out: (xs[2] / op.fwd.size) * (xs[3] / op.fwd.size)}
	planes := xs[0] * xs[1]
	parallel(j, planes, workers(len(a.out), minParallelElems), &op.wg)
	return nil
}

// scatterJob sends the gradients of a range of pooled planes to their
// maxima (which lie in the same planes).
type scatterJob[T float] struct {
	dy, dx  []T
	arg     []int32
	in, out int // elements per plane of dx and of dy
}

func (j *scatterJob[T]) runRange(_, lo, hi int) {
	dx := j.dx[lo*j.in : hi*j.in]
	clear(dx)
	base := int32(lo * j.in)
	arg := j.arg[lo*j.out : hi*j.out]
	for i, v := range j.dy[lo*j.out : hi*j.out] {
		dx[arg[i]-base] += v
	}
}
