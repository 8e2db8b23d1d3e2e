package prune

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"gorgonia.org/tensor"
)

// Mask is the keep/prune state of one Param: one bit per element, in the
// Param's flat (row-major) order, 1 = kept. The zero Mask is empty.
type Mask struct {
	name  string
	shape []int
	n     int
	kept  int
	bits  []uint64
}

// NewMask returns a mask named name for a tensor of the given shape, with
// every element kept. It returns an error for a negative dimension.
func NewMask(name string, shape []int) (*Mask, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("prune: mask %q: negative dimension in shape %v", name, shape)
		}
		n *= d
	}
	m := &Mask{name: name, shape: append([]int(nil), shape...), n: n, kept: n, bits: make([]uint64, (n+63)/64)}
	for i := range m.bits {
		m.bits[i] = ^uint64(0)
	}
	m.clearTail()
	return m, nil
}

func (m *Mask) clearTail() {
	if r := m.n % 64; r != 0 {
		m.bits[len(m.bits)-1] &= (uint64(1) << r) - 1
	}
}

// Name returns the name of the Param the mask belongs to.
func (m *Mask) Name() string { return m.name }

// Shape returns a copy of the shape of the Param the mask belongs to.
func (m *Mask) Shape() []int { return append([]int(nil), m.shape...) }

// Len returns the number of elements the mask covers.
func (m *Mask) Len() int { return m.n }

// Kept returns the number of elements kept.
func (m *Mask) Kept() int { return m.kept }

// Pruned returns the number of elements pruned.
func (m *Mask) Pruned() int { return m.n - m.kept }

// Keeps reports whether element i (flat, row-major index) is kept.
// It panics when i is out of range, like a slice index.
func (m *Mask) Keeps(i int) bool {
	if i < 0 || i >= m.n {
		panic(fmt.Sprintf("prune: mask %q: index %d out of range [0,%d)", m.name, i, m.n))
	}
	return m.bits[i>>6]>>(uint(i)&63)&1 == 1
}

// Set marks element i as kept (keep = true) or pruned. Custom pruners use
// it; the built-in ones never revive a pruned element. It panics when i is out
// of range, like a slice index.
func (m *Mask) Set(i int, keep bool) {
	was := m.Keeps(i)
	if was == keep {
		return
	}
	w, b := i>>6, uint(i)&63
	if keep {
		m.bits[w] |= 1 << b
		m.kept++
	} else {
		m.bits[w] &^= 1 << b
		m.kept--
	}
}

// prune clears bit i, which must be set.
func (m *Mask) prune(i int) {
	m.bits[i>>6] &^= 1 << (uint(i) & 63)
	m.kept--
}

// Sparsity returns the fraction of elements pruned, 0 for an empty mask.
func (m *Mask) Sparsity() float64 {
	if m.n == 0 {
		return 0
	}
	return float64(m.n-m.kept) / float64(m.n)
}

// Remaining returns the fraction of elements kept, 1 for an empty mask.
func (m *Mask) Remaining() float64 { return 1 - m.Sparsity() }

// Clone returns an independent copy of m.
func (m *Mask) Clone() *Mask {
	c := *m
	c.shape = append([]int(nil), m.shape...)
	c.bits = append([]uint64(nil), m.bits...)
	return &c
}

// Equal reports whether m and o have the same name, shape and bits.
func (m *Mask) Equal(o *Mask) bool {
	return m.name == o.name && m.n == o.n && m.kept == o.kept &&
		slices.Equal(m.shape, o.shape) && slices.Equal(m.bits, o.bits)
}

// SubsetOf reports whether every element m keeps is also kept by o (and both
// cover the same number of elements): m is a further pruning of o.
func (m *Mask) SubsetOf(o *Mask) bool {
	if m.n != o.n {
		return false
	}
	for i := range m.bits {
		if m.bits[i]&^o.bits[i] != 0 {
			return false
		}
	}
	return true
}

func (m *Mask) recount() {
	k := 0
	for _, w := range m.bits {
		k += bits.OnesCount64(w)
	}
	m.kept = k
}

