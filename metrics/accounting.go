package metrics

import (
	"fmt"
	"math"

	"github.com/shearsml/shears/prune"
)

// Kind is the kind of a Layer: it decides how the layer's FLOPs are counted.
type Kind string

const (
	// Dense is a fully connected layer y = x·W with W of shape [in, out]
	// (Gorgonia's layout). A forward pass costs in·out multiply-accumulates
	// per example.
	Dense Kind = "dense"
	// Conv is a 2-D convolution with a kernel of shape [out, in, kh, kw]
	// (PyTorch's and Gorgonia's layout). A forward pass costs
	// out·in·kh·kw multiply-accumulates per output position, per example.
	Conv Kind = "conv"
	// Other is a parameter whose FLOPs are not counted (an embedding, a
	// normalisation scale, ...). It counts towards size and sparsity only.
	Other Kind = "other"
)

// Layer describes one layer's weight tensor by its shape, and for a
// convolution the spatial sizes it works on, so that its size and FLOPs can
// be counted without the model.
//
// The zero values of Stride and Dilation mean 1, of Padding 0 and of Out
// "computed from In, the kernel, Stride, Padding and Dilation" (PyTorch's
// formula, floor((in + 2·pad − dil·(k−1) − 1)/stride) + 1). Grouped and
// transposed convolutions are not described.
type Layer struct {
	// Name is the name of the weight's Param and mask.
	Name string `json:"name"`
	// Kind is Dense, Conv or Other.
	Kind Kind `json:"kind"`
	// Shape is the weight's shape: [in, out] for Dense, [out, in, kh, kw]
	// for Conv, any shape for Other.
	Shape []int `json:"shape"`
	// Bias is the number of bias parameters of the layer (0 for none). Biases
	// count towards size and size_nz (they are never pruned) but not towards
	// FLOPs.
	Bias int `json:"bias,omitempty"`
	// In is a Conv layer's input height and width.
	In [2]int `json:"in,omitempty"`
	// Out is a Conv layer's output height and width; zero means computed.
	// When both In and Out are set they must agree.
	Out [2]int `json:"out,omitempty"`
	// Stride is a Conv layer's stride along height and width (0 means 1).
	Stride [2]int `json:"stride,omitempty"`
	// Padding is a Conv layer's zero padding on each side, along height and
	// width.
	Padding [2]int `json:"padding,omitempty"`
	// Dilation is a Conv layer's dilation along height and width (0 means 1).
	Dilation [2]int `json:"dilation,omitempty"`
}

// DenseLayer returns a Dense layer named name with an [in, out] weight and
// out biases when bias is true.
func DenseLayer(name string, in, out int, bias bool) Layer {
	l := Layer{Name: name, Kind: Dense, Shape: []int{in, out}}
	if bias {
		l.Bias = out
	}
	return l
}

// ConvLayer returns a Conv layer named name with an [out, in, k, k] kernel
// applied to an h×w input with the given stride and padding (the same along
// both axes), and out biases when bias is true.
func ConvLayer(name string, in, out, k, h, w, stride, padding int, bias bool) Layer {
	l := Layer{
		Name:    name,
		Kind:    Conv,
		Shape:   []int{out, in, k, k},
		In:      [2]int{h, w},
		Stride:  [2]int{stride, stride},
		Padding: [2]int{padding, padding},
	}
	if bias {
		l.Bias = out
	}
	return l
}

// Weights returns the number of elements of the weight tensor (0 when the
// shape is invalid: a dimension below 0, or more elements than an int64
// holds).
func (l Layer) Weights() int64 {
	n, ok := l.weights()
	if !ok {
		return 0
	}
	return n
}

func (l Layer) weights() (int64, bool) {
	n := int64(1)
	for _, d := range l.Shape {
		if d < 0 {
			return 0, false
		}
		var ok bool
		if n, ok = mul64(n, int64(d)); !ok {
			return 0, false
		}
	}
	return n, true
}

// mul64 and add64 return a·b and a+b of non-negative a and b, and false when
// the result does not fit an int64.
func mul64(a, b int64) (int64, bool) {
	if a != 0 && b > math.MaxInt64/a {
		return 0, false
	}
	return a * b, true
}

func add64(a, b int64) (int64, bool) {
	if b > math.MaxInt64-a {
		return 0, false
	}
	return a + b, true
}

// maxConvSize bounds each size of a conv layer (input, kernel, stride,
// padding, dilation), so that the output size is computed without overflow.
const maxConvSize = 1 << 30

