package metrics

import (
	"math"
)

// sampleRows returns a deterministic lottery-ticket experiment: levels
// 0..levels-1 pruned 20% a level, arms ticket, reinit and random, trials
// trials. The shapes follow the lottery-ticket paper's LeNet-300-100 curves:
// tickets improve a little then fall late, controls fall early.
func sampleRows(levels, trials int) []Row {
	var rows []Row
	for t := 0; t < trials; t++ {
		for l := 0; l < levels; l++ {
			rem := math.Pow(0.8, float64(l))
			s := -math.Log10(rem) // 0 dense .. ~2 at 1%
			for a, arm := range []string{ArmTicket, ArmReinit, ArmRandom} {
				// A fixed, trial- and level-dependent wiggle in [-1, 1].
				w := math.Sin(float64(1+t)*1.7 + float64(l)*0.9 + float64(a)*2.3)
				var acc float64
				switch arm {
				case ArmTicket:
					acc = 0.980 + 0.004*s*math.Exp(-s) - 0.03*math.Max(0, s-1.4)*math.Max(0, s-1.4)
				case ArmReinit:
					acc = 0.980 - 0.012*s*s
				case ArmRandom:
					acc = 0.980 - 0.018*s*s
				}
				if l > 0 || a == 0 {
					acc += 0.0015 * w
				}
				if l == 0 {
					// Level 0 is the same dense network for every arm.
					acc = 0.980 + 0.0015*math.Sin(float64(1+t)*1.7)
				}
				es := 9000 + 4000*s + 600*w
				if arm == ArmTicket {
					es = 9000 - 2500*s*math.Exp(-s) + 2500*math.Max(0, s-1.2) + 500*w
				}
				if l == 0 {
					es = 9000 + 500*math.Sin(float64(1+t)*1.7)
				}
				rows = append(rows, Row{
					Trial: t, Level: l, Arm: arm, Remaining: rem,
					TestAccuracy:          acc,
					TestLoss:              0.06 + (0.98-acc)*2,
					EarlyStopIteration:    int(math.Round(es/100) * 100),
					EarlyStopTestAccuracy: acc - 0.001,
					TrainSeconds:          12.5 + float64(l),
				})
			}
		}
	}
	return rows
}
