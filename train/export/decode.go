package export

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
)

// reader reads the header; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(what+": "+format, args...)
	}
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated: %s needs %d bytes, %d left", field, n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8(field string) int {
	b := r.take(1, field)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16(field string) int {
	b := r.take(2, field)
	if b == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint16(b))
}

func (r *reader) u32(field string) int {
	b := r.take(4, field)
	if b == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint32(b))
}

func (r *reader) str(field string) string {
	return string(r.take(r.u16(field+" length"), field))
}

type layerHead struct {
	train.ChainLayer
	kind, kept, posLen, rawLen, compLen int // the weight's data (dense and conv)
}

// Decode reads a model file's bytes (version 2, or version 1 of the dense
// chains). It checks the envelope, then every declared size against the
// limits and the file's length, and the geometry of the chain (each layer
// consistent, each taking what the previous gives, the first the input
// shape), before it allocates; a damaged, truncated or foreign file, one of
// another version, or one whose description does not match its data is an
// error.
func Decode(data []byte) (*Model, error) {
	ver, payload, err := envelope.Decode(data, magic, what, version)
	if err != nil {
		return nil, err
	}
	if ver < 1 {
		return nil, fmt.Errorf("%s: version %d", what, ver)
	}
	r := &reader{b: payload}
	m := &Model{Name: r.str("model name")}
	dims := r.u8("input dimensions")
	if r.err == nil && (dims < 1 || dims > 8) {
		r.fail("%d input dimensions", dims)
	}
	features := 1
	for i := 0; i < dims && r.err == nil; i++ {
		d := r.u32("input shape")
		if d < 1 || d > MaxLayerParams || features > MaxLayerParams/d {
			r.fail("input shape has a dimension %d", d)
		}
		features *= max(d, 1)
		m.Input = append(m.Input, d)
	}
	m.Bits = r.u8("bits")
	if r.err == nil && m.Bits != 32 && (m.Bits < 1 || m.Bits > 8) {
		r.fail("%d bits per weight", m.Bits)
	}
	nl := r.u16("layers")
	if r.err == nil && nl < 1 {
		r.fail("no layers")
	}
	heads := make([]layerHead, 0, min(nl, len(payload)/26+1))
	total, comp := 0, 0
	for i := 0; i < nl && r.err == nil; i++ {
		var h layerHead
		if ver == 1 {
			h.In, h.Out = r.u32("in"), r.u32("out")
		} else {
			kind := r.u8("layer kind")
			if r.err == nil && kind > int(train.LayerFlatten) {
				r.fail("layer %d: unknown kind %d", i, kind)
			}
			h.Kind = train.LayerKind(kind)
			g := [8]int{}
			for j := range g {
				g[j] = r.u32("layer geometry")
			}
			h.In, h.Out, h.H, h.W, h.KH, h.KW, h.Stride, h.Pad = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
		}
		relu := r.u8("relu")
		h.ReLU = relu == 1
		h.Weight, h.Bias = r.str("weight name"), r.str("bias name")
		if r.err == nil && relu > 1 {
			r.fail("layer %d: relu flag %d", i, relu)
		}
		if r.err == nil {
			if ver == 1 && (h.Weight == "" || h.In < 1 || h.Out < 1 || h.In > MaxLayerParams || h.Out > MaxLayerParams || h.In*h.Out > MaxLayerParams) {
				r.fail("layer %d: %d×%d weights (at most %d a layer)", i, h.In, h.Out, MaxLayerParams)
			} else if err := checkGeometry(h.ChainLayer); err != nil {
				r.fail("layer %d: %v", i, err)
			}
		}
		if r.err != nil {
			break
		}
		if h.Weight != "" {
			h.kind, h.kept, h.posLen, h.rawLen, h.compLen = r.u8("positions"), r.u32("kept"), r.u32("positions length"), r.u32("length"), r.u32("compressed length")
			if r.err != nil {
				break
			}
			n := h.Weights()
			switch {
			case total+n > MaxParams:
				r.fail("more than %d weights in all", MaxParams)
			case h.kept > n:
				r.fail("layer %d: %d kept of %d weights", i, h.kept, n)
			case h.kind == posAll && (h.kept != n || h.posLen != 0):
				r.fail("layer %d: all weights kept, but %d kept and %d position bytes", i, h.kept, h.posLen)
			case h.kind == posBitmap && h.posLen != (n+7)/8:
				r.fail("layer %d: bitmap of %d bytes for %d weights", i, h.posLen, n)
			case h.kind == posGaps && (h.posLen < h.kept || h.posLen > 5*h.kept):
				r.fail("layer %d: %d gap bytes for %d kept weights", i, h.posLen, h.kept)
			case h.kind > posGaps:
				r.fail("layer %d: unknown position encoding %d", i, h.kind)
			case h.rawLen != h.posLen+valuesLen(m.Bits, h.kept, h.Out)+4*h.Out:
				r.fail("layer %d: %d bytes declared, its sizes need %d", i, h.rawLen, h.posLen+valuesLen(m.Bits, h.kept, h.Out)+4*h.Out)
			case h.rawLen > flateRatio*h.compLen+64:
				r.fail("layer %d: %d bytes cannot come from %d compressed", i, h.rawLen, h.compLen)
			}
			total += n
			comp += h.compLen
		}
		heads = append(heads, h)
	}
	if r.err == nil {
		chain := make([]train.ChainLayer, len(heads))
		for i, h := range heads {
			chain[i] = h.ChainLayer
		}
		if err := train.CheckChain(chain, features); err != nil {
			r.fail("the layers do not fit together or the input shape %v: %v", m.Input, err)
		} else if l := chain[0]; l.Kind != train.LayerDense && (len(m.Input) != 3 || m.Input[0] != l.In || m.Input[1] != l.H || m.Input[2] != l.W) {
			r.fail("layer 0 (%v) takes %d×%d×%d images, the input shape is %v", l.Kind, l.In, l.H, l.W, m.Input)
		}
	}
	if r.err == nil && comp != len(r.b) {
		r.fail("the layers declare %d compressed bytes, %d follow", comp, len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	for i, h := range heads {
		l := infer.Layer{ChainLayer: h.ChainLayer}
		if h.Weight != "" {
			blob := r.take(h.compLen, "layer data")
			if l, err = decodeLayer(h, blob, m.Bits); err != nil {
				return nil, fmt.Errorf("%s: layer %d (%s): %w", what, i, h.Weight, err)
			}
		}
		m.Layers = append(m.Layers, l)
		m.Weight = append(m.Weight, h.Weight)
		m.Bias = append(m.Bias, h.Bias)
	}
	return m, nil
}

func decodeLayer(h layerHead, blob []byte, bits int) (infer.Layer, error) {
	raw := make([]byte, h.rawLen)
	zr := flate.NewReader(bytes.NewReader(blob))
	if _, err := io.ReadFull(zr, raw); err != nil {
		return infer.Layer{}, fmt.Errorf("data: %w", err)
	}
	if n, _ := zr.Read(make([]byte, 1)); n != 0 {
		return infer.Layer{}, errors.New("data: longer than declared")
	}
	n := h.Weights()
	l := infer.Layer{ChainLayer: h.ChainLayer, W: make([]float32, n), B: make([]float32, h.Out)}
	// kept positions, in increasing order
	idx := make([]int32, 0, h.kept)
	pos := raw[:h.posLen]
	switch h.kind {
	case posAll:
		for i := 0; i < n; i++ {
			idx = append(idx, int32(i))
		}
	case posBitmap:
		for i := 0; i < n; i++ {
			if pos[i/8]>>(i%8)&1 == 1 {
				idx = append(idx, int32(i))
			}
		}
		if len(idx) != h.kept || (n%8 != 0 && pos[len(pos)-1]>>(n%8) != 0) {
			return infer.Layer{}, fmt.Errorf("bitmap marks %d weights, the header says %d kept", len(idx), h.kept)
		}
	case posGaps:
		at := -1
		for len(pos) > 0 {
			g, k := binary.Uvarint(pos)
			if k <= 0 || g >= uint64(n) || at+1+int(g) >= n || len(idx) == h.kept {
				return infer.Layer{}, errors.New("gaps: a bad or out-of-range position")
			}
			pos = pos[k:]
			at += 1 + int(g)
			idx = append(idx, int32(at))
		}
		if len(idx) != h.kept {
			return infer.Layer{}, fmt.Errorf("gaps give %d positions, the header says %d kept", len(idx), h.kept)
		}
	}
	if h.kind != posAll {
		l.Keep = make([]bool, n)
		for _, i := range idx {
			l.Keep[i] = true
		}
	}
	vals := raw[h.posLen : len(raw)-4*h.Out]
	switch {
	case bits == 32:
		for q, i := range idx {
			l.W[i] = math.Float32frombits(binary.LittleEndian.Uint32(vals[4*q:]))
		}
	case bits == 8:
		scale := vals[:4*h.Out]
		codes := vals[4*h.Out:]
		for q, i := range idx {
			s := math.Float32frombits(binary.LittleEndian.Uint32(scale[4*unitOf(h.ChainLayer, int(i)):]))
			l.W[i] = float32(int8(codes[q])) * s
		}
	default:
		book := make([]float32, 1<<bits)
		for j := range book {
			book[j] = math.Float32frombits(binary.LittleEndian.Uint32(vals[4*j:]))
		}
		codes := vals[4<<bits:]
		var acc uint64
		have, at := 0, 0
		for _, i := range idx {
			for have < bits {
				acc |= uint64(codes[at]) << have
				at++
				have += 8
			}
			l.W[i] = book[acc&(1<<bits-1)]
			acc >>= bits
			have -= bits
		}
	}
	for _, v := range l.W {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return infer.Layer{}, fmt.Errorf("a weight is %v", v)
		}
	}
	bias := raw[len(raw)-4*h.Out:]
	for j := range l.B {
		l.B[j] = math.Float32frombits(binary.LittleEndian.Uint32(bias[4*j:]))
	}
	return l, nil
}
