package metrics

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// reportColumns are the CSV columns of a Report, in order.
var reportColumns = []string{
	"name", "kind", "shape", "weights", "weights_nz", "sparsity",
	"size", "size_nz", "compression_ratio", "flops", "flops_nz", "theoretical_speedup",
}

// WriteTable writes r as a table aligned with text/tabwriter: one line per
// layer and a last line for the total. Sparsity is printed in percent,
// ratios with two decimals, and "inf" when nothing is left.
func (r *Report) WriteTable(w io.Writer) error {
	all := append(append([]Stats(nil), r.Layers...), r.Total)
	text := make([][3]string, len(all))
	width := [3]int{len("layer"), len("kind"), len("shape")}
	for i, s := range all {
		text[i] = [3]string{s.Name, string(s.Kind), shapeString(s.Shape)}
		for j := range text[i] {
			if text[i][j] == "" {
				text[i][j] = "-"
			}
			width[j] = max(width[j], utf8.RuneCountInString(text[i][j]))
		}
	}
	// Text columns left-aligned (padded here), numbers right-aligned.
	pad := func(s string, j int) string { return s + strings.Repeat(" ", width[j]-utf8.RuneCountInString(s)) }
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t%s\t%s\tsize\tsize_nz\tsparsity\tcompression_ratio\tflops\tflops_nz\ttheoretical_speedup\t\n",
		pad("layer", 0), pad("kind", 1), pad("shape", 2))
	for i, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.2f%%\t%s\t%d\t%d\t%s\t\n",
			pad(text[i][0], 0), pad(text[i][1], 1), pad(text[i][2], 2), s.Size, s.SizeNZ, 100*s.Sparsity,
			fmtRatio(s.CompressionRatio), s.FLOPs, s.FLOPsNZ, fmtRatio(s.TheoreticalSpeedup))
	}
	tw.Flush()
	// AlignRight pads every cell on its left, the first one too: drop that.
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
		out.Write(bytes.TrimPrefix(line, []byte("  ")))
	}
	_, err := w.Write(out.Bytes())
	return err
}

// String returns the table WriteTable writes.
func (r *Report) String() string {
	var b strings.Builder
	r.WriteTable(&b) // a strings.Builder never fails
	return b.String()
}

// WriteCSV writes r as CSV: a header, one record per layer and a last record
// named "total". The columns are name, kind, shape (dimensions joined by
// "x"), weights, weights_nz, sparsity (a fraction), size, size_nz,
// compression_ratio, flops, flops_nz, theoretical_speedup. Floats use the
// shortest representation that reads back exactly; an infinite ratio is
// written "+Inf".
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportColumns); err != nil {
		return fmt.Errorf("metrics: writing report CSV: %w", err)
	}
	for _, s := range append(append([]Stats(nil), r.Layers...), r.Total) {
		rec := []string{
			s.Name, string(s.Kind), shapeString(s.Shape),
			strconv.FormatInt(s.Weights, 10), strconv.FormatInt(s.Kept, 10), fmtFloat(s.Sparsity),
			strconv.FormatInt(s.Size, 10), strconv.FormatInt(s.SizeNZ, 10), fmtFloat(s.CompressionRatio),
			strconv.FormatInt(s.FLOPs, 10), strconv.FormatInt(s.FLOPsNZ, 10), fmtFloat(s.TheoreticalSpeedup),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("metrics: writing report CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("metrics: writing report CSV: %w", err)
	}
	return nil
}

// WriteJSON writes r as indented JSON: {"layers": [...], "total": {...}},
// each entry with ShrinkBench's keys (size, size_nz, compression_ratio,
// flops, flops_nz, theoretical_speedup) and weights, weights_nz, sparsity.
// An infinite ratio is written as null.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("metrics: encoding report JSON: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("metrics: writing report JSON: %w", err)
	}
	return nil
}

// MarshalJSON encodes s with its JSON keys, writing infinite ratios as null
// (JSON has no infinity).
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		plain
		CompressionRatio   *float64 `json:"compression_ratio"`
		TheoreticalSpeedup *float64 `json:"theoretical_speedup"`
	}{plain(s), finitePtr(s.CompressionRatio), finitePtr(s.TheoreticalSpeedup)})
}

func finitePtr(f float64) *float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	return &f
}

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}

func fmtRatio(f float64) string {
	if math.IsInf(f, 1) {
		return "inf"
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
