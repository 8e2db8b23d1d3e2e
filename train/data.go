package train

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
)

// Dataset is a labelled set of examples held in memory, example-major.
//
// Example i is X[i*Features() : (i+1)*Features()] with label Y[i]. A Dataset
// returned by this package (Digits, LoadIDX, Load, Subset, Split, Shuffled)
// passes Validate and shares no memory with any other Dataset, so it may be
// changed (for example by Standardize) without affecting another one.
// Methods that only read a Dataset may be called from several goroutines at
// once; methods that change it (Standardize) may not run concurrently with
// anything else on the same Dataset.
type Dataset struct {
	// Name says where the data came from, e.g. "digits-train" or
	// "fashion-mnist-test". It is informational only.
	Name string
	// X holds Len()*Features() values, example-major. Pixel data is scaled
	// to [0, 1].
	X []float32
	// Y holds one label per example, each in [0, Classes).
	Y []int
	// Shape is the shape of one example: [C, H, W] for images, e.g.
	// [1, 8, 8] or [1, 28, 28]. Every entry is positive.
	Shape []int
	// Classes is the number of classes; labels run from 0 to Classes-1.
	Classes int
}

// Len returns the number of examples, len(Y).
func (d *Dataset) Len() int { return len(d.Y) }

// Features returns the number of values in one example, the product of Shape.
// It returns 0 when Shape is empty, has an entry that is not positive, or its
// product does not fit in an int; Validate reports which.
func (d *Dataset) Features() int {
	f, err := shapeSize(d.Shape)
	if err != nil {
		return 0
	}
	return f
}

// shapeSize returns the product of shape, or an error naming what is wrong.
func shapeSize(shape []int) (int, error) {
	if len(shape) == 0 {
		return 0, errors.New("the Shape is empty")
	}
	p := 1
	for i, s := range shape {
		if s <= 0 {
			return 0, fmt.Errorf("the Shape %v has Shape[%d] = %d, not positive", shape, i, s)
		}
		if p > math.MaxInt/s {
			return 0, fmt.Errorf("the Shape %v has more elements than an int can count", shape)
		}
		p *= s
	}
	return p, nil
}

// checkLengths checks the structure (Shape, len(X) against len(Y)) but not
// the values. It is what every method that copies examples needs.
func (d *Dataset) checkLengths() (features int, err error) {
	f, err := shapeSize(d.Shape)
	if err != nil {
		return 0, fmt.Errorf("train: dataset %q: %v", d.Name, err)
	}
	n := len(d.Y)
	if n > math.MaxInt/f || len(d.X) != n*f {
		return 0, fmt.Errorf("train: dataset %q: len(X) = %d, want len(Y)*Features() = %d*%d",
			d.Name, len(d.X), n, f)
	}
	return f, nil
}

// Validate reports the first problem it finds, or nil: Shape empty or with an
// entry that is not positive, Classes not positive, len(X) not equal to
// Len()*Features(), a label outside [0, Classes), or a value of X that is NaN
// or infinite. A Dataset with no examples is valid.
func (d *Dataset) Validate() error {
	if d == nil {
		return errors.New("train: nil Dataset")
	}
	f, err := d.checkLengths()
	if err != nil {
		return err
	}
	if d.Classes <= 0 {
		return fmt.Errorf("train: dataset %q: Classes = %d is not positive", d.Name, d.Classes)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("train: dataset %q: label %d of example %d is outside [0, %d)",
				d.Name, y, i, d.Classes)
		}
	}
	for i, x := range d.X {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nonFinitef("train: dataset %q: X[%d] (example %d) is %v",
				d.Name, i, i/f, x)
		}
	}
	return nil
}

// Clone returns a deep copy of d.
func (d *Dataset) Clone() *Dataset {
	return &Dataset{
		Name:    d.Name,
		X:       slices.Clone(d.X),
		Y:       slices.Clone(d.Y),
		Shape:   slices.Clone(d.Shape),
		Classes: d.Classes,
	}
}

