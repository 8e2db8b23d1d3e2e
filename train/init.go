package train

import (
	"math"
	"math/rand/v2"
)

// Initializer fills the initial values of one parameter. dst has one entry
// per element, in row-major order; shape is the parameter's shape; rng is
// the only source of randomness (NewWeights passes one seeded stream through
// the parameters in order, so the same seed gives the same weights).
//
// Fan-in and fan-out follow PyTorch's convention, with Gorgonia's x·W layout
// for dense weights: a dense weight [in, out] has fan_in = in and
// fan_out = out; a convolution kernel [out, in, kh, kw] has
// fan_in = in·kh·kw and fan_out = out·kh·kw; a vector [n] has
// fan_in = fan_out = n.
type Initializer interface {
	Init(dst []float64, shape []int, rng *rand.Rand)
}

// Fans returns the fan-in and fan-out of a parameter of the given shape, as
// described for Initializer.
func Fans(shape []int) (fanIn, fanOut int) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return shape[0], shape[0]
	case 2:
		return shape[0], shape[1]
	}
	rf := 1
	for _, d := range shape[2:] {
		rf *= d
	}
	return shape[1] * rf, shape[0] * rf
}

// GlorotNormal draws from a normal distribution with mean 0 and standard
// deviation sqrt(2/(fan_in+fan_out)) (Glorot & Bengio 2010; PyTorch's
// xavier_normal_). It is the built-in models' default for weights, as in
// Frankle & Carbin (2019).
type GlorotNormal struct{}

// Init implements Initializer.
func (GlorotNormal) Init(dst []float64, shape []int, rng *rand.Rand) {
	fi, fo := Fans(shape)
	std := math.Sqrt(2 / float64(fi+fo))
	for i := range dst {
		dst[i] = rng.NormFloat64() * std
	}
}

// GlorotUniform draws uniformly from [-a, a) with a = sqrt(6/(fan_in+fan_out))
// (PyTorch's xavier_uniform_).
type GlorotUniform struct{}

// Init implements Initializer.
func (GlorotUniform) Init(dst []float64, shape []int, rng *rand.Rand) {
	fi, fo := Fans(shape)
	a := math.Sqrt(6 / float64(fi+fo))
	for i := range dst {
		dst[i] = (2*rng.Float64() - 1) * a
	}
}

// KaimingNormal draws from a normal distribution with mean 0 and standard
// deviation sqrt(2/fan_in) (He et al. 2015, for ReLU; PyTorch's
// kaiming_normal_ with its defaults, and OpenLTH's default).
type KaimingNormal struct{}

// Init implements Initializer.
func (KaimingNormal) Init(dst []float64, shape []int, rng *rand.Rand) {
	fi, _ := Fans(shape)
	std := math.Sqrt(2 / float64(fi))
	for i := range dst {
		dst[i] = rng.NormFloat64() * std
	}
}

// Zeros sets every value to 0; it draws nothing from rng.
type Zeros struct{}

// Init implements Initializer.
func (Zeros) Init(dst []float64, shape []int, rng *rand.Rand) { clear(dst) }
