package prune

import (
	"fmt"
	"slices"
	"strings"

	"gorgonia.org/gorgonia"
)

// Coupler is implemented by Gorgonia ops that tell Trace how they couple
// units, so that a library's own fused layers can be traced without prune
// knowing them (train's Dense, DenseReLU, Conv, ConvReLU and MaxPool
// implement it).
type Coupler interface {
	Coupling() Coupling
}

// Coupling describes how an op's output units relate to its inputs.
//
// A layer (Layer true) computes new units from a weight: its output's units
// lie on axis 1 and are indexed by the weight's OutDim; the units of its data
// input are read by the weight's InDim. An op that is not a layer passes the
// units of its first input through unchanged in position (an activation, a
// pooling): the output's units lie on the same axis.
type Coupling struct {
	Layer bool
	// Input, Weight and Bias are the positions of the data, the weight and
	// the bias among the op's inputs; Bias is -1 when there is none.
	Input, Weight, Bias int
	// InDim and OutDim are the weight's dims that read the input's units and
	// compute the output's (a dense [in, out] weight: 0 and 1; a
	// convolution kernel [out, in, kh, kw]: 1 and 0).
	InDim, OutDim int
	// Flatten: the input's dims after the first are flattened into InDim (a
	// dense layer). Otherwise the input's units must lie on its axis 1 and
	// map one to one to InDim (a convolution).
	Flatten bool
	// Padded: a zero-padded convolution.
	Padded bool
	// ReLU: the op applies max(0, ·) after adding the bias.
	ReLU bool
}

// tag says where an activation's units lie: along axis, element i belongs to
// unit i/block of group.
type tag struct {
	group, axis, block int
	steps              []Step
	padded             bool
}

// view is a parameter seen through reshapes and broadcasts: shape is a
// reshape of pshape (the same flat order); repeated marks the axes that a
// broadcast repeated (of size 1 in shape).
type view struct {
	param    string
	pshape   []int
	shape    []int
	repeated []bool
}

type nodeKind int

const (
	kData nodeKind = iota // the input or anything computed from it alone, constants
	kTag                  // an activation carrying units
	kView                 // a parameter
	kCmp                  // x >= 0 for a tagged x (half of gorgonia.Rectify)
)

type info struct {
	kind nodeKind
	tag  tag
	view view
	of   *gorgonia.Node // kCmp: the compared node
}

// Trace finds the dependency groups of the network whose output is logits,
// by walking the Gorgonia graph from each parameter node through its
// consumers. params are the model's parameter nodes, named uniquely (their
// names are the Member.Param names); every other leaf is data. Only shapes are
// read: the nodes need no values.
//
// Trace knows Gorgonia's Mul (x·W, also with W transposed), Add and
// BroadcastAdd of a bias, Rectify, Conv2d (Im2Col, Reshape, matrix product,
// Transpose), MaxPool2D, Reshape, Dropout, elementwise unary ops, and any op
// that implements Coupler. Any other op on a node that carries units, a
// parameter used other than as a layer's weight or bias, two different
// groups' units meeting in one op (a residual connection): an error naming
// the op and the node, and no groups.
//
// The group whose units are the logits has Logits set.
func Trace(logits *gorgonia.Node, params ...*gorgonia.Node) (Groups, error) {
	if logits == nil {
		return nil, fmt.Errorf("prune: Trace: nil logits node")
	}
	pnames := make(map[*gorgonia.Node]string, len(params))
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("prune: Trace: param node %d is nil", i)
		}
		if p.Name() == "" || seen[p.Name()] {
			return nil, fmt.Errorf("prune: Trace: param node %d has an empty or repeated name %q", i, p.Name())
		}
		seen[p.Name()] = true
		pnames[p] = p.Name()
	}
	order := postOrder(logits)
	t := &tracer{info: make(map[*gorgonia.Node]*info, len(order)), pnames: pnames}
	if s := logits.Shape(); len(s) > 0 {
		t.batch = s[0]
	}
	for _, n := range order {
		in, err := t.visit(n)
		if err != nil {
			return nil, err
		}
		t.info[n] = in
	}
	out := t.info[logits]
	if out.kind != kTag {
		return nil, fmt.Errorf("prune: Trace: the logits node %q carries no layer's units", logits.Name())
	}
	if out.tag.axis != 1 || out.tag.block != 1 {
		return nil, fmt.Errorf("prune: Trace: the logits node %q has its units on axis %d, want 1", logits.Name(), out.tag.axis)
	}
	t.groups[out.tag.group].Logits = true
	for i := range t.groups {
		slices.SortStableFunc(t.groups[i].Members, func(a, b Member) int { return int(a.Role) - int(b.Role) })
	}
	return t.groups, nil
}

