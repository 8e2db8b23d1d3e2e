package train

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// Weights holds the parameter tensors of one model, in the model's order,
// by name: float32 (the default) or float64, one contiguous *tensor.Dense
// each. A Trainer trains a Weights in place; Clone keeps a copy (the
// lottery-ticket experiments keep the initial and the rewind-point weights).
//
// A Weights is not safe for concurrent use while a Trainer is training it.
type Weights struct {
	names    []string
	tensors  []*tensor.Dense
	prunable []bool
	index    map[string]int
	dtype    tensor.Dtype
}

// NewWeights allocates the parameters of m and initialises them in order
// from rng, each with its ParamSpec's Initializer (nil: zeros), so that the
// same model, dtype and seed give bit-identical weights. Initial values are
// drawn in float64 and rounded to dtype, so float32 and float64 weights of
// one seed agree to float32 precision.
//
// dtype is tensor.Float32 or tensor.Float64; the zero Dtype means Float32.
// rng must not be nil.
func NewWeights(m Model, dtype tensor.Dtype, rng *rand.Rand) (*Weights, error) {
	specs, err := checkSpecs(m)
	if err != nil {
		return nil, err
	}
	if dtype == (tensor.Dtype{}) {
		dtype = tensor.Float32
	}
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return nil, fmt.Errorf("train: dtype %v is not float32 or float64", dtype)
	}
	if rng == nil {
		return nil, errors.New("train: NewWeights: nil *rand.Rand (pass a seeded one, e.g. rand.New(rand.NewPCG(seed, 0)))")
	}
	w := &Weights{dtype: dtype, index: make(map[string]int, len(specs))}
	var buf []float64
	for _, s := range specs {
		n, _ := s.size()
		if cap(buf) < n {
			buf = make([]float64, n)
		}
		vals := buf[:n]
		clear(vals)
		if s.Init != nil {
			s.Init.Init(vals, append([]int(nil), s.Shape...), rng)
		}
		for i, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nonFinitef("train: param %q: initializer %T gave %v at %d", s.Name, s.Init, v, i)
			}
		}
		t := tensor.New(tensor.Of(dtype), tensor.WithShape(s.Shape...))
		if dtype == tensor.Float32 {
			d := t.Float32s()
			for i, v := range vals {
				d[i] = float32(v)
			}
		} else {
			copy(t.Float64s(), vals)
		}
		w.add(s.Name, t, s.Prunable)
	}
	return w, nil
}

func (w *Weights) add(name string, t *tensor.Dense, prunable bool) {
	w.index[name] = len(w.names)
	w.names = append(w.names, name)
	w.tensors = append(w.tensors, t)
	w.prunable = append(w.prunable, prunable)
}

// Dtype returns tensor.Float32 or tensor.Float64.
func (w *Weights) Dtype() tensor.Dtype { return w.dtype }

// Len returns the number of tensors.
func (w *Weights) Len() int { return len(w.names) }

// Names returns the tensor names in model order.
func (w *Weights) Names() []string { return append([]string(nil), w.names...) }

// Tensor returns the tensor named name (shared, not copied), or nil.
func (w *Weights) Tensor(name string) *tensor.Dense {
	i, ok := w.index[name]
	if !ok {
		return nil
	}
	return w.tensors[i]
}

// IsPrunable reports whether the tensor named name is prunable.
func (w *Weights) IsPrunable(name string) bool {
	i, ok := w.index[name]
	return ok && w.prunable[i]
}

// Count returns the number of scalar weights over all tensors.
func (w *Weights) Count() int {
	n := 0
	for _, t := range w.tensors {
		n += t.Shape().TotalSize()
	}
	return n
}

// Params returns every tensor as a prune.Param (Grad nil), in model order.
// The Params share memory with w.
func (w *Weights) Params() []prune.Param {
	ps := make([]prune.Param, len(w.names))
	for i, n := range w.names {
		ps[i] = prune.Param{Name: n, Value: w.tensors[i]}
	}
	return ps
}

// Prunable returns the prunable tensors (the models' weights, not biases) as
// prune.Params (Grad nil), in model order, sharing memory with w: pruning
// them, or applying masks to them, changes w. prune.NewMasks(w.Prunable())
// gives the masks a Trainer takes.
func (w *Weights) Prunable() []prune.Param {
	var ps []prune.Param
	for i, n := range w.names {
		if w.prunable[i] {
			ps = append(ps, prune.Param{Name: n, Value: w.tensors[i]})
		}
	}
	return ps
}

