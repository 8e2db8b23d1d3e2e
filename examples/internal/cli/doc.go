// Package cli is the flag handling shared by the example programs: usage
// text, bad flags and stray arguments (exit code 2, with the usage), -h
// (exit code 0), and -quick, applied one way everywhere: it changes the
// defaults of the flags it names, and a flag given explicitly wins.
//
// A program defines its flags on Command.Flags, names what -quick changes
// with Quick, and calls Parse once; Explicit and Given then tell a value
// given on the command line from a default, so that an explicit 0 can be
// refused instead of replaced.
package cli
