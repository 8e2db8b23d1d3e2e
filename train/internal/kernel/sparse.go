package kernel

import (
	"errors"
	"math"
)

// Pattern holds the kept entries of a k×n row-major float32 matrix W (a
// dense layer's weight, [in, out] in Gorgonia's x·W layout) in the orders
// the sparse kernels read them, and computes the three products of a dense
// layer at those entries only:
//
//	Forward: y += x·W      (y [batch, n] holding the bias, x [batch, k])
//	GradX:   dx = dz·Wᵀ    (dx [batch, k], dz [batch, n])
//	GradW:   dw = xᵀ·dz    at kept entries, 0 elsewhere
//
// The results are bit for bit those of Sgemm on the dense matrix whose
// pruned entries are zero. Sgemm sums over the inner index in blocks of 256
// (kc); each block is one chain of fused multiply-adds in increasing order
// of the index, started from +0, and the block's sum is then added to the
// output. The sparse kernels keep exactly those chains and blocks and leave
// out the pruned terms. Leaving out a term a·0 cannot change a chain: the
// product is ±0, and s + ±0 = s for every s but s = -0, where the dense
// chain may turn -0 into +0. A chain starts at +0 and becomes -0 only by an
// underflow of a negative sum, and even then the two chains differ only in
// the sign of a zero, which the addition to the output removes unless the
// output itself is -0: an output cleared to +0 (GradX, GradW) never is, and
// a bias (Forward) is -0 only if the caller made it so. Non-finite inputs
// are the other exception: Inf·0 is NaN in the dense product and absent in
// the sparse one.
//
// Forward and GradX run on 64 lanes of the batch at a time (AVX-512 when
// the CPU has it, AVX2 otherwise: the same chains); GradW on groups of 8
// kept entries of a column, or with Sgemm itself above gradWDenseAbove kept.
// An optimizer step works on compact arrays in the order of KeptOffsets:
// the kept weights (KeptValues), the kept gradient (KeptGrad; with
// GradKeptOnly, GradW writes nothing else), its own state.
//
// A Pattern holds scratch buffers and is not safe for concurrent use. Its
// kernels need AVX2 and FMA (HasAVX2); NewPattern fails without them.
type Pattern struct {
	// GradKeptOnly makes GradW ignore its dw argument: it computes the
	// kept entries for KeptGrad only.
	GradKeptOnly bool

	k, n, kept int
	nbk, nbn   int // blocks of kc over k (Forward) and over n (GradX)

	// Forward reads W by column: entries of column j, block b (rows
	// [b·kc, (b+1)·kc)), at cPtr[j·nbk+b]..cPtr[j·nbk+b+1]; cIdx holds
	// the row, cOff the offset l·n+j in W.
	cPtr, cIdx, cOff []int32
	// GradX and the scatter kernel read W by row: entries of row l,
	// block b of columns, at rPtr[l·nbn+b]..; rIdx holds the column.
	rPtr, rIdx, rOff []int32
	sPtr             []int32 // rPtr[l·nbn] for l in 0..k: rows, unblocked
	// GradW computes groups of 8 entries of one column:
	// grp[g·10:] = {j, l0..l7, 0}, and grpLd the same as byte offsets
	// in the transposed matrices for lanes ld; kept entry t (column
	// order) is gOut[gIdx[t]], at gOff[t] in W.
	grp, grpLd []int32
	ld         int
	gIdx, gOff []int32

	cVal, rVal []float32 // W's kept values in column and row order
	// rPerm[t] is the column-order index of row-order entry t.
	rPerm []int32
	// valOf is the w whose kept values cVal holds (gathered by Forward or
	// KeptValues), nil when they came from SetWeights; rOK says rVal holds
	// the same values.
	valOf *float32
	rOK   bool
	// grad is the kept entries of GradW's last result, in column order;
	// gradOK says GradW has written it since the last KeptGrad.
	grad     []float32
	gradOK   bool
	xT, oT   []float32 // transposed input and output, lanes padded to 8
	zT, gOut []float32
	acc      []float32
	full     []float32 // GradW's dense result when it runs Sgemm
	cleared  *float32  // GradW's last output, whose pruned entries are 0
	// xTOf is the x that Forward last transposed into xT, with its batch;
	// GradW reuses xT when it gets the same x (a training step's backward
	// pass follows its forward pass), and forgets it.
	xTOf    *float32
	xTBatch int
}