// Clone returns a deep copy of w.
func (w *Weights) Clone() *Weights {
	c := &Weights{dtype: w.dtype, index: make(map[string]int, len(w.names))}
	for i, n := range w.names {
		c.add(n, w.tensors[i].Clone().(*tensor.Dense), w.prunable[i])
	}
	return c
}

// Equal reports whether w and o have the same names, prunable flags, dtype,
// shapes and bit-identical values (a NaN equals a NaN of the same bits).
func (w *Weights) Equal(o *Weights) bool {
	if w == nil || o == nil {
		return w == o
	}
	if w.dtype != o.dtype || len(w.names) != len(o.names) {
		return false
	}
	for i, n := range w.names {
		if o.names[i] != n || o.prunable[i] != w.prunable[i] || !slices.Equal(w.tensors[i].Shape(), o.tensors[i].Shape()) {
			return false
		}
		if !bytes.Equal(rawBytes(w.tensors[i]), rawBytes(o.tensors[i])) {
			return false
		}
	}
	return true
}

// CopyFrom overwrites w's values with src's, in place (a Trainer training w
// sees the new values at its next step). The two must have the same names,
// shapes and dtype.
func (w *Weights) CopyFrom(src *Weights) error {
	if err := w.compatible(src); err != nil {
		return err
	}
	for i, t := range w.tensors {
		copy(rawBytes(t), rawBytes(src.tensors[i]))
	}
	return nil
}

// compatible checks that o has w's names, shapes and dtype.
func (w *Weights) compatible(o *Weights) error {
	if o == nil {
		return errors.New("train: nil Weights")
	}
	if w.dtype != o.dtype {
		return fmt.Errorf("train: weights are %v, the others %v", w.dtype, o.dtype)
	}
	if len(w.names) != len(o.names) {
		return fmt.Errorf("train: %d weight tensors, the others have %d", len(w.names), len(o.names))
	}
	for i, n := range w.names {
		if o.names[i] != n {
			return fmt.Errorf("train: weight %d is %q, the others' is %q", i, n, o.names[i])
		}
		if !slices.Equal(w.tensors[i].Shape(), o.tensors[i].Shape()) {
			return fmt.Errorf("train: weight %q has shape %v, the others' %v", n, w.tensors[i].Shape(), o.tensors[i].Shape())
		}
	}
	return nil
}

// Matches returns an error unless w has exactly m's params (names, order,
// shapes) and flags them prunable as m does.
func (w *Weights) Matches(m Model) error {
	specs, err := checkSpecs(m)
	if err != nil {
		return err
	}
	if len(specs) != len(w.names) {
		return fmt.Errorf("train: model %q has %d params, the weights %d", m.Name(), len(specs), len(w.names))
	}
	for i, s := range specs {
		if w.names[i] != s.Name {
			return fmt.Errorf("train: model %q param %d is %q, the weights' is %q", m.Name(), i, s.Name, w.names[i])
		}
		if !slices.Equal(w.tensors[i].Shape(), s.Shape) {
			return fmt.Errorf("train: model %q param %q has shape %v, the weights' %v", m.Name(), s.Name, s.Shape, w.tensors[i].Shape())
		}
		if w.prunable[i] != s.Prunable {
			return fmt.Errorf("train: model %q param %q: prunable is %v, in the weights %v", m.Name(), s.Name, s.Prunable, w.prunable[i])
		}
	}
	return nil
}

// rawBytes returns the bytes of t's values (exactly its size).
func rawBytes(t *tensor.Dense) []byte {
	if t.Dtype() == tensor.Float32 {
		s := floats[float32](t)
		return asBytes(s)
	}
	return asBytes(floats[float64](t))
}

// File format.

const (
	weightsMagic   = "SHRWGHT\x00"
	weightsVersion = 1
	weightsWhat    = "train: weights file"
	// maxFileBytes bounds what the readers accept (64 GiB).
	maxFileBytes = 1 << 36
	dtypeF32     = 1
	dtypeF64     = 2
)

// WriteTo writes w to out as a weights file: magic "SHRWGHT\x00", version 1,
// names, prunable flags, shapes and little-endian values, with a CRC-32C
// checksum (internal/envelope). It implements io.WriterTo.
func (w *Weights) WriteTo(out io.Writer) (int64, error) {
	return envelope.Write(out, weightsMagic, weightsVersion, w.appendPayload(nil))
}