// postOrder returns the ancestors of root, each after its inputs.
func postOrder(root *gorgonia.Node) []*gorgonia.Node {
	var order []*gorgonia.Node
	done := map[*gorgonia.Node]bool{}
	type frame struct {
		n *gorgonia.Node
		i int
	}
	stack := []frame{{n: root}}
	done[root] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		kids := children(f.n)
		if f.i < len(kids) {
			c := kids[f.i]
			f.i++
			if !done[c] {
				done[c] = true
				stack = append(stack, frame{n: c})
			}
			continue
		}
		order = append(order, f.n)
		stack = stack[:len(stack)-1]
	}
	return order
}

func children(n *gorgonia.Node) []*gorgonia.Node {
	g := n.Graph()
	if g == nil {
		return nil
	}
	it := g.From(n.ID())
	var out []*gorgonia.Node
	for it.Next() {
		out = append(out, it.Node().(*gorgonia.Node))
	}
	return out
}

type tracer struct {
	batch  int
	info   map[*gorgonia.Node]*info
	pnames map[*gorgonia.Node]string
	groups Groups
}

func (t *tracer) fail(n *gorgonia.Node, format string, args ...any) error {
	return fmt.Errorf("prune: Trace: node %q (op %v): %s", n.Name(), n.Op(), fmt.Sprintf(format, args...))
}

func (t *tracer) visit(n *gorgonia.Node) (*info, error) {
	if name, ok := t.pnames[n]; ok {
		s := []int(n.Shape())
		return &info{kind: kView, view: view{param: name, pshape: s, shape: s, repeated: make([]bool, len(s))}}, nil
	}
	kids := children(n)
	if n.Op() == nil || len(kids) == 0 {
		return &info{kind: kData}, nil
	}
	in := make([]*info, len(kids))
	allData := true
	for i, c := range kids {
		in[i] = t.info[c]
		if in[i].kind != kData {
			allData = false
		}
	}
	op := n.Op()
	if c, ok := op.(Coupler); ok {
		return t.coupled(n, c.Coupling(), kids, in)
	}
	if allData {
		return &info{kind: kData}, nil
	}
	typ := fmt.Sprintf("%T", op)
	switch typ {
	case "gorgonia.sizeOp":
		return &info{kind: kData}, nil
	case "gorgonia.reshapeOp":
		return t.reshape(n, kids[0], in[0])
	case "*gorgonia.repeatOp", "gorgonia.repeatOp":
		return t.repeat(n, kids[0], in[0], in[1:])
	case "gorgonia.transposeOp":
		return t.transpose(n, in[0])
	case "gorgonia.im2colOp":
		return t.im2col(n, kids[0], in[0])
	case "*gorgonia.maxPoolOp", "*gorgonia.dropoutOp":
		if in[0].kind == kTag && in[0].tag.axis != 1 && typ == "*gorgonia.maxPoolOp" {
			return nil, t.fail(n, "pools a tensor whose units lie on axis %d", in[0].tag.axis)
		}
		return t.passThrough(n, in, nil)
	case "gorgonia.linAlgBinOp":
		return t.matMul(n, kids, in)
	case "gorgonia.elemBinOp":
		return t.elemBin(n, kids, in)
	case "gorgonia.elemUnaryOp":
		return t.passThrough(n, in, &Step{Kind: StepOpaque, Op: op.String()})
	}
	return nil, t.fail(n, "the op is not understood by the tracer (an input carries a layer's units or a parameter)")
}

// passThrough gives n the units of its first input, after step.
func (t *tracer) passThrough(n *gorgonia.Node, in []*info, step *Step) (*info, error) {
	for i, x := range in {
		if x.kind == kView {
			return nil, t.fail(n, "input %d is the parameter %q, used other than as a layer's weight or bias", i, x.view.param)
		}
		if i > 0 && x.kind == kTag {
			return nil, t.fail(n, "input %d carries units too", i)
		}
	}
	if in[0].kind != kTag {
		return &info{kind: kData}, nil
	}
	out := *in[0]
	if step != nil {
		out.tag.steps = append(slices.Clip(out.tag.steps), *step)
	}
	return &out, nil
}