// gradWDenseAbove is the density above which GradW runs Sgemm and takes
// the kept entries from its result: a weight gradient costs about 7 times
// as much per kept entry with the sparse kernel (an 8×8 transpose for every
// 64 products) as per entry with Sgemm, and BenchmarkStepProducts-style
// measurements of LeNet-300-100's layers at batch 60 (AMD EPYC, AVX-512)
// break even between 12% and 20%.
const gradWDenseAbove = 0.15

// MaxPatternSize bounds k·n: offsets are int32.
const MaxPatternSize = math.MaxInt32

// NewPattern returns the pattern of a k×n matrix whose entry i (row-major)
// is kept when keep(i) is true.
func NewPattern(k, n int, keep func(i int) bool) (*Pattern, error) {
	if !HasAVX2 {
		return nil, errors.New("kernel: sparse kernels need AVX2 and FMA")
	}
	if k < 1 || n < 1 || k > MaxPatternSize/n {
		return nil, errors.New("kernel: sparse pattern: bad size")
	}
	p := &Pattern{k: k, n: n, nbk: (k + kc - 1) / kc, nbn: (n + kc - 1) / kc}
	// Row order (CSR, blocked over columns).
	p.rPtr = make([]int32, 0, k*p.nbn+1)
	p.sPtr = make([]int32, 0, k+1)
	colCount := make([]int32, n)
	for l := 0; l < k; l++ {
		p.sPtr = append(p.sPtr, int32(len(p.rIdx)))
		for b := 0; b < p.nbn; b++ {
			p.rPtr = append(p.rPtr, int32(len(p.rIdx)))
			for j := b * kc; j < min(n, (b+1)*kc); j++ {
				if keep(l*n + j) {
					p.rIdx = append(p.rIdx, int32(j))
					p.rOff = append(p.rOff, int32(l*n+j))
					colCount[j]++
				}
			}
		}
	}
	p.kept = len(p.rIdx)
	p.rPtr = append(p.rPtr, int32(p.kept))
	p.sPtr = append(p.sPtr, int32(p.kept))
	// Column order (CSC, blocked over rows).
	colStart := make([]int32, n+1)
	for j := 0; j < n; j++ {
		colStart[j+1] = colStart[j] + colCount[j]
	}
	rows := make([]int32, p.kept)
	fill := append([]int32(nil), colStart[:n]...)
	for l := 0; l < k; l++ {
		for t := p.sPtr[l]; t < p.sPtr[l+1]; t++ {
			j := p.rIdx[t]
			rows[fill[j]] = int32(l)
			fill[j]++
		}
	}
	p.cIdx = rows
	p.cOff = make([]int32, p.kept)
	p.cPtr = make([]int32, 0, n*p.nbk+1)
	for j := 0; j < n; j++ {
		t := colStart[j]
		for b := 0; b < p.nbk; b++ {
			p.cPtr = append(p.cPtr, t)
			for t < colStart[j+1] && int(rows[t]) < (b+1)*kc {
				p.cOff[t] = rows[t]*int32(n) + int32(j)
				t++
			}
		}
	}
	p.cPtr = append(p.cPtr, int32(p.kept))
	// rPerm: row-order entry t is column j's entry fill[j]-colStart[j]...,
	// in increasing row order within a column.
	p.rPerm = make([]int32, p.kept)
	copy(fill, colStart[:n])
	for t := 0; t < p.kept; t++ {
		j := p.rIdx[t]
		p.rPerm[t] = fill[j]
		fill[j]++
	}
	// Groups of 8 kept entries of a column for GradW, the last group of a
	// column padded by repeating its last row, the groups padded to a
	// multiple of 4 by repeating the first.
	for j := 0; j < n; j++ {
		for t := colStart[j]; t < colStart[j+1]; t++ {
			q := t - colStart[j]
			if q%8 == 0 {
				p.grp = append(p.grp, int32(j))
				for r := q; r < q+8; r++ {
					p.grp = append(p.grp, rows[colStart[j]+min(r, colStart[j+1]-colStart[j]-1)])
				}
				p.grp = append(p.grp, 0)
			}
			p.gIdx = append(p.gIdx, int32(len(p.grp)/10-1)*8+q%8)
			p.gOff = append(p.gOff, p.cOff[t])
		}
	}
	for len(p.grp) > 0 && len(p.grp)%40 != 0 {
		p.grp = append(p.grp, p.grp[:10]...)
	}
	p.grpLd = make([]int32, len(p.grp))
	p.cVal = make([]float32, p.kept)
	p.rVal = make([]float32, p.kept)
	p.gOut = make([]float32, len(p.grp)/10*8)
	p.grad = make([]float32, p.kept)
	return p, nil
}

