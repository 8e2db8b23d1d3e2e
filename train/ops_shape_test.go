package train

import (
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// shapeCase is one op with input shapes that fit (and the output shape they
// give) and sets of input shapes that do not.
type shapeCase struct {
	op interface {
		kernelOp
		InferShape(...gorgonia.DimSizer) (tensor.Shape, error)
		Do(...gorgonia.Value) (gorgonia.Value, error)
	}
	good []tensor.Shape
	want tensor.Shape
	bad  [][]tensor.Shape
}

type sh = tensor.Shape

func shapeCases() []shapeCase {
	return []shapeCase{
		{&denseOp{xdims: 4}, []sh{{2, 1, 3, 4}, {12, 5}, {5}}, sh{2, 5}, [][]sh{
			{{2}, {12, 5}, {5}},          // x has no feature dimension
			{{2, 1, 3, 4}, {11, 5}, {5}}, // 12 features, weight for 11
			{{2, 12}, {12, 5}, {4}},      // bias too short
			{{2, 12}, {12, 5, 1}, {5}},   // weight not a matrix
			{{2, 12}, {12, 5}, {5, 1}},   // bias not a vector
			{{0, 12}, {12, 5}, {5}},      // empty batch
		}},
		{&reluGradOp{dims: 2}, []sh{{2, 5}, {2, 5}}, sh{2, 5}, [][]sh{
			{{2, 5}, {2, 4}},
			{{}, {}},
		}},
		{&matTNOp{xdims: 2}, []sh{{3, 7}, {3, 5}}, sh{7, 5}, [][]sh{
			{{3, 7}, {4, 5}},
			{{3}, {3, 5}},
			{{3, 7}, {3, 5, 1}},
		}},
		{&matNTOp{xShape: sh{3, 1, 2, 2}}, []sh{{3, 5}, {4, 5}}, sh{3, 1, 2, 2}, [][]sh{
			{{3, 5}, {4, 6}},
			{{2, 5}, {4, 5}},
			{{3, 5}, {5, 5}},
			{{3}, {4, 5}},
		}},
		{&colSumOp{}, []sh{{3, 5}}, sh{5}, [][]sh{
			{{15}},
			{{3, 5, 1}},
		}},
		{&xentOp{}, []sh{{4, 3}, {4}}, nil, [][]sh{
			{{4, 3}, {3}},
			{{4, 3}, {4, 1}},
			{{12}, {4}},
		}},
		{&xentGradOp{}, []sh{{4, 3}, {4}, {}}, sh{4, 3}, [][]sh{
			{{4, 3}, {5}, {}},
			{{4, 3}, {4}, {2}},
			{{4}, {4}, {}},
		}},
		{&convOp{stride: 1, pad: 1}, []sh{{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, sh{2, 4, 5, 5}, [][]sh{
			{{2, 3, 5}, {4, 3, 3, 3}, {4}},       // x not 4-D
			{{2, 3, 5, 5}, {4, 2, 3, 3}, {4}},    // channels differ
			{{2, 3, 5, 5}, {4, 3, 3, 3}, {3}},    // bias of 3 for 4 filters
			{{2, 3, 2, 2}, {4, 3, 5, 5}, {4}},    // kernel larger than the padded input
			{{2, 3, 5, 5}, {4, 3, 3, 3, 1}, {4}}, // kernel not 4-D
		}},
		{&convGradWOp{stride: 1, pad: 1, wShape: sh{4, 3, 3, 3}}, []sh{{2, 3, 5, 5}, {2, 4, 5, 5}}, sh{4, 3, 3, 3}, [][]sh{
			{{2, 3, 5, 5}, {2, 4, 5, 4}},
			{{2, 3, 5, 5}, {1, 4, 5, 5}},
			{{2, 2, 5, 5}, {2, 4, 5, 5}},
		}},
		{&convGradXOp{stride: 1, pad: 1, xShape: sh{2, 3, 5, 5}}, []sh{{2, 4, 5, 5}, {4, 3, 3, 3}}, sh{2, 3, 5, 5}, [][]sh{
			{{2, 4, 5, 5}, {4, 2, 3, 3}},
			{{2, 5, 5, 5}, {4, 3, 3, 3}},
			{{2, 4, 5}, {4, 3, 3, 3}},
		}},
		{&chanSumOp{}, []sh{{2, 4, 3, 3}}, sh{4}, [][]sh{
			{{2, 4, 9}},
		}},
		{&maxPoolOp{size: 2}, []sh{{2, 3, 5, 4}}, sh{2, 3, 2, 2}, [][]sh{
			{{2, 3, 1, 4}},
			{{2, 3, 4}},
		}},
		{&maxPoolGradOp{fwd: &maxPoolOp{size: 2}, xShape: sh{2, 3, 5, 4}}, []sh{{2, 3, 2, 2}, {2, 3, 2, 2}}, sh{2, 3, 5, 4}, [][]sh{
			{{2, 3, 2, 2}, {2, 3, 2, 3}},
			{{2, 3, 2, 1}, {2, 3, 2, 2}},
		}},
	}
}

func dimSizers(s []tensor.Shape) []gorgonia.DimSizer {
	out := make([]gorgonia.DimSizer, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// TestInferShapeValidates checks every op's InferShape: the right output
// shape for inputs that fit, and an error naming the op for inputs that do
// not, for the wrong number of inputs, and for a DimSizer that is not a
// tensor.Shape.
func TestInferShapeValidates(t *testing.T) {
	for _, c := range shapeCases() {
		name := c.op.String()
		got, err := c.op.InferShape(dimSizers(c.good)...)
		if err != nil {
			t.Errorf("%s: InferShape%v: %v", name, c.good, err)
		} else if c.want == nil && !got.IsScalar() || c.want != nil && !slices.Equal(got, c.want) {
			t.Errorf("%s: InferShape%v = %v, want %v", name, c.good, got, c.want)
		}
		for _, bad := range c.bad {
			if s, err := c.op.InferShape(dimSizers(bad)...); err == nil {
				t.Errorf("%s: InferShape%v = %v, want an error", name, bad, s)
			} else if !strings.HasPrefix(err.Error(), "train: "+name) {
				t.Errorf("%s: InferShape%v: error %q does not name the op", name, bad, err)
			}
		}
		if _, err := c.op.InferShape(dimSizers(c.good[:len(c.good)-1])...); err == nil {
			t.Errorf("%s: InferShape accepted %d shapes", name, len(c.good)-1)
		}
		if _, err := c.op.InferShape(dimSizers(append(c.good, sh{1}))...); err == nil {
			t.Errorf("%s: InferShape accepted %d shapes", name, len(c.good)+1)
		}
		ds := dimSizers(c.good)
		ds[0] = notAShape{}
		if _, err := c.op.InferShape(ds...); err == nil {
			t.Errorf("%s: InferShape accepted a %T", name, ds[0])
		}
	}
}

type notAShape struct{}

func (notAShape) DimSize(int) (int, error) { return 1, nil }

// values returns zero tensors (scalars for empty shapes) of dtype dt.
func values(dt tensor.Dtype, shapes []tensor.Shape) []gorgonia.Value {
	out := make([]gorgonia.Value, len(shapes))
	for i, s := range shapes {
		switch {
		case len(s) > 0:
			out[i] = tensor.New(tensor.Of(dt), tensor.WithShape(s...))
		case dt == tensor.Float32:
			v := gorgonia.F32(1)
			out[i] = &v
		default:
			v := gorgonia.F64(1)
			out[i] = &v
		}
	}
	return out
}

// TestDoValidates checks that every op's Do checks its inputs with the same
// rule: it runs on inputs that fit (in both dtypes) and returns an error,
// without panicking, for shapes that do not fit, mixed or unsupported
// dtypes, a wrong number of inputs and a non-tensor input.
func TestDoValidates(t *testing.T) {
	for _, c := range shapeCases() {
		name := c.op.String()
		if mp, ok := c.op.(*maxPoolGradOp); ok {
			// the gradient reads the forward op's argmax: run it first
			if _, err := mp.fwd.Do(values(tensor.Float32, []sh{mp.xShape})...); err != nil {
				t.Fatal(err)
			}
		}
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			in := values(dt, c.good)
			out, err := c.op.Do(in...)
			if err != nil {
				t.Errorf("%s %v: Do%v: %v", name, dt, c.good, err)
				continue
			}
			if c.want == nil {
				if out.Shape().TotalSize() != 1 {
					t.Errorf("%s %v: Do returned %v, want a scalar", name, dt, out.Shape())
				}
			} else if !slices.Equal(out.Shape(), c.want) || out.Dtype() != dt {
				t.Errorf("%s %v: Do returned %v %v, want %v %v", name, dt, out.Dtype(), out.Shape(), dt, c.want)
			}
		}
		for _, bad := range c.bad {
			if _, err := c.op.Do(values(tensor.Float32, bad)...); err == nil {
				t.Errorf("%s: Do%v: no error", name, bad)
			} else if !strings.HasPrefix(err.Error(), "train: "+name) {
				t.Errorf("%s: Do%v: error %q does not name the op", name, bad, err)
			}
		}
		mixed := values(tensor.Float32, c.good)
		if j := len(c.good) - 1; len(c.good) > 1 && len(c.good[j]) > 0 {
			mixed[j] = values(tensor.Float64, c.good[j:])[0]
			if _, err := c.op.Do(mixed...); err == nil {
				t.Errorf("%s: Do accepted float32 and float64 inputs together", name)
			}
		}
		ints := values(tensor.Float32, c.good)
		ints[0] = tensor.New(tensor.Of(tensor.Int), tensor.WithShape(c.good[0]...))
		if _, err := c.op.Do(ints...); err == nil {
			t.Errorf("%s: Do accepted an int tensor", name)
		}
		if _, err := c.op.Do(values(tensor.Float32, c.good[1:])...); err == nil {
			t.Errorf("%s: Do accepted %d inputs", name, len(c.good)-1)
		}
		nonTensor := values(tensor.Float32, c.good)
		nonTensor[0] = nil
		if _, err := c.op.Do(nonTensor...); err == nil {
			t.Errorf("%s: Do accepted a nil input", name)
		}
	}
}

// TestDoDoesNotAllocate checks that a run of an op with its buffers in place
// allocates nothing (the training step's allocation budget).
func TestDoDoesNotAllocate(t *testing.T) {
	for _, c := range shapeCases() {
		if _, ok := c.op.(*maxPoolGradOp); ok {
			continue // needs its forward op; covered by the training benchmark
		}
		in := values(tensor.Float32, c.good)
		if _, err := c.op.Do(in...); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(10, func() { c.op.Do(in...) }); n > 0 {
			t.Errorf("%s: Do allocates %v times a run", c.op, n)
		}
	}
}