// flatMap maps units along axis (block) of a tensor of shape from onto a
// reshape of it to shape to, or reports false.
func flatMap(from []int, axis, block int, to []int) (int, int, bool) {
	stride := 1
	for _, d := range from[axis+1:] {
		stride *= d
	}
	p := stride * block         // flat elements per unit step
	units := from[axis] / block // units along the axis
	s := 1
	for a := len(to) - 1; a >= 0; a-- {
		if p%s == 0 {
			b := p / s
			if to[a] == units*b && (units > 1 || to[a] > 1 || a == len(to)-1) {
				return a, b, true
			}
		}
		s *= to[a]
	}
	return 0, 0, false
}

func (t *tracer) reshape(n, x *gorgonia.Node, in *info) (*info, error) {
	to := []int(n.Shape())
	switch in.kind {
	case kTag:
		a, b, ok := flatMap(x.Shape(), in.tag.axis, in.tag.block, to)
		if !ok {
			return nil, t.fail(n, "reshapes %v to %v, which splits the units on axis %d", x.Shape(), to, in.tag.axis)
		}
		out := *in
		out.tag.axis, out.tag.block = a, b
		return &out, nil
	case kView:
		if slices.Contains(in.view.repeated, true) {
			return nil, t.fail(n, "reshapes a broadcast of the parameter %q", in.view.param)
		}
		out := *in
		out.view.shape, out.view.repeated = to, make([]bool, len(to))
		return &out, nil
	}
	return nil, t.fail(n, "reshapes a comparison")
}

func (t *tracer) repeat(n, x *gorgonia.Node, in *info, rest []*info) (*info, error) {
	for _, r := range rest {
		if r.kind != kData {
			return nil, t.fail(n, "repeats by a count that depends on units")
		}
	}
	to, from := []int(n.Shape()), []int(x.Shape())
	if len(to) != len(from) {
		return nil, t.fail(n, "changes the rank")
	}
	switch in.kind {
	case kTag:
		if from[in.tag.axis] != to[in.tag.axis] {
			return nil, t.fail(n, "repeats along the units' axis")
		}
		return in, nil
	case kView:
		out := *in
		out.view.repeated = slices.Clone(in.view.repeated)
		for a := range to {
			if to[a] != from[a] {
				out.view.repeated[a] = true
			}
		}
		return &out, nil
	}
	return nil, t.fail(n, "repeats a comparison")
}

func (t *tracer) transpose(n *gorgonia.Node, in *info) (*info, error) {
	if in.kind != kTag {
		return nil, t.fail(n, "transposes a parameter")
	}
	s := n.Op().String()
	i, j := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
	if i < 0 || j < i {
		return nil, t.fail(n, "cannot read the transpose's pattern")
	}
	var pattern []int
	for _, f := range strings.Split(s[i+1:j], ",") {
		var a int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &a); err != nil {
			return nil, t.fail(n, "cannot read the transpose's pattern")
		}
		pattern = append(pattern, a)
	}
	k := slices.Index(pattern, in.tag.axis)
	if k < 0 {
		return nil, t.fail(n, "cannot read the transpose's pattern")
	}
	out := *in
	out.tag.axis = k
	return &out, nil
}

func (t *tracer) im2col(n, x *gorgonia.Node, in *info) (*info, error) {
	if in.kind != kTag {
		return nil, t.fail(n, "takes a parameter")
	}
	xs, os := x.Shape(), n.Shape()
	if len(xs) != 4 || len(os) != 4 || in.tag.axis != 1 || xs[1] == 0 || os[3]%xs[1] != 0 {
		return nil, t.fail(n, "units on axis %d of %v, want axis 1 of [b, c, h, w]", in.tag.axis, xs)
	}
	var kh, kw, ph, pw int
	if _, err := fmt.Sscanf(n.Op().String(), "im2col<(%d,%d), (%d, %d)", &kh, &kw, &ph, &pw); err != nil {
		return nil, t.fail(n, "cannot read the padding: %v", err)
	}
	out := *in
	out.tag.axis, out.tag.block = 3, in.tag.block*(os[3]/xs[1])
	out.tag.padded = in.tag.padded || ph > 0 || pw > 0
	return &out, nil
}