// empty returns a Dataset like d (name, shape, classes) with room for n
// examples of f values each.
func (d *Dataset) empty(n, f int) *Dataset {
	return &Dataset{
		Name:    d.Name,
		X:       make([]float32, n*f),
		Y:       make([]int, n),
		Shape:   slices.Clone(d.Shape),
		Classes: d.Classes,
	}
}

// Subset returns a new Dataset holding copies of the examples idx names, in
// the order of idx. An index may appear more than once (a bootstrap sample);
// an index outside [0, Len()) is an error, as is a d whose lengths disagree
// (see Validate). Labels and values are copied as they are, not checked.
func (d *Dataset) Subset(idx []int) (*Dataset, error) {
	f, err := d.checkLengths()
	if err != nil {
		return nil, err
	}
	n := d.Len()
	for pos, i := range idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("train: dataset %q: Subset index %d (at position %d) is outside [0, %d)",
				d.Name, i, pos, n)
		}
	}
	out := d.empty(len(idx), f)
	for k, i := range idx {
		copy(out.X[k*f:(k+1)*f], d.X[i*f:(i+1)*f])
		out.Y[k] = d.Y[i]
	}
	return out, nil
}

// Split returns copies of the first n examples and of the rest. n must be in
// [0, Len()]; either part may be empty.
func (d *Dataset) Split(n int) (first, rest *Dataset, err error) {
	f, err := d.checkLengths()
	if err != nil {
		return nil, nil, err
	}
	if n < 0 || n > d.Len() {
		return nil, nil, fmt.Errorf("train: dataset %q: Split(%d) is outside [0, %d]", d.Name, n, d.Len())
	}
	first = d.empty(n, f)
	copy(first.X, d.X[:n*f])
	copy(first.Y, d.Y[:n])
	rest = d.empty(d.Len()-n, f)
	copy(rest.X, d.X[n*f:])
	copy(rest.Y, d.Y[n:])
	return first, rest, nil
}

// Shuffled returns a copy of d with its examples in a random order drawn from
// rng (a Fisher–Yates shuffle; the same seed gives the same order). d is not
// changed. It returns an error, naming the problem, for a nil rng or a
// Dataset whose len(X) is not Len()*Features().
func (d *Dataset) Shuffled(rng *rand.Rand) (*Dataset, error) {
	if rng == nil {
		return nil, errors.New("train: Shuffled: nil rng")
	}
	f, err := d.checkLengths()
	if err != nil {
		return nil, err
	}
	perm := permutation(d.Len(), rng)
	out := d.empty(len(perm), f)
	for k, i := range perm {
		copy(out.X[k*f:(k+1)*f], d.X[i*f:(i+1)*f])
		out.Y[k] = d.Y[i]
	}
	return out, nil
}

// permutation returns a random permutation of 0..n-1 (Fisher–Yates, drawing
// from rng with IntN).
func permutation(n int, rng *rand.Rand) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Batch copies the examples [start, start+size) into the caller's buffers,
// values into x (Features() per example) and labels into y, and returns how
// many it copied. It allocates nothing.
//
// The range is clipped to the examples that exist, so the last batch of an
// epoch is partial rather than dropped: with Len() = 1437 and size 500 the
// batches starting at 0, 500 and 1000 hold 500, 500 and 437 examples. The
// count is also clipped to what the buffers hold (len(y) labels,
// len(x)/Features() examples), and it is 0 when start is negative or at least
// Len(), when size is not positive, or when d's lengths disagree (see
// Validate). Values past the copied examples in x and y are left as they
// were.
func (d *Dataset) Batch(start, size int, x []float32, y []int) int {
	f := d.Features()
	n := d.Len()
	if f == 0 || start < 0 || start >= n || size <= 0 || len(d.X) != n*f {
		return 0
	}
	count := min(size, n-start, len(y), len(x)/f)
	copy(x[:count*f], d.X[start*f:(start+count)*f])
	copy(y[:count], d.Y[start:start+count])
	return count
}