// Masks holds one Mask per Param, in Param order. Create it with NewMasks and
// change it with a Pruner; Apply and ApplyGrad enforce it on tensors.
type Masks struct {
	masks []*Mask
	index map[string]int
}

// NewMasks returns masks that keep every element of params, one per Param in
// order. A Param with a nil Value gets an empty mask; pruners and Apply
// report such a Param as an error.
func NewMasks(params []Param) *Masks {
	ms := &Masks{index: make(map[string]int, len(params))}
	for _, p := range params {
		shape := p.Shape()
		if p.Value == nil {
			shape = []int{0} // an empty mask: pruners and Apply reject the Param
		}
		m, _ := NewMask(p.Name, shape) // shapes of tensors are never negative
		ms.add(m)
	}
	return ms
}

// NewMasksOf collects existing masks (for example read from elsewhere, or
// built with NewMask) into a Masks. Names must be unique.
func NewMasksOf(masks ...*Mask) (*Masks, error) {
	ms := &Masks{index: make(map[string]int, len(masks))}
	for i, m := range masks {
		if m == nil {
			return nil, fmt.Errorf("prune: mask %d is nil", i)
		}
		if _, dup := ms.index[m.name]; dup {
			return nil, fmt.Errorf("prune: mask name %q appears twice", m.name)
		}
		ms.add(m)
	}
	return ms, nil
}

func (ms *Masks) add(m *Mask) {
	if _, dup := ms.index[m.name]; !dup {
		ms.index[m.name] = len(ms.masks)
	}
	ms.masks = append(ms.masks, m)
}

// Len returns the number of masks.
func (ms *Masks) Len() int { return len(ms.masks) }

// At returns the i-th mask, in Param order.
func (ms *Masks) At(i int) *Mask { return ms.masks[i] }

// Mask returns the mask of the Param named name, or nil when there is none.
func (ms *Masks) Mask(name string) *Mask {
	i, ok := ms.index[name]
	if !ok {
		return nil
	}
	return ms.masks[i]
}

// Names returns the names of the masks in order.
func (ms *Masks) Names() []string {
	out := make([]string, len(ms.masks))
	for i, m := range ms.masks {
		out[i] = m.name
	}
	return out
}

// Total returns the number of elements over all masks.
func (ms *Masks) Total() int {
	t := 0
	for _, m := range ms.masks {
		t += m.n
	}
	return t
}

// Kept returns the number of elements kept over all masks.
func (ms *Masks) Kept() int {
	k := 0
	for _, m := range ms.masks {
		k += m.kept
	}
	return k
}

// Sparsity returns the fraction of all elements pruned, over every mask.
func (ms *Masks) Sparsity() float64 {
	t := ms.Total()
	if t == 0 {
		return 0
	}
	return float64(t-ms.Kept()) / float64(t)
}

// Remaining returns the fraction of all elements kept, over every mask.
func (ms *Masks) Remaining() float64 { return 1 - ms.Sparsity() }

// Clone returns an independent copy of ms.
func (ms *Masks) Clone() *Masks {
	c := &Masks{index: make(map[string]int, len(ms.masks))}
	for _, m := range ms.masks {
		c.add(m.Clone())
	}
	return c
}

// Equal reports whether ms and o hold equal masks in the same order.
func (ms *Masks) Equal(o *Masks) bool {
	if len(ms.masks) != len(o.masks) {
		return false
	}
	for i := range ms.masks {
		if !ms.masks[i].Equal(o.masks[i]) {
			return false
		}
	}
	return true
}

// SubsetOf reports whether ms keeps nothing that o prunes: the masks match by
// name and size, and each of ms's is a SubsetOf o's.
func (ms *Masks) SubsetOf(o *Masks) bool {
	if len(ms.masks) != len(o.masks) {
		return false
	}
	for i, m := range ms.masks {
		if m.name != o.masks[i].name || !m.SubsetOf(o.masks[i]) {
			return false
		}
	}
	return true
}