// viewDim maps units along axis (block) of a view to the parameter's dim.
func (t *tracer) viewDim(n *gorgonia.Node, v view, axis, block int) (int, int, error) {
	if axis >= len(v.shape) || v.repeated[axis] {
		return 0, 0, t.fail(n, "the units meet a broadcast axis of %q", v.param)
	}
	d, b, ok := flatMap(v.shape, axis, block, v.pshape)
	if !ok {
		return 0, 0, t.fail(n, "the units do not map to one dim of %q %v", v.param, v.pshape)
	}
	return d, b, nil
}

// newGroup adds a group produced by the weight member out.
func (t *tracer) newGroup(name string, units int, out Member) int {
	t.groups = append(t.groups, Group{Name: name, Units: units, Members: []Member{out}})
	return len(t.groups) - 1
}

func (t *tracer) addMember(g int, m Member) {
	t.groups[g].Members = append(t.groups[g].Members, m)
}

// consume records that the weight member (param, dim, block) reads the units
// of x, for a layer producing group next along nextDim.
func (t *tracer) consume(x tag, param string, dim, block, next, nextDim int, padded bool) {
	t.addMember(x.group, Member{Param: param, Dim: dim, Block: block, Role: In, Next: next, NextDim: nextDim,
		Padded: padded || x.padded, Steps: slices.Clone(x.steps)})
}

func (t *tracer) coupled(n *gorgonia.Node, c Coupling, kids []*gorgonia.Node, in []*info) (*info, error) {
	if !c.Layer {
		var step *Step
		if c.ReLU {
			step = &Step{Kind: StepReLU}
		}
		return t.passThrough(n, in, step)
	}
	ok := func(i int) bool { return i >= 0 && i < len(in) }
	if !ok(c.Input) || !ok(c.Weight) || (c.Bias >= 0 && !ok(c.Bias)) {
		return nil, t.fail(n, "its Coupling names inputs that it does not have")
	}
	w := in[c.Weight]
	if w.kind != kView || !slices.Equal(w.view.shape, w.view.pshape) {
		return nil, t.fail(n, "its weight is not a parameter")
	}
	ws := w.view.pshape
	if c.InDim < 0 || c.InDim >= len(ws) || c.OutDim < 0 || c.OutDim >= len(ws) || c.InDim == c.OutDim {
		return nil, t.fail(n, "its Coupling's dims %d and %d do not fit the weight %v", c.InDim, c.OutDim, ws)
	}
	units := ws[c.OutDim]
	g := t.newGroup(w.view.param, units, Member{Param: w.view.param, Dim: c.OutDim, Block: 1, Role: Out, Next: -1})
	t.groups[g].Shape = slices.Clone(ws)
	if !c.Flatten {
		t.groups[g].Spatial = slices.Clone([]int(n.Shape())[2:])
	}
	var steps []Step
	if c.Bias >= 0 {
		b := in[c.Bias]
		if b.kind != kView || len(b.view.pshape) != 1 || b.view.pshape[0] != units {
			return nil, t.fail(n, "its bias is not a parameter of %d entries", units)
		}
		t.addMember(g, Member{Param: b.view.param, Dim: 0, Block: 1, Role: Out, Next: -1})
		steps = append(steps, Step{Kind: StepBias, Param: b.view.param})
	}
	if c.ReLU {
		steps = append(steps, Step{Kind: StepReLU})
	}
	x := in[c.Input]
	switch x.kind {
	case kTag:
		xs := []int(kids[c.Input].Shape())
		axis, block := x.tag.axis, x.tag.block
		if c.Flatten {
			var ok bool
			axis, block, ok = flatMap(xs, axis, block, []int{xs[0], prod(xs[1:])})
			if !ok {
				return nil, t.fail(n, "cannot flatten units on axis %d of %v", x.tag.axis, xs)
			}
		}
		if axis != 1 || ws[c.InDim] != xs1(xs, c.Flatten) {
			return nil, t.fail(n, "its input %v has its units on axis %d, want 1", xs, x.tag.axis)
		}
		t.consume(x.tag, w.view.param, c.InDim, block, g, c.OutDim, c.Padded)
	case kView:
		return nil, t.fail(n, "its input is the parameter %q", x.view.param)
	case kCmp:
		return nil, t.fail(n, "its input is a comparison")
	}
	for i, o := range in {
		if i != c.Input && i != c.Weight && i != c.Bias && o.kind != kData {
			return nil, t.fail(n, "input %d is not data", i)
		}
	}
	return &info{kind: kTag, tag: tag{group: g, axis: 1, block: 1, steps: steps}}, nil
}