// Validate reports what is wrong with l, or nil.
func (l Layer) Validate() error {
	if l.Name == "" {
		return fmt.Errorf("metrics: layer with an empty name")
	}
	for _, d := range l.Shape {
		if d <= 0 {
			return fmt.Errorf("metrics: layer %q: shape %v has a dimension that is not positive", l.Name, l.Shape)
		}
	}
	if l.Bias < 0 {
		return fmt.Errorf("metrics: layer %q: negative bias count %d", l.Name, l.Bias)
	}
	if w, ok := l.weights(); !ok {
		return fmt.Errorf("metrics: layer %q: shape %v has more elements than an int64 counts", l.Name, l.Shape)
	} else if _, ok := add64(w, int64(l.Bias)); !ok {
		return fmt.Errorf("metrics: layer %q: %d weights and %d biases overflow an int64", l.Name, w, l.Bias)
	}
	switch l.Kind {
	case Dense:
		if len(l.Shape) != 2 {
			return fmt.Errorf("metrics: dense layer %q: weight shape %v is not [in, out]", l.Name, l.Shape)
		}
	case Conv:
		if len(l.Shape) != 4 {
			return fmt.Errorf("metrics: conv layer %q: weight shape %v is not [out, in, kh, kw]", l.Name, l.Shape)
		}
		_, err := l.OutSize()
		return err
	case Other:
		if len(l.Shape) == 0 {
			return fmt.Errorf("metrics: layer %q: empty shape", l.Name)
		}
	default:
		return fmt.Errorf("metrics: layer %q: unknown kind %q (want %q, %q or %q)", l.Name, l.Kind, Dense, Conv, Other)
	}
	return nil
}

// OutSize returns a Conv layer's output height and width: Out when set
// (checked against In when both are set), otherwise computed from In.
func (l Layer) OutSize() ([2]int, error) {
	if l.Kind != Conv || len(l.Shape) != 4 {
		return [2]int{}, fmt.Errorf("metrics: layer %q is not a conv layer with an [out, in, kh, kw] kernel", l.Name)
	}
	axes := [2]string{"height", "width"}
	var out [2]int
	for a := 0; a < 2; a++ {
		in, k := l.In[a], l.Shape[2+a]
		s, p, d := l.Stride[a], l.Padding[a], l.Dilation[a]
		if s == 0 {
			s = 1
		}
		if d == 0 {
			d = 1
		}
		if s < 0 || p < 0 || d < 0 || in < 0 || l.Out[a] < 0 {
			return out, fmt.Errorf("metrics: conv layer %q: negative input size, output size, stride, padding or dilation along %s", l.Name, axes[a])
		}
		if max(s, p, d, in, k, l.Out[a]) > maxConvSize {
			return out, fmt.Errorf("metrics: conv layer %q: a size along %s is over %d", l.Name, axes[a], maxConvSize)
		}
		if in == 0 {
			if l.Out[a] == 0 {
				return out, fmt.Errorf("metrics: conv layer %q: neither input nor output %s given", l.Name, axes[a])
			}
			out[a] = l.Out[a]
			continue
		}
		span := in + 2*p - d*(k-1) - 1
		if span < 0 {
			return out, fmt.Errorf("metrics: conv layer %q: kernel %s %d (dilation %d) is larger than the padded input %d", l.Name, axes[a], k, d, in+2*p)
		}
		out[a] = span/s + 1
		if l.Out[a] != 0 && l.Out[a] != out[a] {
			return out, fmt.Errorf("metrics: conv layer %q: output %s %d does not match input %d, kernel %d, stride %d, padding %d, dilation %d (which give %d)",
				l.Name, axes[a], l.Out[a], in, k, s, p, d, out[a])
		}
	}
	return out, nil
}

// FLOPs returns the multiply-accumulates of one forward pass of the dense
// layer for one example: in·out for Dense, out·in·kh·kw·outH·outW for Conv,
// 0 for Other. Bias additions, activations and pooling are not counted, as in
// ShrinkBench.
func (l Layer) FLOPs() (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	f, ok := mul64(l.flopsPerWeight(), l.Weights())
	if !ok {
		return 0, fmt.Errorf("metrics: layer %q: FLOPs overflow an int64", l.Name)
	}
	return f, nil
}

// flopsPerWeight is the number of multiply-accumulates each weight takes
// part in: 1 for Dense, outH·outW for Conv, 0 for Other. l must be valid.
func (l Layer) flopsPerWeight() int64 {
	switch l.Kind {
	case Dense:
		return 1
	case Conv:
		o, _ := l.OutSize()
		return int64(o[0]) * int64(o[1])
	}
	return 0
}

// LayersOf returns one Other layer per mask, named and shaped like it: the
// layers to Account for when only sparsity and size matter.
func LayersOf(ms *prune.Masks) []Layer {
	if ms == nil {
		return nil
	}
	out := make([]Layer, ms.Len())
	for i := range out {
		m := ms.At(i)
		out[i] = Layer{Name: m.Name(), Kind: Other, Shape: m.Shape()}
	}
	return out
}

