package metrics

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// The arms the lottery package writes. Rows may carry other arm names too.
const (
	// ArmTicket is the winning ticket: the pruned network, rewound.
	ArmTicket = "ticket"
	// ArmReinit is the control with the ticket's mask and a fresh random
	// initialisation.
	ArmReinit = "reinit"
	// ArmRandom is the control with a random mask of the same per-layer
	// sparsity.
	ArmRandom = "random"
)

// Row is one result: one arm of one trial at one pruning level. Its fields
// are the columns of the results.csv and results.json files the lottery
// package writes.
type Row struct {
	// Trial is the trial (seed) index, from 0.
	Trial int `json:"trial"`
	// Level is the pruning level, 0 for the dense network.
	Level int `json:"level"`
	// Arm names the arm: ArmTicket, ArmReinit, ArmRandom or another
	// non-empty name.
	Arm string `json:"arm"`
	// Remaining is the fraction of prunable weights kept, in (0, 1].
	Remaining float64 `json:"remaining"`
	// TestAccuracy is the final test accuracy, a fraction in [0, 1].
	TestAccuracy float64 `json:"test_accuracy"`
	// TestLoss is the final test loss, ≥ 0 (NaN or +Inf when training
	// diverged; such rows round-trip through CSV but not JSON).
	TestLoss float64 `json:"test_loss"`
	// EarlyStopIteration is the iteration of least validation loss, ≥ 0.
	EarlyStopIteration int `json:"early_stop_iteration"`
	// EarlyStopTestAccuracy is the test accuracy at that iteration, in [0, 1].
	EarlyStopTestAccuracy float64 `json:"early_stop_test_accuracy"`
	// TrainSeconds is the wall-clock training time, ≥ 0.
	TrainSeconds float64 `json:"train_seconds"`
	// Strategy names how the row's network was pruned, e.g. "imp" or
	// "snip" (lottery's Pruning.Method). Optional: empty in files written
	// before it existed.
	Strategy string `json:"strategy,omitempty"`
}

// RowColumns are the CSV columns of a Row, in the order WriteRowsCSV writes
// them; they are also the keys of a row in JSON.
var RowColumns = []string{
	"trial", "level", "arm", "remaining", "test_accuracy", "test_loss",
	"early_stop_iteration", "early_stop_test_accuracy", "train_seconds",
}

// OptionalRowColumns are the columns WriteRowsCSV writes after RowColumns
// and the readers accept but do not require (files written before they
// existed lack them).
var OptionalRowColumns = []string{"strategy"}

// Validate reports the first field of r that is out of range, or nil.
func (r Row) Validate() error {
	switch {
	case r.Trial < 0:
		return fieldErr("trial", "negative: %d", r.Trial)
	case r.Level < 0:
		return fieldErr("level", "negative: %d", r.Level)
	case r.Arm == "":
		return fieldErr("arm", "empty")
	case !(r.Remaining > 0 && r.Remaining <= 1):
		return fieldErr("remaining", "%v is not in (0, 1]", r.Remaining)
	case !(r.TestAccuracy >= 0 && r.TestAccuracy <= 1):
		return fieldErr("test_accuracy", "%v is not a fraction in [0, 1]", r.TestAccuracy)
	case r.TestLoss < 0 || math.IsInf(r.TestLoss, -1):
		return fieldErr("test_loss", "negative: %v", r.TestLoss)
	case r.EarlyStopIteration < 0:
		return fieldErr("early_stop_iteration", "negative: %d", r.EarlyStopIteration)
	case !(r.EarlyStopTestAccuracy >= 0 && r.EarlyStopTestAccuracy <= 1):
		return fieldErr("early_stop_test_accuracy", "%v is not a fraction in [0, 1]", r.EarlyStopTestAccuracy)
	case !(r.TrainSeconds >= 0) || math.IsInf(r.TrainSeconds, 1):
		return fieldErr("train_seconds", "%v is not a finite number ≥ 0", r.TrainSeconds)
	}
	return nil
}

// FieldError is the error about one field of one row that the readers and
// WriteRowsCSV return.
type FieldError struct {
	// Line is the 1-based line of a CSV record, 0 otherwise.
	Line int
	// Row is the 0-based index of the row (data rows only, header excluded),
	// -1 when the error comes from Row.Validate on its own.
	Row int
	// Field is the column or key.
	Field string
	// Err is what is wrong.
	Err error
}

