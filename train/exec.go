package train

import (
	"errors"
	"fmt"

	"gorgonia.org/gorgonia"
)

// tape runs the operations that a graph's outputs need, in dependency order,
// on the calling goroutine. It takes the place of Gorgonia's TapeMachine,
// whose RunAll locks the OS thread and runs its program on a second
// goroutine: every call then hands the processor from one OS thread to the
// other and back (two futex wake-ups). On the development machine, a virtual
// machine, that cost about 500 µs a call: LeNet-300-100's training step took
// 1,207 µs with RunAll and 645 µs with this tape.
//
// Each operation is called with Do, exactly as the TapeMachine calls it after
// Reset, so the values are the same bit for bit (tested against the
// TapeMachine in exec_test.go). train's own ops reuse their output buffers;
// Gorgonia's allocate a result a call, as they did under the TapeMachine.
// A tape is not safe for concurrent use.
type tape struct {
	steps  []tapeStep
	leaves []tapeLeaf       // nodes without an op: read at every run
	vals   []gorgonia.Value // a value per node
	index  map[*gorgonia.Node]int
	args   []gorgonia.Value // scratch for one step's arguments
}

// tapeStep calls op on vals[in...] and stores the result in vals[out].
type tapeStep struct {
	node *gorgonia.Node
	op   gorgonia.Op
	in   []int
	out  int
}

// tapeLeaf is a node without an op (an input or a weight) whose bound value
// is read into vals[at] at every run, so that rebinding it takes effect.
type tapeLeaf struct {
	node *gorgonia.Node
	at   int
	set  bool // the value was given with set: the bound one is not read
}

// newTape orders the nodes that outputs depend on. Every node without an op
// that they reach must have a value bound to it (an input or a weight).
func newTape(outputs gorgonia.Nodes) (*tape, error) {
	t := &tape{index: map[*gorgonia.Node]int{}}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[*gorgonia.Node]int{}
	var visit func(n *gorgonia.Node) error
	visit = func(n *gorgonia.Node) error {
		switch state[n] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("the graph has a cycle through node %q", n.Name())
		}
		state[n] = visiting
		if n.Op() == nil {
			if n.Value() == nil {
				return fmt.Errorf("node %q has neither an op nor a value", n.Name())
			}
			t.index[n] = len(t.vals)
			t.leaves = append(t.leaves, tapeLeaf{node: n, at: len(t.vals)})
			t.vals = append(t.vals, nil)
			state[n] = done
			return nil
		}
		var in []int
		if g := n.Graph(); g != nil {
			for it := g.From(n.ID()); it.Next(); {
				c, ok := it.Node().(*gorgonia.Node)
				if !ok {
					return fmt.Errorf("node %q has a child of type %T", n.Name(), it.Node())
				}
				if err := visit(c); err != nil {
					return err
				}
				in = append(in, t.index[c])
			}
		}
		t.index[n] = len(t.vals)
		t.steps = append(t.steps, tapeStep{node: n, op: n.Op(), in: in, out: len(t.vals)})
		t.vals = append(t.vals, nil)
		if len(in) > len(t.args) {
			t.args = make([]gorgonia.Value, len(in))
		}
		state[n] = done
		return nil
	}
	for _, o := range outputs {
		if o == nil {
			return nil, errors.New("a nil output node")
		}
		if err := visit(o); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// RunAll runs every step once. The results stay readable with value until
// the next run.
func (t *tape) RunAll() error {
	for _, l := range t.leaves {
		if !l.set {
			t.vals[l.at] = l.node.Value()
		}
	}
	for _, s := range t.steps {
		args := t.args[:len(s.in)]
		for i, j := range s.in {
			args[i] = t.vals[j]
		}
		v, err := s.op.Do(args...)
		clear(args)
		if err != nil {
			return fmt.Errorf("%v (node %q): %w", s.op, s.node.Name(), err)
		}
		t.vals[s.out] = v
	}
	return nil
}

// set gives leaf n the value v for the runs that follow, in place of the
// value bound to n. A node that is not a leaf of the tape is ignored.
func (t *tape) set(n *gorgonia.Node, v gorgonia.Value) {
	for i := range t.leaves {
		if l := &t.leaves[i]; l.node == n {
			l.set, t.vals[l.at] = true, v
		}
	}
}

// only reports whether keep holds for every op of the tape.
func (t *tape) only(keep func(gorgonia.Op) bool) bool {
	for _, s := range t.steps {
		if !keep(s.op) {
			return false
		}
	}
	return true
}

// has reports whether the tape reads or computes n.
func (t *tape) has(n *gorgonia.Node) bool {
	_, ok := t.index[n]
	return ok
}

// value returns n's value from the last run, or nil if the tape does not
// compute n.
func (t *tape) value(n *gorgonia.Node) gorgonia.Value {
	i, ok := t.index[n]
	if !ok {
		return nil
	}
	return t.vals[i]
}

// Close drops the values, so that the buffers they hold can be freed.
func (t *tape) Close() error {
	clear(t.vals)
	return nil
}