func xs1(xs []int, flatten bool) int {
	if flatten {
		return prod(xs[1:])
	}
	return xs[1]
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

func (t *tracer) matMul(n *gorgonia.Node, kids []*gorgonia.Node, in []*info) (*info, error) {
	s := n.Op().String()
	if (s != "A × B" && s != "A × Bᵀ") || len(in) != 2 || len(n.Shape()) != 2 {
		return nil, t.fail(n, "only a matrix product x·W (or x·Wᵀ) of a [batch, in] input and a parameter is understood")
	}
	transB := strings.HasSuffix(s, "ᵀ")
	a, b := in[0], in[1]
	if b.kind != kView || a.kind == kView {
		return nil, t.fail(n, "only x·W with W a parameter is understood")
	}
	kAxis, nAxis := 0, 1
	if transB {
		kAxis, nAxis = 1, 0
	}
	nd, nb, err := t.viewDim(n, b.view, nAxis, 1)
	if err != nil {
		return nil, err
	}
	units := n.Shape()[1]
	g := t.newGroup(b.view.param, units, Member{Param: b.view.param, Dim: nd, Block: nb, Role: Out, Next: -1})
	t.groups[g].Shape = slices.Clone(b.view.pshape)
	if rows := n.Shape()[0]; len(b.view.pshape) == 4 && t.batch > 0 && rows%t.batch == 0 {
		t.groups[g].Spatial = []int{rows / t.batch, 1} // Gorgonia's Conv2d: a row per output position
	}
	switch a.kind {
	case kTag:
		if a.tag.axis != 1 {
			return nil, t.fail(n, "its input has its units on axis %d, want 1", a.tag.axis)
		}
		kd, kb, err := t.viewDim(n, b.view, kAxis, a.tag.block)
		if err != nil {
			t.groups = t.groups[:g]
			return nil, err
		}
		t.consume(a.tag, b.view.param, kd, kb, g, nd, false)
	case kCmp:
		return nil, t.fail(n, "its input is a comparison")
	}
	return &info{kind: kTag, tag: tag{group: g, axis: 1, block: 1}}, nil
}

func (t *tracer) elemBin(n *gorgonia.Node, kids []*gorgonia.Node, in []*info) (*info, error) {
	sym, _, _ := strings.Cut(n.Op().String(), " ")
	a, b := in[0], in[1]
	// gorgonia.Rectify: x ⊙ (x >= 0).
	if sym == ">=" && a.kind == kTag && b.kind == kData && kids[1].IsScalar() {
		return &info{kind: kCmp, of: kids[0]}, nil
	}
	if sym == "⊙" {
		for i := 0; i < 2; i++ {
			x, c := in[i], in[1-i]
			if x.kind == kTag && c.kind == kCmp && c.of == kids[i] {
				return t.passThrough(n, []*info{x}, &Step{Kind: StepReLU})
			}
		}
	}
	if a.kind == kCmp || b.kind == kCmp {
		return nil, t.fail(n, "uses a comparison other than in Rectify")
	}
	// A bias: units + parameter.
	for i := 0; i < 2; i++ {
		x, p := in[i], in[1-i]
		if x.kind == kTag && p.kind == kView {
			if sym != "+" {
				return nil, t.fail(n, "combines units with the parameter %q other than by adding it as a bias", p.view.param)
			}
			d, blk, err := t.viewDim(n, p.view, x.tag.axis, x.tag.block)
			if err != nil {
				return nil, err
			}
			t.addMember(x.tag.group, Member{Param: p.view.param, Dim: d, Block: blk, Role: Out, Next: -1})
			out := *x
			out.tag.steps = append(slices.Clip(x.tag.steps), Step{Kind: StepBias, Param: p.view.param})
			return &out, nil
		}
	}
	for _, x := range in {
		if x.kind == kView {
			return nil, t.fail(n, "uses the parameter %q other than as a layer's weight or bias", x.view.param)
		}
	}
	if a.kind == kTag && b.kind == kTag {
		if a.tag.group != b.tag.group || a.tag.axis != b.tag.axis || a.tag.block != b.tag.block {
			return nil, t.fail(n, "combines the units of two layers (%s and %s): residual connections are not supported", t.groups[a.tag.group].Name, t.groups[b.tag.group].Name)
		}
	}
	x := a
	if x.kind != kTag {
		x = b
	}
	return t.passThrough(n, []*info{x}, &Step{Kind: StepOpaque, Op: n.Op().String()})
}