func (e *FieldError) Error() string {
	if e.Row < 0 {
		return fmt.Sprintf("metrics: field %s: %v", e.Field, e.Err)
	}
	if e.Line > 0 {
		return fmt.Sprintf("metrics: line %d (row %d), field %s: %v", e.Line, e.Row, e.Field, e.Err)
	}
	return fmt.Sprintf("metrics: row %d, field %s: %v", e.Row, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Row: -1, Field: field, Err: fmt.Errorf(format, args...)}
}

// at returns err with the row and line filled in when it is a FieldError.
func at(err error, row, line int) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		c := *fe
		c.Row, c.Line = row, line
		return &c
	}
	return err
}

// WriteRowsCSV writes rows as CSV: the header
//
//	trial,level,arm,remaining,test_accuracy,test_loss,early_stop_iteration,early_stop_test_accuracy,train_seconds,strategy
//
// and one record per row, in the order given. Floats are formatted with
// strconv's 'g' format and the shortest precision that reads back exactly, so
// the output is deterministic and ReadRowsCSV returns the same rows. An
// invalid row (see Row.Validate) is an error naming it, and nothing more is
// written after the rows before it.
func WriteRowsCSV(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(append(slices.Clone(RowColumns), OptionalRowColumns...)); err != nil {
		return fmt.Errorf("metrics: writing results CSV: %w", err)
	}
	for i, r := range rows {
		if err := r.Validate(); err != nil {
			cw.Flush()
			bw.Flush()
			return at(err, i, 0)
		}
		rec := []string{
			strconv.Itoa(r.Trial), strconv.Itoa(r.Level), r.Arm, fmtFloat(r.Remaining),
			fmtFloat(r.TestAccuracy), fmtFloat(r.TestLoss), strconv.Itoa(r.EarlyStopIteration),
			fmtFloat(r.EarlyStopTestAccuracy), fmtFloat(r.TrainSeconds), r.Strategy,
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("metrics: writing results CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("metrics: writing results CSV: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("metrics: writing results CSV: %w", err)
	}
	return nil
}

// WriteRowsJSON writes rows as {"rows": [...]}, one object per row with the
// keys of RowColumns, followed by a newline. Invalid rows are an error, and
// so is a NaN or infinite test loss, which JSON cannot hold.
func WriteRowsJSON(w io.Writer, rows []Row) error {
	for i, r := range rows {
		if err := r.Validate(); err != nil {
			return at(err, i, 0)
		}
		if math.IsNaN(r.TestLoss) || math.IsInf(r.TestLoss, 0) {
			return &FieldError{Row: i, Field: "test_loss", Err: fmt.Errorf("%v cannot be written as JSON", r.TestLoss)}
		}
	}
	if rows == nil {
		rows = []Row{}
	}
	b, err := json.Marshal(struct {
		Rows []Row `json:"rows"`
	}{rows})
	if err != nil {
		return fmt.Errorf("metrics: encoding results JSON: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics: writing results JSON: %w", err)
	}
	return nil
}

// ReadRowsCSV reads rows written by WriteRowsCSV or by the lottery package.
// The first record is a header that must hold every column of RowColumns,
// in any order; other columns are ignored. Every row is validated (see
// Row.Validate). Errors are *FieldError values naming the line and column,
// or CSV syntax errors with their line. A file with a header and no rows
// gives no rows and no error; an empty file is an error.
func ReadRowsCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("metrics: results CSV is empty: no header")
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: results CSV: %w", err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = string(bytes.TrimPrefix([]byte(h), []byte("\ufeff")))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("metrics: results CSV line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	idx := make([]int, len(RowColumns))
	for i, name := range RowColumns {
		j, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("metrics: results CSV line 1: no column %q in the header (want %v)", name, RowColumns)
		}
		idx[i] = j
	}
	opt := map[string]int{}
	for _, name := range OptionalRowColumns {
		if j, ok := col[name]; ok {
			opt[name] = j
		}
	}
	var rows []Row
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("metrics: results CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		var row Row
		for i, name := range RowColumns {
			if err := setField(&row, name, rec[idx[i]]); err != nil {
				return nil, &FieldError{Line: line, Row: n, Field: name, Err: err}
			}
		}
		for name, j := range opt {
			if err := setField(&row, name, rec[j]); err != nil {
				return nil, &FieldError{Line: line, Row: n, Field: name, Err: err}
			}
		}
		if err := row.Validate(); err != nil {
			return nil, at(err, n, line)
		}
		rows = append(rows, row)
	}
}

