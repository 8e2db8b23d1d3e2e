package prune

import "math/bits"

// The fast path of the selection engine: L1 or L2 on float32 weights. The
// key of |w| is computed inline from the weight's bits (read as uint32), with
// no call and no buffer. The loops work on whole 64-element words, so that
// the compiler knows every shift is in range, and sit in small leaf functions
// that keep everything in registers; a Param's last, partial word goes
// through a zero-padded copy (the padding is never a candidate).

// Any key above the largest finite float32's, once 0x00800000 is added,
// has its top bit set: the NaN and Inf check is an ADD and an OR a weight.
const abs32Bad = 0x00800000

// block32 returns the 64 weights of word w of data, copying a partial last
// word into pad.
func block32(data []uint32, w int, pad *[64]uint32) *[64]uint32 {
	off := w * 64
	if off+64 <= len(data) {
		return (*[64]uint32)(data[off : off+64])
	}
	*pad = [64]uint32{}
	copy(pad[:], data[off:])
	return pad
}

// histAbs32 is cut.hist for abs32Keys: level 0 counts the top 16 bits of
// every candidate's key (and returns, in its top bit, whether any element
// was NaN or Inf), level 1 the low 16 bits of the candidates whose top bits
// are pre.
func histAbs32(src *abs32Keys, masks []*Mask, spans []span, level int, pre uint32, h *histogram) (bad uint32) {
	var pad [64]uint32
	for _, sp := range spans {
		m := masks[sp.seg]
		data := src.data[sp.seg]
		ws := m.bits[sp.w0:sp.w1]
		for i, word := range ws {
			if level > 0 && word == 0 {
				continue
			}
			v := block32(data, sp.w0+i, &pad)
			switch {
			case level == 0 && word == ^uint64(0):
				bad |= histFull32(v, h)
			case level == 0:
				bad |= histPartial32(v, word, h)
			default:
				histLow32(v, word, pre, h)
			}
		}
	}
	return bad
}

//go:noinline
func histFull32(v *[64]uint32, h *histogram) (bad uint32) {
	for j := 0; j < 64; j++ {
		k := v[j] &^ sign32
		bad |= k + abs32Bad
		h[k>>16]++
	}
	return bad
}

//go:noinline
func histPartial32(v *[64]uint32, word uint64, h *histogram) (bad uint32) {
	for j := 0; j < 64; j++ {
		k := v[j] &^ sign32
		bad |= k + abs32Bad
		h[k>>16] += uint32(word) & 1
		word >>= 1
	}
	return bad
}

//go:noinline
func histLow32(v *[64]uint32, word uint64, pre uint32, h *histogram) {
	for j := 0; j < 64; j++ {
		k := v[j] &^ sign32
		if k>>16 == pre {
			h[k&0xffff] += uint32(word>>j) & 1
		}
	}
}

// writeAbs32 is cut.writeRange for abs32Keys.
func writeAbs32(src *abs32Keys, masks []*Mask, spans []span, t uint32, quota int) {
	var pad [64]uint32
	for _, sp := range spans {
		m := masks[sp.seg]
		data := src.data[sp.seg]
		ws := m.bits[sp.w0:sp.w1]
		for i, word := range ws {
			if word == 0 {
				continue
			}
			// Keys below t, and keys below t+1 (at most t).
			lt, le := compare32(block32(data, sp.w0+i, &pad), 0, uint64(t))
			clr := lt & word
			for eq := le &^ lt & word; eq != 0 && quota > 0; eq &= eq - 1 {
				clr |= eq & -eq
				quota--
			}
			ws[i] = word &^ clr
		}
	}
}

// writeBucketAbs32 is cut.writeBucket for abs32Keys with a bucket of the
// top 16 bits: it prunes the candidates whose key's top bits are below top
// and appends those whose top bits equal it to out, in position order.
func writeBucketAbs32(src *abs32Keys, masks []*Mask, spans []span, segOff []int, top uint32, out []entry[uint32]) []entry[uint32] {
	var pad [64]uint32
	for _, sp := range spans {
		m := masks[sp.seg]
		data := src.data[sp.seg]
		base := segOff[sp.seg]
		ws := m.bits[sp.w0:sp.w1]
		for i, word := range ws {
			if word == 0 {
				continue
			}
			v := block32(data, sp.w0+i, &pad)
			lt, le := compare32(v, 16, uint64(top))
			ws[i] = word &^ lt
			for eq := le &^ lt & word; eq != 0; eq &= eq - 1 {
				j := bits.TrailingZeros64(eq)
				out = append(out, entry[uint32]{v[j] &^ sign32, base + (sp.w0+i)*64 + j})
			}
		}
	}
	return out
}

// compare32 returns the bits of the elements of v whose key>>shift is
// below t, and of those where it is at most t. Both are below 2^32, so k < t
// exactly when k - t wraps around.
//
//go:noinline
func compare32(v *[64]uint32, shift uint, t uint64) (lt, le uint64) {
	t1 := t + 1
	for j := 0; j < 64; j++ {
		k := uint64(v[j]&^sign32) >> (shift & 31)
		lt |= (k - t) >> 63 << j
		le |= (k - t1) >> 63 << j
	}
	return lt, le
}
