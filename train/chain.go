package train

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LayerKind is the kind of a ChainLayer.
type LayerKind uint8

const (
	// LayerDense is a fully connected layer, y = x·W + b (Dense, or
	// DenseReLU with ReLU set). It is the zero value.
	LayerDense LayerKind = iota
	// LayerConv is a 2-D convolution with a bias (Conv, or ConvReLU with
	// ReLU set).
	LayerConv
	// LayerMaxPool is a max-pool (MaxPool): the largest value of each
	// KH×KW window, windows Stride apart, no padding.
	LayerMaxPool
	// LayerFlatten turns a [C, H, W] image into C·H·W features in the same
	// (row-major) order: the step between a convolution or pool and a
	// dense layer. It moves no numbers.
	LayerFlatten
)

// String returns "dense", "conv", "maxpool" or "flatten".
func (k LayerKind) String() string {
	switch k {
	case LayerDense:
		return "dense"
	case LayerConv:
		return "conv"
	case LayerMaxPool:
		return "maxpool"
	case LayerFlatten:
		return "flatten"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// ChainLayer is one step of a model whose forward pass is a chain of
// layers (see Chain), described by its kind and geometry, per example
// (the batch is not part of it):
//
//   - LayerDense: In inputs, Out outputs; weight [In, Out] (Gorgonia's
//     x·W layout), bias [Out].
//   - LayerConv: an input of In channels of H×W, Out output channels, a
//     KH×KW kernel, Stride, zero padding Pad on every side; weight
//     [Out, In, KH, KW], bias [Out]; the output is [Out, OutH, OutW] with
//     OutH = (H+2·Pad-KH)/Stride+1 (likewise OutW).
//   - LayerMaxPool: In = Out channels of H×W, windows KH×KW, Stride apart,
//     Pad 0; output [In, OutH, OutW], OutH = (H-KH)/Stride+1.
//   - LayerFlatten: In channels of H×W in, Out = In·H·W features out.
//
// Weight and Bias name the params of a dense or conv layer; ReLU says
// whether a ReLU follows it.
type ChainLayer struct {
	Kind         LayerKind
	Weight, Bias string
	ReLU         bool
	In, Out      int
	H, W         int
	KH, KW       int
	Stride, Pad  int
}

// DenseLayer is the dense layer of a chain (Kind LayerDense): kept as a
// name for the callers of DenseLayers.
type DenseLayer = ChainLayer

// OutH returns the height of a conv or pool layer's output (1 for the
// other kinds).
func (l ChainLayer) OutH() int {
	switch l.Kind {
	case LayerConv:
		return (l.H+2*l.Pad-l.KH)/l.Stride + 1
	case LayerMaxPool:
		return (l.H-l.KH)/l.Stride + 1
	}
	return 1
}

// OutW returns the width of a conv or pool layer's output (1 for the
// other kinds).
func (l ChainLayer) OutW() int {
	switch l.Kind {
	case LayerConv:
		return (l.W+2*l.Pad-l.KW)/l.Stride + 1
	case LayerMaxPool:
		return (l.W-l.KW)/l.Stride + 1
	}
	return 1
}

// Inputs returns the number of values one example brings to the layer.
func (l ChainLayer) Inputs() int {
	if l.Kind == LayerDense {
		return l.In
	}
	return l.In * l.H * l.W
}

// Outputs returns the number of values the layer gives per example.
func (l ChainLayer) Outputs() int {
	switch l.Kind {
	case LayerDense, LayerFlatten:
		return l.Out
	}
	return l.Out * l.OutH() * l.OutW()
}

// WeightShape returns the shape of a dense or conv layer's weight ([In,
// Out] or [Out, In, KH, KW]), nil for the other kinds.
func (l ChainLayer) WeightShape() []int {
	switch l.Kind {
	case LayerDense:
		return []int{l.In, l.Out}
	case LayerConv:
		return []int{l.Out, l.In, l.KH, l.KW}
	}
	return nil
}

// Weights returns the number of entries of the layer's weight (0 for a
// pool or flatten).
func (l ChainLayer) Weights() int {
	n := 0
	if s := l.WeightShape(); s != nil {
		n = 1
		for _, d := range s {
			n *= d
		}
	}
	return n
}

// Check reports whether the layer's geometry is consistent: positive
// sizes below 2^31 values per example, a kernel or window that fits its
// padded input, the fields a kind does not use at zero (Out = In·H·W for a
// flatten, Out = In for a pool).
func (l ChainLayer) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("train: %v layer: "+format, append([]any{l.Kind}, args...)...)
	}
	const lim = math.MaxInt32
	fits := func(ds ...int) bool {
		n := 1
		for _, d := range ds {
			if d < 1 || d > lim/n {
				return false
			}
			n *= d
		}
		return true
	}
	switch l.Kind {
	case LayerDense:
		if !fits(l.In, l.Out) {
			return bad("%d×%d weights", l.In, l.Out)
		}
		if l.H|l.W|l.KH|l.KW|l.Stride|l.Pad != 0 {
			return bad("spatial fields set")
		}
	case LayerConv:
		if !fits(l.In, l.H, l.W) || !fits(l.Out, l.In, l.KH, l.KW) || l.Stride < 1 || l.Pad < 0 || l.Pad > lim/4 {
			return bad("input %d×%d×%d, kernel %d×%d×%d×%d, stride %d, padding %d", l.In, l.H, l.W, l.Out, l.In, l.KH, l.KW, l.Stride, l.Pad)
		}
		if l.H+2*l.Pad < l.KH || l.W+2*l.Pad < l.KW {
			return bad("a %d×%d kernel does not fit a %d×%d input padded by %d", l.KH, l.KW, l.H, l.W, l.Pad)
		}
		if !fits(l.Out, l.OutH(), l.OutW()) || !fits(l.OutH()*l.OutW(), l.In, l.KH, l.KW) {
			return bad("output %d×%d×%d too large", l.Out, l.OutH(), l.OutW())
		}
	case LayerMaxPool:
		if !fits(l.In, l.H, l.W) || l.KH < 1 || l.KW < 1 || l.Stride < 1 || l.KH > l.H || l.KW > l.W {
			return bad("a %d×%d window, stride %d, on %d×%d×%d", l.KH, l.KW, l.Stride, l.In, l.H, l.W)
		}
		if l.Out != l.In || l.Pad != 0 || l.ReLU {
			return bad("%d channels in, %d out, padding %d, ReLU %v", l.In, l.Out, l.Pad, l.ReLU)
		}
	case LayerFlatten:
		if !fits(l.In, l.H, l.W) || l.Out != l.In*l.H*l.W {
			return bad("%d×%d×%d to %d features", l.In, l.H, l.W, l.Out)
		}
		if l.KH|l.KW|l.Stride|l.Pad != 0 || l.ReLU {
			return bad("kernel fields set")
		}
	default:
		return fmt.Errorf("train: unknown layer kind %d", l.Kind)
	}
	if (l.Kind == LayerDense || l.Kind == LayerConv) != (l.Weight != "") {
		return bad("weight name %q", l.Weight)
	}
	return nil
}