// setField parses s into the field of row named by the CSV column name.
func setField(row *Row, name, s string) error {
	switch name {
	case "trial":
		return parseInt(s, &row.Trial)
	case "level":
		return parseInt(s, &row.Level)
	case "arm":
		row.Arm = s
		return nil
	case "remaining":
		return parseFloat(s, &row.Remaining)
	case "test_accuracy":
		return parseFloat(s, &row.TestAccuracy)
	case "test_loss":
		return parseFloat(s, &row.TestLoss)
	case "early_stop_iteration":
		return parseInt(s, &row.EarlyStopIteration)
	case "early_stop_test_accuracy":
		return parseFloat(s, &row.EarlyStopTestAccuracy)
	case "train_seconds":
		return parseFloat(s, &row.TrainSeconds)
	case "strategy":
		row.Strategy = s
		return nil
	}
	return fmt.Errorf("unknown field")
}

func parseInt(s string, dst *int) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*dst = v
	return nil
}

func parseFloat(s string, dst *float64) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%q is out of range", s)
		}
		return fmt.Errorf("%q is not a number", s)
	}
	*dst = v
	return nil
}

// ReadRowsJSON reads rows from JSON: either an object whose "rows" key holds
// an array of row objects (other keys are ignored), or a bare array of row
// objects. Each row object must have every key of RowColumns (other keys are
// ignored) and is validated (see Row.Validate). Errors are *FieldError values
// naming the row and key, or JSON syntax errors. Anything after the JSON
// value other than white space is an error.
func ReadRowsJSON(r io.Reader) ([]Row, error) {
	dec := json.NewDecoder(r)
	var top json.RawMessage
	if err := dec.Decode(&top); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("metrics: results JSON is empty")
		}
		return nil, fmt.Errorf("metrics: results JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("metrics: results JSON: data after the top-level value")
	}
	var raw []map[string]json.RawMessage
	switch t := bytes.TrimLeft(top, " \t\r\n"); {
	case len(t) > 0 && t[0] == '[':
		if err := json.Unmarshal(t, &raw); err != nil {
			return nil, fmt.Errorf("metrics: results JSON: the array must hold row objects: %w", err)
		}
	case len(t) > 0 && t[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(t, &obj); err != nil {
			return nil, fmt.Errorf("metrics: results JSON: %w", err)
		}
		rs, ok := obj["rows"]
		if !ok {
			return nil, fmt.Errorf(`metrics: results JSON: the object has no "rows" key`)
		}
		if err := json.Unmarshal(rs, &raw); err != nil {
			return nil, fmt.Errorf(`metrics: results JSON: "rows" must be an array of row objects: %w`, err)
		}
	default:
		return nil, fmt.Errorf("metrics: results JSON: want an object or an array, got %.20q", t)
	}
	rows := make([]Row, 0, len(raw))
	for n, obj := range raw {
		if obj == nil {
			return nil, fmt.Errorf("metrics: results JSON: row %d is null", n)
		}
		var row Row
		for _, name := range RowColumns {
			v, ok := obj[name]
			if !ok {
				return nil, &FieldError{Row: n, Field: name, Err: errors.New("missing")}
			}
			if err := decodeField(&row, name, v); err != nil {
				return nil, &FieldError{Row: n, Field: name, Err: err}
			}
		}
		if v, ok := obj["strategy"]; ok {
			if err := json.Unmarshal(v, &row.Strategy); err != nil {
				return nil, &FieldError{Row: n, Field: "strategy", Err: err}
			}
		}
		if err := row.Validate(); err != nil {
			return nil, at(err, n, 0)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func decodeField(row *Row, name string, v json.RawMessage) error {
	var dst any
	switch name {
	case "trial":
		dst = &row.Trial
	case "level":
		dst = &row.Level
	case "arm":
		dst = &row.Arm
	case "remaining":
		dst = &row.Remaining
	case "test_accuracy":
		dst = &row.TestAccuracy
	case "test_loss":
		dst = &row.TestLoss
	case "early_stop_iteration":
		dst = &row.EarlyStopIteration
	case "early_stop_test_accuracy":
		dst = &row.EarlyStopTestAccuracy
	case "train_seconds":
		dst = &row.TrainSeconds
	}
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return errors.New("null")
	}
	if err := json.Unmarshal(v, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s is not of type %s", bytes.TrimSpace(v), te.Type)
		}
		return err
	}
	return nil
}
