package lottery_test

import (
	"fmt"

	"github.com/shearsml/shears/lottery"
)

// Settings are the registry an Experiment's flags come from; Set parses a
// flag's text into a description and Validate checks it.
func ExampleExperiment_Set() {
	var e lottery.Experiment
	for key, value := range map[string]string{"prune.method": "synflow", "prune.sparsity": "0.9,0.99"} {
		if err := e.Set(key, value); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println(e.Validate())
	d := e.WithDefaults()
	fmt.Println(d.Prune.Strategy, d.Prune.Rounds, d.Levels)
	fmt.Println(e.Set("prune.rounds", "0"))
	e.Prune.Sparsity = []float64{1}
	fmt.Println(e.Validate())
	// Output:
	// <nil>
	// global 100 2
	// lottery: prune.rounds is 0: want a positive number of rounds, or leave prune.rounds out for its default
	// lottery: prune.sparsity[0] 1 is not in [0, 1)
}

// A strategy's flag lists its choices from the registry.
func ExampleSettings() {
	for _, s := range lottery.Settings() {
		if s.Flag == "controls" {
			fmt.Println(s.Key, s.Identity, len(s.Choices))
		}
	}
	// Output:
	// controls false 4
}
