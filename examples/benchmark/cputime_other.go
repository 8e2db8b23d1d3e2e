//go:build !unix

package main

// cpuSeconds returns -1: the process's CPU time is not read on this
// platform (the CPU-time rates are then not shown).
func cpuSeconds() float64 { return -1 }
