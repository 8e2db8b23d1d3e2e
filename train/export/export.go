package export

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/infer"
	"gorgonia.org/tensor"
)

const (
	magic = "SHREXPT\x00"
	// version 2 describes each layer by its kind and geometry (dense,
	// conv, max-pool, flatten); version 1 files (dense layers only) still
	// load.
	version = 2
	what    = "export: model file"

	// MaxLayerParams bounds the weights of one layer in a file, and
	// MaxParams those of all layers: Decode refuses larger declarations
	// before allocating anything.
	MaxLayerParams = 1 << 24
	// MaxParams bounds the weights of all layers of a file.
	MaxParams = 1 << 25
	// MaxValues bounds the values one example brings to or takes from any
	// layer of a file, and a conv layer's unfolded input (output pixels ×
	// In·KH·KW): Decode refuses larger geometries, so that running a
	// decoded model allocates at most a few times MaxValues per example.
	MaxValues = 1 << 24
	// maxFile bounds the bytes Read and Load accept.
	maxFile = 1 << 30
	// flateRatio bounds how much flate can expand: a stream of n bytes
	// decompresses to at most 1032·n bytes (plus a block header).
	flateRatio = 1032
)

// Position encodings of a layer.
const (
	posAll    = 0 // every weight kept: no positions
	posBitmap = 1 // one bit per weight, row-major, least significant bit first
	posGaps   = 2 // uvarint gaps: first kept index, then differences minus one
)

// Options sets how Encode quantises the kept weights.
type Options struct {
	// Bits per kept weight: 32 (float32), 8 (int8 per output unit), or 1
	// to 7 (a k-means codebook of 2^Bits values per layer); 0 means 8.
	Bits int
}

// Model is a decoded model file: the description and the weights (pruned
// entries zero, quantised values as they will run).
type Model struct {
	Name  string // the model's name, e.g. "lenet300100"
	Input []int  // the shape of one example
	Bits  int
	// Layers is the chain, first to last: dense and conv layers with their
	// values, max-pool and flatten layers with their geometry only.
	Layers []infer.Layer
	// Weight and Bias name each layer's params, as in the model's Params
	// ("" for a pool or flatten layer; also in Layers[i].Weight and .Bias).
	Weight, Bias []string
}

// Engine returns an inference engine for the model (see package infer).
func (m *Model) Engine(k train.Kernels) (*infer.Engine, error) {
	return infer.FromLayers(m.Layers, k)
}

// LayerReport gives the size of one dense or conv layer in the file.
type LayerReport struct {
	Weight     string // the weight's param name
	Kind       string // "dense" or "conv"
	Params     int    // weights and biases of the layer
	Weights    int    // weights of the layer
	Kept       int    // kept weights
	Positions  string // "all", "bitmap" or "gaps"
	Bytes      int    // bytes in the file (its compressed sections and its header)
	DenseBytes int    // 4·Params: the layer as dense float32
}

// Report gives the size of a model file against the dense float32 model.
type Report struct {
	Layers     []LayerReport
	Bits       int
	Bytes      int     // the whole file, envelope included
	DenseBytes int     // 4 bytes per weight and bias of the dense model
	Ratio      float64 // DenseBytes / Bytes
}