// Stats is the accounting of one layer or, in Report.Total, of the model.
// The names follow ShrinkBench's metrics.
type Stats struct {
	// Name is the layer's name ("total" for the model).
	Name string `json:"name"`
	// Kind is the layer's kind (empty for the total).
	Kind Kind `json:"kind,omitempty"`
	// Shape is the weight's shape (nil for the total).
	Shape []int `json:"shape,omitempty"`
	// Weights is the number of prunable weights.
	Weights int64 `json:"weights"`
	// Kept is the number of weights the mask keeps.
	Kept int64 `json:"weights_nz"`
	// Sparsity is the fraction of weights pruned, (Weights−Kept)/Weights
	// (0 when there are no weights).
	Sparsity float64 `json:"sparsity"`
	// Size is ShrinkBench's size: weights plus biases.
	Size int64 `json:"size"`
	// SizeNZ is ShrinkBench's size_nz: kept weights plus biases (biases are
	// never pruned). A kept weight counts even if its value happens to be 0.
	SizeNZ int64 `json:"size_nz"`
	// CompressionRatio is Size/SizeNZ (+Inf when nothing is left).
	CompressionRatio float64 `json:"compression_ratio"`
	// FLOPs is the multiply-accumulates of a dense forward pass, per example.
	FLOPs int64 `json:"flops"`
	// FLOPsNZ counts only the multiply-accumulates of kept weights.
	FLOPsNZ int64 `json:"flops_nz"`
	// TheoreticalSpeedup is FLOPs/FLOPsNZ (1 when FLOPs is 0, +Inf when
	// FLOPs > 0 and nothing is left).
	TheoreticalSpeedup float64 `json:"theoretical_speedup"`
}

func (s *Stats) finish() {
	if s.Weights > 0 {
		s.Sparsity = float64(s.Weights-s.Kept) / float64(s.Weights)
	}
	s.CompressionRatio = ratio(s.Size, s.SizeNZ)
	s.TheoreticalSpeedup = ratio(s.FLOPs, s.FLOPsNZ)
}

func ratio(a, b int64) float64 {
	switch {
	case a == 0:
		return 1
	case b == 0:
		return math.Inf(1)
	}
	return float64(a) / float64(b)
}

// Report is the accounting of a (pruned) model: one Stats per layer, in the
// order of the layers given to Account, and their Total.
type Report struct {
	Layers []Stats `json:"layers"`
	Total  Stats   `json:"total"`
}

// Account counts sizes and FLOPs of layers under the masks ms.
//
// Conventions (ShrinkBench's): FLOPs are multiply-accumulates (one multiply
// and one add count as one FLOP) of a forward pass for one example, of
// Dense and Conv layers only; bias additions, activations, pooling and
// normalisation are not counted. The effective count, FLOPsNZ, is the count
// over kept weights only: each kept weight of a dense layer costs one
// multiply-accumulate, each kept weight of a convolution one per output
// position. Size counts weights and biases; SizeNZ counts the weights the
// mask keeps and every bias.
//
// Each layer takes the mask of the same name; a layer without a mask counts
// as fully kept, and ms may be nil (a dense model). A mask that matches no
// layer, or whose size differs from its layer's, is an error, as is an
// invalid layer or a repeated name.
func Account(layers []Layer, ms *prune.Masks) (*Report, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("metrics: no layers to account for")
	}
	r := &Report{Layers: make([]Stats, len(layers)), Total: Stats{Name: "total"}}
	seen := make(map[string]bool, len(layers))
	for i, l := range layers {
		if err := l.Validate(); err != nil {
			return nil, err
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("metrics: layer name %q appears twice", l.Name)
		}
		seen[l.Name] = true
		w := l.Weights()
		kept := w
		if ms != nil {
			if m := ms.Mask(l.Name); m != nil {
				if int64(m.Len()) != w {
					return nil, fmt.Errorf("metrics: layer %q has %d weights but its mask has %d", l.Name, w, m.Len())
				}
				kept = int64(m.Kept())
			}
		}
		per := l.flopsPerWeight()
		flops, ok := mul64(per, w)
		if !ok {
			return nil, fmt.Errorf("metrics: layer %q: %d FLOPs per weight × %d weights overflow an int64", l.Name, per, w)
		}
		s := Stats{
			Name:    l.Name,
			Kind:    l.Kind,
			Shape:   append([]int(nil), l.Shape...),
			Weights: w,
			Kept:    kept,
			Size:    w + int64(l.Bias), // checked by Validate
			SizeNZ:  kept + int64(l.Bias),
			FLOPs:   flops,
			FLOPsNZ: per * kept, // kept ≤ w
		}
		s.finish()
		r.Layers[i] = s
		t := &r.Total
		for _, f := range [...]struct {
			sum *int64
			v   int64
		}{
			{&t.Weights, s.Weights}, {&t.Kept, s.Kept}, {&t.Size, s.Size},
			{&t.SizeNZ, s.SizeNZ}, {&t.FLOPs, s.FLOPs}, {&t.FLOPsNZ, s.FLOPsNZ},
		} {
			if *f.sum, ok = add64(*f.sum, f.v); !ok {
				return nil, fmt.Errorf("metrics: the totals overflow an int64 at layer %q", l.Name)
			}
		}
	}
	if ms != nil {
		for _, name := range ms.Names() {
			if !seen[name] {
				return nil, fmt.Errorf("metrics: mask %q matches no layer", name)
			}
		}
	}
	r.Total.finish()
	return r, nil
}
