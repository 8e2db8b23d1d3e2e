package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
)

// Command is the flag set of one program.
type Command struct {
	// Flags is the flag set; define the program's flags on it.
	Flags *flag.FlagSet

	name     string
	stderr   io.Writer
	quick    *bool
	quickSet map[string]string
	explicit map[string]bool
	given    map[string]bool
}

// New returns the Command of the program name; usage is printed before the
// flags' defaults on -h and on a bad flag.
func New(name, usage string, stderr io.Writer) *Command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return &Command{Flags: fs, name: name, stderr: stderr}
}

// Quick defines -quick, a short run for CI described by help, which sets
// each flag named in defaults to its value unless the flag is given
// explicitly.
func (c *Command) Quick(help string, defaults map[string]string) {
	c.quick = c.Flags.Bool("quick", false, help)
	c.quickSet = defaults
}

// Parse parses args. It returns ok = false and the exit code when the run
// ends here: 0 for -h, 2 for a bad flag or a stray argument (the error and
// the usage are printed). A -quick default that its flag rejects is a
// programming error, reported as exit code 2 too.
func (c *Command) Parse(args []string) (code int, ok bool) {
	if err := c.Flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if c.Flags.NArg() > 0 {
		return c.Bad("unexpected argument %q", c.Flags.Arg(0)), false
	}
	c.explicit, c.given = map[string]bool{}, map[string]bool{}
	c.Flags.Visit(func(f *flag.Flag) { c.explicit[f.Name], c.given[f.Name] = true, true })
	if c.quick != nil && *c.quick {
		for _, name := range slices.Sorted(maps.Keys(c.quickSet)) {
			if c.explicit[name] {
				continue
			}
			f := c.Flags.Lookup(name)
			if f == nil {
				return c.Bad("-quick sets -%s, which is not a flag", name), false
			}
			if err := f.Value.Set(c.quickSet[name]); err != nil {
				return c.Bad("-quick: -%s %s: %v", name, c.quickSet[name], err), false
			}
			c.given[name] = true
		}
	}
	return 0, true
}

// Explicit reports whether the flag was given on the command line.
func (c *Command) Explicit(name string) bool { return c.explicit[name] }

// Given reports whether the flag was given on the command line or set by
// -quick: whether its value is other than its default.
func (c *Command) Given(name string) bool { return c.given[name] }

// QuickMode reports whether -quick was given.
func (c *Command) QuickMode() bool { return c.quick != nil && *c.quick }

// Bad prints "name: message" and the usage, and returns exit code 2.
func (c *Command) Bad(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\n", c.name, fmt.Sprintf(format, args...))
	c.Flags.Usage()
	return 2
}

// Positive checks that each named integer flag given explicitly is at
// least 1: a 0 given on the command line is an error, never "the default"
// (leave the flag out for that). It returns the exit code of the first
// violation and false, or 0 and true.
func (c *Command) Positive(names ...string) (code int, ok bool) {
	for _, name := range names {
		f := c.Flags.Lookup(name)
		if f == nil || !c.explicit[name] {
			continue
		}
		v, err := strconv.ParseInt(f.Value.String(), 10, 64)
		if err == nil && v < 1 {
			return c.Bad("-%s %d: want a positive number (leave the flag out for the default, %s)", name, v, f.DefValue), false
		}
	}
	return 0, true
}