// CheckChain checks each layer (ChainLayer.Check) and that they fit
// together: each layer takes what the previous one gives (the same
// channels and size for conv and pool layers), a flatten stands exactly
// between a conv or pool layer and a dense layer, and the first layer
// takes inputs values (the features of one example; a conv or pool layer
// first takes them as [In, H, W]).
func CheckChain(layers []ChainLayer, inputs int) error {
	if len(layers) == 0 {
		return errors.New("train: empty chain")
	}
	for i, l := range layers {
		if err := l.Check(); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if i == 0 {
			if l.Inputs() != inputs {
				return fmt.Errorf("train: layer 0 (%v) takes %d values, the input has %d", l.Kind, l.Inputs(), inputs)
			}
			if l.Kind == LayerFlatten {
				return errors.New("train: layer 0 is a flatten")
			}
			continue
		}
		p := layers[i-1]
		spatial := func(k LayerKind) bool { return k == LayerConv || k == LayerMaxPool }
		switch {
		case spatial(l.Kind) || l.Kind == LayerFlatten:
			if !spatial(p.Kind) {
				return fmt.Errorf("train: layer %d (%v) follows a %v layer", i, l.Kind, p.Kind)
			}
			if l.In != p.Out || l.H != p.OutH() || l.W != p.OutW() {
				return fmt.Errorf("train: layer %d (%v) takes %d×%d×%d, layer %d gives %d×%d×%d", i, l.Kind, l.In, l.H, l.W, i-1, p.Out, p.OutH(), p.OutW())
			}
		case spatial(p.Kind):
			return fmt.Errorf("train: layer %d (%v) follows a %v layer without a flatten", i, l.Kind, p.Kind)
		default:
			if l.In != p.Outputs() {
				return fmt.Errorf("train: layer %d takes %d inputs, layer %d gives %d", i, l.In, i-1, p.Outputs())
			}
		}
	}
	if layers[len(layers)-1].Kind != LayerDense {
		return errors.New("train: the chain does not end with a dense layer")
	}
	return nil
}

