package kernel

// Block sizes of Sgemm: the panels of A (mc×kc) and B (kc×nc) packed for
// the register tile mr×nr of the micro-kernel in use. kc is the same for
// every kernel: it fixes the order of the sums (see Sgemm).
const (
	kc     = 256
	nc     = 1024
	mcRows = 16 // mc = mcRows·mr
	maxMR  = 12
	maxNR  = 32
)

// microKernel is a register tile and the assembly routine computing it:
// C[mr×nr] += A·B over kc steps, each element of C one fused multiply-add
// chain over the steps in increasing order, starting from zero, then added
// to C.
type microKernel struct {
	mr, nr int
	fn     func(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int)
}

var (
	avx2Kernel   = microKernel{6, 16, sgemm6x16}
	avx512Kernel = microKernel{12, 32, sgemm12x32}
)

type gemmScratch struct {
	a   [mcRows * maxMR * kc]float32
	b   [kc * nc]float32
	tmp [maxMR * maxNR]float32
}

// scratches holds gemmScratch buffers between calls. Unlike a sync.Pool it
// is not emptied by the garbage collector, so that a training step does
// not allocate a megabyte of scratch after each collection.
var scratches = make(chan *gemmScratch, 64)

func getScratch() *gemmScratch {
	select {
	case s := <-scratches:
		return s
	default:
		return new(gemmScratch)
	}
}

func putScratch(s *gemmScratch) {
	select {
	case scratches <- s:
	default:
	}
}

// Sgemm computes c = op(a)·op(b) + beta·c for row-major float32 matrices,
// op(a) m×k and op(b) k×n (transposed when tA, tB), with the AVX-512
// kernel where the CPU and OS support it (see SetAVX512), else the
// AVX2/FMA kernel. It returns false, and does nothing, when the CPU lacks
// AVX2 or FMA (the caller then uses another BLAS). The arguments must be
// valid as for BLAS sgemm; the caller checks them.
//
// The result does not depend on anything but the arguments, and is the
// same with either kernel, bit for bit: after c is scaled by beta (c·0 is
// 0), the sum over k is cut into blocks of 256 (kc) starting at 0; for each
// block, each element of the product is one chain of fused multiply-adds
// in increasing k starting from zero, and the block's sum is then added to
// the element of c. No threads are used. (Gonum's pure-Go sgemm, used where
// there is no AVX2, rounds differently: Go has no float32 fused
// multiply-add.)
func Sgemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	if !HasAVX2 || !valid(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		return false
	}
	if m == 0 || n == 0 {
		return true
	}
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if k == 0 {
		return true
	}
	// The AVX-512 tile is 12 rows; for fewer rows the AVX2 tile (6) wastes
	// less. Both give the same numbers, so the choice is free.
	mk := avx2Kernel
	if useAVX512 && m > avx2Kernel.mr {
		mk = avx512Kernel
	}
	s := getScratch()
	defer putScratch(s)
	mr, nr := mk.mr, mk.nr
	mc := mcRows * mr
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			// Full panels of a transposed A and of a plain B are read in
			// place (their mr or nr values are consecutive); the others are
			// packed.
			packB(s.b[:], b, ldb, tB, pc, jc, kb, nb, nr)
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(s.a[:], a, lda, tA, ic, pc, mb, kb, mr)
				for jr := 0; jr < nb; jr += nr {
					nw := min(nr, nb-jr)
					bp, sb := &s.b[(jr/nr)*kb*nr], nr
					if !tB && bInPlace(len(b), ldb, pc, kb, jc+jr, nw, nr) {
						bp, sb = &b[pc*ldb+jc+jr], ldb
					}
					for ir := 0; ir < mb; ir += mr {
						mw := min(mr, mb-ir)
						ap, sa := &s.a[(ir/mr)*kb*mr], mr
						if tA && mw == mr {
							ap, sa = &a[pc*lda+ic+ir], lda
						}
						ci := (ic+ir)*ldc + jc + jr
						if mw == mr && nw == nr {
							mk.fn(kb, ap, sa, bp, sb, &c[ci], ldc)
							continue
						}
						tmp := s.tmp[:mr*nr]
						clear(tmp)
						mk.fn(kb, ap, sa, bp, sb, &tmp[0], nr)
						for r := 0; r < mw; r++ {
							dst := c[ci+r*ldc : ci+r*ldc+nw]
							for j, v := range tmp[r*nr : r*nr+nw] {
								dst[j] += v
							}
						}
					}
				}
			}
		}
	}
	return true
}

