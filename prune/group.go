package prune

import (
	"fmt"
	"strings"
)

// A Group is a set of parameter slices that must be pruned together: the
// units (dense outputs, convolution filters) of one layer, and for each unit
// every slice of every parameter that computes it or reads it. Removing unit
// u removes slice u of each Member at once; removing only some of them leaves
// a network whose shapes no longer fit. This is the dependency graph of
// Torch-Pruning (Fang et al. 2023, "DepGraph"), found by tracing a Gorgonia
// graph (Trace) instead of a PyTorch module.
//
// A dense layer's group holds column u of its weight ([in, out], Dim 1), entry
// u of its bias, and row u of the next dense layer's weight (Dim 0). A
// convolution's group holds filter u ([out, in, kh, kw], Dim 0), bias entry
// u, input channel u of the next convolution (Dim 1), or, after a flatten,
// the block of rows of the next dense layer that channel u's pixels feed
// (Dim 0, Block = pixels per channel).
type Group struct {
	// Name is the name of the weight that produces the units, e.g. "fc1.w".
	Name string
	// Units is the number of units (output features or channels).
	Units int
	// Logits reports that the units are the model's outputs: pruners leave
	// such a group alone unless asked, and Compact refuses to remove them.
	Logits bool
	// Members lists the coupled slices, producers (Role Out) first.
	Members []Member
	// Shape is the shape of the weight Name; Spatial the output positions
	// each of its weights is used at, per example: nil for a dense layer,
	// [outH, outW] for a convolution. With them the layer's FLOPs can be
	// counted (metrics.AccountModel).
	Shape   []int
	Spatial []int
}

// Role says what a Member does with its group's units.
type Role int

const (
	// Out members compute the units: a weight slice, a bias entry.
	Out Role = iota
	// In members read the units: the next layer's weights.
	In
)

func (r Role) String() string {
	if r == Out {
		return "out"
	}
	return "in"
}

// A Member is one parameter's share of a Group: unit u of the group is the
// elements of Param whose index along Dim lies in [u·Block, (u+1)·Block).
type Member struct {
	Param string
	Dim   int
	Block int
	Role  Role

	// The fields below describe In members, for Compact.

	// Next is the index (in the Groups) of the group that the reading layer
	// produces, or -1: Compact folds a removed unit's constant output into
	// that group's bias. NextDim is Param's dim that indexes Next's units.
	Next, NextDim int
	// Padded reports that the reading layer is a zero-padded convolution:
	// a non-zero constant input then cannot be folded into a bias.
	Padded bool
	// Steps is what a unit's value went through between the layer that
	// computes it and this reader (bias, ReLU, ...), in order.
	Steps []Step
}

// StepKind is the kind of a Step.
type StepKind int

const (
	// StepBias adds entry u of the bias Param (along its Dim 0, Block 1).
	StepBias StepKind = iota + 1
	// StepReLU is max(0, x).
	StepReLU
	// StepOpaque is an elementwise op whose effect on a constant the tracer
	// does not model (Op names it): a unit that outputs a non-zero constant
	// through it cannot be folded.
	StepOpaque
)

// A Step is one elementwise transformation of a unit's value on its way from
// the layer that computes it to a reader. Ops that leave a constant input
// constant and unchanged (max-pooling, reshapes, transposes, dropout at
// inference) are not recorded.
type Step struct {
	Kind  StepKind
	Param string // StepBias: the bias
	Op    string // StepOpaque: the op
}

func (s Step) String() string {
	switch s.Kind {
	case StepBias:
		return "+" + s.Param
	case StepReLU:
		return "relu"
	default:
		return s.Op
	}
}

// Groups are the dependency groups of one model, in the order in which the
// layers that produce them run.
type Groups []Group

