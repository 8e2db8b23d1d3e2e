package metrics

import (
	"math"
	"strings"
	"testing"
)

func row(trial, level int, arm string, rem, acc float64) Row {
	return Row{Trial: trial, Level: level, Arm: arm, Remaining: rem, TestAccuracy: acc, EarlyStopTestAccuracy: acc}
}

func TestSummarize(t *testing.T) {
	rows := []Row{
		row(0, 1, "zeta", 0.8, 0.5),
		row(0, 1, ArmRandom, 0.8, 0.90),
		row(1, 1, ArmRandom, 0.8, 0.94),
		row(2, 1, ArmRandom, 0.8, 0.95),
		row(0, 0, ArmRandom, 1, 0.97),
		row(0, 1, ArmTicket, 0.8, 0.96),
		row(0, 1, "alpha", 0.8, 0.5),
	}
	sums, err := Summarize(rows, TestAccuracyPercent)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range sums {
		order = append(order, s.Arm+"/"+string(rune('0'+s.Level)))
	}
	if got := strings.Join(order, " "); got != "ticket/1 random/0 random/1 alpha/1 zeta/1" {
		t.Errorf("order %q", got)
	}
	r := sums[2]
	// By hand: 90, 94, 95: mean 93, deviations -3, 1, 2, sample variance
	// (9+1+4)/2 = 7.
	if r.N != 3 || math.Abs(r.Mean-93) > 1e-12 || math.Abs(r.Std-math.Sqrt(7)) > 1e-12 || r.Min != 90 || r.Max != 95 || r.Remaining != 0.8 {
		t.Errorf("random level 1: %+v", r)
	}
	if s := sums[1]; s.N != 1 || s.Std != 0 || s.Mean != 97 || s.Min != 97 || s.Max != 97 {
		t.Errorf("one trial: %+v", s)
	}
	if got := sums[2].Percent(); got != 80 {
		t.Errorf("Percent %v", got)
	}
}

func TestSummarizeErrors(t *testing.T) {
	ok := []Row{row(0, 0, ArmTicket, 1, 0.9)}
	tests := []struct {
		name  string
		rows  []Row
		value func(Row) float64
		want  string
	}{
		{"empty", nil, TestLoss, "no rows"},
		{"nil value", ok, nil, "nil value"},
		{"duplicate", append(ok, ok[0]), TestLoss, "appears twice"},
		{"invalid", []Row{row(0, 0, ArmTicket, 1.5, 0.9)}, TestLoss, "field remaining"},
		{"NaN value", ok, func(Row) float64 { return math.NaN() }, "not finite"},
		{"Inf value", ok, func(Row) float64 { return math.Inf(-1) }, "not finite"},
	}
	for _, tt := range tests {
		_, err := Summarize(tt.rows, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCurves(t *testing.T) {
	rows := []Row{
		row(0, 0, ArmTicket, 1, 0.90), row(1, 0, ArmTicket, 1, 0.92),
		row(0, 1, ArmTicket, 0.8, 0.91), row(1, 1, ArmTicket, 0.8, 0.95),
		row(0, 1, ArmReinit, 0.8, 0.80),
	}
	cs, err := Curves(rows, TestAccuracyPercent)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Arm != ArmTicket || cs[1].Arm != ArmReinit || cs[0].Len() != 2 {
		t.Fatalf("curves %+v", cs)
	}
	x, y := cs[0].XY(1)
	if x != 80 || math.Abs(y-93) > 1e-12 {
		t.Errorf("XY(1) = %v, %v", x, y)
	}
	lo, hi := cs[0].YError(1)
	if math.Abs(lo-2) > 1e-9 || math.Abs(hi-2) > 1e-9 {
		t.Errorf("min-max error %v %v", lo, hi)
	}
	cs[0].Spread = StdDev
	lo, hi = cs[0].YError(1)
	if want := math.Sqrt(8); math.Abs(lo-want) > 1e-9 || math.Abs(hi-want) > 1e-9 {
		t.Errorf("std error %v %v, want %v", lo, hi, want)
	}
	cs[0].Spread = NoSpread
	if lo, hi = cs[0].YError(1); lo != 0 || hi != 0 {
		t.Errorf("no spread %v %v", lo, hi)
	}
}

func TestArmOrder(t *testing.T) {
	rows := []Row{{Arm: "b"}, {Arm: ArmRandom}, {Arm: "a"}, {Arm: ArmTicket}, {Arm: "b"}}
	if got := strings.Join(ArmOrder(rows), ","); got != "ticket,random,a,b" {
		t.Errorf("ArmOrder %q", got)
	}
}
