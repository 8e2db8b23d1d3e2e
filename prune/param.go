package prune

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one prunable tensor of a model.
//
// Value holds the weights, float32 or float64. Grad is optional and, when
// set, has the same dtype and size as Value; gradient-based scorers (Taylor)
// need it and ApplyGrad zeroes it. Name must be unique within the model: masks
// are matched to Params by name.
//
// A Param shares its tensors with the model: pruning writes into Value (and
// Grad) in place.
type Param struct {
	Name        string
	Value, Grad *tensor.Dense
}

// Size returns the number of elements of p.Value, or 0 when it is nil.
func (p Param) Size() int {
	if p.Value == nil {
		return 0
	}
	return p.Value.Shape().TotalSize()
}

// Shape returns a copy of p.Value's shape, or nil when it is nil.
func (p Param) Shape() []int {
	if p.Value == nil {
		return nil
	}
	return append([]int(nil), p.Value.Shape()...)
}

// FromNodes returns one Param per node, named by the node's name, holding the
// node's bound value and, where the node has one bound, its gradient.
//
// Every node must have a unique name and a bound *tensor.Dense value of dtype
// float32 or float64. A node without a gradient yet (before the graph has run)
// gives a Param with a nil Grad.
func FromNodes(nodes ...*gorgonia.Node) ([]Param, error) {
	params := make([]Param, 0, len(nodes))
	seen := make(map[string]bool, len(nodes))
	for i, n := range nodes {
		if n == nil {
			return nil, fmt.Errorf("prune: node %d is nil", i)
		}
		name := n.Name()
		if seen[name] {
			return nil, fmt.Errorf("prune: node name %q appears twice", name)
		}
		seen[name] = true
		v, ok := n.Value().(*tensor.Dense)
		if !ok || v == nil {
			return nil, fmt.Errorf("prune: node %q has no bound *tensor.Dense value (got %T)", name, n.Value())
		}
		p := Param{Name: name, Value: v}
		if g, err := n.Grad(); err == nil {
			if gd, ok := g.(*tensor.Dense); ok && gd != nil {
				p.Grad = gd
			}
		}
		if err := p.validate(false); err != nil {
			return nil, err
		}
		params = append(params, p)
	}
	return params, nil
}

// validate checks p's value (and grad when needGrad or when set).
func (p Param) validate(needGrad bool) error {
	if p.Value == nil {
		return fmt.Errorf("prune: param %q: nil Value", p.Name)
	}
	n := p.Value.Shape().TotalSize()
	if n == 0 || p.Value.Size() == 0 {
		return fmt.Errorf("prune: param %q: empty Value", p.Name)
	}
	dt := p.Value.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("prune: param %q: dtype %v is not float32 or float64", p.Name, dt)
	}
	if !p.Value.IsNativelyAccessible() || p.Value.RequiresIterator() {
		return fmt.Errorf("prune: param %q: Value is not a contiguous, natively accessible tensor", p.Name)
	}
	if p.Grad == nil {
		if needGrad {
			return fmt.Errorf("prune: param %q: nil Grad (this scorer needs gradients)", p.Name)
		}
		return nil
	}
	if p.Grad.Dtype() != dt {
		return fmt.Errorf("prune: param %q: Grad dtype %v differs from Value dtype %v", p.Name, p.Grad.Dtype(), dt)
	}
	if p.Grad.Shape().TotalSize() != n {
		return fmt.Errorf("prune: param %q: Grad has %d elements, Value has %d", p.Name, p.Grad.Shape().TotalSize(), n)
	}
	if p.Grad.RequiresIterator() {
		return fmt.Errorf("prune: param %q: Grad is not contiguous", p.Name)
	}
	return nil
}

// validateParams checks every Param and that names are unique.
func validateParams(params []Param, needGrad bool) error {
	if len(params) == 0 {
		return errors.New("prune: no params")
	}
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if seen[p.Name] {
			return fmt.Errorf("prune: param name %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if err := p.validate(needGrad); err != nil {
			return err
		}
	}
	return nil
}

// checkFinite returns an error naming p when its Value holds NaN or Inf.
func checkFinite(p Param) error {
	if isFloat32(p.Value) {
		for i, x := range data32(p.Value) {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("prune: param %q: weight %d is %v", p.Name, i, x)
			}
		}
		return nil
	}
	for i, x := range data64(p.Value) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("prune: param %q: weight %d is %v", p.Name, i, x)
		}
	}
	return nil
}

// isFloat32 reports whether t holds float32 (else, once validated, float64).
func isFloat32(t *tensor.Dense) bool { return t.Dtype() == tensor.Float32 }

// data32 returns the elements of a float32 tensor, in row-major order. It
// works for scalars too, whose Data() is not a slice.
func data32(t *tensor.Dense) []float32 { return t.Float32s()[:t.Shape().TotalSize()] }

// data64 returns the elements of a float64 tensor, in row-major order.
func data64(t *tensor.Dense) []float64 { return t.Float64s()[:t.Shape().TotalSize()] }
