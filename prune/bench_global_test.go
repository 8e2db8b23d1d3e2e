package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchShapes are the 12 tensors of the global-pruning benchmark at their
// base size, as [rows, rest]: convolution kernels (out × in·kh·kw) and dense
// layers. A benchmark of N weights scales the rows so that the total is about
// N; scripts/bench_torch_prune.py builds the same shapes.
var benchShapes = [12][2]int{
	{64, 147}, {64, 576}, {128, 576}, {128, 1152}, {256, 1152}, {256, 2304},
	{512, 2304}, {512, 4608}, {512, 4608}, {1024, 2048}, {2048, 1024}, {1000, 2048},
}

// benchScaled returns the shapes scaled to about n weights in all:
// rows_i = max(1, round(rows_i·n / base)), with base the base total.
func benchScaled(n int) [][]int {
	base := 0
	for _, s := range benchShapes {
		base += s[0] * s[1]
	}
	out := make([][]int, len(benchShapes))
	for i, s := range benchShapes {
		rows := max(1, (s[0]*n+base/2)/base)
		out[i] = []int{rows, s[1]}
	}
	return out
}

var benchCache = struct {
	sync.Mutex
	params map[int][]Param
}{params: map[int][]Param{}}

// benchParams returns float32 Params of about n normal weights, generated
// once per size (seeded, on all cores) and shared by the benchmarks.
func benchParams(n int) []Param {
	benchCache.Lock()
	defer benchCache.Unlock()
	if ps, ok := benchCache.params[n]; ok {
		return ps
	}
	shapes := benchScaled(n)
	ps := make([]Param, len(shapes))
	var wg sync.WaitGroup
	for i, sh := range shapes {
		data := make([]float32, sh[0]*sh[1])
		ps[i] = Param{Name: fmt.Sprintf("w%d", i), Value: dense32(sh, data)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 2024))
			for j := range data {
				data[j] = float32(rng.NormFloat64() * 0.05)
			}
		}()
	}
	wg.Wait()
	benchCache.params[n] = ps
	return ps
}

func totalSize(ps []Param) int {
	n := 0
	for _, p := range ps {
		n += p.Size()
	}
	return n
}

// BenchmarkGlobal times Global{L1{}, Fraction(0.2)} over 12 float32 tensors
// from all-kept masks (reset outside the timer), and a Global with a
// ScoreFunc of the caller's (scores kept, 8 bytes a weight). Compare with
// scripts/bench_torch_prune.py on the same machine.
func BenchmarkGlobal(b *testing.B) {
	sizes := []int{1_000_000, 10_000_000, 100_000_000}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("L1/%dM", n/1_000_000), func(b *testing.B) {
			if n >= 100_000_000 && testing.Short() {
				b.Skip("100M weights under -short")
			}
			benchGlobal(b, benchParams(n), Global{Scorer: L1{}, Amount: Fraction(0.2)})
		})
	}
	absFunc := ScoreFunc(func(p Param, dst []float64) error {
		for i, x := range data32(p.Value) {
			dst[i] = math.Abs(float64(x))
		}
		return nil
	})
	b.Run("ScoreFunc/10M", func(b *testing.B) {
		benchGlobal(b, benchParams(10_000_000), Global{Scorer: absFunc, Amount: Fraction(0.2)})
	})
	// The general path: 64-bit keys of float64 weights, computed inline.
	b.Run("L1-float64/10M", func(b *testing.B) {
		ps32 := benchParams(10_000_000)
		ps := make([]Param, len(ps32))
		for i, p := range ps32 {
			d := make([]float64, p.Size())
			for j, x := range data32(p.Value) {
				d[j] = float64(x)
			}
			ps[i] = Param{Name: p.Name, Value: dense64(p.Shape(), d)}
		}
		benchGlobal(b, ps, Global{Scorer: L1{}, Amount: Fraction(0.2)})
	})
	// A second round: 20% of the 80% still kept, the masks no longer full.
	b.Run("L1-round2/10M", func(b *testing.B) {
		ps := benchParams(10_000_000)
		first := NewMasks(ps)
		if err := (Global{Amount: Fraction(0.2)}).Prune(first, ps); err != nil {
			b.Fatal(err)
		}
		benchGlobalFrom(b, ps, first, Global{Scorer: L1{}, Amount: Fraction(0.2)})
	})
}

func benchGlobal(b *testing.B, ps []Param, pr Pruner) {
	benchGlobalFrom(b, ps, NewMasks(ps), pr)
}

func benchGlobalFrom(b *testing.B, ps []Param, start *Masks, pr Pruner) {
	n := totalSize(ps)
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		ms := start.Clone()
		c0 := cpuTime()
		b.StartTimer()
		if err := pr.Prune(ms, ps); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "weights/s")
	// CPU time of the process (all threads): on a busy machine it says
	// more than the wall clock.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
