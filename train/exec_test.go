package train

import (
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gorgoniaUserModel is a two-layer network written with Gorgonia's own ops
// only, its hidden activations used twice (so differentiation adds two
// gradients with Gorgonia's Add), to run ops that are not train's.
func gorgoniaUserModel(input []int) Model {
	f := prod(input)
	return &userModel{name: "gorgonia-ops", input: input, specs: []ParamSpec{
		{Name: "l1.w", Shape: []int{f, 12}, Prunable: true, Init: GlorotNormal{}},
		{Name: "l1.b", Shape: []int{12}},
		{Name: "l2.w", Shape: []int{12, 10}, Prunable: true, Init: GlorotNormal{}},
	}, build: func(g *gorgonia.ExprGraph, x *gorgonia.Node, w []*gorgonia.Node) (*gorgonia.Node, error) {
		flat, err := gorgonia.Reshape(x, []int{x.Shape()[0], f})
		if err != nil {
			return nil, err
		}
		h, err := gorgonia.Mul(flat, w[0])
		if err != nil {
			return nil, err
		}
		if h, err = gorgonia.BroadcastAdd(h, w[1], nil, []byte{0}); err != nil {
			return nil, err
		}
		if h, err = gorgonia.Rectify(h); err != nil {
			return nil, err
		}
		sq, err := gorgonia.HadamardProd(h, h)
		if err != nil {
			return nil, err
		}
		if h, err = gorgonia.Add(h, sq); err != nil {
			return nil, err
		}
		return gorgonia.Mul(h, w[2])
	}}
}

// TestTapeMatchesTapeMachine runs the training graph of every built-in model
// and of a model of Gorgonia's own ops, in float32 and float64, on the tape
// and on Gorgonia's TapeMachine (compiled from the same graph), and requires
// the loss and every gradient to be equal bit for bit, on two batches in a
// row.
func TestTapeMatchesTapeMachine(t *testing.T) {
	d := digitsTest(t)
	models := append(builtins(t, d.Shape), gorgoniaUserModel(d.Shape))
	for _, m := range models {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			t.Run(m.Name()+"/"+dt.String(), func(t *testing.T) {
				w, err := NewWeights(m, dt, rand.New(rand.NewPCG(3, 4)))
				if err != nil {
					t.Fatal(err)
				}
				tg, err := buildTrainGraph(m, w, 16, d.Shape)
				if err != nil {
					t.Fatal(err)
				}
				defer tg.vm.Close()
				outputs := append(gorgonia.Nodes{tg.loss}, tg.grads...)
				g := tg.loss.Graph()
				prog, locMap, err := gorgonia.CompileFunction(g, g.Inputs(), outputs)
				if err != nil {
					t.Fatal(err)
				}
				machine := gorgonia.NewTapeMachine(g, gorgonia.WithPrecompiled(prog, locMap))
				defer machine.Close()
				f := d.Features()
				for batch := 0; batch < 2; batch++ {
					for i := 0; i < tg.batch; i++ {
						j := batch*tg.batch + i
						tg.setRow(i, d.X[j*f:(j+1)*f], d.Y[j])
					}
					if err := tg.vm.RunAll(); err != nil {
						t.Fatal(err)
					}
					ours := make([][]float64, len(outputs))
					for i, n := range outputs {
						ours[i] = valueFloats(t, tg.vm.value(n))
					}
					if err := machine.RunAll(); err != nil {
						t.Fatal(err)
					}
					for i, n := range outputs {
						theirs := valueFloats(t, n.Value())
						if len(theirs) != len(ours[i]) {
							t.Fatalf("batch %d, output %q: %d values, TapeMachine %d", batch, n.Name(), len(ours[i]), len(theirs))
						}
						for k := range theirs {
							if math.Float64bits(ours[i][k]) != math.Float64bits(theirs[k]) {
								t.Fatalf("batch %d, output %q[%d]: tape %v, TapeMachine %v", batch, n.Name(), k, ours[i][k], theirs[k])
							}
						}
					}
					machine.Reset()
					if l := ours[0][0]; l == 0 || math.IsNaN(l) {
						t.Fatalf("batch %d: loss %v", batch, l)
					}
				}
			})
		}
	}
}

// TestTapeErrors checks that a graph the tape cannot run is refused with the
// node named, and that an op's error names its node.
func TestTapeErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 3), gorgonia.WithName("unbound"))
	y, err := gorgonia.Tanh(x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTape(gorgonia.Nodes{y}); err == nil || !strings.Contains(err.Error(), `"unbound"`) {
		t.Fatalf("unbound input: err = %v, want one naming it", err)
	}
	if _, err := newTape(gorgonia.Nodes{nil}); err == nil {
		t.Fatal("nil output accepted")
	}

	g = gorgonia.NewGraph()
	a := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 3), gorgonia.WithName("a"), gorgonia.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(make([]float64, 6)))))
	bad, err := gorgonia.ApplyOp(failOp{}, a)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := newTape(gorgonia.Nodes{bad})
	if err != nil {
		t.Fatal(err)
	}
	err = tp.RunAll()
	if err == nil || !errors.Is(err, errFailOp) || !strings.Contains(err.Error(), bad.Name()) {
		t.Fatalf("failing op: err = %v, want errFailOp naming node %q", err, bad.Name())
	}
	if tp.value(x) != nil {
		t.Fatal("value of a node the tape does not run is not nil")
	}
}

var errFailOp = errors.New("failOp always fails")

// failOp is a unary op whose Do always fails.
type failOp struct{}

func (failOp) Arity() int    { return 1 }
func (failOp) Type() hm.Type { return hm.NewFnType(hm.TypeVariable('a'), hm.TypeVariable('a')) }
func (failOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (failOp) Do(...gorgonia.Value) (gorgonia.Value, error) { return nil, errFailOp }
func (failOp) ReturnsPtr() bool                             { return false }
func (failOp) CallsExtern() bool                            { return false }
func (failOp) OverwritesInput() int                         { return -1 }
func (failOp) WriteHash(h hash.Hash)                        { fmt.Fprint(h, "failOp") }
func (failOp) Hashcode() uint32                             { return 0xfa11 }
func (failOp) String() string                               { return "failOp" }

// valueFloats returns a tensor's or a scalar's values as float64s.
func valueFloats(t *testing.T, v gorgonia.Value) []float64 {
	t.Helper()
	if d, ok := v.(*tensor.Dense); ok && d != nil {
		return floatsOf(d)
	}
	s, err := scalar(v)
	if err != nil {
		t.Fatal(err)
	}
	return []float64{s}
}
