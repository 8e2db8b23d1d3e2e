package train

import (
	"runtime"
	"sync"
)

// This file holds the goroutines that let one op use several cores: a
// fixed pool of workers, started on first use, that run ranges of an op's
// work. An op splits its work into ranges whose results do not depend on
// how many ranges there are (each output element is computed by one range,
// the same way), so the numbers are the same on any GOMAXPROCS.

// ranger is work split into ranges: runRange does [lo, hi) as worker w
// (0 ≤ w < the number of ranges), with w's own scratch.
type ranger interface {
	runRange(w, lo, hi int)
}

type rangeJob struct {
	r         ranger
	w, lo, hi int
	wg        *sync.WaitGroup
}

var (
	poolMu   sync.Mutex
	poolSize int
	jobs     = make(chan rangeJob)
)

// maxWorkers bounds the ranges one op is split into.
const maxWorkers = 16

// workers returns how many ranges work of n units should be split into: 1
// when n is small (below minPer units per range) or GOMAXPROCS is 1, at
// most GOMAXPROCS and maxWorkers.
func workers(n, minPer int) int {
	w := min(runtime.GOMAXPROCS(0), maxWorkers, n/max(minPer, 1))
	return max(w, 1)
}

// parallel runs r over [0, n) split into nw contiguous ranges, the last on
// the calling goroutine and the others on the pool, and returns when all
// are done. wg is the caller's (so that a run allocates nothing).
func parallel(r ranger, n, nw int, wg *sync.WaitGroup) {
	if nw <= 1 || n <= 1 {
		r.runRange(0, 0, n)
		return
	}
	startWorkers(nw - 1)
	wg.Add(nw - 1)
	for w := 0; w < nw-1; w++ {
		jobs <- rangeJob{r: r, w: w, lo: w * n / nw, hi: (w + 1) * n / nw, wg: wg}
	}
	r.runRange(nw-1, (nw-1)*n/nw, n)
	wg.Wait()
}

// startWorkers makes sure the pool has at least n goroutines.
func startWorkers(n int) {
	poolMu.Lock()
	defer poolMu.Unlock()
	for ; poolSize < n; poolSize++ {
		go func() {
			for j := range jobs {
				j.r.runRange(j.w, j.lo, j.hi)
				j.wg.Done()
			}
		}()
	}
}