// Chain traces m's forward pass for examples of shape input and returns
// its layers, first to last, when the pass is a chain of this package's
// Dense, DenseReLU, Conv, ConvReLU and MaxPool ops from the input to the
// logits, each dense or conv op reading a weight and a bias param of m. A
// LayerFlatten is put between a conv or pool layer and the dense layer
// that reads it (Dense flattens its input itself). Every built-in model is
// such a chain; for a model with any other op, Chain returns an error
// naming the op. Dropout, which is not part of an inference graph, does
// not show.
//
// The inference engine (package train/infer) and the compressed export
// (package train/export) run such chains without a graph.
func Chain(m Model, input []int) ([]ChainLayer, error) {
	specs, err := checkSpecs(m)
	if err != nil {
		return nil, err
	}
	if _, err := checkInput(m.Name(), input); err != nil {
		return nil, err
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 1+len(input), gorgonia.WithShape(append([]int{1}, input...)...), gorgonia.WithName("x"))
	nodes := make([]*gorgonia.Node, len(specs))
	param := make(map[*gorgonia.Node]int, len(specs))
	for i, s := range specs {
		nodes[i] = gorgonia.NewTensor(g, tensor.Float32, len(s.Shape), gorgonia.WithShape(s.Shape...), gorgonia.WithName(s.Name))
		param[nodes[i]] = i
	}
	out, err := forward(m, g, x, nodes, 1)
	if err != nil {
		return nil, err
	}
	// image returns the [c, h, w] of a node [1, c, h, w].
	image := func(n *gorgonia.Node) (c, h, w int, err error) {
		s := n.Shape()
		if len(s) != 4 {
			return 0, 0, 0, fmt.Errorf("train: model %q: %v reads a node of shape %v, want [batch, c, h, w]", m.Name(), n.Op(), s)
		}
		return s[1], s[2], s[3], nil
	}
	var layers []ChainLayer // last to first
	for out != x {
		if len(layers) > 2*len(specs)+2 {
			return nil, errors.New("train: Chain: the chain does not end")
		}
		ch := g.From(out.ID())
		in := make([]*gorgonia.Node, 0, 3)
		for ch.Next() {
			in = append(in, ch.Node().(*gorgonia.Node))
		}
		var l ChainLayer
		switch op := out.Op().(type) {
		case *denseOp:
			l = ChainLayer{Kind: LayerDense, ReLU: op.relu}
		case *convOp:
			l = ChainLayer{Kind: LayerConv, ReLU: op.relu, Stride: op.stride, Pad: op.pad}
		case *maxPoolOp:
			if len(in) != 1 {
				return nil, fmt.Errorf("train: model %q: a max-pool has %d inputs", m.Name(), len(in))
			}
			c, h, w, err := image(in[0])
			if err != nil {
				return nil, err
			}
			l = ChainLayer{Kind: LayerMaxPool, In: c, Out: c, H: h, W: w, KH: op.size, KW: op.size, Stride: op.size}
		default:
			return nil, fmt.Errorf("train: model %q: %v is not a dense, conv or max-pool layer; only chains of Dense, DenseReLU, Conv, ConvReLU and MaxPool run without a graph", m.Name(), out.Op())
		}
		if l.Kind != LayerMaxPool {
			if len(in) != 3 {
				return nil, fmt.Errorf("train: model %q: a %v layer has %d inputs", m.Name(), l.Kind, len(in))
			}
			wi, okW := param[in[1]]
			bi, okB := param[in[2]]
			if !okW || !okB {
				return nil, fmt.Errorf("train: model %q: a %v layer's weight or bias is not a param", m.Name(), l.Kind)
			}
			l.Weight, l.Bias = specs[wi].Name, specs[bi].Name
			ws := specs[wi].Shape
			if l.Kind == LayerDense {
				l.In, l.Out = ws[0], ws[1]
			} else {
				c, h, w, err := image(in[0])
				if err != nil {
					return nil, err
				}
				l.Out, l.In, l.KH, l.KW, l.H, l.W = ws[0], c, ws[2], ws[3], h, w
			}
		}
		if l.Kind == LayerDense && in[0].Dims() == 4 && in[0] != x {
			// the dense op flattens a conv or pool output
			c, h, w, _ := image(in[0])
			layers = append(layers, l, ChainLayer{Kind: LayerFlatten, In: c, H: h, W: w, Out: c * h * w})
		} else {
			layers = append(layers, l)
		}
		out = in[0]
	}
	for i, j := 0, len(layers)-1; i < j; i, j = i+1, j-1 {
		layers[i], layers[j] = layers[j], layers[i]
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("train: model %q: no layers", m.Name())
	}
	n := 1
	for _, d := range input {
		n *= d
	}
	if err := CheckChain(layers, n); err != nil {
		return nil, fmt.Errorf("train: model %q: %w", m.Name(), err)
	}
	return layers, nil
}