// String lists the groups, one a line.
func (gs Groups) String() string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "%s: %d units", g.Name, g.Units)
		if g.Logits {
			b.WriteString(" (logits)")
		}
		b.WriteString(":")
		for _, m := range g.Members {
			fmt.Fprintf(&b, " %s[%s dim %d", m.Param, m.Role, m.Dim)
			if m.Block != 1 {
				fmt.Fprintf(&b, " ×%d", m.Block)
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Find returns the index of the group named name, or -1.
func (gs Groups) Find(name string) int {
	for i, g := range gs {
		if g.Name == name {
			return i
		}
	}
	return -1
}

// unitSplit splits a tensor of the given shape around m.Dim, or returns an
// error when the shape does not hold units blocks of m.Block along m.Dim.
func (m Member) unitSplit(shape []int, units int) (dimSplitT, error) {
	if m.Dim < 0 || m.Dim >= len(shape) {
		return dimSplitT{}, fmt.Errorf("prune: param %q: Dim %d is out of range for shape %v", m.Param, m.Dim, shape)
	}
	g := dimSplitT{outer: 1, size: shape[m.Dim], inner: 1}
	for _, d := range shape[:m.Dim] {
		g.outer *= d
	}
	for _, d := range shape[m.Dim+1:] {
		g.inner *= d
	}
	if m.Block < 1 || g.size != units*m.Block {
		return dimSplitT{}, fmt.Errorf("prune: param %q: shape %v has %d along Dim %d, want %d units × %d", m.Param, shape, g.size, m.Dim, units, m.Block)
	}
	return g, nil
}

// eachRange calls f with every flat range [lo, hi) of unit u.
func (g dimSplitT) eachRange(u, block int, f func(lo, hi int)) {
	for o := 0; o < g.outer; o++ {
		lo := (o*g.size + u*block) * g.inner
		f(lo, lo+block*g.inner)
	}
}

// Dead reports which units of group g are dead under ms: every masked
// member that computes the unit (Role Out) has its slice entirely pruned, or
// every member that reads it (Role In) is masked and has its slice entirely
// pruned. Either way the unit can be removed (train.Compact). The logits'
// units are never dead. It returns an error when a mask's shape does not fit
// the group.
func (gs Groups) Dead(gi int, ms *Masks) ([]bool, error) {
	g := gs[gi]
	dead := make([]bool, g.Units)
	if g.Logits || ms == nil {
		return dead, nil
	}
	var outs, ins []Member
	readersMasked := false
	for _, m := range g.Members {
		mk := ms.Mask(m.Param)
		if mk != nil {
			if _, err := m.unitSplit(mk.shape, g.Units); err != nil {
				return nil, fmt.Errorf("prune: group %s: %w", g.Name, err)
			}
		}
		switch {
		case m.Role == Out && mk != nil:
			outs = append(outs, m)
		case m.Role == In:
			if len(ins) == 0 {
				readersMasked = true
			}
			ins = append(ins, m)
			readersMasked = readersMasked && mk != nil
		}
	}
	kept := func(m Member, u int) bool {
		mk := ms.Mask(m.Param)
		sp, _ := m.unitSplit(mk.shape, g.Units)
		any := false
		sp.eachRange(u, m.Block, func(lo, hi int) { any = any || mk.anyKept(lo, hi) })
		return any
	}
	for u := range dead {
		pd := len(outs) > 0
		for _, m := range outs {
			if pd && kept(m, u) {
				pd = false
			}
		}
		rd := readersMasked
		for _, m := range ins {
			if rd && kept(m, u) {
				rd = false
			}
		}
		dead[u] = pd || rd
	}
	return dead, nil
}

// Propagate returns a copy of ms in which every dead unit (Dead) has its
// slice pruned in every masked member of its group: the rows of the next
// layer that read a pruned unit, the filter of a unit nothing reads. The
// result counts the work a compacted model really does (metrics.AccountModel).
func (gs Groups) Propagate(ms *Masks) (*Masks, error) {
	if ms == nil {
		return nil, fmt.Errorf("prune: Propagate: nil Masks")
	}
	out := ms.Clone()
	for gi, g := range gs {
		dead, err := gs.Dead(gi, ms)
		if err != nil {
			return nil, err
		}
		for _, m := range g.Members {
			mk := out.Mask(m.Param)
			if mk == nil {
				continue
			}
			sp, _ := m.unitSplit(mk.shape, g.Units)
			for u, d := range dead {
				if d {
					sp.eachRange(u, m.Block, mk.clearRange)
				}
			}
			mk.recount()
		}
	}
	return out, nil
}