// Rows and Cols return k and n.
func (p *Pattern) Rows() int { return p.k }

// Cols returns n.
func (p *Pattern) Cols() int { return p.n }

// Kept returns the number of kept entries.
func (p *Pattern) Kept() int { return p.kept }

// lanes rounds a batch up to the kernels' 8 lanes.
func lanes(batch int) int { return (batch + 7) &^ 7 }

// SetWeights copies W's kept values into the pattern. Forward, GradX and
// ForwardScatter read these copies when their w argument is nil, so a
// caller that runs a fixed W many times (inference) gathers them once.
func (p *Pattern) SetWeights(w []float32) {
	_ = w[p.k*p.n-1]
	gather(p.cVal, w, p.cOff)
	gather(p.rVal, w, p.rOff)
	p.valOf, p.rOK = nil, true
}

// gatherCols copies w's kept values into cVal.
func (p *Pattern) gatherCols(w []float32) {
	_ = w[p.k*p.n-1]
	gather(p.cVal, w, p.cOff)
	p.valOf, p.rOK = &w[0], false
}

// KeptOffsets returns the offsets in W (row-major) of the kept entries, in
// the order of KeptValues and KeptGrad. The caller must not change it.
func (p *Pattern) KeptOffsets() []int32 { return p.cOff }

// KeptValues returns W's kept values in the order of KeptOffsets: the
// pattern's own copy, read from w by the last Forward or KeptValues that got
// w (or read now). The caller may change the values it returns, and then
// must write them to w at KeptOffsets before the next call of a product
// with w (an optimizer step: it updates the compact values and writes them
// back).
func (p *Pattern) KeptValues(w []float32) []float32 {
	if p.valOf != &w[0] {
		p.gatherCols(w)
	}
	p.rOK = false
	return p.cVal
}

