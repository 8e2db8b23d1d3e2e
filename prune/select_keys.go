package prune

import (
	"fmt"
	"math"
	"unsafe"
)

// Key sources: how the selection engine reads the score of each element as
// an order-preserving unsigned integer.

var (
	_ keySource[uint32] = (*abs32Keys)(nil)
	_ keySource[uint64] = (*abs64Keys)(nil)
	_ keySource[uint64] = (*taylorKeys)(nil)
	_ keySource[uint64] = (*storedKeys)(nil)
)

const (
	sign32 = 1 << 31
	sign64 = 1 << 63
)

// abs32Keys ranks float32 weights by |w|: the key is the float's bit pattern
// without its sign, which orders non-negative floats as unsigned integers.
// Nothing is stored: the keys are recomputed at every pass, from the
// weights read as uint32 (the same memory, not a copy).
type abs32Keys struct {
	params []Param
	data   [][]uint32
}

func newAbs32Keys(params []Param) *abs32Keys {
	s := &abs32Keys{params: params, data: make([][]uint32, len(params))}
	for i, p := range params {
		f := data32(p.Value)
		s.data[i] = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(f))), len(f))
	}
	return s
}

func (s *abs32Keys) fill(seg, off int, out []uint32) {
	v := s.data[seg][off : off+len(out)]
	for j := range out {
		out[j] = v[j] &^ sign32
	}
}

func (s *abs32Keys) limit() uint32 { return math.Float32bits(math.MaxFloat32) }

func (s *abs32Keys) invalid(seg, i int) error {
	return fmt.Errorf("prune: param %q: weight %d is %v", s.params[seg].Name, i, math.Float32frombits(s.data[seg][i]))
}

// abs64Keys ranks weights of either dtype by |w| as float64 (exact for
// float32 weights), so float32 and float64 Params can be ranked together.
type abs64Keys struct {
	params []Param
	d32    [][]float32
	d64    [][]float64
}

func newAbs64Keys(params []Param) *abs64Keys {
	s := &abs64Keys{params: params, d32: make([][]float32, len(params)), d64: make([][]float64, len(params))}
	for i, p := range params {
		if isFloat32(p.Value) {
			s.d32[i] = data32(p.Value)
		} else {
			s.d64[i] = data64(p.Value)
		}
	}
	return s
}

func (s *abs64Keys) fill(seg, off int, out []uint64) {
	if d := s.d32[seg]; d != nil {
		v := d[off : off+len(out)]
		for j := range out {
			out[j] = math.Float64bits(float64(v[j])) &^ sign64
		}
		return
	}
	v := s.d64[seg][off : off+len(out)]
	for j := range out {
		out[j] = math.Float64bits(v[j]) &^ sign64
	}
}

func (s *abs64Keys) limit() uint64 { return math.Float64bits(math.MaxFloat64) }

func (s *abs64Keys) invalid(seg, i int) error {
	var x float64
	if d := s.d32[seg]; d != nil {
		x = float64(d[i])
	} else {
		x = s.d64[seg][i]
	}
	return fmt.Errorf("prune: param %q: weight %d is %v", s.params[seg].Name, i, x)
}

// taylorKeys ranks by |w·g|, computed in float64 (exact for float32).
type taylorKeys struct {
	params   []Param
	v32, g32 [][]float32
	v64, g64 [][]float64
}

func newTaylorKeys(params []Param) *taylorKeys {
	n := len(params)
	s := &taylorKeys{params: params, v32: make([][]float32, n), g32: make([][]float32, n), v64: make([][]float64, n), g64: make([][]float64, n)}
	for i, p := range params {
		if isFloat32(p.Value) {
			s.v32[i], s.g32[i] = data32(p.Value), data32(p.Grad)
		} else {
			s.v64[i], s.g64[i] = data64(p.Value), data64(p.Grad)
		}
	}
	return s
}

func (s *taylorKeys) fill(seg, off int, out []uint64) {
	if v := s.v32[seg]; v != nil {
		v := v[off : off+len(out)]
		g := s.g32[seg][off : off+len(out)]
		for j := range out {
			out[j] = math.Float64bits(float64(v[j])*float64(g[j])) &^ sign64
		}
		return
	}
	v := s.v64[seg][off : off+len(out)]
	g := s.g64[seg][off : off+len(out)]
	for j := range out {
		out[j] = math.Float64bits(v[j]*g[j]) &^ sign64
	}
}

func (s *taylorKeys) limit() uint64 { return math.Float64bits(math.MaxFloat64) }

func (s *taylorKeys) invalid(seg, i int) error {
	var w, g float64
	if v := s.v32[seg]; v != nil {
		w, g = float64(v[i]), float64(s.g32[seg][i])
	} else {
		w, g = s.v64[seg][i], s.g64[seg][i]
	}
	return fmt.Errorf("prune: param %q: Taylor score of element %d is %v (weight %v, gradient %v)", s.params[seg].Name, i, math.Abs(w*g), w, g)
}

// storedKeys holds scores computed once by a Scorer that cannot be asked
// twice for the same answer (Random, or any Scorer of the caller's): 8 bytes
// a weight.
type storedKeys struct {
	scores [][]float64
}

// scoreKey maps a finite float64 to a uint64 of the same order; -0 and +0
// map alike.
func scoreKey(x float64) uint64 {
	b := math.Float64bits(x + 0) // -0 + 0 = +0
	return b ^ (uint64(int64(b)>>63) | sign64)
}

func (s *storedKeys) fill(seg, off int, out []uint64) {
	v := s.scores[seg][off : off+len(out)]
	for j := range out {
		out[j] = scoreKey(v[j])
	}
}

func (s *storedKeys) limit() uint64 { return math.MaxUint64 }

func (s *storedKeys) invalid(seg, i int) error {
	return fmt.Errorf("prune: internal error: stored score %d of segment %d is invalid", i, seg)
}