// MeanStd returns the mean and the population standard deviation (divided
// by the number of values, as NumPy's std and torchvision's Normalize
// statistics) of all values of X, accumulated in float64 in two passes.
// It returns 0, 0 when X is empty.
func (d *Dataset) MeanStd() (mean, std float32) {
	if len(d.X) == 0 {
		return 0, 0
	}
	var sum float64
	for _, x := range d.X {
		sum += float64(x)
	}
	m := sum / float64(len(d.X))
	var ss float64
	for _, x := range d.X {
		dx := float64(x) - m
		ss += dx * dx
	}
	return float32(m), float32(math.Sqrt(ss / float64(len(d.X))))
}

// Standardize replaces every value x of X, in place, with (x-mean)/std.
// Compute mean and std on the training set (MeanStd) and apply the same two
// numbers to the validation and test sets.
//
// When std is 0, NaN or infinite (MeanStd of data that are all equal gives
// 0), Standardize divides by 1, that is it only subtracts the mean, as
// scikit-learn's StandardScaler does for a feature of zero variance.
func (d *Dataset) Standardize(mean, std float32) {
	s := float64(std)
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		std = 1
	}
	inv := 1 / std
	for i, x := range d.X {
		d.X[i] = (x - mean) * inv
	}
}

// Splits is a training set, a validation set and a test set of the same
// kind of examples. Val is nil when no validation set was asked for.
type Splits struct {
	Train, Val, Test *Dataset
}

// Validate checks that Train and Test are present, that every set present
// passes Dataset.Validate, and that they all have the same Shape and Classes.
// The evaluation sets must not be empty: an empty Test set would report an
// accuracy of 0 for nothing measured, and an empty Val set would make the
// first evaluation the early-stopping point (set Val to nil for no
// validation set: the early-stopping point is then the last evaluation).
func (s Splits) Validate() error {
	if s.Train == nil {
		return errors.New("train: Splits.Train is nil")
	}
	if s.Test == nil {
		return errors.New("train: Splits.Test is nil")
	}
	if s.Test.Len() == 0 {
		return fmt.Errorf("train: test set %q is empty: there is nothing to measure accuracy on", s.Test.Name)
	}
	if s.Val != nil && s.Val.Len() == 0 {
		return fmt.Errorf("train: validation set %q is empty: set Splits.Val to nil for no validation set", s.Val.Name)
	}
	for _, d := range []*Dataset{s.Train, s.Val, s.Test} {
		if d == nil {
			continue
		}
		if err := d.Validate(); err != nil {
			return err
		}
		if !slices.Equal(d.Shape, s.Train.Shape) || d.Classes != s.Train.Classes {
			return fmt.Errorf("train: dataset %q has Shape %v and %d classes, but %q has Shape %v and %d classes",
				d.Name, d.Shape, d.Classes, s.Train.Name, s.Train.Shape, s.Train.Classes)
		}
	}
	return nil
}

// DigitsTest is the number of examples Load("digits", ...) puts in the test
// set.
const DigitsTest = 360

// Stream constants of the PCG generators Load uses, so that Load(..., seed)
// does not draw the same numbers as another user of rand.NewPCG(seed, 0).
const (
	loadStream       = 0x4c6f616453706c74 // "LoadSplt"
	digitsTestSeed   = 0x7465737473657431 // "testset1": the fixed digits test set
	digitsTestStream = 0x6469676974733130 // "digits10"
)