// forParams returns the masks of params: ms itself when it has one mask per
// Param in order (see check), or else a view of the masks named like the
// Params, in Params order, sharing ms's *Mask values (pruning through the
// view prunes ms). That is how every pruner takes a subset of the Params of
// a full Masks. A Param with no mask of its name, a Param named twice, or a
// size that differs is an error.
func (ms *Masks) forParams(params []Param, needGrad bool) (*Masks, error) {
	if ms == nil {
		return nil, fmt.Errorf("prune: nil Masks")
	}
	exact := len(ms.masks) == len(params)
	for i := 0; exact && i < len(params); i++ {
		exact = ms.masks[i].name == params[i].Name
	}
	if exact {
		return ms, ms.check(params, needGrad)
	}
	if err := validateParams(params, needGrad); err != nil {
		return nil, err
	}
	sub := &Masks{masks: make([]*Mask, len(params)), index: make(map[string]int, len(params))}
	for i, p := range params {
		m := ms.Mask(p.Name)
		if m == nil {
			return nil, fmt.Errorf("prune: param %q has no mask of that name (the masks are %s)", p.Name, strings.Join(ms.Names(), ", "))
		}
		if m.n != p.Size() {
			return nil, fmt.Errorf("prune: param %q has %d elements but its mask has %d", p.Name, p.Size(), m.n)
		}
		sub.masks[i] = m
		sub.index[p.Name] = i
	}
	return sub, nil
}

// check returns an error unless ms has one mask per Param, with the same name
// and size, in the same order, and every Param is valid.
func (ms *Masks) check(params []Param, needGrad bool) error {
	if ms == nil {
		return fmt.Errorf("prune: nil Masks")
	}
	if err := validateParams(params, needGrad); err != nil {
		return err
	}
	if len(ms.masks) != len(params) {
		return fmt.Errorf("prune: %d masks for %d params", len(ms.masks), len(params))
	}
	for i, p := range params {
		m := ms.masks[i]
		if m.name != p.Name {
			return fmt.Errorf("prune: param %d is %q but mask %d is %q", i, p.Name, i, m.name)
		}
		if m.n != p.Size() {
			return fmt.Errorf("prune: param %q has %d elements but its mask has %d", p.Name, p.Size(), m.n)
		}
	}
	return nil
}

// Apply sets every pruned weight of params to zero. The Params must match
// the masks by name, order and size; otherwise Apply returns an error and
// changes nothing.
func (ms *Masks) Apply(params []Param) error {
	if err := ms.check(params, false); err != nil {
		return err
	}
	for i, p := range params {
		applyMask(ms.masks[i], p.Value)
	}
	return nil
}

// ApplyGrad sets the gradient of every pruned weight to zero. Params with a
// nil Grad are skipped. The Params must match the masks by name, order and
// size; otherwise ApplyGrad returns an error and changes nothing.
func (ms *Masks) ApplyGrad(params []Param) error {
	if err := ms.check(params, false); err != nil {
		return err
	}
	for i, p := range params {
		if p.Grad != nil {
			applyMask(ms.masks[i], p.Grad)
		}
	}
	return nil
}

// ApplyTo zeroes the pruned entries of t, a float32 or float64 tensor with as
// many elements as m.
func (m *Mask) ApplyTo(t *tensor.Dense) error {
	if t == nil {
		return fmt.Errorf("prune: mask %q: nil tensor", m.name)
	}
	if t.Shape().TotalSize() != m.n {
		return fmt.Errorf("prune: mask %q has %d elements but the tensor has %d", m.name, m.n, t.Shape().TotalSize())
	}
	if dt := t.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("prune: mask %q: dtype %v is not float32 or float64", m.name, dt)
	}
	applyMask(m, t)
	return nil
}

func applyMask(m *Mask, t *tensor.Dense) {
	// Float32s and Float64s, unlike Data, give a slice for scalars too.
	switch t.Dtype() {
	case tensor.Float32:
		applyBits(m.bits, t.Float32s()[:m.n])
	case tensor.Float64:
		applyBits(m.bits, t.Float64s()[:m.n])
	}
}
