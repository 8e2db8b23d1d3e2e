package metrics

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/shearsml/shears/prune"
)

func lenet300100() []Layer {
	return []Layer{
		DenseLayer("fc1", 784, 300, true),
		DenseLayer("fc2", 300, 100, true),
		DenseLayer("fc3", 100, 10, true),
	}
}

// lenet5 is LeCun et al.'s LeNet-5 on 28×28 MNIST as it is usually built
// today: conv 5×5 with padding 2 to 6 maps, 2×2 pooling, conv 5×5 to 16
// maps, 2×2 pooling, then 400→120→84→10.
func lenet5() []Layer {
	return []Layer{
		ConvLayer("conv1", 1, 6, 5, 28, 28, 1, 2, true),
		ConvLayer("conv2", 6, 16, 5, 14, 14, 1, 0, true),
		DenseLayer("fc1", 16*5*5, 120, true),
		DenseLayer("fc2", 120, 84, true),
		DenseLayer("fc3", 84, 10, true),
	}
}

// masksKeeping returns masks for layers that keep the first keep[i]
// weights of layer i (flat order).
func masksKeeping(t *testing.T, layers []Layer, keep []int) *prune.Masks {
	t.Helper()
	var ms []*prune.Mask
	for i, l := range layers {
		m, err := prune.NewMask(l.Name, l.Shape)
		if err != nil {
			t.Fatal(err)
		}
		for j := keep[i]; j < m.Len(); j++ {
			m.Set(j, false)
		}
		ms = append(ms, m)
	}
	masks, err := prune.NewMasksOf(ms...)
	if err != nil {
		t.Fatal(err)
	}
	return masks
}

func TestAccountLeNet300100(t *testing.T) {
	layers := lenet300100()
	r, err := Account(layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	// By hand: 784·300 + 300·100 + 100·10 multiply-accumulates.
	if r.Total.FLOPs != 784*300+300*100+100*10 {
		t.Errorf("dense FLOPs = %d, want 266200", r.Total.FLOPs)
	}
	if r.Total.FLOPsNZ != r.Total.FLOPs || r.Total.TheoreticalSpeedup != 1 || r.Total.CompressionRatio != 1 {
		t.Errorf("unpruned: flops_nz %d, speedup %v, compression %v", r.Total.FLOPsNZ, r.Total.TheoreticalSpeedup, r.Total.CompressionRatio)
	}
	// 266,200 weights and 300+100+10 biases.
	if r.Total.Size != 266610 || r.Total.Weights != 266200 || r.Total.SizeNZ != 266610 {
		t.Errorf("size %d weights %d size_nz %d, want 266610 266200 266610", r.Total.Size, r.Total.Weights, r.Total.SizeNZ)
	}

	// The lottery-ticket rates after one round: hidden layers keep 80%,
	// the output layer 90%.
	keep := []int{188160, 24000, 900}
	r, err = Account(layers, masksKeeping(t, layers, keep))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		flops, nz int64
		sparsity  float64
	}{{235200, 188160, 0.2}, {30000, 24000, 0.2}, {1000, 900, 0.1}}
	for i, w := range want {
		s := r.Layers[i]
		if s.FLOPs != w.flops || s.FLOPsNZ != w.nz || math.Abs(s.Sparsity-w.sparsity) > 1e-12 {
			t.Errorf("layer %s: flops %d/%d sparsity %v, want %d/%d %v", s.Name, s.FLOPs, s.FLOPsNZ, s.Sparsity, w.flops, w.nz, w.sparsity)
		}
	}
	if r.Total.FLOPsNZ != 213060 {
		t.Errorf("flops_nz = %d, want 213060", r.Total.FLOPsNZ)
	}
	if got, want := r.Total.TheoreticalSpeedup, 266200.0/213060; got != want {
		t.Errorf("theoretical_speedup = %v, want %v", got, want)
	}
	if got, want := r.Total.CompressionRatio, 266610.0/(213060+410); got != want {
		t.Errorf("compression_ratio = %v, want %v", got, want)
	}
	if got, want := r.Total.Sparsity, float64(266200-213060)/266200; got != want {
		t.Errorf("sparsity = %v, want %v", got, want)
	}
}

