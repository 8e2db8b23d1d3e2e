package train

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

// convLayer is one convolution (stride 1, ReLU) of a convNet, optionally
// followed by a 2×2 max-pool.
type convLayer struct {
	out, k, pad int
	pool        bool
}

// convNet: convolutions, then dense layers with ReLU, then a dense output.
type convNet struct {
	name    string
	input   []int
	convs   []convLayer
	hidden  []int
	specs   []ParamSpec
	dropout float64 // after each hidden fully connected layer; see WithDropout
}

// LeNet5 returns a LeNet-5 (LeCun et al. 1998) with ReLU activations and
// max-pooling: conv1 6@5×5 → pool 2×2 → conv2 16@5×5 → pool 2×2 → fc1 120 →
// fc2 84 → fc3 classes.
//
// Both convolutions are zero-padded by 2 ("same" padding), so only the
// pools shrink the image and the model works on any input from 4×4 up: the
// 8×8 digits give fc1 16·2·2 = 64 inputs, 28×28 MNIST 16·7·7 = 784. (The
// 1998 network pads only the first convolution, which gives 16·5·5 = 400 on
// 28×28 and does not fit 8×8.)
//
// input is [channels, height, width]. Params: conv1.w [6,c,5,5], conv1.b,
// conv2.w [16,6,5,5], conv2.b, fc1.w, fc1.b, fc2.w, fc2.b, fc3.w, fc3.b;
// weights prunable and GlorotNormal, biases not prunable and zero. It
// returns an error for an input that is not [c, h, w], smaller than 4×4, or
// fewer than 2 classes.
func LeNet5(input []int, classes int) (Model, error) {
	return newConvNet("lenet5", input, classes, []convLayer{
		{out: 6, k: 5, pad: 2, pool: true},
		{out: 16, k: 5, pad: 2, pool: true},
	}, []int{120, 84})
}

// Conv2 returns the Conv-2 network of Frankle & Carbin (2019, figure 2):
// two 3×3 convolutions of 64 channels, a 2×2 max-pool, then dense layers of
// 256 and 256 units and the output layer; ReLU throughout, convolutions
// zero-padded by 1 so that only pools shrink the image. input is
// [channels, height, width] of any size from 2×2 up (CIFAR-10: [3,32,32]).
// Params conv1.w [64,c,3,3], conv1.b, conv2.w, conv2.b, fc1.w, fc1.b, fc2.w,
// fc2.b, fc3.w, fc3.b.
func Conv2(input []int, classes int) (Model, error) {
	return newConvNet("conv2", input, classes, convStack(1), []int{256, 256})
}

// Conv4 returns Frankle & Carbin's Conv-4: like Conv2 with a second block of
// two 128-channel convolutions and a pool (conv1..conv4, then fc1..fc3). The
// input must be at least 4×4.
func Conv4(input []int, classes int) (Model, error) {
	return newConvNet("conv4", input, classes, convStack(2), []int{256, 256})
}

// Conv6 returns Frankle & Carbin's Conv-6: like Conv4 with a third block of
// two 256-channel convolutions and a pool (conv1..conv6, then fc1..fc3). The
// input must be at least 8×8.
func Conv6(input []int, classes int) (Model, error) {
	return newConvNet("conv6", input, classes, convStack(3), []int{256, 256})
}

func convStack(blocks int) []convLayer {
	var ls []convLayer
	for b := 0; b < blocks; b++ {
		ch := 64 << b
		ls = append(ls, convLayer{out: ch, k: 3, pad: 1}, convLayer{out: ch, k: 3, pad: 1, pool: true})
	}
	return ls
}

func newConvNet(name string, input []int, classes int, convs []convLayer, hidden []int) (Model, error) {
	if _, err := checkInput(name, input); err != nil {
		return nil, err
	}
	if len(input) != 3 {
		return nil, fmt.Errorf("train: %s: input shape %v, want [channels, height, width]", name, input)
	}
	if classes < 2 {
		return nil, fmt.Errorf("train: %s: %d classes, want at least 2", name, classes)
	}
	m := &convNet{name: name, input: append([]int(nil), input...), convs: convs, hidden: hidden}
	c, h, w := input[0], input[1], input[2]
	for i, l := range convs {
		n := fmt.Sprintf("conv%d", i+1)
		m.specs = append(m.specs,
			ParamSpec{Name: n + ".w", Shape: []int{l.out, c, l.k, l.k}, Prunable: true, Init: GlorotNormal{}},
			ParamSpec{Name: n + ".b", Shape: []int{l.out}, Init: Zeros{}})
		h, w = h+2*l.pad-l.k+1, w+2*l.pad-l.k+1
		if h < 1 || w < 1 {
			return nil, fmt.Errorf("train: %s: input %v is too small for %s", name, input, n)
		}
		if l.pool {
			h, w = h/2, w/2
			if h < 1 || w < 1 {
				return nil, fmt.Errorf("train: %s: input %v is too small: the pool after %s leaves nothing (need at least %dx%d)", name, input, n, m.minSize(), m.minSize())
			}
		}
		c = l.out
	}
	sizes := append(append([]int{c * h * w}, hidden...), classes)
	for i := 1; i < len(sizes); i++ {
		n := fmt.Sprintf("fc%d", i)
		m.specs = append(m.specs,
			ParamSpec{Name: n + ".w", Shape: []int{sizes[i-1], sizes[i]}, Prunable: true, Init: GlorotNormal{}},
			ParamSpec{Name: n + ".b", Shape: []int{sizes[i]}, Init: Zeros{}})
	}
	return m, nil
}

// minSize is the smallest height and width the pools allow.
func (m *convNet) minSize() int {
	s := 1
	for _, l := range m.convs {
		if l.pool {
			s *= 2
		}
	}
	return s
}

func (m *convNet) Name() string        { return m.name }
func (m *convNet) Params() []ParamSpec { return cloneSpecs(m.specs) }
func (m *convNet) String() string {
	return fmt.Sprintf("%s(%v, %d classes)", m.name, m.input, m.specs[len(m.specs)-1].Shape[0])
}

func (m *convNet) Forward(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkForward(m.name, len(m.specs), x, w, m.input); err != nil {
		return nil, err
	}
	h := x
	var err error
	for i, l := range m.convs {
		if h, err = ConvReLU(h, w[2*i], w[2*i+1], 1, l.pad); err != nil {
			return nil, fmt.Errorf("train: %s: conv%d: %w", m.name, i+1, err)
		}
		if l.pool {
			if h, err = MaxPool(h, 2); err != nil {
				return nil, fmt.Errorf("train: %s: pool after conv%d: %w", m.name, i+1, err)
			}
		}
	}
	fc := w[2*len(m.convs):]
	for i := 0; i < len(fc); i += 2 {
		if i+2 == len(fc) {
			h, err = Dense(h, fc[i], fc[i+1])
		} else if h, err = DenseReLU(h, fc[i], fc[i+1]); err == nil {
			h, err = Dropout(h, m.dropout)
		}
		if err != nil {
			return nil, fmt.Errorf("train: %s: fc%d: %w", m.name, i/2+1, err)
		}
	}
	return h, nil
}
