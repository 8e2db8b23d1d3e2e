package prune

import (
	"cmp"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unsafe"
)

// This file holds the selection engine shared by Unstructured, Global and
// Layerwise: find the k candidates of least score, ties broken by position,
// and clear their mask bits.
//
// Scores are turned into unsigned integer keys whose order is the scores'
// order (for |w| the float's bit pattern without its sign; for any float64 a
// sign-flip transform). A radix select then finds the k-th smallest key with
// histograms of 16 bits a pass, re-reading the weights in every pass instead
// of storing keys: pass 1 counts the top 16 bits of every candidate's key and
// finds the bucket holding the k-th smallest. When that bucket is small (the
// usual case: it holds a fraction of a percent of the weights), a second and
// last pass prunes every candidate of a lower bucket and collects the
// bucket's members, which a radix select over that short list finishes.
// Otherwise the next pass counts the next 16 bits of the bucket's candidates,
// and so on, until the threshold key T and the number of candidates below it
// are known; one writing pass then prunes every candidate with a key below T
// and, in position order, as many with key T as are still needed.
//
// Time is linear; no key is stored, except when the scorer cannot be asked
// twice (storedKeys); the scratch is a 256 KiB histogram per goroutine and
// the members of one bucket. Passes run over contiguous ranges of the data on
// up to GOMAXPROCS goroutines, each with its own histogram; the result does
// not depend on how many there are.

// ukey is the type of a selection key.
type ukey interface{ ~uint32 | ~uint64 }

// keySource gives the keys of a selection's elements: segment seg is the
// selection's seg-th mask (and Param).
type keySource[K ukey] interface {
	// fill writes the keys of elements off, off+1, ... of segment seg into
	// out (len(out) <= 64, within the segment).
	fill(seg, off int, out []K)
	// limit is the largest key of a finite score; a larger key comes from a
	// NaN or an infinity.
	limit() K
	// invalid describes element i of segment seg, whose key is over limit.
	invalid(seg, i int) error
}

const (
	digitBits = 16
	nDigits   = 1 << digitBits
	// maxPerRange keeps every 32-bit histogram counter from overflowing.
	maxPerRange = math.MaxInt32
)

// minPerRange is the least number of elements worth a goroutine of its own.
// A variable so that tests can force many ranges on small inputs.
var minPerRange = 1 << 18

// smallSelect is the size up to which a selection collects every candidate
// and sorts them instead of building histograms. A variable for tests.
var smallSelect = 4096

// collectLimit is the bucket size up to which a selection stops the radix
// passes and collects the bucket's members (16 bytes each) while it writes;
// never more than a sixteenth of the elements. A variable so that tests can
// force every pass.
var collectLimit = 1 << 20

// maxRanges caps the number of ranges (0: GOMAXPROCS). Tests set it.
var maxRanges = 0

type histogram = [nDigits]uint32

var histPool = sync.Pool{New: func() any { return new(histogram) }}

// span is the words w0..w1-1 of segment seg.
type span struct{ seg, w0, w1 int }

// entry is a collected candidate: its key and its position in the
// selection (segments laid end to end).
type entry[K ukey] struct {
	key K
	pos int
}

// cut is the result of a selection, ready to be written into the masks.
type cut[K ukey] struct {
	src    keySource[K]
	masks  []*Mask
	ranges [][]span
	starts []int // position of each range's first element, then the total
	segOff []int // position of each segment's first element
	none   bool  // prune nothing
	all    bool  // prune every candidate
	t      K     // prune candidates with key < t ...
	quota  []int // ... and, per range, the first quota[r] with key == t

	// In bucket mode, the writing pass prunes the candidates whose key>>shift
	// is below t>>shift and collects those where it is equal; the need
	// smallest of these (ties by position) are pruned after.
	bucket  bool
	shift   uint
	need    int
	members []int // the bucket's members in each range
}

