package train

import "math"

// LRSchedule gives the learning rate of each optimizer step. base is the
// optimizer's LearningRate(); step is the 0-based number of the step about
// to be taken (the Trainer's Step() before it). Because the rate depends on
// the step counter only, a Trainer moved to step k with SetStep (rewinding)
// or restored from a checkpoint resumes the schedule exactly there.
type LRSchedule interface {
	Rate(base float64, step int) float64
}

// Constant keeps the base rate.
type Constant struct{}

// Rate implements LRSchedule.
func (Constant) Rate(base float64, step int) float64 { return base }

// Step multiplies the rate by Gamma every Every steps:
// base·Gamma^⌊step/Every⌋ (PyTorch's StepLR counted in steps).
type Step struct {
	Every int     // steps between decays; 0 or less means never
	Gamma float64 // factor; 0 means 0.1
}

// Rate implements LRSchedule.
func (s Step) Rate(base float64, step int) float64 {
	if s.Every <= 0 || step < s.Every {
		return base
	}
	return base * math.Pow(orDefault(s.Gamma, 0.1), float64(step/s.Every))
}

// MultiStep multiplies the rate by Gamma at each milestone:
// base·Gamma^(number of milestones ≤ step) (PyTorch's MultiStepLR counted in
// steps, as OpenLTH's "milestone_steps").
type MultiStep struct {
	Milestones []int   // steps at which the rate drops, ascending
	Gamma      float64 // factor; 0 means 0.1
}

// Rate implements LRSchedule.
func (s MultiStep) Rate(base float64, step int) float64 {
	k := 0
	for _, m := range s.Milestones {
		if step >= m {
			k++
		}
	}
	if k == 0 {
		return base
	}
	return base * math.Pow(orDefault(s.Gamma, 0.1), float64(k))
}

// Warmup ramps the rate up linearly over the first Steps steps, then
// follows Then: Then.Rate(base, step) · min(1, (step+1)/Steps). The step
// passed to Then is the Trainer's, not counted from the end of the warmup.
type Warmup struct {
	Steps int        // length of the ramp; 0 or less means none
	Then  LRSchedule // nil means Constant
}

// Rate implements LRSchedule.
func (w Warmup) Rate(base float64, step int) float64 {
	var r float64
	if w.Then == nil {
		r = base
	} else {
		r = w.Then.Rate(base, step)
	}
	if w.Steps > 0 && step+1 < w.Steps {
		r *= float64(step+1) / float64(w.Steps)
	}
	return r
}
