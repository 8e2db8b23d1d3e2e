package prune

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The vectors in testdata/torch are written by
// scripts/torch_prune_reference.py with torch.nn.utils.prune (PyTorch 1.13):
// fixed weights without ties, sequences of l1_unstructured, ln_structured
// (n = 1 or 2, every dim) and global_unstructured(L1Unstructured) calls, and
// torch's mask after every call. The Go pruners must give the same masks, bit
// for bit, from float32 and from float64 weights.

type torchVectors struct {
	Torch   string `json:"torch"`
	Tensors map[string]struct {
		Shape   []int     `json:"shape"`
		Weights []float64 `json:"weights"`
	} `json:"tensors"`
	Cases []struct {
		Tensors []string `json:"tensors"`
		Steps   []struct {
			Op       string   `json:"op"`
			Fraction *float64 `json:"fraction"`
			Count    *int     `json:"count"`
			N        int      `json:"n"`
			Dim      int      `json:"dim"`
		} `json:"steps"`
		Masks [][][]int `json:"masks"` // per step, per tensor
	} `json:"cases"`
}

func TestTorchVectors(t *testing.T) {
	for _, file := range []string{"unstructured", "structured", "global"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "torch", file+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var v torchVectors
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			if len(v.Cases) == 0 {
				t.Fatal("no cases")
			}
			for ci, c := range v.Cases {
				for _, f32 := range []bool{true, false} {
					params := make([]Param, len(c.Tensors))
					for i, name := range c.Tensors {
						tv := v.Tensors[name]
						if f32 {
							w := make([]float32, len(tv.Weights))
							for j, x := range tv.Weights {
								w[j] = float32(x)
								if float64(w[j]) != x {
									t.Fatalf("weight %v of %s is not a float32", x, name)
								}
							}
							params[i] = Param{Name: name, Value: dense32(tv.Shape, w)}
						} else {
							params[i] = Param{Name: name, Value: dense64(tv.Shape, append([]float64(nil), tv.Weights...))}
						}
					}
					ms := NewMasks(params)
					for si, st := range c.Steps {
						var a Amount
						switch {
						case st.Count != nil:
							a = Count(*st.Count)
						case st.Fraction != nil:
							a = Fraction(*st.Fraction)
						default:
							t.Fatalf("case %d step %d: no amount", ci, si)
						}
						var pr Pruner
						switch st.Op {
						case "l1_unstructured":
							pr = Unstructured{Scorer: L1{}, Amount: a}
						case "global_unstructured":
							pr = Global{Scorer: L1{}, Amount: a}
						case "ln_structured":
							var s Scorer = L1{}
							if st.N == 2 {
								s = L2{}
							}
							pr = Structured{Scorer: s, Dim: st.Dim, Amount: a}
						default:
							t.Fatalf("unknown op %q", st.Op)
						}
						desc := fmt.Sprintf("case %d (%v) step %d %s %+v f32=%v", ci, c.Tensors, si, st.Op, a, f32)
						if err := pr.Prune(ms, params); err != nil {
							t.Fatalf("%s: %v", desc, err)
						}
						for ti := range params {
							want := c.Masks[si][ti]
							m := ms.At(ti)
							if len(want) != m.Len() {
								t.Fatalf("%s: torch mask has %d entries, ours %d", desc, len(want), m.Len())
							}
							for j, w := range want {
								if m.Keeps(j) != (w == 1) {
									t.Fatalf("%s: tensor %s entry %d: torch keeps=%v, ours %v", desc, c.Tensors[ti], j, w == 1, m.Keeps(j))
								}
							}
						}
					}
				}
			}
		})
	}
}
