package metrics_test

import (
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// lenetGroups are the dependency groups of LeNet-300-100 on 784 inputs, as
// train.Groups traces them.
func lenetGroups() prune.Groups {
	dense := func(name, bias, next string, in, out int) prune.Group {
		g := prune.Group{Name: name, Units: out, Shape: []int{in, out}, Members: []prune.Member{
			{Param: name, Dim: 1, Block: 1, Role: prune.Out, Next: -1},
			{Param: bias, Dim: 0, Block: 1, Role: prune.Out, Next: -1},
		}}
		if next != "" {
			g.Members = append(g.Members, prune.Member{Param: next, Dim: 0, Block: 1, Role: prune.In, NextDim: 1})
		} else {
			g.Logits = true
		}
		return g
	}
	return prune.Groups{
		dense("fc1.w", "fc1.b", "fc2.w", 784, 300),
		dense("fc2.w", "fc2.b", "fc3.w", 300, 100),
		dense("fc3.w", "fc3.b", "", 100, 10),
	}
}

func lenetMasks() *prune.Masks {
	var ps []prune.Param
	for _, s := range [][]int{{784, 300}, {300, 100}, {100, 10}} {
		ps = append(ps, prune.Param{Name: fmt.Sprintf("fc%d.w", len(ps)+1), Value: tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))})
	}
	return prune.NewMasks(ps)
}

// pruneColumns prunes the first n columns (output units) of a mask of shape
// [rows, cols].
func pruneColumns(m *prune.Mask, n int) {
	s := m.Shape()
	for r := 0; r < s[0]; r++ {
		for c := 0; c < n; c++ {
			m.Set(r*s[1]+c, false)
		}
	}
}

func TestAccountModel(t *testing.T) {
	gs := lenetGroups()
	dense, err := metrics.AccountModel(gs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dense.Total.FLOPs != 784*300+300*100+100*10 || dense.Total.Size != 266610 {
		t.Errorf("dense: %d FLOPs, size %d", dense.Total.FLOPs, dense.Total.Size)
	}
	// Half of each hidden layer's units, by their columns only: the rows of
	// the next layers that read them do no work either.
	ms := lenetMasks()
	pruneColumns(ms.Mask("fc1.w"), 150)
	pruneColumns(ms.Mask("fc2.w"), 50)
	r, err := metrics.AccountModel(gs, ms)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(784*150 + 150*50 + 50*10); r.Total.FLOPsNZ != want {
		t.Errorf("FLOPsNZ %d, want %d", r.Total.FLOPsNZ, want)
	}
	plain, _ := metrics.Account(metrics.LayersOf(ms), ms)
	if plain.Total.FLOPs != 0 {
		t.Errorf("Account of LayersOf counts %d FLOPs; the test assumed it counts none", plain.Total.FLOPs)
	}
	// The masks are not changed.
	if ms.Mask("fc2.w").Kept() != 300*50 {
		t.Errorf("fc2.w keeps %d after AccountModel", ms.Mask("fc2.w").Kept())
	}
	// Masks of another model.
	other := prune.NewMasks([]prune.Param{{Name: "fc1.w", Value: tensor.New(tensor.WithShape(10, 10), tensor.Of(tensor.Float32))}})
	if _, err := metrics.AccountModel(gs, other); err == nil {
		t.Error("masks of another shape: no error")
	}
	// A convolution's FLOPs count its output positions.
	conv := prune.Groups{{Name: "c.w", Units: 8, Shape: []int{8, 3, 3, 3}, Spatial: []int{6, 6}, Logits: true,
		Members: []prune.Member{{Param: "c.w", Dim: 0, Block: 1, Role: prune.Out}}}}
	cr, err := metrics.AccountModel(conv, nil)
	if err != nil || cr.Total.FLOPs != 8*3*3*3*36 {
		t.Errorf("conv: %v, %v", cr, err)
	}
	if _, err := metrics.ModelLayers(nil); err == nil {
		t.Error("no groups: no error")
	}
}

func TestMeasureLatency(t *testing.T) {
	calls := [2]int{}
	slow := func() error { calls[0]++; time.Sleep(2 * time.Millisecond); return nil }
	fast := func() error { calls[1]++; time.Sleep(200 * time.Microsecond); return nil }
	lat, err := metrics.MeasureLatency(metrics.LatencyConfig{Rounds: 3, RoundTime: 10 * time.Millisecond}, slow, fast)
	if err != nil {
		t.Fatal(err)
	}
	if lat[0].Ms < 2 || lat[1].Ms < 0.2 || lat[0].MinMs > lat[0].Ms {
		t.Errorf("latencies %+v", lat)
	}
	if lat[0].Calls+1 != calls[0] || lat[1].Calls+1 != calls[1] {
		t.Errorf("calls %v, reported %d and %d (plus one warm-up each)", calls, lat[0].Calls, lat[1].Calls)
	}
	if s := lat[1].Speedup(lat[0]); s < 1.5 {
		t.Errorf("speedup of a 0.2 ms call over a 2 ms one: %.2f", s)
	}
	boom := errors.New("boom")
	if _, err := metrics.MeasureLatency(metrics.LatencyConfig{}, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("a failing function: %v", err)
	}
	for _, c := range []metrics.LatencyConfig{{Rounds: -1}, {RoundTime: -time.Second}} {
		if _, err := metrics.MeasureLatency(c, fast); err == nil || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if _, err := metrics.MeasureLatency(metrics.LatencyConfig{}); err == nil {
		t.Error("no functions: no error")
	}
}

// FLOPs counted from a traced model: pruning half of each hidden layer's
// units saves 2.12× the multiply-accumulates, not the 1.99× that counting
// only the pruned weights says.
func ExampleAccountModel() {
	groups := lenetGroups() // train.Groups(model, shape) for a train.Model
	masks := lenetMasks()
	pruneColumns(masks.Mask("fc1.w"), 150) // half of fc1's units
	pruneColumns(masks.Mask("fc2.w"), 50)  // half of fc2's
	r, err := metrics.AccountModel(groups, masks)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d of %d FLOPs, %.2f× fewer\n", r.Total.FLOPsNZ, r.Total.FLOPs, r.Total.TheoreticalSpeedup)
	// Output:
	// 125600 of 266200 FLOPs, 2.12× fewer
}