// partition splits the words of masks into contiguous ranges of about equal
// size, one per goroutine.
func partition(masks []*Mask) (ranges [][]span, starts []int) {
	total, words := 0, 0
	for _, m := range masks {
		total += m.n
		words += len(m.bits)
	}
	nr := 1
	if total >= 2*minPerRange {
		limit := maxRanges
		if limit <= 0 {
			limit = runtime.GOMAXPROCS(0)
		}
		nr = max(1, min(limit, total/minPerRange))
	}
	nr = max(nr, (total+maxPerRange-1)/maxPerRange)
	nr = max(1, min(nr, words))
	per := (words + nr - 1) / nr
	ranges = make([][]span, 0, nr)
	starts = make([]int, 0, nr+1)
	var cur []span
	curWords, pos := 0, 0
	starts = append(starts, 0)
	for s, m := range masks {
		w := 0
		for w < len(m.bits) {
			take := min(len(m.bits)-w, per-curWords)
			cur = append(cur, span{s, w, w + take})
			w += take
			curWords += take
			pos += min(m.n, w*64) - min(m.n, (w-take)*64)
			if curWords == per {
				ranges = append(ranges, cur)
				starts = append(starts, pos)
				cur, curWords = nil, 0
			}
		}
	}
	if len(cur) > 0 {
		ranges = append(ranges, cur)
		starts = append(starts, pos)
	}
	if len(ranges) == 0 { // only empty masks
		ranges = append(ranges, nil)
		starts = append(starts, pos)
	}
	return ranges, starts
}

// parallel runs f(0), ..., f(n-1), each on its own goroutine when n > 1.
func parallel(n int, f func(r int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for r := 1; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(r)
		}()
	}
	f(0)
	wg.Wait()
}

func keyBits[K ukey]() uint {
	var z K
	return uint(unsafe.Sizeof(z)) * 8
}

// selectLowest plans the pruning of the k candidates of least key among the
// kept entries of masks, ties broken by position. It reads every element
// once or more, reports an element whose key is over src.limit() as an
// error, and changes nothing: call write on the result.
func selectLowest[K ukey](src keySource[K], masks []*Mask, k int) (*cut[K], error) {
	cand, total := 0, 0
	for _, m := range masks {
		cand += m.kept
		total += m.n
	}
	ranges, starts := partition(masks)
	c := &cut[K]{src: src, masks: masks, ranges: ranges, starts: starts, segOff: make([]int, len(masks))}
	for s, pos := 0, 0; s < len(masks); s++ {
		c.segOff[s] = pos
		pos += masks[s].n
	}
	nr := len(ranges)
	if k <= 0 || k >= cand || total <= smallSelect {
		// Check every key; collect the candidates only when they must be ranked.
		small := k > 0 && k < cand
		lists := make([][]entry[K], nr)
		maxes := make([]K, nr)
		parallel(nr, func(r int) {
			lists[r], maxes[r] = c.collect(r, small)
		})
		if err := c.checkMax(maxes); err != nil {
			return nil, err
		}
		switch {
		case k <= 0:
			c.none = true
		case k >= cand:
			c.all = true
		default:
			c.finish(slices.Concat(lists...), k)
		}
		return c, nil
	}

	kb := keyBits[K]()
	levels := int(kb / digitBits)
	need := k // rank, from 1, of the wanted key among the current bucket's members
	var prefix K
	hists := make([]*histogram, nr)
	maxes := make([]K, nr)
	for level := 0; level < levels; level++ {
		shift := kb - digitBits*uint(level+1)
		parallel(nr, func(r int) {
			h := histPool.Get().(*histogram)
			clear(h[:])
			hists[r] = h
			maxes[r] = c.hist(r, level, shift, prefix, h)
		})
		if level == 0 {
			if err := c.checkMax(maxes); err != nil {
				for _, h := range hists {
					histPool.Put(h)
				}
				return nil, err
			}
		}
		d, below, count := pickDigit(hists, need)
		need -= below
		prefix |= K(d) << shift
		if level < levels-1 && count <= min(collectLimit, max(total/16, 1<<12)) {
			c.bucket, c.t, c.shift, c.need = true, prefix, shift, need
			c.members = make([]int, nr)
			for r, h := range hists {
				c.members[r] = int(h[d])
			}
		} else if level == levels-1 {
			// Every member of the bucket has key prefix: prune need of them,
			// the earliest first.
			c.t = prefix
			c.quota = make([]int, nr)
			left := need
			for r, h := range hists {
				q := min(int(h[d]), left)
				c.quota[r] = q
				left -= q
			}
		}
		for _, h := range hists {
			histPool.Put(h)
		}
		if c.bucket || level == levels-1 {
			break
		}
	}
	return c, nil
}

// pickDigit finds the digit whose bucket holds the need-th smallest member
// (counting from 1), the number of members in lower buckets and the number in
// that bucket.
func pickDigit(hists []*histogram, need int) (d, below, count int) {
	for d = 0; d < nDigits; d++ {
		n := 0
		for _, h := range hists {
			n += int(h[d])
		}
		if below+n >= need {
			return d, below, n
		}
		below += n
	}
	panic("prune: internal error: selection rank beyond the candidates")
}