// Encode compresses model m (a chain of layers on examples of shape input,
// see train.Chain: every built-in model) with weights w and, when masks is
// not nil, its pruning masks, and returns the file's bytes and their size
// report. A conv kernel [Out, In, KH, KW] is stored as a dense weight is:
// kept positions in its row-major order, values quantised per output
// channel at 8 bits.
func Encode(m train.Model, input []int, w *train.Weights, masks *prune.Masks, opt Options) ([]byte, *Report, error) {
	bits := opt.Bits
	if bits == 0 {
		bits = 8
	}
	if bits != 32 && (bits < 1 || bits > 8) {
		return nil, nil, fmt.Errorf("export: %d bits per weight: want 32, 8 or 1 to 7", opt.Bits)
	}
	if w == nil {
		return nil, nil, errors.New("export: nil Weights")
	}
	if err := w.Matches(m); err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	layers, err := train.Chain(m, input)
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	if len(input) > 8 {
		return nil, nil, fmt.Errorf("export: input shape %v has more than 8 dimensions", input)
	}
	var hdr []byte
	hdr = appendString(hdr, m.Name())
	hdr = append(hdr, byte(len(input)))
	for _, d := range input {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(d))
	}
	hdr = append(hdr, byte(bits))
	hdr = binary.LittleEndian.AppendUint16(hdr, uint16(len(layers)))
	rep := &Report{Bits: bits}
	var blobs [][]byte
	total := 0
	for _, l := range layers {
		if err := checkGeometry(l); err != nil {
			return nil, nil, fmt.Errorf("export: %w", err)
		}
		start := len(hdr)
		hdr = append(hdr, byte(l.Kind))
		for _, v := range [...]int{l.In, l.Out, l.H, l.W, l.KH, l.KW, l.Stride, l.Pad} {
			hdr = binary.LittleEndian.AppendUint32(hdr, uint32(v))
		}
		relu := byte(0)
		if l.ReLU {
			relu = 1
		}
		hdr = append(hdr, relu)
		hdr = appendString(hdr, l.Weight)
		hdr = appendString(hdr, l.Bias)
		if l.Weight == "" {
			continue
		}
		n := l.Weights()
		total += n
		if total > MaxParams {
			return nil, nil, fmt.Errorf("export: more than %d weights in all", MaxParams)
		}
		wv, bv := float32s(w.Tensor(l.Weight)), float32s(w.Tensor(l.Bias))
		keep := make([]bool, n)
		for i := range keep {
			keep[i] = true
		}
		if masks != nil {
			if mk := masks.Mask(l.Weight); mk != nil {
				if mk.Len() != n {
					return nil, nil, fmt.Errorf("export: mask %q has %d entries, the weight %d", l.Weight, mk.Len(), n)
				}
				for i := range keep {
					keep[i] = mk.Keeps(i)
				}
			}
		}
		var kept []float32
		var units []int
		for i, k := range keep {
			if k {
				v := wv[i]
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, nil, fmt.Errorf("export: weight %q[%d] is %v", l.Weight, i, v)
				}
				kept = append(kept, v)
				units = append(units, unitOf(l, i))
			}
		}
		kind, pos, err := positions(keep, len(kept))
		if err != nil {
			return nil, nil, err
		}
		vals := quantise(kept, units, l.Out, bits)
		raw := slices.Concat(pos, vals)
		for _, b := range bv {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(b))
		}
		blob, err := deflate(raw)
		if err != nil {
			return nil, nil, err
		}
		hdr = append(hdr, kind)
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(kept)))
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(pos)))
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(raw)))
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(blob)))
		blobs = append(blobs, blob)
		rep.Layers = append(rep.Layers, LayerReport{
			Weight: l.Weight, Kind: l.Kind.String(), Params: n + l.Out, Weights: n, Kept: len(kept), Positions: [...]string{"all", "bitmap", "gaps"}[kind],
			Bytes: len(blob) + len(hdr) - start, DenseBytes: 4 * (n + l.Out),
		})
		rep.DenseBytes += 4 * (n + l.Out)
	}
	payload := slices.Concat(append([][]byte{hdr}, blobs...)...)
	file := envelope.Encode(magic, version, payload)
	rep.Bytes = len(file)
	rep.Ratio = float64(rep.DenseBytes) / float64(rep.Bytes)
	return file, rep, nil
}

// checkGeometry checks a layer against the file's limits.
func checkGeometry(l train.ChainLayer) error {
	if err := l.Check(); err != nil {
		return err
	}
	if l.Weights() > MaxLayerParams {
		return fmt.Errorf("layer %q has %d weights, more than %d", l.Weight, l.Weights(), MaxLayerParams)
	}
	if l.Inputs() > MaxValues || l.Outputs() > MaxValues ||
		(l.Kind == train.LayerConv && l.OutH()*l.OutW() > MaxValues/(l.In*l.KH*l.KW)) {
		return fmt.Errorf("a %v layer of %d inputs and %d outputs per example: more than %d values", l.Kind, l.Inputs(), l.Outputs(), MaxValues)
	}
	return nil
}

// unitOf is the output unit (dense: column; conv: output channel) of entry
// i of l's weight: the 8-bit scales are per unit.
func unitOf(l train.ChainLayer, i int) int {
	if l.Kind == train.LayerConv {
		return i / (l.In * l.KH * l.KW)
	}
	return i % l.Out
}

// Save writes Encode's file to path atomically and returns its report.
func Save(path string, m train.Model, input []int, w *train.Weights, masks *prune.Masks, opt Options) (*Report, error) {
	data, rep, err := Encode(m, input, w, masks, opt)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return rep, nil
}