// KeptGrad returns the kept entries of the weight gradient the last GradW
// computed, in the order of KeptOffsets, and true; or false when GradW has
// not run since the last KeptGrad. The slice is the pattern's own buffer:
// the caller may read and change it until the next GradW.
func (p *Pattern) KeptGrad() ([]float32, bool) {
	ok := p.gradOK
	p.gradOK = false
	return p.grad, ok
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// tiles sets t[c·ldt + r] = a[r·lda + c] for r < rows, c < cols, with the
// assembly kernel on whole 8×8 tiles.
func tiles(t, a []float32, rows, cols, lda, ldt int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = a[(rows-1)*lda+cols-1]
	_ = t[(cols-1)*ldt+rows-1]
	c8 := cols &^ 7
	r := 0
	for ; r+8 <= rows; r += 8 {
		if c8 > 0 {
			transpose8(c8/8, &a[r*lda], lda*4, &t[r], ldt*4)
		}
		for c := c8; c < cols; c++ {
			for q := r; q < r+8; q++ {
				t[c*ldt+q] = a[q*lda+c]
			}
		}
	}
	for ; r < rows; r++ {
		for c, v := range a[r*lda : r*lda+cols] {
			t[c*ldt+r] = v
		}
	}
}

// transpose writes a [rows, cols] into t [cols, ld], clearing the padding
// lanes rows..ld.
func transpose(t, a []float32, rows, cols, ld int) {
	tiles(t, a, rows, cols, cols, ld)
	if rows < ld {
		for c := 0; c < cols; c++ {
			pad := t[c*ld+rows : c*ld+ld]
			for r := range pad { // a few lanes: a loop, not a memclr call
				pad[r] = 0
			}
		}
	}
}

// untranspose writes the first rows lanes of t [cols, ld] into a [rows, cols].
func untranspose(a, t []float32, rows, cols, ld int) {
	tiles(a, t, cols, rows, ld, cols)
}

// runLanes calls the lane kernels over all ld lanes of x and out.
func runLanes(nout, nblk int, ptr, idx []int32, val, x, out []float32, ld int) {
	if nout == 0 {
		return
	}
	var pv *float32
	if len(val) > 0 {
		pv = &val[0]
	} else {
		pv = &x[0] // never read: there are no entries
	}
	var pi *int32
	if len(idx) > 0 {
		pi = &idx[0]
	} else {
		pi = &ptr[0]
	}
	c := 0
	for ; c+64 <= ld; c += 64 {
		if useAVX512 {
			spLanes64x512(nout, nblk, &ptr[0], pi, pv, &x[c], ld*4, &out[c], ld*4)
		} else {
			spLanes64(nout, nblk, &ptr[0], pi, pv, &x[c], ld*4, &out[c], ld*4)
		}
	}
	for ; c < ld; c += 8 {
		spLanes8(nout, nblk, &ptr[0], pi, pv, &x[c], ld*4, &out[c], ld*4)
	}
}

// Forward computes y += x·W for x [batch, k] and y [batch, n], reading W's
// kept values from w (or, when w is nil, from the last SetWeights): the
// result of Sgemm(false, false, batch, n, k, x, k, W, n, 1, y, n).
func (p *Pattern) Forward(y, x, w []float32, batch int) {
	p.forward(y, x, w, nil, batch)
}

// ForwardBias computes y = b + x·W, with the bias b [n] in every row of y:
// Forward on a y holding the bias, without reading y.
func (p *Pattern) ForwardBias(y, x, w, b []float32, batch int) {
	_ = b[p.n-1]
	p.forward(y, x, w, b, batch)
}

func (p *Pattern) forward(y, x, w, b []float32, batch int) {
	if batch <= 0 {
		return
	}
	_, _ = y[batch*p.n-1], x[batch*p.k-1]
	if w != nil {
		p.gatherCols(w)
	}
	ld := lanes(batch)
	p.xT = grow(p.xT, p.k*ld)
	p.oT = grow(p.oT, p.n*ld)
	transpose(p.xT, x, batch, p.k, ld)
	p.xTOf, p.xTBatch = &x[0], batch
	if b != nil {
		bcastRows(p.n, ld/8, &b[0], &p.oT[0])
	} else {
		transpose(p.oT, y, batch, p.n, ld)
	}
	runLanes(p.n, p.nbk, p.cPtr, p.cIdx, p.cVal, p.xT, p.oT, ld)
	untranspose(y, p.oT, batch, p.n, ld)
}

// ForwardScatter computes y += x·W as Forward does, with the values of the
// last SetWeights, one example at a time: faster than Forward for a batch of
// one or a few. It skips the zero entries of x as it skips pruned weights,
// which leaves the sums unchanged (see Pattern).
func (p *Pattern) ForwardScatter(y, x []float32, batch int) {
	if batch <= 0 {
		return
	}
	_, _ = y[batch*p.n-1], x[batch*p.k-1]
	p.acc = grow(p.acc, p.n)
	var pi *int32
	var pv *float32
	if p.kept > 0 {
		pi, pv = &p.rIdx[0], &p.rVal[0]
	} else {
		pi, pv = &p.sPtr[0], &p.acc[0]
	}
	for i := 0; i < batch; i++ {
		yi := y[i*p.n : i*p.n+p.n]
		for b := 0; b < p.nbk; b++ {
			l0, l1 := b*kc, min(p.k, (b+1)*kc)
			clear(p.acc)
			spScatter(l1-l0, &p.sPtr[l0], pi, pv, &x[i*p.k+l0], &p.acc[0])
			for j, v := range p.acc {
				yi[j] += v
			}
		}
	}
}

// GradX computes dx = dz·Wᵀ for dz [batch, n] and dx [batch, k], reading
// W's kept values from w (or, when nil, from the last SetWeights): the
// result of Sgemm(false, true, batch, k, n, dz, n, W, n, 0, dx, k). When w is
// the slice the last Forward (or KeptValues) got, GradX takes the values that
// call read: the caller must not change w in between but through
// KeptValues (a training step does not).
func (p *Pattern) GradX(dx, dz, w []float32, batch int) {
	if batch <= 0 {
		return
	}
	_, _ = dx[batch*p.k-1], dz[batch*p.n-1]
	switch {
	case w == nil:
	case p.valOf == &w[0]:
		if !p.rOK {
			gather(p.rVal, p.cVal, p.rPerm)
			p.rOK = true
		}
	default:
		_ = w[p.k*p.n-1]
		gather(p.rVal, w, p.rOff)
		p.rOK = false
	}
	ld := lanes(batch)
	p.zT = grow(p.zT, p.n*ld)
	p.oT = grow(p.oT, p.k*ld)
	transpose(p.zT, dz, batch, p.n, ld)
	clear(p.oT)
	runLanes(p.k, p.nbn, p.rPtr, p.rIdx, p.rVal, p.zT, p.oT, ld)
	untranspose(dx, p.oT, batch, p.k, ld)
}

// GradW computes dw = xᵀ·dz at the kept entries, for x [batch, k], dz
// [batch, n] and dw [k, n]: there, the result of
// Sgemm(true, false, k, n, batch, x, k, dz, n, 0, dw, n). It also keeps
// those entries, for KeptGrad. Pruned entries of dw are set to zero; to save
// the time, dw is cleared only when it is not the slice of the last call, so
// the caller must leave its pruned entries at zero between calls. A nil dw
// (or GradKeptOnly) computes the kept entries for KeptGrad only. When x is the slice the last
// Forward got, GradW takes its transposed copy from that call: the caller
// must not change x in between (a training step does not).
//
// Each kept entry is one FMA chain over the batch in increasing order (the
// dense kernel's), eight entries of a column to a vector. The lanes past
// the batch are zero in both transposed operands; the terms they add are
// +0, which changes a chain only from -0 to +0, and the sums are added to
// an output that starts at +0, so the result is the same.
func (p *Pattern) GradW(dw, x, dz []float32, batch int) {
	if p.GradKeptOnly {
		dw = nil
	}
	if dw != nil {
		_ = dw[p.k*p.n-1]
		if &dw[0] != p.cleared {
			clear(dw[:p.k*p.n])
			p.cleared = &dw[0]
		}
	}
	p.gradOK = true
	if batch <= 0 || p.kept == 0 {
		clear(p.grad)
		if dw != nil {
			for _, o := range p.gOff {
				dw[o] = 0
			}
		}
		return
	}
	_, _ = x[batch*p.k-1], dz[batch*p.n-1]
	ld := lanes(batch)
	if float64(p.kept) > gradWDenseAbove*float64(p.k*p.n) || p.k*ld > MaxPatternSize/4 || p.n*ld > MaxPatternSize/4 {
		// The dense kernel (the same sums) is faster, or the byte
		// offsets of the transposed operands would overflow int32:
		// Sgemm, then the kept entries taken and the pruned ones zeroed.
		full := dw
		if full == nil {
			p.full = grow(p.full, p.k*p.n)
			full = p.full
		}
		Sgemm(true, false, p.k, p.n, batch, x, p.k, dz, p.n, 0, full, p.n)
		gather(p.grad, full, p.cOff)
		if dw != nil {
			clear(dw)
			for t, o := range p.cOff {
				dw[o] = p.grad[t]
			}
		}
		p.xTOf = nil
		return
	}
	if ld != p.ld {
		for g := 0; g < len(p.grp); g += 10 {
			p.grpLd[g] = p.grp[g] * int32(ld*4)
			for q := 1; q < 9; q++ {
				p.grpLd[g+q] = p.grp[g+q] * int32(ld*4)
			}
		}
		p.ld = ld
	}
	if p.xTOf != &x[0] || p.xTBatch != batch {
		p.xT = grow(p.xT, p.k*ld)
		transpose(p.xT, x, batch, p.k, ld)
	}
	p.xTOf = nil
	p.zT = grow(p.zT, p.n*ld)
	transpose(p.zT, dz, batch, p.n, ld)
	spGradT4(len(p.grp)/40, &p.grpLd[0], &p.xT[0], &p.zT[0], ld/8, &p.gOut[0])
	g := p.grad
	gather(g, p.gOut, p.gIdx)
	if dw != nil {
		for t, o := range p.gOff {
			dw[o] = g[t]
		}
	}
}
