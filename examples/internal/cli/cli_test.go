package cli

import (
	"bytes"
	"strings"
	"testing"
)

func newCmd(stderr *bytes.Buffer) (*Command, *int, *string) {
	c := New("prog", "Usage: prog [flags]\n", stderr)
	n := c.Flags.Int("n", 100, "steps")
	s := c.Flags.String("s", "big", "size")
	c.Quick("a tiny run", map[string]string{"n": "5", "s": "small"})
	return c, n, s
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		code  int
		ok    bool
		n     int
		s     string
		given bool // of -n
	}{
		{nil, 0, true, 100, "big", false},
		{[]string{"-quick"}, 0, true, 5, "small", true},
		{[]string{"-quick", "-n", "7"}, 0, true, 7, "small", true},
		{[]string{"-n", "7", "-quick"}, 0, true, 7, "small", true},
		{[]string{"-h"}, 0, false, 100, "big", false},
		{[]string{"-x"}, 2, false, 100, "big", false},
		{[]string{"extra"}, 2, false, 100, "big", false},
		{[]string{"-n", "zz"}, 2, false, 100, "big", false},
	} {
		var stderr bytes.Buffer
		c, n, s := newCmd(&stderr)
		code, ok := c.Parse(tc.args)
		if code != tc.code || ok != tc.ok {
			t.Errorf("%v: code %d ok %v, want %d %v", tc.args, code, ok, tc.code, tc.ok)
			continue
		}
		if !ok {
			if !strings.Contains(stderr.String(), "Usage: prog") {
				t.Errorf("%v: no usage in %q", tc.args, stderr.String())
			}
			continue
		}
		if *n != tc.n || *s != tc.s || c.Given("n") != tc.given {
			t.Errorf("%v: n %d s %q given %v, want %d %q %v", tc.args, *n, *s, c.Given("n"), tc.n, tc.s, tc.given)
		}
		if c.Explicit("n") != strings.Contains(strings.Join(tc.args, " "), "-n") {
			t.Errorf("%v: Explicit(n) = %v", tc.args, c.Explicit("n"))
		}
	}
}

func TestPositive(t *testing.T) {
	var stderr bytes.Buffer
	c, _, _ := newCmd(&stderr)
	if _, ok := c.Parse([]string{"-n", "0"}); !ok {
		t.Fatal("parse")
	}
	if code, ok := c.Positive("n"); ok || code != 2 || !strings.Contains(stderr.String(), "prog: -n 0: want a positive number") {
		t.Errorf("explicit -n 0: %d %v %q", code, ok, stderr.String())
	}
	c, _, _ = newCmd(&stderr)
	c.Parse(nil)
	if _, ok := c.Positive("n"); !ok {
		t.Error("default rejected")
	}
}