// finish completes a selection from its remaining members, collected in
// position order: prune the need smallest, ties broken by position.
func (c *cut[K]) finish(es []entry[K], need int) {
	slices.SortFunc(es, func(a, b entry[K]) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return cmp.Compare(a.pos, b.pos)
	})
	c.t = es[need-1].key
	c.quota = make([]int, len(c.ranges))
	for _, e := range es[:need] {
		if e.key == c.t {
			r := sort.SearchInts(c.starts, e.pos+1) - 1
			c.quota[r]++
		}
	}
}

// checkMax reports the first invalid key when any range saw one.
func (c *cut[K]) checkMax(maxes []K) error {
	lim := c.src.limit()
	bad := false
	for _, m := range maxes {
		bad = bad || m > lim
	}
	if !bad {
		return nil
	}
	var buf [64]K
	for s, m := range c.masks {
		for off := 0; off < m.n; off += 64 {
			keys := buf[:min(64, m.n-off)]
			c.src.fill(s, off, keys)
			for j, k := range keys {
				if k > lim {
					return c.src.invalid(s, off+j)
				}
			}
		}
	}
	return nil
}

// hist counts digit (key>>shift)&0xffff of the candidates in range r whose
// key's higher digits equal prefix's. At level 0 it also returns the largest
// key of every element of the range, candidate or not.
func (c *cut[K]) hist(r, level int, shift uint, prefix K, h *histogram) (mx K) {
	if a, ok := any(c.src).(*abs32Keys); ok {
		if histAbs32(a, c.masks, c.ranges[r], level, uint32(prefix)>>16, h)>>31 != 0 {
			return K(uint32(math.MaxUint32))
		}
		return 0
	}
	var buf [64]K
	hiShift := shift + digitBits
	pre := prefix >> (hiShift & (keyBits[K]() - 1))
	for _, sp := range c.ranges[r] {
		m := c.masks[sp.seg]
		ws := m.bits[sp.w0:sp.w1]
		for i, word := range ws {
			off := (sp.w0 + i) * 64
			if level == 0 {
				keys := buf[:min(64, m.n-off)]
				c.src.fill(sp.seg, off, keys)
				if word == ^uint64(0) {
					for _, k := range keys {
						mx = max(mx, k)
						h[uint16(k>>shift)]++
					}
				} else {
					for j, k := range keys {
						mx = max(mx, k)
						h[uint16(k>>shift)] += uint32(word>>uint(j)) & 1
					}
				}
				continue
			}
			if word == 0 {
				continue
			}
			keys := buf[:min(64, m.n-off)]
			c.src.fill(sp.seg, off, keys)
			for j, k := range keys {
				if k>>hiShift == pre {
					h[uint16(k>>shift)] += uint32(word>>uint(j)) & 1
				}
			}
		}
	}
	return mx
}

// collect checks every key of range r and returns the largest; with keep,
// it also returns the range's candidates in position order.
func (c *cut[K]) collect(r int, keep bool) ([]entry[K], K) {
	var buf [64]K
	var out []entry[K]
	var mx K
	for _, sp := range c.ranges[r] {
		m := c.masks[sp.seg]
		base := c.segOff[sp.seg]
		for w := sp.w0; w < sp.w1; w++ {
			off := w * 64
			keys := buf[:min(64, m.n-off)]
			c.src.fill(sp.seg, off, keys)
			for _, k := range keys {
				mx = max(mx, k)
			}
			if !keep {
				continue
			}
			for b := m.bits[w]; b != 0; b &= b - 1 {
				j := bits.TrailingZeros64(b)
				out = append(out, entry[K]{keys[j], base + off + j})
			}
		}
	}
	return out, mx
}

// write clears the mask bits the cut selected.
func (c *cut[K]) write() {
	if c.none {
		return
	}
	if c.bucket {
		// Each range appends its members to its part of one slice.
		nr := len(c.ranges)
		offs := make([]int, nr+1)
		for r, n := range c.members {
			offs[r+1] = offs[r] + n
		}
		all := make([]entry[K], offs[nr])
		lists := make([][]entry[K], nr)
		parallel(nr, func(r int) { lists[r] = c.writeBucket(r, all[offs[r]:offs[r]:offs[r+1]]) })
		for r, l := range lists {
			if len(l) != c.members[r] || len(l) > 0 && &l[0] != &all[offs[r]] {
				all = slices.Concat(lists...) // cannot happen: the counts are exact
				break
			}
		}
		c.pruneLowest(all)
	} else {
		parallel(len(c.ranges), c.writeRange)
	}
	for _, m := range c.masks {
		m.recount()
	}
}

