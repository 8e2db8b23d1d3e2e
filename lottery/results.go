package lottery

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/metrics"
)

// Results are the rows of an experiment's output folder.
type Results struct {
	// Dir is the output folder.
	Dir string
	// Experiment is the description, defaults written out; Hash its hash.
	Experiment Experiment
	Hash       string
	// Shard is the part of the sweep the rows cover.
	Shard Shard
	// Rows holds one row per finished trial × level × arm, ordered by
	// trial, level and arm (ticket, reinit, random).
	Rows []metrics.Row
	// Results holds the full result of each row, in the same order.
	Results []*Result
	// Instability holds one row per trial, level and rewind point of the
	// instability analysis (Experiment.Instability), ordered by trial,
	// level and k.
	Instability []InstabilityRow
	// Missing lists the trainings of the sweep (within Shard) that have no
	// result yet. Run and Merge return complete results.
	Missing []Key
}

// InstabilityRow is the instability analysis of one trial and level from
// one rewind point.
type InstabilityRow struct {
	Trial int `json:"trial"`
	Level int `json:"level"`
	// Remaining is the fraction of the prunable weights the level keeps.
	Remaining float64 `json:"remaining"`
	Path
}

// Row returns the results.csv row of r.
func (r *Result) Row() metrics.Row {
	return metrics.Row{
		Trial:                 r.Trial,
		Level:                 r.Level,
		Arm:                   r.Arm,
		Remaining:             r.Remaining,
		TestAccuracy:          r.Final.TestAccuracy,
		TestLoss:              r.Final.TestLoss,
		EarlyStopIteration:    r.EarlyStop.Iteration,
		EarlyStopTestAccuracy: r.EarlyStop.TestAccuracy,
		TrainSeconds:          r.TrainSeconds,
	}
}

// keys returns the trainings of e within shard, in row order.
func (e Experiment) keys(sh Shard) []Key {
	var out []Key
	for _, t := range sh.trials(e.Trials) {
		for l := 0; l <= e.Levels; l++ {
			for _, a := range e.arms(l) {
				out = append(out, Key{t, l, a})
			}
		}
	}
	return out
}

// collect reads the results of every training of e within sh.
func collect(s store, e Experiment, sh Shard) (*Results, error) {
	res := &Results{Dir: s.dir, Experiment: e, Hash: s.hash, Shard: sh}
	for _, k := range e.keys(sh) {
		r, err := s.readResult(k)
		if err != nil {
			return nil, err
		}
		if r == nil {
			res.Missing = append(res.Missing, k)
			continue
		}
		res.Results = append(res.Results, r)
		row := r.Row()
		row.Strategy = e.Prune.Method
		res.Rows = append(res.Rows, row)
	}
	for _, k := range e.instabilityKeys(sh) {
		r, err := s.readResult(k)
		if err != nil {
			return nil, err
		}
		if r == nil {
			res.Missing = append(res.Missing, k)
			continue
		}
		if _, c, _ := parseInstabilityArm(k.Arm); c == "b" {
			if r.Instability == nil || len(r.Instability.Points) != e.InstabilityPoints {
				return nil, fmt.Errorf("lottery: %s: the stored instability path does not have the %d points instability_points asks for: run it into another folder", s.resultPath(k), e.InstabilityPoints)
			}
			res.Instability = append(res.Instability, InstabilityRow{Trial: k.Trial, Level: k.Level, Remaining: r.Remaining, Path: *r.Instability})
		}
	}
	return res, nil
}

// Load reads the results found in an output folder: those of every trial,
// level and arm its experiment.json asks for that have finished. Missing
// lists the others. A damaged or foreign file is an error naming it.
func Load(dir string) (*Results, error) {
	path := filepath.Join(dir, experimentFile)
	e, hash, err := readExperimentFile(path)
	if err != nil {
		if errNotExist(err) {
			return nil, fmt.Errorf("lottery: %s: no %s: not an output folder of lottery", dir, experimentFile)
		}
		return nil, err
	}
	e = e.WithDefaults()
	return collect(store{dir: dir, hash: hash}, e, Shard{})
}