// appendPayload encodes w (without the envelope).
func (w *Weights) appendPayload(b []byte) []byte {
	code := byte(dtypeF32)
	if w.dtype == tensor.Float64 {
		code = dtypeF64
	}
	b = append(b, code)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(w.names)))
	for i, n := range w.names {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
		flags := byte(0)
		if w.prunable[i] {
			flags = 1
		}
		b = append(b, flags)
		s := w.tensors[i].Shape()
		b = append(b, byte(len(s)))
		for _, d := range s {
			b = binary.LittleEndian.AppendUint32(b, uint32(d))
		}
		b = appendLE(b, w.tensors[i])
	}
	return b
}

// ReadWeights reads a weights file written by WriteTo. It returns an error
// for a file of another kind, a truncated or corrupted file, or an
// unsupported version.
func ReadWeights(r io.Reader) (*Weights, error) {
	_, payload, err := envelope.Read(r, weightsMagic, weightsWhat, weightsVersion, maxFileBytes)
	if err != nil {
		return nil, err
	}
	d := decoder{b: payload, what: weightsWhat}
	w := d.weights()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the last tensor", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return w, nil
}

// Save writes w to path atomically (a temporary file, synced, then renamed).
func (w *Weights) Save(path string) error {
	if err := atomicfile.WriteTo(path, 0o644, w); err != nil {
		return fmt.Errorf("train: save weights: %w", err)
	}
	return nil
}

// LoadWeights reads a weights file written by Save or WriteTo.
// Errors name the file ("train: weights file PATH: ...").
func LoadWeights(path string) (*Weights, error) {
	return envelope.Load(path, weightsWhat, ReadWeights)
}

// decoder reads the little-endian payloads of weights and checkpoint files;
// the first error sticks.
type decoder struct {
	b    []byte
	err  error
	what string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", d.what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated %s", what)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u8(what string) byte {
	b := d.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16(what string) uint16 {
	b := d.take(2, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *decoder) u32(what string) uint32 {
	b := d.take(4, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64(what string) uint64 {
	b := d.take(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// weights decodes an encoded Weights.
func (d *decoder) weights() *Weights {
	code := d.u8("dtype")
	var dtype tensor.Dtype
	elem := 0
	switch code {
	case dtypeF32:
		dtype, elem = tensor.Float32, 4
	case dtypeF64:
		dtype, elem = tensor.Float64, 8
	default:
		d.fail("unknown dtype code %d", code)
		return nil
	}
	count := int(d.u32("tensor count"))
	if d.err != nil {
		return nil
	}
	if count == 0 {
		d.fail("no tensors")
		return nil
	}
	if count > len(d.b)/8 { // each tensor takes at least 8 bytes
		d.fail("%d tensors cannot fit in %d bytes", count, len(d.b))
		return nil
	}
	w := &Weights{dtype: dtype, index: make(map[string]int, count)}
	for i := 0; i < count; i++ {
		name := string(d.take(int(d.u16("name length")), "name"))
		flags := d.u8("flags")
		dims := int(d.u8("dimensions"))
		if d.err != nil {
			return nil
		}
		if name == "" {
			d.fail("tensor %d has an empty name", i)
			return nil
		}
		if _, dup := w.index[name]; dup {
			d.fail("tensor name %q appears twice", name)
			return nil
		}
		if flags > 1 {
			d.fail("tensor %q: unknown flags %#x", name, flags)
			return nil
		}
		if dims == 0 {
			d.fail("tensor %q has no dimensions", name)
			return nil
		}
		shape := make([]int, dims)
		n := 1
		for j := range shape {
			shape[j] = int(d.u32("shape"))
			if d.err != nil {
				return nil
			}
			if shape[j] == 0 {
				d.fail("tensor %q: shape has a zero dimension", name)
				return nil
			}
			if n > len(d.b)/shape[j] {
				d.fail("tensor %q: shape %v is larger than the file", name, shape[:j+1])
				return nil
			}
			n *= shape[j]
		}
		raw := d.take(n*elem, "values of "+name)
		if d.err != nil {
			return nil
		}
		t := tensor.New(tensor.Of(dtype), tensor.WithShape(shape...))
		copy(rawBytes(t), raw)
		fromLE(t)
		w.add(name, t, flags == 1)
	}
	return w
}