// Load reads a model file written by Save.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// Read reads a model file from r.
func Read(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", what, maxFile)
	}
	return Decode(data)
}

func float32s(t *tensor.Dense) []float32 {
	if t.Dtype() == tensor.Float32 {
		return t.Float32s()
	}
	s := t.Float64s()
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func deflate(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return buf.Bytes(), nil
}

// positions encodes the kept positions as a bitmap or as gaps, whichever
// compresses smaller.
func positions(keep []bool, kept int) (byte, []byte, error) {
	if kept == len(keep) {
		return posAll, nil, nil
	}
	bitmap := make([]byte, (len(keep)+7)/8)
	var gaps []byte
	last := -1
	for i, k := range keep {
		if k {
			bitmap[i/8] |= 1 << (i % 8)
			gaps = binary.AppendUvarint(gaps, uint64(i-last-1))
			last = i
		}
	}
	cb, err := deflate(bitmap)
	if err != nil {
		return 0, nil, err
	}
	cg, err := deflate(gaps)
	if err != nil {
		return 0, nil, err
	}
	if len(cg) < len(cb) {
		return posGaps, gaps, nil
	}
	return posBitmap, bitmap, nil
}

// valuesLen is the size of the values section of a layer.
func valuesLen(bits, kept, out int) int {
	switch {
	case bits == 32:
		return 4 * kept
	case bits == 8:
		return 4*out + kept
	}
	return 4<<bits + (kept*bits+7)/8
}

// quantise encodes the kept values (units[i] is value i's output unit).
func quantise(v []float32, units []int, out, bits int) []byte {
	b := make([]byte, 0, valuesLen(bits, len(v), out))
	switch {
	case bits == 32:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	case bits == 8:
		scale := make([]float32, out)
		for i, x := range v {
			scale[units[i]] = max(scale[units[i]], float32(math.Abs(float64(x)))/127)
		}
		for _, s := range scale {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s))
		}
		for i, x := range v {
			q := 0.0
			if s := scale[units[i]]; s > 0 {
				q = math.Round(float64(x / s))
			}
			b = append(b, byte(int8(max(-127, min(127, q)))))
		}
	default:
		book, codes := kmeans(v, 1<<bits)
		for _, c := range book {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c))
		}
		var acc uint64
		n := 0
		for _, c := range codes {
			acc |= uint64(c) << n
			n += bits
			for n >= 8 {
				b = append(b, byte(acc))
				acc >>= 8
				n -= 8
			}
		}
		if n > 0 {
			b = append(b, byte(acc))
		}
	}
	return b
}

// kmeans returns a codebook of k values for v and each value's code:
// Lloyd's algorithm in float64 from k values spaced evenly over [min, max]
// (Deep Compression's linear initialisation), until no code changes or 100
// rounds. A centroid left without values keeps its place.
func kmeans(v []float32, k int) ([]float32, []uint8) {
	book := make([]float64, k)
	codes := make([]uint8, len(v))
	if len(v) == 0 {
		return make([]float32, k), codes
	}
	lo, hi := float64(slices.Min(v)), float64(slices.Max(v))
	for i := range book {
		if k == 1 {
			book[i] = (lo + hi) / 2
		} else {
			book[i] = lo + (hi-lo)*float64(i)/float64(k-1)
		}
	}
	sum := make([]float64, k)
	cnt := make([]int, k)
	for round := 0; round < 100; round++ {
		changed := false
		clear(sum)
		clear(cnt)
		for i, x := range v {
			// book is sorted: find the nearest by binary search
			j, _ := slices.BinarySearch(book, float64(x))
			best := min(j, k-1)
			if j > 0 && (j == k || math.Abs(float64(x)-book[j-1]) <= math.Abs(book[j]-float64(x))) {
				best = j - 1
			}
			if round == 0 || codes[i] != uint8(best) {
				changed = true
			}
			codes[i] = uint8(best)
			sum[best] += float64(x)
			cnt[best]++
		}
		for j := range book {
			if cnt[j] > 0 {
				book[j] = sum[j] / float64(cnt[j])
			}
		}
		// the means of the clusters of sorted centroids stay sorted
		if !changed {
			break
		}
	}
	out := make([]float32, k)
	for i, c := range book {
		out[i] = float32(c)
	}
	return out, codes
}