// missingError describes the trainings still missing.
func missingError(dir string, missing []Key) error {
	var b strings.Builder
	for i, k := range missing {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(missing)-5)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.String())
	}
	return fmt.Errorf("lottery: %s: %d results missing: %s", dir, len(missing), b.String())
}

// SummaryRow is the summary of one arm at one level over trials: for each
// value its mean, sample standard deviation, min and max.
type SummaryRow struct {
	Level     int     `json:"level"`
	Arm       string  `json:"arm"`
	Remaining float64 `json:"remaining"`
	// Trials is the number of trials summarised.
	Trials                int  `json:"trials"`
	TestAccuracy          Stat `json:"test_accuracy"`
	TestLoss              Stat `json:"test_loss"`
	EarlyStopIteration    Stat `json:"early_stop_iteration"`
	EarlyStopTestAccuracy Stat `json:"early_stop_test_accuracy"`
}

// Stat is the spread of one value over trials.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Summary returns one SummaryRow per level and arm, ordered by level, then
// arm (ticket, reinit, random), through metrics.Summarize. It is an error
// to summarise no rows.
func (r *Results) Summary() ([]SummaryRow, error) {
	values := []func(metrics.Row) float64{
		func(r metrics.Row) float64 { return r.TestAccuracy },
		metrics.TestLoss,
		metrics.EarlyStopIteration,
		func(r metrics.Row) float64 { return r.EarlyStopTestAccuracy },
	}
	var sums [][]metrics.Summary
	for _, v := range values {
		s, err := metrics.Summarize(r.Rows, v)
		if err != nil {
			return nil, fmt.Errorf("lottery: summary: %w", err)
		}
		sums = append(sums, s)
	}
	out := make([]SummaryRow, len(sums[0]))
	stat := func(s metrics.Summary) Stat { return Stat{s.Mean, s.Std, s.Min, s.Max} }
	for i, s := range sums[0] {
		out[i] = SummaryRow{
			Level: s.Level, Arm: s.Arm, Remaining: s.Remaining, Trials: s.N,
			TestAccuracy:          stat(s),
			TestLoss:              stat(sums[1][i]),
			EarlyStopIteration:    stat(sums[2][i]),
			EarlyStopTestAccuracy: stat(sums[3][i]),
		}
	}
	// metrics orders by arm, then level; a table reads better by level.
	rank := map[string]int{}
	for i, a := range metrics.ArmOrder(r.Rows) {
		rank[a] = i
	}
	slices.SortStableFunc(out, func(a, b SummaryRow) int {
		if a.Level != b.Level {
			return cmp.Compare(a.Level, b.Level)
		}
		return cmp.Compare(rank[a.Arm], rank[b.Arm])
	})
	return out, nil
}

// summaryColumns are the columns of summary.csv.
var summaryColumns = func() []string {
	cols := []string{"level", "arm", "remaining", "trials"}
	for _, v := range []string{"test_accuracy", "test_loss", "early_stop_iteration", "early_stop_test_accuracy"} {
		for _, s := range []string{"mean", "std", "min", "max"} {
			cols = append(cols, v+"_"+s)
		}
	}
	return cols
}()

