package kernel

// ForwardT is Forward on transposed operands, with the values of the last
// SetWeights: yT [n, ld] += Wᵀ·xT for xT [k, ld], ld lanes (a multiple of
// 8, at least 8), each lane one example. Each sum is the chain Forward
// computes (the bias in yT, then W's kept entries in blocks of kc, in
// increasing order of the row), so the result is Forward's, transposed,
// bit for bit. A caller whose operands are laid out this way (a conv
// layer's unfolded input, [k = in·kh·kw, pixels]) saves Forward's two
// transposes.
func (p *Pattern) ForwardT(yT, xT []float32, ld int) {
	if ld < 8 || ld%8 != 0 {
		panic("kernel: ForwardT: lanes not a positive multiple of 8")
	}
	_, _ = yT[p.n*ld-1], xT[p.k*ld-1]
	runLanes(p.n, p.nbk, p.cPtr, p.cIdx, p.cVal, xT, yT, ld)
}
