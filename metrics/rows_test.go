package metrics

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

const header = "trial,level,arm,remaining,test_accuracy,test_loss,early_stop_iteration,early_stop_test_accuracy,train_seconds"

func TestHeader(t *testing.T) {
	if got := strings.Join(RowColumns, ","); got != header {
		t.Fatalf("RowColumns %q, want %q", got, header)
	}
	var b bytes.Buffer
	if err := WriteRowsCSV(&b, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != header+",strategy\n" {
		t.Errorf("empty CSV %q", b.String())
	}
}

func TestRowsCSVRoundTrip(t *testing.T) {
	rows := sampleRows(4, 3)
	rows[5].TestLoss = math.NaN() // a diverged run
	rows[6].Arm = `odd, "arm"`
	rows[7].Remaining = 0.1 + 0.2 // not exactly representable in short decimal
	var b bytes.Buffer
	if err := WriteRowsCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	first := b.String()
	got, err := ReadRowsCSV(strings.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if !rowsEqual(got, rows) {
		t.Fatalf("round trip changed rows")
	}
	// Deterministic: writing again gives the same bytes.
	b.Reset()
	WriteRowsCSV(&b, got)
	if b.String() != first {
		t.Errorf("second write differs")
	}
	if !strings.HasPrefix(first, header+",strategy\n0,0,ticket,1,") {
		t.Errorf("CSV starts %q", first[:120])
	}
}

func rowsEqual(a, b []Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if math.IsNaN(x.TestLoss) && math.IsNaN(y.TestLoss) {
			x.TestLoss, y.TestLoss = 0, 0
		}
		if x != y {
			return false
		}
	}
	return true
}

func TestReadRowsCSVExtraColumnsAnyOrder(t *testing.T) {
	in := "\ufeffarm,level,trial,remaining,note,test_accuracy,test_loss,early_stop_iteration,early_stop_test_accuracy,train_seconds,extra\n" +
		"reinit,2,1,0.64,hello,0.97,0.1,1500,0.968,3.5,x\n"
	got, err := ReadRowsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{Trial: 1, Level: 2, Arm: "reinit", Remaining: 0.64, TestAccuracy: 0.97, TestLoss: 0.1,
		EarlyStopIteration: 1500, EarlyStopTestAccuracy: 0.968, TrainSeconds: 3.5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestReadRowsCSVErrors(t *testing.T) {
	good := "0,1,ticket,0.8,0.98,0.07,1200,0.979,10"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"missing column", "trial,level,arm\n", `no column "remaining"`},
		{"duplicate column", header + ",arm\n", `column "arm" appears twice`},
		{"bad int", header + "\n" + good + "\nx,1,ticket,0.8,0.98,0.07,1200,0.979,10\n", `line 3 (row 1), field trial: "x" is not an integer`},
		{"bad float", header + "\n0,1,ticket,0.8,abc,0.07,1200,0.979,10\n", "line 2 (row 0), field test_accuracy"},
		{"remaining 0", header + "\n0,1,ticket,0,0.98,0.07,1200,0.979,10\n", "field remaining: 0 is not in (0, 1]"},
		{"remaining NaN", header + "\n0,1,ticket,NaN,0.98,0.07,1200,0.979,10\n", "field remaining"},
		{"percent accuracy", header + "\n0,1,ticket,0.8,98,0.07,1200,0.979,10\n", "field test_accuracy: 98 is not a fraction"},
		{"negative level", header + "\n0,-1,ticket,0.8,0.98,0.07,1200,0.979,10\n", "field level: negative"},
		{"empty arm", header + "\n0,1,,0.8,0.98,0.07,1200,0.979,10\n", "field arm: empty"},
		{"negative loss", header + "\n0,1,ticket,0.8,0.98,-1,1200,0.979,10\n", "field test_loss"},
		{"inf seconds", header + "\n0,1,ticket,0.8,0.98,0.07,1200,0.979,+Inf\n", "field train_seconds"},
		{"short record", header + "\n0,1,ticket\n", "wrong number of fields"},
		{"huge", header + "\n0,1,ticket,0.8,0.98,1e999,1200,0.979,10\n", "out of range"},
	}
	for _, tt := range tests {
		_, err := ReadRowsCSV(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	_, err := ReadRowsCSV(strings.NewReader(tests[3].in))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 3 || fe.Row != 1 || fe.Field != "trial" {
		t.Errorf("error %#v, want a FieldError at line 3, row 1, trial", err)
	}
}

func TestWriteRowsCSVRejectsInvalid(t *testing.T) {
	rows := sampleRows(2, 1)
	rows[3].TestAccuracy = 97.5
	var b bytes.Buffer
	err := WriteRowsCSV(&b, rows)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Row != 3 || fe.Field != "test_accuracy" {
		t.Fatalf("error %v, want row 3 test_accuracy", err)
	}
	// What was written before the bad row reads back.
	got, err := ReadRowsCSV(&b)
	if err != nil || !rowsEqual(got, rows[:3]) {
		t.Errorf("partial output: %v, %d rows", err, len(got))
	}
}

func TestRowsJSON(t *testing.T) {
	rows := sampleRows(3, 2)
	var b bytes.Buffer
	if err := WriteRowsJSON(&b, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), `{"rows":[{"trial":0,"level":0,"arm":"ticket","remaining":1,`) {
		t.Errorf("JSON starts %q", b.String()[:80])
	}
	got, err := ReadRowsJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !rowsEqual(got, rows) {
		t.Errorf("JSON round trip changed rows")
	}

	in := `[{"trial":0,"level":1,"arm":"random","remaining":0.8,"test_accuracy":0.9,"test_loss":0.3,
	        "early_stop_iteration":100,"early_stop_test_accuracy":0.89,"train_seconds":2,"comment":"x"}]`
	got, err = ReadRowsJSON(strings.NewReader(in))
	if err != nil || len(got) != 1 || got[0].Arm != "random" || got[0].EarlyStopIteration != 100 {
		t.Errorf("bare array: %+v, %v", got, err)
	}
	got, err = ReadRowsJSON(strings.NewReader(`{"experiment":{"a":1},"rows":` + in + `,"version":2}`))
	if err != nil || len(got) != 1 {
		t.Errorf("object with other keys: %+v, %v", got, err)
	}

	nan := sampleRows(1, 1)
	nan[0].TestLoss = math.Inf(1)
	if err := WriteRowsJSON(&b, nan); err == nil || !strings.Contains(err.Error(), "test_loss") {
		t.Errorf("infinite loss written as JSON: %v", err)
	}
}

func TestReadRowsJSONErrors(t *testing.T) {
	row := `"trial":0,"level":1,"arm":"random","remaining":0.8,"test_accuracy":0.9,"test_loss":0.3,"early_stop_iteration":100,"early_stop_test_accuracy":0.89`
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"scalar", "3", "want an object or an array"},
		{"no rows key", `{"results":[]}`, `no "rows" key`},
		{"rows not array", `{"rows":{}}`, `"rows" must be an array`},
		{"missing key", `[{` + row + `}]`, "row 0, field train_seconds: missing"},
		{"float level", `[{` + strings.Replace(row, `"level":1`, `"level":1.5`, 1) + `,"train_seconds":1}]`, "row 0, field level: 1.5 is not of type int"},
		{"string number", `[{` + strings.Replace(row, `"remaining":0.8`, `"remaining":"0.8"`, 1) + `,"train_seconds":1}]`, "field remaining"},
		{"null", `[{` + strings.Replace(row, `"arm":"random"`, `"arm":null`, 1) + `,"train_seconds":1}]`, "field arm: null"},
		{"invalid value", `[{` + strings.Replace(row, `"test_accuracy":0.9`, `"test_accuracy":1.5`, 1) + `,"train_seconds":1}]`, "row 0, field test_accuracy"},
		{"trailing", `[] []`, "data after"},
		{"syntax", `[{"trial":}]`, "results JSON"},
		{"null row", `[null]`, "row 0 is null"},
	}
	for _, tt := range tests {
		_, err := ReadRowsJSON(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func FuzzReadRowsCSV(f *testing.F) {
	var b bytes.Buffer
	WriteRowsCSV(&b, sampleRows(2, 2))
	f.Add(b.String())
	f.Add(header + "\n0,0,ticket,1,0.5,NaN,0,0.5,0\n")
	f.Add("arm,trial,level,remaining,test_accuracy,test_loss,early_stop_iteration,early_stop_test_accuracy,train_seconds,x\n\"a\"\"b\",1,2,0.5,1,0,3,0,1e-300,y\n")
	f.Add("")
	f.Add(header + "\n0,0")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ReadRowsCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteRowsCSV(&out, rows); err != nil {
			t.Fatalf("rows read back are not writable: %v", err)
		}
		again, err := ReadRowsCSV(&out)
		if err != nil {
			t.Fatalf("written rows do not read back: %v\n%s", err, out.String())
		}
		if !rowsEqual(again, rows) {
			t.Fatalf("round trip changed rows")
		}
	})
}

func FuzzReadRowsJSON(f *testing.F) {
	var b bytes.Buffer
	WriteRowsJSON(&b, sampleRows(2, 2))
	f.Add(b.String())
	f.Add(`[{"trial":0,"level":0,"arm":"x","remaining":1,"test_accuracy":0,"test_loss":0,"early_stop_iteration":0,"early_stop_test_accuracy":1,"train_seconds":0}]`)
	f.Add(`{"rows":[],"meta":null}`)
	f.Add(`{"rows":null}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ReadRowsJSON(strings.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteRowsJSON(&out, rows); err != nil {
			t.Fatalf("rows read back are not writable: %v", err)
		}
		again, err := ReadRowsJSON(&out)
		if err != nil {
			t.Fatalf("written rows do not read back: %v\n%s", err, out.String())
		}
		if !rowsEqual(again, rows) {
			t.Fatalf("round trip changed rows")
		}
	})
}

// TestRowsStrategyColumn: the optional strategy column round-trips through
// CSV and JSON, and files without it still read.
func TestRowsStrategyColumn(t *testing.T) {
	rows := []Row{{Trial: 0, Level: 1, Arm: "shuffle", Remaining: 0.5, TestAccuracy: 0.8, Strategy: "snip"}}
	var b strings.Builder
	if err := WriteRowsCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), header+",strategy\n") {
		t.Fatalf("header: %q", b.String())
	}
	got, err := ReadRowsCSV(strings.NewReader(b.String()))
	if err != nil || len(got) != 1 || got[0] != rows[0] {
		t.Fatalf("CSV round trip: %v %+v", err, got)
	}
	var j strings.Builder
	if err := WriteRowsJSON(&j, rows); err != nil {
		t.Fatal(err)
	}
	got, err = ReadRowsJSON(strings.NewReader(j.String()))
	if err != nil || len(got) != 1 || got[0] != rows[0] {
		t.Fatalf("JSON round trip: %v %+v", err, got)
	}
	old := header + "\n0,1,ticket,0.8,0.98,0.07,1200,0.979,3\n"
	got, err = ReadRowsCSV(strings.NewReader(old))
	if err != nil || len(got) != 1 || got[0].Strategy != "" {
		t.Fatalf("old CSV: %v %+v", err, got)
	}
}