// pruneLowest prunes the c.need smallest of es (in position order, sharing
// the bits of c.t above c.shift), ties broken by position.
func (c *cut[K]) pruneLowest(es []entry[K]) {
	t, ties := c.t, c.need
	if c.shift > 0 {
		h := histPool.Get().(*histogram)
		hs := []*histogram{h}
		cur := es
		for shift := c.shift; shift > 0; {
			shift -= digitBits
			clear(h[:])
			for _, e := range cur {
				h[uint16(e.key>>shift)]++
			}
			d, below, _ := pickDigit(hs, ties)
			ties -= below
			t |= K(d) << shift
			if shift > 0 {
				next := make([]entry[K], 0, h[d])
				for _, e := range cur {
					if uint16(e.key>>shift) == uint16(d) {
						next = append(next, e)
					}
				}
				cur = next
			}
		}
		histPool.Put(h)
	}
	for _, e := range es {
		if e.key < t || e.key == t && ties > 0 {
			if e.key == t {
				ties--
			}
			s := sort.SearchInts(c.segOff, e.pos+1) - 1
			i := e.pos - c.segOff[s]
			c.masks[s].bits[i>>6] &^= 1 << (uint(i) & 63)
		}
	}
}

// writeBucket is the bucket mode's writing pass over range r: it prunes the
// candidates below the bucket and appends the bucket's to out, in position
// order.
func (c *cut[K]) writeBucket(r int, out []entry[K]) []entry[K] {
	if a, ok := any(c.src).(*abs32Keys); ok && c.shift == 16 {
		if out32, ok := any(out).([]entry[uint32]); ok {
			return entriesOf[K](writeBucketAbs32(a, c.masks, c.ranges[r], c.segOff, uint32(c.t)>>16, out32))
		}
	}
	var buf [64]K
	hi := c.t >> c.shift
	for _, sp := range c.ranges[r] {
		m := c.masks[sp.seg]
		base := c.segOff[sp.seg]
		ws := m.bits[sp.w0:sp.w1]
		for i, word := range ws {
			if word == 0 {
				continue
			}
			off := (sp.w0 + i) * 64
			keys := buf[:min(64, m.n-off)]
			c.src.fill(sp.seg, off, keys)
			var clr uint64
			for j, k := range keys {
				top := k >> c.shift
				clr |= lessBit(top, hi) << (uint(j) & 63)
				if top == hi && word>>(uint(j)&63)&1 == 1 {
					out = append(out, entry[K]{k, base + off + j})
				}
			}
			ws[i] = word &^ clr
		}
	}
	return out
}

// entriesOf returns the abs32 fast path's entries as the cut's key type,
// which is uint32 there (the compiler cannot know it).
func entriesOf[K ukey](es []entry[uint32]) []entry[K] {
	return any(es).([]entry[K])
}

func (c *cut[K]) writeRange(r int) {
	var buf [64]K
	quota := 0
	if c.quota != nil {
		quota = c.quota[r]
	}
	t := c.t
	if a, ok := any(c.src).(*abs32Keys); ok && !c.all {
		writeAbs32(a, c.masks, c.ranges[r], uint32(t), quota)
		return
	}
	for _, sp := range c.ranges[r] {
		m := c.masks[sp.seg]
		ws := m.bits[sp.w0:sp.w1]
		for i, word := range ws {
			if word == 0 {
				continue
			}
			if c.all {
				ws[i] = 0
				continue
			}
			off := (sp.w0 + i) * 64
			keys := buf[:min(64, m.n-off)]
			c.src.fill(sp.seg, off, keys)
			var clr, eq uint64
			for j, k := range keys {
				clr |= lessBit(k, t) << uint(j)
				if k == t {
					eq |= 1 << uint(j)
				}
			}
			clr &= word
			if eq &= word; eq != 0 && quota > 0 {
				for ; eq != 0 && quota > 0; eq &= eq - 1 {
					clr |= eq & -eq
					quota--
				}
			}
			ws[i] = word &^ clr
		}
	}
}

func lessBit[K ukey](a, b K) uint64 {
	if a < b {
		return 1
	}
	return 0
}