// Load returns training, validation and test sets from source:
//
//   - "digits": the embedded digits (see Digits), 1797 examples. The test set
//     is 360 examples (DigitsTest) chosen by a fixed shuffle that does not
//     depend on seed, so every seed is measured on the same test set, as
//     MNIST's t10k is. Of the other 1437, seed chooses val examples for the
//     validation set, and the 1437-val left are the training set: with
//     val = 0, 1437 train and no validation set; with val = 300, 1137 train,
//     300 val and 360 test. val may be at most 1436.
//   - a folder: LoadIDX(source). seed chooses val examples of its training
//     set (60,000 for MNIST and Fashion-MNIST) as the validation set; the
//     rest are the training set, and the test set is the t10k files.
//
// Each set lists its examples in the order of the source (train, val and test
// are disjoint, and together they are all of the source's examples); the
// trainer shuffles the training set itself. The same source, val and seed
// give the same sets on every run and platform. val = 0 gives Val = nil.
// Names are the source's name with "-train", "-val", "-test" appended.
//
// A negative val, a val that would leave no training example, or a source
// that is neither "digits" nor a folder is an error. "digits" always means the
// embedded set; pass "./digits" for a folder of that name.
func Load(source string, val int, seed uint64) (Splits, error) {
	if val < 0 {
		return Splits{}, fmt.Errorf("train: Load(%q): val = %d is negative", source, val)
	}
	if source == "digits" {
		return loadDigits(val, seed)
	}
	fi, err := os.Stat(source)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Splits{}, fmt.Errorf("train: unknown data source %q: it is not \"digits\" and no such folder exists", source)
	case err != nil:
		return Splits{}, fmt.Errorf("train: data source %q: %w", source, err)
	case !fi.IsDir():
		return Splits{}, fmt.Errorf("train: unknown data source %q: it is not \"digits\" and it is a file, not a folder of IDX files", source)
	}
	tr, te, err := LoadIDX(source)
	if err != nil {
		return Splits{}, err
	}
	if val >= tr.Len() {
		return Splits{}, fmt.Errorf("train: Load(%q): val = %d would leave no training example (the training set has %d)",
			source, val, tr.Len())
	}
	base := idxName(source)
	trn, v, err := holdOut(tr, val, rand.New(rand.NewPCG(seed, loadStream)))
	if err != nil {
		return Splits{}, err
	}
	trn.Name, te.Name = base+"-train", base+"-test"
	if v != nil {
		v.Name = base + "-val"
	}
	return Splits{Train: trn, Val: v, Test: te}, nil
}

// loadDigits implements Load("digits", val, seed).
func loadDigits(val int, seed uint64) (Splits, error) {
	all, err := Digits()
	if err != nil {
		return Splits{}, err
	}
	if most := all.Len() - DigitsTest - 1; val > most {
		return Splits{}, fmt.Errorf("train: Load(\"digits\"): val = %d would leave no training example (at most %d)",
			val, most)
	}
	rest, test, err := holdOut(all, DigitsTest, rand.New(rand.NewPCG(digitsTestSeed, digitsTestStream)))
	if err != nil {
		return Splits{}, err
	}
	trn, v, err := holdOut(rest, val, rand.New(rand.NewPCG(seed, loadStream)))
	if err != nil {
		return Splits{}, err
	}
	trn.Name, test.Name = "digits-train", "digits-test"
	if v != nil {
		v.Name = "digits-val"
	}
	return Splits{Train: trn, Val: v, Test: test}, nil
}

// holdOut chooses k examples of d at random (from rng) and returns the others
// and the chosen ones, each in d's order. With k = 0 it returns d itself and
// nil.
func holdOut(d *Dataset, k int, rng *rand.Rand) (rest, held *Dataset, err error) {
	if k == 0 {
		return d, nil, nil
	}
	n := d.Len()
	if k < 0 || k > n {
		return nil, nil, fmt.Errorf("train: dataset %q: cannot hold out %d of %d examples", d.Name, k, n)
	}
	chosen := make([]bool, n)
	for _, i := range permutation(n, rng)[:k] {
		chosen[i] = true
	}
	heldIdx := make([]int, 0, k)
	restIdx := make([]int, 0, n-k)
	for i, c := range chosen {
		if c {
			heldIdx = append(heldIdx, i)
		} else {
			restIdx = append(restIdx, i)
		}
	}
	if held, err = d.Subset(heldIdx); err != nil {
		return nil, nil, err
	}
	if rest, err = d.Subset(restIdx); err != nil {
		return nil, nil, err
	}
	return rest, held, nil
}

// idxName is the name of a data folder: its last path element.
func idxName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return filepath.Base(abs)
}
