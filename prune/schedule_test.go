package prune

import (
	"math"
	"strings"
	"testing"
)

func schedNear(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func TestOneShot(t *testing.T) {
	s := OneShot{At: 5, Target: 0.9}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		step int
		want float64
		due  bool
	}{
		{-1, 0, false}, {0, 0, false}, {4, 0, false}, {5, 0.9, true}, {6, 0.9, false}, {1000, 0.9, false},
	} {
		if got := s.Sparsity(tt.step); got != tt.want {
			t.Errorf("Sparsity(%d) = %v, want %v", tt.step, got, tt.want)
		}
		if got := s.Due(tt.step); got != tt.due {
			t.Errorf("Due(%d) = %v, want %v", tt.step, got, tt.due)
		}
	}
	var zero OneShot
	if err := zero.Validate(); err != nil || !zero.Due(0) || zero.Sparsity(0) != 0 {
		t.Errorf("zero OneShot: err %v, Due(0) %v, Sparsity(0) %v; want a valid no-op at 0", err, zero.Due(0), zero.Sparsity(0))
	}
}

func TestIterative(t *testing.T) {
	s := Iterative{Rate: 0.2, Rounds: 3}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		round     int
		sparsity  float64
		remaining float64
		due       bool
		kept10    int
		kept1000  int
	}{
		{-1, 0, 1, false, 10, 1000},
		{0, 0, 1, false, 10, 1000},
		{1, 0.2, 0.8, true, 8, 800},
		{2, 0.36, 0.64, true, 6, 640},
		{3, 0.488, 0.512, true, 5, 512},
		{4, 0.488, 0.512, false, 5, 512},
	} {
		if got := s.Sparsity(tt.round); !schedNear(got, tt.sparsity) {
			t.Errorf("Sparsity(%d) = %v, want %v", tt.round, got, tt.sparsity)
		}
		if got := s.Remaining(tt.round); !schedNear(got, tt.remaining) {
			t.Errorf("Remaining(%d) = %v, want %v", tt.round, got, tt.remaining)
		}
		if got := s.Due(tt.round); got != tt.due {
			t.Errorf("Due(%d) = %v, want %v", tt.round, got, tt.due)
		}
		// 10 → 10−round(2) = 8 → 8−round(1.6) = 6 → 6−round(1.2) = 5.
		if got := s.Kept(tt.round, 10); got != tt.kept10 {
			t.Errorf("Kept(%d, 10) = %d, want %d", tt.round, got, tt.kept10)
		}
		if got := s.Kept(tt.round, 1000); got != tt.kept1000 {
			t.Errorf("Kept(%d, 1000) = %d, want %d", tt.round, got, tt.kept1000)
		}
	}
	if s.Amount() != Fraction(0.2) {
		t.Errorf("Amount() = %v, want Fraction(0.2)", s.Amount())
	}
	// Half to even: 7 → 7−round(3.5)=3 → 3−round(1.5)=1 → 1−round(0.5)=1.
	half := Iterative{Rate: 0.5, Rounds: 3}
	for r, want := range []int{7, 3, 1, 1} {
		if got := half.Kept(r, 7); got != want {
			t.Errorf("Rate 0.5: Kept(%d, 7) = %d, want %d", r, got, want)
		}
	}
}

// TestIterativeKeptMatchesFraction checks Kept against Fraction itself.
func TestIterativeKeptMatchesFraction(t *testing.T) {
	for _, rate := range []float64{0.1, 0.2, 0.5, 0.75} {
		s := Iterative{Rate: rate, Rounds: 12}
		for _, total := range []int{0, 1, 2, 3, 7, 100, 101, 266200} {
			kept := total
			for r := 1; r <= s.Rounds; r++ {
				n, err := s.Amount().ToPrune(kept, total)
				if err != nil {
					t.Fatal(err)
				}
				kept -= n
				if got := s.Kept(r, total); got != kept {
					t.Fatalf("rate %v total %d: Kept(%d) = %d, Fraction gives %d", rate, total, r, got, kept)
				}
			}
		}
	}
}

func TestGradual(t *testing.T) {
	// n = 4: (1 − k/4)³ = 1, 0.421875, 0.125, 0.015625, 0, so with Final 0.8
	// the targets are 0, 0.4625, 0.7, 0.7875, 0.8.
	s := Gradual{Initial: 0, Final: 0.8, Start: 100, Every: 10, Steps: 4}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.End() != 140 {
		t.Errorf("End() = %d, want 140", s.End())
	}
	for _, tt := range []struct {
		step int
		want float64
		due  bool
	}{
		{0, 0, false}, {99, 0, false}, {100, 0, true}, {105, 0, false},
		{110, 0.4625, true}, {119, 0.4625, false}, {120, 0.7, true},
		{130, 0.7875, true}, {139, 0.7875, false}, {140, 0.8, true},
		{141, 0.8, false}, {150, 0.8, false}, {math.MaxInt, 0.8, false},
	} {
		if got := s.Sparsity(tt.step); !schedNear(got, tt.want) {
			t.Errorf("Sparsity(%d) = %v, want %v", tt.step, got, tt.want)
		}
		if got := s.Due(tt.step); got != tt.due {
			t.Errorf("Due(%d) = %v, want %v", tt.step, got, tt.due)
		}
	}
	// Initial 0.5, Final 0.9, n = 2: 0.5, 0.9 − 0.4·0.125 = 0.85, 0.9.
	s2 := Gradual{Initial: 0.5, Final: 0.9, Every: 1, Steps: 2}
	for step, want := range []float64{0.5, 0.85, 0.9, 0.9} {
		if got := s2.Sparsity(step); !schedNear(got, want) {
			t.Errorf("s2.Sparsity(%d) = %v, want %v", step, got, want)
		}
	}
	if s2.Sparsity(0) != 0.5 || s2.Sparsity(2) != 0.9 {
		t.Errorf("the ends are not exact: %v, %v", s2.Sparsity(0), s2.Sparsity(2))
	}
}