// packA copies the mb×kb block of op(a) at (ic, pc) into panels of mr rows:
// panel p holds, for each of the kb columns, its mr values (zero past mb).
// Full panels of a transposed a are left out: Sgemm reads them in place.
func packA(dst, a []float32, lda int, tA bool, ic, pc, mb, kb, mr int) {
	for p := 0; p < mb; p += mr {
		out := dst[(p/mr)*kb*mr : (p/mr+1)*kb*mr]
		rows := min(mr, mb-p)
		if !tA {
			if rows == mr && (mr == 6 || mr == 12) {
				packRows(out, a[(ic+p)*lda+pc:], lda, kb, mr)
				continue
			}
			if rows < mr {
				clear(out) // one contiguous clear, not mr-rows strided ones
			}
			for r := 0; r < rows; r++ {
				src := a[(ic+p+r)*lda+pc : (ic+p+r)*lda+pc+kb]
				for l, v := range src {
					out[l*mr+r] = v
				}
			}
			continue
		}
		if rows == mr {
			continue // read in place
		}
		for l := 0; l < kb; l++ {
			o := out[l*mr : l*mr+mr]
			src := a[(pc+l)*lda+ic+p:]
			src = src[:rows]
			for r := range o {
				if r < rows {
					o[r] = src[r]
				} else {
					o[r] = 0
				}
			}
		}
	}
}

// packRows packs a full panel of mr (6 or 12) rows of a plain a, lda
// apart, kb columns each, into out [kb][mr]: column after column, so that
// the writes are consecutive (the row-by-row loop wrote mr floats apart,
// which cost more than the product when a's rows are long).
func packRows(out, a []float32, lda, kb, mr int) {
	var r [12][]float32
	for i := 0; i < mr; i++ {
		r[i] = a[i*lda : i*lda+kb]
	}
	if mr == 6 {
		r0, r1, r2, r3, r4, r5 := r[0][:kb], r[1][:kb], r[2][:kb], r[3][:kb], r[4][:kb], r[5][:kb]
		for l := 0; l < kb; l++ {
			o := out[l*6 : l*6+6 : l*6+6]
			o[0], o[1], o[2], o[3], o[4], o[5] = r0[l], r1[l], r2[l], r3[l], r4[l], r5[l]
		}
		return
	}
	r0, r1, r2, r3, r4, r5 := r[0][:kb], r[1][:kb], r[2][:kb], r[3][:kb], r[4][:kb], r[5][:kb]
	r6, r7, r8, r9, r10, r11 := r[6][:kb], r[7][:kb], r[8][:kb], r[9][:kb], r[10][:kb], r[11][:kb]
	for l := 0; l < kb; l++ {
		o := out[l*12 : l*12+12 : l*12+12]
		o[0], o[1], o[2], o[3], o[4], o[5] = r0[l], r1[l], r2[l], r3[l], r4[l], r5[l]
		o[6], o[7], o[8], o[9], o[10], o[11] = r6[l], r7[l], r8[l], r9[l], r10[l], r11[l]
	}
}

// packB copies the kb×nb block of op(b) at (pc, jc) into panels of nr
// columns: panel q holds, for each of the kb rows, its nr values (zero past
// nb). Full panels of a plain b are left out: Sgemm reads them in place.
func packB(dst, b []float32, ldb int, tB bool, pc, jc, kb, nb, nr int) {
	for q := 0; q < nb; q += nr {
		out := dst[(q/nr)*kb*nr : (q/nr+1)*kb*nr]
		cols := min(nr, nb-q)
		if !tB && bInPlace(len(b), ldb, pc, kb, jc+q, cols, nr) {
			continue // read in place
		}
		if !tB {
			for l := 0; l < kb; l++ {
				o := out[l*nr : l*nr+nr]
				src := b[(pc+l)*ldb+jc+q:]
				src = src[:cols]
				for j := range o {
					// loops, not copy: these copies are too short for memmove
					if j < cols {
						o[j] = src[j]
					} else {
						o[j] = 0
					}
				}
			}
			continue
		}
		for j := 0; j < nr; j++ {
			if j >= cols {
				for l := 0; l < kb; l++ {
					out[l*nr+j] = 0
				}
				continue
			}
			src := b[(jc+q+j)*ldb+pc : (jc+q+j)*ldb+pc+kb]
			for l, v := range src {
				out[l*nr+j] = v
			}
		}
	}
}

// bInPlace reports whether the panel of a plain b at rows [pc, pc+kb) and
// columns [col, col+cols) is read in place: when it is full (cols == nr),
// or when its nr columns lie inside b even past the panel's cols (the
// values read there, of the next row, go to columns of the tile that Sgemm
// drops; each column of the tile is computed on its own, so the kept ones
// are the same numbers).
func bInPlace(lenb, ldb, pc, kb, col, cols, nr int) bool {
	return cols == nr || (pc+kb-1)*ldb+col+nr <= lenb
}

// valid checks the sizes as BLAS does; the kernel must not write outside c.
func valid(tA, tB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) bool {
	if m < 0 || n < 0 || k < 0 {
		return false
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	fits := func(rows, cols, ld, l int) bool {
		if ld < max(1, cols) {
			return false
		}
		return rows == 0 || cols == 0 || l >= (rows-1)*ld+cols
	}
	return fits(ar, ac, lda, la) && fits(br, bc, ldb, lb) && fits(m, n, ldc, lc)
}