// WriteSummaryCSV writes the summary as CSV: level, arm, remaining, trials,
// then mean, std, min and max of test_accuracy, test_loss,
// early_stop_iteration and early_stop_test_accuracy.
func WriteSummaryCSV(w io.Writer, summary []SummaryRow) error {
	cw := csv.NewWriter(w)
	cw.Write(summaryColumns)
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for _, s := range summary {
		rec := []string{strconv.Itoa(s.Level), s.Arm, f(s.Remaining), strconv.Itoa(s.Trials)}
		for _, st := range []Stat{s.TestAccuracy, s.TestLoss, s.EarlyStopIteration, s.EarlyStopTestAccuracy} {
			rec = append(rec, f(st.Mean), f(st.Std), f(st.Min), f(st.Max))
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("lottery: writing summary: %w", err)
	}
	return nil
}

// WriteFiles writes results.csv, results.json (the rows, and the summary
// under the key "summary"; metrics.ReadRowsJSON reads it) and summary.csv
// into r.Dir, each atomically, and, with an instability analysis,
// instability.csv and instability_summary.csv.
func (r *Results) WriteFiles() error {
	if len(r.Rows) == 0 {
		return errors.New("lottery: no results to write")
	}
	sum, err := r.Summary()
	if err != nil {
		return err
	}
	var csvBuf bytes.Buffer
	if err := metrics.WriteRowsCSV(&csvBuf, r.Rows); err != nil {
		return fmt.Errorf("lottery: %w", err)
	}
	// Validate the rows through metrics (NaN, ranges) before writing our own
	// JSON layout.
	if err := metrics.WriteRowsJSON(io.Discard, r.Rows); err != nil {
		return fmt.Errorf("lottery: %w", err)
	}
	js, err := json.MarshalIndent(struct {
		Experiment string        `json:"experiment"`
		Rows       []metrics.Row `json:"rows"`
		Summary    []SummaryRow  `json:"summary"`
	}{r.Hash, r.Rows, sum}, "", "  ")
	if err != nil {
		return fmt.Errorf("lottery: encoding results: %w", err)
	}
	var sumBuf bytes.Buffer
	if err := WriteSummaryCSV(&sumBuf, sum); err != nil {
		return err
	}
	type file struct {
		name string
		data []byte
	}
	files := []file{{resultsCSV, csvBuf.Bytes()}, {resultsJSON, append(js, '\n')}, {summaryCSV, sumBuf.Bytes()}}
	if len(r.Instability) > 0 {
		var ib, sb bytes.Buffer
		if err := WriteInstabilityCSV(&ib, r.Instability); err != nil {
			return err
		}
		if err := WriteInstabilitySummaryCSV(&sb, r.InstabilitySummary()); err != nil {
			return err
		}
		files = append(files, file{instabilityCSV, ib.Bytes()}, file{instabilitySum, sb.Bytes()})
	}
	for _, f := range files {
		path := filepath.Join(r.Dir, f.name)
		if err := atomicfile.WriteFile(path, f.data, 0o644); err != nil {
			return fmt.Errorf("lottery: writing %s: %w", path, err)
		}
	}
	return nil
}

// WriteTable writes the final test accuracy per level and arm, in percent,
// as an aligned table: one line per level, one column per arm, each cell the
// mean over trials and, with several trials, [min, max].
func (r *Results) WriteTable(w io.Writer) error {
	if len(r.Rows) == 0 {
		_, err := fmt.Fprintln(w, "no results")
		return err
	}
	sum, err := r.Summary()
	if err != nil {
		return err
	}
	arms := metrics.ArmOrder(r.Rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "level\tremaining")
	for _, a := range arms {
		fmt.Fprintf(tw, "\t%s", a)
	}
	fmt.Fprintln(tw)
	byLevel := map[int]map[string]SummaryRow{}
	var levels []int
	for _, s := range sum {
		if byLevel[s.Level] == nil {
			byLevel[s.Level] = map[string]SummaryRow{}
			levels = append(levels, s.Level)
		}
		byLevel[s.Level][s.Arm] = s
	}
	for _, l := range levels {
		var rem float64
		for _, a := range arms { // the first arm present: the ticket
			if s, ok := byLevel[l][a]; ok {
				rem = s.Remaining
				break
			}
		}
		fmt.Fprintf(tw, "%d\t%s", l, fmtPercent(rem))
		for _, a := range arms {
			s, ok := byLevel[l][a]
			switch {
			case !ok:
				fmt.Fprint(tw, "\t-")
			case s.Trials <= 1:
				fmt.Fprintf(tw, "\t%.1f", 100*s.TestAccuracy.Mean)
			default:
				st := s.TestAccuracy
				fmt.Fprintf(tw, "\t%.1f [%.1f, %.1f]", 100*st.Mean, 100*st.Min, 100*st.Max)
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func fmtPercent(f float64) string {
	p := 100 * f
	switch {
	case p >= 10:
		return fmt.Sprintf("%.1f%%", p)
	case p >= 1:
		return fmt.Sprintf("%.2f%%", p)
	}
	return fmt.Sprintf("%.3g%%", p)
}

// InstabilitySummaryRow is the error barrier of one level and rewind point
// over trials.
type InstabilitySummaryRow struct {
	Level     int     `json:"level"`
	Remaining float64 `json:"remaining"`
	K         int     `json:"k"`
	Trials    int     `json:"trials"`
	Barrier   Stat    `json:"barrier"`
	// LossBarrier is the barrier of the test loss.
	LossBarrier Stat `json:"loss_barrier"`
}

// InstabilitySummary returns the barrier per level and k, ordered by level
// and k.
func (r *Results) InstabilitySummary() []InstabilitySummaryRow {
	type lk struct{ level, k int }
	groups := map[lk][]InstabilityRow{}
	var order []lk
	for _, row := range r.Instability {
		g := lk{row.Level, row.K}
		if groups[g] == nil {
			order = append(order, g)
		}
		groups[g] = append(groups[g], row)
	}
	slices.SortFunc(order, func(a, b lk) int {
		if a.level != b.level {
			return cmp.Compare(a.level, b.level)
		}
		return cmp.Compare(a.k, b.k)
	})
	var out []InstabilitySummaryRow
	for _, g := range order {
		rows := groups[g]
		var bs, ls []float64
		for _, row := range rows {
			bs, ls = append(bs, row.Barrier), append(ls, row.LossBarrier)
		}
		out = append(out, InstabilitySummaryRow{Level: g.level, Remaining: rows[0].Remaining, K: g.k, Trials: len(rows), Barrier: statOf(bs), LossBarrier: statOf(ls)})
	}
	return out
}

// statOf returns the mean, sample standard deviation (0 for one value),
// min and max of xs.
func statOf(xs []float64) Stat {
	s := Stat{Min: xs[0], Max: xs[0]}
	for _, x := range xs {
		s.Mean += x
		s.Min, s.Max = min(s.Min, x), max(s.Max, x)
	}
	s.Mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			s.Std += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(s.Std / float64(len(xs)-1))
	}
	return s
}

// InstabilityColumns are the columns of instability.csv.
var InstabilityColumns = []string{"trial", "level", "k", "alpha", "test_accuracy", "test_loss"}

// WriteInstabilityCSV writes one record per point of every path: trial,
// level, k, alpha, test_accuracy, test_loss.
func WriteInstabilityCSV(w io.Writer, rows []InstabilityRow) error {
	cw := csv.NewWriter(w)
	cw.Write(InstabilityColumns)
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for _, r := range rows {
		for _, p := range r.Points {
			cw.Write([]string{strconv.Itoa(r.Trial), strconv.Itoa(r.Level), strconv.Itoa(r.K), f(p.Alpha), f(p.TestAccuracy), f(p.TestLoss)})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("lottery: writing instability: %w", err)
	}
	return nil
}

// WriteInstabilitySummaryCSV writes level, remaining, k, trials, then mean,
// std, min and max of the error barrier and of the loss barrier.
func WriteInstabilitySummaryCSV(w io.Writer, sum []InstabilitySummaryRow) error {
	cw := csv.NewWriter(w)
	cols := []string{"level", "remaining", "k", "trials"}
	for _, v := range []string{"barrier", "loss_barrier"} {
		for _, s := range []string{"mean", "std", "min", "max"} {
			cols = append(cols, v+"_"+s)
		}
	}
	cw.Write(cols)
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for _, s := range sum {
		rec := []string{strconv.Itoa(s.Level), f(s.Remaining), strconv.Itoa(s.K), strconv.Itoa(s.Trials)}
		for _, st := range []Stat{s.Barrier, s.LossBarrier} {
			rec = append(rec, f(st.Mean), f(st.Std), f(st.Min), f(st.Max))
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("lottery: writing instability summary: %w", err)
	}
	return nil
}