// TestSchedulesMonotone checks the properties every schedule promises:
// sparsity in [0, 1], never decreasing, 0 before the first due step, and
// rising only on due steps.
func TestSchedulesMonotone(t *testing.T) {
	for _, s := range []Schedule{
		OneShot{At: 3, Target: 0.5},
		Iterative{Rate: 0.2, Rounds: 10},
		Gradual{Final: 0.95, Start: 7, Every: 3, Steps: 11},
		Gradual{Initial: 0.3, Final: 0.3, Every: 1, Steps: 1},
	} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		prev := 0.0
		seenDue := false
		for step := -5; step < 100; step++ {
			x := s.Sparsity(step)
			if x < 0 || x > 1 || math.IsNaN(x) {
				t.Fatalf("%+v: Sparsity(%d) = %v", s, step, x)
			}
			if x < prev {
				t.Fatalf("%+v: Sparsity(%d) = %v < Sparsity(%d) = %v", s, step, x, step-1, prev)
			}
			if x > prev && !s.Due(step) {
				t.Fatalf("%+v: sparsity rises at step %d, which is not due", s, step)
			}
			if !seenDue && x != 0 && !s.Due(step) {
				t.Fatalf("%+v: sparsity %v before the first due step", s, x)
			}
			seenDue = seenDue || s.Due(step)
			if got := Target(s, step); float64(got) != x {
				t.Fatalf("Target(%d) = %v, want %v", step, got, x)
			}
			prev = x
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	nan := math.NaN()
	for _, tt := range []struct {
		s    Schedule
		want string // "" for valid
	}{
		{OneShot{At: 0, Target: 1}, ""},
		{OneShot{At: -1, Target: 0.5}, "At -1 is negative"},
		{OneShot{Target: nan}, "Target NaN is not in [0, 1]"},
		{OneShot{Target: 1.5}, "not in [0, 1]"},
		{OneShot{Target: -0.1}, "not in [0, 1]"},
		{Iterative{Rate: 0.2, Rounds: 1}, ""},
		{Iterative{Rate: 0, Rounds: 3}, "Rate 0 is not in (0, 1)"},
		{Iterative{Rate: 1, Rounds: 3}, "Rate 1 is not in (0, 1)"},
		{Iterative{Rate: nan, Rounds: 3}, "Rate NaN"},
		{Iterative{Rate: 0.2}, "Rounds 0 is less than 1"},
		{Gradual{Final: 0.9, Every: 1, Steps: 1}, ""},
		{Gradual{Initial: nan, Final: 0.9, Every: 1, Steps: 1}, "Initial NaN"},
		{Gradual{Final: 2, Every: 1, Steps: 1}, "Final 2 is not in [0, 1]"},
		{Gradual{Initial: 0.5, Final: 0.4, Every: 1, Steps: 1}, "Initial 0.5 is more than Final 0.4"},
		{Gradual{Final: 0.9, Start: -1, Every: 1, Steps: 1}, "Start -1 is negative"},
		{Gradual{Final: 0.9, Every: 0, Steps: 1}, "Every 0 is less than 1"},
		{Gradual{Final: 0.9, Every: 1, Steps: 0}, "Steps 0 is less than 1"},
		{Gradual{Final: 0.9, Start: 1, Every: math.MaxInt / 2, Steps: 2}, ""}, // ends exactly at MaxInt
		{Gradual{Final: 0.9, Start: 2, Every: math.MaxInt / 2, Steps: 2}, "overflows"},
	} {
		err := tt.s.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.s, err)
		case tt.want != "" && err == nil:
			t.Errorf("%+v: no error, want %q", tt.s, tt.want)
		case tt.want != "" && (!strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "prune: ")):
			t.Errorf("%+v: error %q, want %q", tt.s, err, tt.want)
		}
	}
}

// TestTargetCounts follows a gradual schedule with TargetSparsity the way a
// training loop does and checks the pruned counts step by step.
func TestTargetCounts(t *testing.T) {
	s := Gradual{Final: 0.8, Every: 10, Steps: 4}
	total, kept := 1000, 1000
	want := map[int]int{0: 1000, 10: 538, 20: 300, 30: 212, 40: 200}
	for step := 0; step <= 60; step++ {
		if !s.Due(step) {
			continue
		}
		n, err := Target(s, step).ToPrune(kept, total)
		if err != nil {
			t.Fatal(err)
		}
		kept -= n
		if w, ok := want[step]; !ok || kept != w {
			t.Errorf("step %d: %d kept, want %d", step, kept, w)
		}
	}
}