func TestAccountLeNet5(t *testing.T) {
	layers := lenet5()
	r, err := Account(layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	// By hand, multiply-accumulates per example:
	//   conv1: 6·1·5·5 = 150 weights × 28·28 outputs  = 117,600
	//   conv2: 16·6·5·5 = 2,400 weights × 10·10        = 240,000
	//   fc1 400·120 = 48,000; fc2 120·84 = 10,080; fc3 84·10 = 840
	want := []int64{117600, 240000, 48000, 10080, 840}
	var total int64
	for i, w := range want {
		if r.Layers[i].FLOPs != w {
			t.Errorf("%s: %d FLOPs, want %d", r.Layers[i].Name, r.Layers[i].FLOPs, w)
		}
		total += w
	}
	if total != 416520 || r.Total.FLOPs != total {
		t.Errorf("total FLOPs %d, want 416520", r.Total.FLOPs)
	}
	// LeNet-5's well-known 61,706 parameters: 61,470 weights, 236 biases.
	if r.Total.Size != 61706 || r.Total.Weights != 61470 {
		t.Errorf("size %d weights %d, want 61706 61470", r.Total.Size, r.Total.Weights)
	}

	// Keep half of conv2: each kept kernel weight still runs at all 100
	// output positions.
	keep := []int{150, 1200, 48000, 10080, 840}
	r, err = Account(layers, masksKeeping(t, layers, keep))
	if err != nil {
		t.Fatal(err)
	}
	if r.Layers[1].FLOPsNZ != 120000 || r.Total.FLOPsNZ != 416520-120000 {
		t.Errorf("conv2 flops_nz %d total %d, want 120000 %d", r.Layers[1].FLOPsNZ, r.Total.FLOPsNZ, 416520-120000)
	}
	if r.Layers[1].TheoreticalSpeedup != 2 || r.Layers[1].Sparsity != 0.5 {
		t.Errorf("conv2 speedup %v sparsity %v, want 2 0.5", r.Layers[1].TheoreticalSpeedup, r.Layers[1].Sparsity)
	}
}

func TestConvOutSize(t *testing.T) {
	tests := []struct {
		l    Layer
		want [2]int
	}{
		{ConvLayer("same", 3, 8, 3, 32, 32, 1, 1, false), [2]int{32, 32}},
		{ConvLayer("valid", 3, 8, 3, 32, 32, 1, 0, false), [2]int{30, 30}},
		{ConvLayer("stride2", 3, 8, 3, 32, 32, 2, 1, false), [2]int{16, 16}},
		{ConvLayer("stride2odd", 3, 8, 3, 7, 7, 2, 0, false), [2]int{3, 3}},
		{Layer{Name: "rect", Kind: Conv, Shape: []int{4, 2, 3, 1}, In: [2]int{10, 5}, Stride: [2]int{1, 2}}, [2]int{8, 3}},
		{Layer{Name: "dilated", Kind: Conv, Shape: []int{4, 2, 3, 3}, In: [2]int{10, 10}, Dilation: [2]int{2, 2}}, [2]int{6, 6}},
		{Layer{Name: "given", Kind: Conv, Shape: []int{4, 2, 3, 3}, Out: [2]int{7, 9}}, [2]int{7, 9}},
	}
	for _, tt := range tests {
		got, err := tt.l.OutSize()
		if err != nil {
			t.Errorf("%s: %v", tt.l.Name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: out %v, want %v", tt.l.Name, got, tt.want)
		}
	}
}

func TestAccountErrors(t *testing.T) {
	layers := lenet300100()
	bad := []struct {
		name   string
		layers []Layer
		masks  *prune.Masks
		want   string
	}{
		{"none", nil, nil, "no layers"},
		{"dense shape", []Layer{{Name: "a", Kind: Dense, Shape: []int{3}}}, nil, "not [in, out]"},
		{"conv shape", []Layer{{Name: "a", Kind: Conv, Shape: []int{3, 3}}}, nil, "not [out, in, kh, kw]"},
		{"zero dim", []Layer{{Name: "a", Kind: Dense, Shape: []int{3, 0}}}, nil, "not positive"},
		{"kind", []Layer{{Name: "a", Kind: "lstm", Shape: []int{3, 3}}}, nil, "unknown kind"},
		{"no name", []Layer{{Kind: Dense, Shape: []int{3, 3}}}, nil, "empty name"},
		{"no spatial", []Layer{{Name: "c", Kind: Conv, Shape: []int{1, 1, 3, 3}}}, nil, "neither input nor output"},
		{"kernel too big", []Layer{ConvLayer("c", 1, 1, 5, 3, 3, 1, 0, false)}, nil, "larger than the padded input"},
		{"out mismatch", []Layer{{Name: "c", Kind: Conv, Shape: []int{1, 1, 3, 3}, In: [2]int{8, 8}, Out: [2]int{8, 6}}}, nil, "does not match"},
		{"duplicate", []Layer{layers[0], layers[0]}, nil, "appears twice"},
		{"mask size", layers[:1], masksKeeping(t, []Layer{DenseLayer("fc1", 10, 10, false)}, []int{5}), "has 235200 weights but its mask has 100"},
		{"stray mask", layers[:1], masksKeeping(t, layers, []int{1, 1, 1}), `mask "fc2" matches no layer`},
		{"negative bias", []Layer{{Name: "a", Kind: Dense, Shape: []int{3, 3}, Bias: -1}}, nil, "negative bias"},
	}
	for _, tt := range bad {
		_, err := Account(tt.layers, tt.masks)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestAccountAllPruned(t *testing.T) {
	layers := []Layer{DenseLayer("fc", 4, 2, false)}
	r, err := Account(layers, masksKeeping(t, layers, []int{0}))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(r.Total.TheoreticalSpeedup, 1) || !math.IsInf(r.Total.CompressionRatio, 1) || r.Total.Sparsity != 1 {
		t.Errorf("all pruned: %+v", r.Total)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Total map[string]any `json:"total"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Total["theoretical_speedup"]; !ok || v != nil {
		t.Errorf("JSON theoretical_speedup = %v (present %v), want null", v, ok)
	}
	if !strings.Contains(r.String(), "inf") {
		t.Errorf("table does not show inf:\n%s", r)
	}
}

func TestLayersOfAndOther(t *testing.T) {
	layers := lenet300100()
	ms := masksKeeping(t, layers, []int{100, 200, 300})
	r, err := Account(LayersOf(ms), ms)
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.FLOPs != 0 || r.Total.TheoreticalSpeedup != 1 {
		t.Errorf("Other layers count FLOPs: %+v", r.Total)
	}
	if r.Total.Kept != 600 || r.Total.Weights != 266200 || r.Total.Sparsity != ms.Sparsity() {
		t.Errorf("kept %d weights %d sparsity %v (masks: %v)", r.Total.Kept, r.Total.Weights, r.Total.Sparsity, ms.Sparsity())
	}
}

func TestReportCSVJSON(t *testing.T) {
	layers := lenet300100()
	r, err := Account(layers, masksKeeping(t, layers, []int{188160, 24000, 900}))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || strings.Join(recs[0], ",") != strings.Join(reportColumns, ",") {
		t.Fatalf("CSV records %d, header %v", len(recs), recs[0])
	}
	if got := recs[4]; got[0] != "total" || got[9] != "266200" || got[10] != "213060" {
		t.Errorf("total record %v", got)
	}
	if got := recs[1]; got[2] != "784x300" || got[5] != "0.2" {
		t.Errorf("fc1 record %v", got)
	}
	b.Reset()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Layers []map[string]any `json:"layers"`
		Total  map[string]any   `json:"total"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"size", "size_nz", "compression_ratio", "flops", "flops_nz", "theoretical_speedup"} {
		if _, ok := back.Total[k]; !ok {
			t.Errorf("JSON total has no %q: %v", k, back.Total)
		}
	}
	if back.Total["flops_nz"] != 213060.0 || len(back.Layers) != 3 {
		t.Errorf("JSON total %v, %d layers", back.Total, len(back.Layers))
	}
}

func TestReportTableAligned(t *testing.T) {
	r, err := Account(lenet5(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(r.String(), "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7:\n%s", len(lines), r)
	}
	// Right-aligned columns: every line has the same length.
	for _, l := range lines {
		if len(l) != len(lines[0]) {
			t.Errorf("unaligned table:\n%s", r)
			break
		}
	}
}

// TestAccountOverflow: shapes, biases, FLOPs and totals that do not fit an
// int64 are errors, never negative or zero sizes.
func TestAccountOverflow(t *testing.T) {
	big := 1 << 32
	for name, layers := range map[string][]Layer{
		"dense shape": {DenseLayer("fc", big, big, false)},
		"other shape": {{Name: "w", Kind: Other, Shape: []int{big, big, big}}},
		"bias":        {{Name: "fc", Kind: Dense, Shape: []int{1 << 31, 1 << 31}, Bias: math.MaxInt64 - 10}},
		"conv flops":  {ConvLayer("conv", 1<<20, 1<<20, 1, 1<<29, 1<<29, 1, 0, false)},
		"conv sizes":  {ConvLayer("conv", 1, 1, 3, math.MaxInt64/2, 28, 1, math.MaxInt64/4, false)},
		"totals":      {DenseLayer("a", 1<<31, 1<<31-1, false), DenseLayer("b", 1<<31, 1<<31-1, false), DenseLayer("c", 1<<31, 1<<31-1, false), DenseLayer("d", 1<<31, 1<<31-1, false), DenseLayer("e", 1<<31, 1<<31-1, false)},
	} {
		r, err := Account(layers, nil)
		if err == nil {
			t.Errorf("%s: no error; total %+v", name, r.Total)
			continue
		}
		if !strings.HasPrefix(err.Error(), "metrics: ") || !strings.Contains(err.Error(), "int64") && !strings.Contains(err.Error(), "over") {
			t.Errorf("%s: error %q does not say what overflows", name, err)
		}
	}
	// Large but representable: exact.
	r, err := Account([]Layer{DenseLayer("fc", 1<<31, 1<<30, true)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1) << 61; r.Total.Weights != want || r.Total.FLOPs != want || r.Total.Size != want+1<<30 {
		t.Errorf("total %+v, want %d weights and FLOPs", r.Total, want)
	}
}
