package cli_test

import (
	"fmt"
	"os"

	"github.com/shearsml/shears/examples/internal/cli"
)

// A program with -quick: it lowers -iterations unless the flag is given.
func ExampleCommand() {
	for _, args := range [][]string{{"-quick"}, {"-quick", "-iterations", "500"}, {"-iterations", "0"}} {
		c := cli.New("demo", "usage: demo [flags]\n", os.Stdout)
		iters := c.Flags.Int("iterations", 10000, "training `steps`")
		c.Quick("a tiny run for CI", map[string]string{"iterations": "50"})
		if code, ok := c.Parse(args); !ok {
			fmt.Println("exit", code)
			continue
		}
		if code, ok := c.Positive("iterations"); !ok {
			fmt.Println("exit", code)
			continue
		}
		fmt.Println(args, "->", *iters, "explicit:", c.Explicit("iterations"))
	}
	// Output:
	// [-quick] -> 50 explicit: false
	// [-quick -iterations 500] -> 500 explicit: true
	// demo: -iterations 0: want a positive number (leave the flag out for the default, 10000)
	// usage: demo [flags]
	//   -iterations steps
	//     	training steps (default 10000)
	//   -quick
	//     	a tiny run for CI
	// exit 2
}
