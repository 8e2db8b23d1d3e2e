package lottery

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// TestAtInitMethods runs every method at initialisation with the shuffle,
// invert and reinit arms and checks what each arm keeps.
func TestAtInitMethods(t *testing.T) {
	for _, method := range []string{MethodSNIP, MethodGraSP, MethodSynFlow, MethodMagnitude, MethodRandom} {
		t.Run(method, func(t *testing.T) {
			e := tiny()
			e.Trials = 1
			e.Levels = 0
			e.Prune = Pruning{Method: method, Sparsity: []float64{0.5, 0.9}}
			if method == MethodSynFlow {
				e.Prune.Rounds = 10
			}
			e.Controls = []string{ArmShuffle, ArmInvert, ArmReinit}
			dir := t.TempDir()
			res, err := Run(context.Background(), dir, e, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(res.Rows), 1+2*4; got != want {
				t.Fatalf("%d rows, want %d", got, want)
			}
			s := store{dir: dir, hash: res.Hash}
			masks := func(level int, arm string) *prune.Masks {
				ms, err := prune.LoadMasks(s.masksPath(Key{0, level, arm}))
				if err != nil {
					t.Fatal(err)
				}
				return ms
			}
			for _, row := range res.Rows {
				if row.Strategy != method {
					t.Errorf("row %+v: strategy %q, want %q", row, row.Strategy, method)
				}
			}
			for level, sp := range e.Prune.Sparsity {
				level++
				ticket := masks(level, ArmTicket)
				if want := keepCount(ticket.Total(), sp); ticket.Kept() != want {
					t.Errorf("level %d: ticket keeps %d, want %d", level, ticket.Kept(), want)
				}
				for _, arm := range []string{ArmShuffle, ArmInvert, ArmReinit} {
					m := masks(level, arm)
					for i := range m.Len() {
						if m.At(i).Kept() != ticket.At(i).Kept() {
							t.Errorf("level %d %s: %s keeps %d, the ticket %d", level, arm, m.At(i).Name(), m.At(i).Kept(), ticket.At(i).Kept())
						}
					}
					if arm != ArmReinit && m.Equal(ticket) {
						t.Errorf("level %d: %s has the ticket's mask", level, arm)
					}
				}
				if method != MethodRandom && level == 2 {
					// Below half kept in each layer, the inverted scores keep none
					// of the weights the ticket keeps, unless scores tie.
					inv := masks(level, ArmInvert)
					both := 0
					for i := range inv.Len() {
						for j := range inv.At(i).Len() {
							if inv.At(i).Keeps(j) && ticket.At(i).Keeps(j) && ticket.At(i).Kept()*2 < ticket.At(i).Len() {
								both++
							}
						}
					}
					if both != 0 && method != MethodSynFlow {
						t.Errorf("level 2: invert and ticket share %d kept weights", both)
					}
				}
			}
			if method != MethodSynFlow && !masks(2, ArmTicket).SubsetOf(masks(1, ArmTicket)) {
				t.Error("one-shot masks of one trial's scores are not nested")
			}
		})
	}
}

// TestAtInitMagnitude: magnitude at initialisation keeps the globally
// largest initial weights.
func TestAtInitMagnitude(t *testing.T) {
	e := tiny()
	e.Trials, e.Levels, e.Controls = 1, 0, nil
	e.Prune = Pruning{Method: MethodMagnitude, Sparsity: []float64{0.8}}
	dir := t.TempDir()
	res, err := Run(context.Background(), dir, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := store{dir: dir, hash: res.Hash}
	w, err := train.LoadWeights(s.initPath(0))
	if err != nil {
		t.Fatal(err)
	}
	want := prune.NewMasks(w.Prunable())
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Count(want.Total() - keepCount(want.Total(), 0.8))}).Prune(want, w.Prunable()); err != nil {
		t.Fatal(err)
	}
	got, err := prune.LoadMasks(s.masksPath(Key{0, 1, ArmTicket}))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Error("magnitude at init: the mask is not the global L1 mask of the initial weights")
	}
}

// TestAtInitRefused: a sparsity that leaves nothing is refused before
// anything is written.
func TestAtInitRefused(t *testing.T) {
	e := tiny()
	e.Prune = Pruning{Method: MethodSNIP, Sparsity: []float64{0.5, 0.99999999}}
	dir := filepath.Join(t.TempDir(), "out")
	_, err := Run(context.Background(), dir, e, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	if want := "prune.sparsity[1]"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to name %s", err, want)
	}
	if _, err := filepath.Glob(filepath.Join(dir, "*")); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("the refused run wrote %v", m)
	}
}

// TestDropoutExperiment: dropout changes the numbers and the hash, and two
// runs give the same numbers.
func TestDropoutExperiment(t *testing.T) {
	e := tiny()
	e.Trials, e.Levels, e.Controls = 1, 1, nil
	d := e
	d.Train.Dropout = 0.5
	if e.Hash() == d.Hash() {
		t.Fatal("dropout does not enter the hash")
	}
	r1, err := Run(context.Background(), t.TempDir(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Run(context.Background(), t.TempDir(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r0, err := Run(context.Background(), t.TempDir(), e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range r1.Results {
		if !r1.Results[i].sameNumbers(r2.Results[i]) {
			t.Errorf("%s: two runs with dropout differ", r1.Results[i].Key())
		}
		if r1.Results[i].sameNumbers(r0.Results[i]) {
			t.Errorf("%s: dropout changed nothing", r1.Results[i].Key())
		}
	}
}
