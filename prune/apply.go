package prune

import (
	"math/bits"
	"runtime"
	"sync"
	"unsafe"
)

// Apply's inner loops. A mask word covers 64 weights: a word that keeps
// everything is skipped without touching the weights, a word that keeps
// nothing clears them, and any other word is applied a byte (8 weights) at a
// time by AND-ing the weights' bit patterns with a pattern from a table:
// no branch per weight, and a pruned weight becomes +0 whatever it held
// (NaN, -0, Inf). Large tensors are split over goroutines.

// keep32[b] holds, as four uint64 (two float32 each), the AND pattern that
// keeps the float32 weights whose bit is set in byte b and zeroes the others.
var keep32 = func() (t [256][4]uint64) {
	for b := range 256 {
		for k := range 8 {
			if b>>k&1 == 1 {
				t[b][k/2] |= uint64(0xFFFFFFFF) << (32 * (k % 2))
			}
		}
	}
	return t
}()

// keep64[b] is keep32's counterpart for float64 weights.
var keep64 = func() (t [256][8]uint64) {
	for b := range 256 {
		for k := range 8 {
			if b>>k&1 == 1 {
				t[b][k] = ^uint64(0)
			}
		}
	}
	return t
}()

// applyParallelMin is the number of weights from which Apply splits a tensor
// over goroutines, and the least each goroutine gets. A variable for tests.
var applyParallelMin = 1 << 22

// applyBits zeroes the elements of d whose bit in words is clear (applyMask,
// in mask.go, calls it).
func applyBits[T float32 | float64](words []uint64, d []T) {
	switch d := any(d).(type) {
	case []float32:
		applySplit(words, d, applyBits32)
	case []float64:
		applySplit(words, d, applyBits64)
	}
}

// applySplit runs f over d, in word-aligned parts on several goroutines when
// d is large.
func applySplit[T float32 | float64](words []uint64, d []T, f func([]uint64, []T)) {
	parts := min(runtime.GOMAXPROCS(0), len(d)/applyParallelMin)
	if parts < 2 {
		f(words, d)
		return
	}
	per := (len(words) + parts - 1) / parts
	var wg sync.WaitGroup
	for w0 := per; w0 < len(words); w0 += per {
		w1 := min(w0+per, len(words))
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(words[w0:w1], d[w0*64:min(w1*64, len(d))])
		}()
	}
	f(words[:per], d[:per*64])
	wg.Wait()
}

// applyBits32 zeroes the elements of d whose bit in words is clear.
func applyBits32(words []uint64, d []float32) {
	full := len(d) / 64
	if full == 0 || uintptr(unsafe.Pointer(&d[0]))%8 != 0 {
		applyBitsScalar(words, d)
		return
	}
	u := unsafe.Slice((*uint64)(unsafe.Pointer(&d[0])), full*32)
	for w, word := range words[:full] {
		switch word {
		case ^uint64(0):
			continue
		case 0:
			clear(u[w*32 : w*32+32])
			continue
		}
		seg := (*[32]uint64)(u[w*32 : w*32+32])
		for k := range 8 {
			m := &keep32[byte(word>>(8*k))]
			s := (*[4]uint64)(seg[4*k : 4*k+4])
			s[0] &= m[0]
			s[1] &= m[1]
			s[2] &= m[2]
			s[3] &= m[3]
		}
	}
	applyBitsScalar(words[full:], d[full*64:])
}

// applyBits64 zeroes the elements of d whose bit in words is clear.
func applyBits64(words []uint64, d []float64) {
	full := len(d) / 64
	if full == 0 {
		applyBitsScalar(words, d)
		return
	}
	u := unsafe.Slice((*uint64)(unsafe.Pointer(&d[0])), full*64)
	for w, word := range words[:full] {
		switch word {
		case ^uint64(0):
			continue
		case 0:
			clear(u[w*64 : w*64+64])
			continue
		}
		seg := (*[64]uint64)(u[w*64 : w*64+64])
		for k := range 8 {
			m := &keep64[byte(word>>(8*k))]
			s := (*[8]uint64)(seg[8*k : 8*k+8])
			s[0] &= m[0]
			s[1] &= m[1]
			s[2] &= m[2]
			s[3] &= m[3]
			s[4] &= m[4]
			s[5] &= m[5]
			s[6] &= m[6]
			s[7] &= m[7]
		}
	}
	applyBitsScalar(words[full:], d[full*64:])
}

// applyBitsScalar is the plain loop: for the last, partial word, and for
// float32 data that is not 8-byte aligned.
func applyBitsScalar[T float32 | float64](words []uint64, d []T) {
	for w, word := range words {
		if word == ^uint64(0) {
			continue
		}
		lo := w * 64
		if lo >= len(d) {
			break
		}
		seg := d[lo:min(lo+64, len(d))]
		if word == 0 {
			clear(seg)
			continue
		}
		for z := ^word; z != 0; z &= z - 1 {
			j := bits.TrailingZeros64(z)
			if j >= len(seg) {
				break
			}
			seg[j] = 0
		}
	}
}
