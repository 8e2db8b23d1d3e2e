package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Fingerprint returns a digest (16 hex digits) of the computation m
// builds for examples of the given shape and dtype: every node of the
// Gorgonia graph its Forward adds, in order, with its operation (as
// Gorgonia prints it: the op and its settings, constants included), its
// shape and dtype and its inputs, plus m's params (names, shapes, prunable
// flags). Two models that compute the same thing the same way have the same
// fingerprint; removing an activation, changing a stride, a reshape or a
// constant changes it. Initializers and the model's Name do not enter it.
//
// The lottery package puts it into the hash of experiments on a user's
// model, so that a model whose Forward changed does not reuse old results.
// It depends on how Gorgonia prints its ops, so a Gorgonia upgrade may
// change it.
func Fingerprint(m Model, input []int, dtype tensor.Dtype) (string, error) {
	specs, err := checkSpecs(m)
	if err != nil {
		return "", err
	}
	if dtype == (tensor.Dtype{}) {
		dtype = tensor.Float32
	}
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return "", fmt.Errorf("train: Fingerprint: dtype %v is not float32 or float64", dtype)
	}
	if _, err := shapeSize(input); err != nil {
		return "", fmt.Errorf("train: Fingerprint: input shape %v: %v", input, err)
	}
	w := &Weights{dtype: dtype, index: make(map[string]int, len(specs))}
	for _, s := range specs {
		w.add(s.Name, tensor.New(tensor.Of(dtype), tensor.WithShape(s.Shape...)), s.Prunable)
	}
	const batch = 2
	g := gorgonia.NewGraph()
	in := newGraphInput(dtype, batch, input)
	x := gorgonia.NewTensor(g, dtype, 1+len(input), gorgonia.WithShape(in.x.Shape()...), gorgonia.WithName("x"), gorgonia.WithValue(in.x))
	logits, err := forward(m, g, x, weightNodes(g, w), batch)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, s := range specs {
		fmt.Fprintf(h, "param %q %v %v\n", s.Name, s.Shape, s.Prunable)
	}
	nodes := g.AllNodes()
	index := make(map[*gorgonia.Node]int, len(nodes))
	for i, n := range nodes {
		index[n] = i
	}
	for i, n := range nodes {
		op := "input"
		if n.Op() != nil {
			op = n.Op().String()
		}
		fmt.Fprintf(h, "%d %s %v %v <-", i, op, n.Shape(), n.Dtype())
		for it := g.From(n.ID()); it != nil && it.Next(); {
			if c, ok := it.Node().(*gorgonia.Node); ok {
				fmt.Fprintf(h, " %d", index[c])
			}
		}
		fmt.Fprintln(h)
	}
	fmt.Fprintf(h, "logits %d\n", index[logits])
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}
