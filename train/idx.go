package train

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/shearsml/shears/internal/envelope"
)

// IDX is the content of one IDX file, the format of the MNIST and
// Fashion-MNIST files: an array of unsigned bytes with its dimensions.
type IDX struct {
	// Dims are the sizes of the dimensions, outermost first, e.g.
	// [60000, 28, 28] for MNIST's training images and [60000] for its labels.
	Dims []int
	// Data holds the product of Dims bytes, row-major.
	Data []byte
}

// MaxIDXElements is the largest number of elements ReadIDX accepts (2^31-1,
// 2 GiB of bytes). A header that claims more is rejected before anything is
// allocated; MNIST's largest file has 47,040,000.
const MaxIDXElements = 1<<31 - 1

// IDX element types (the third byte of the magic number).
const idxUByte = 0x08

var idxTypeNames = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// ReadIDX decodes one IDX file from r, gzip-compressed or not: a stream that
// starts with the gzip magic bytes (1f 8b) is decompressed first, whatever
// its name.
//
// The format (http://yann.lecun.com/exdb/mnist/) is a magic number of two
// zero bytes, an element-type byte and a dimension count n, then n
// big-endian uint32 sizes, then the elements. Only the element type 0x08
// (unsigned byte), the type of every MNIST-format file, is supported; other
// types are an error that names them. ReadIDX returns an error, naming the
// problem, for a bad magic number, no dimensions, more than MaxIDXElements
// elements, a file that ends before the data the header describes, bytes
// after them, and (for gzip) a corrupt stream or a checksum that does not
// match. Memory grows with the bytes actually read, so a hostile header
// cannot make ReadIDX allocate much more than the input holds.
func ReadIDX(r io.Reader) (*IDX, error) {
	idx, err := readIDX(r)
	if err != nil {
		return nil, fmt.Errorf("train: IDX: %w", err)
	}
	return idx, nil
}

func readIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(2)
	if len(head) == 0 && err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the input is empty")
		}
		return nil, fmt.Errorf("%w", err)
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		return decodeIDX(zr, "gzip: ")
	}
	return decodeIDX(br, "")
}

// decodeIDX decodes an uncompressed IDX stream. pre prefixes errors of the
// underlying stream (e.g. "gzip: ").
func decodeIDX(r io.Reader, pre string) (*IDX, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, idxReadErr(err, pre, "header", n, len(magic))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("bad magic number %02x %02x %02x %02x: not an IDX file (want 00 00 08 n)",
			magic[0], magic[1], magic[2], magic[3])
	}
	if t := magic[2]; t != idxUByte {
		if name, ok := idxTypeNames[t]; ok {
			return nil, fmt.Errorf("element type 0x%02x (%s) is not supported; only 0x08 (unsigned byte) is", t, name)
		}
		return nil, fmt.Errorf("unknown element type 0x%02x; only 0x08 (unsigned byte) is supported", t)
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, errors.New("the header has no dimensions")
	}
	raw := make([]byte, 4*nd)
	if n, err := io.ReadFull(r, raw); err != nil {
		return nil, idxReadErr(err, pre, "dimensions", n, len(raw))
	}
	dims := make([]int, nd)
	total, zero := int64(1), false
	for i := range dims {
		v := int64(binary.BigEndian.Uint32(raw[4*i:]))
		if v > MaxIDXElements {
			return nil, fmt.Errorf("dimension %d is %d, more than MaxIDXElements (%d)", i, v, MaxIDXElements)
		}
		dims[i] = int(v)
		if v == 0 {
			zero = true
		}
		if !zero {
			total *= v
			if total > MaxIDXElements {
				return nil, fmt.Errorf("the dimensions %v hold more than MaxIDXElements (%d) elements",
					uint32s(raw), MaxIDXElements)
			}
		}
	}
	if zero {
		total = 0
	}
	data, err := readExact(r, int(total))
	if err != nil {
		return nil, idxReadErr(err, pre, "data", len(data), int(total))
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return nil, fmt.Errorf("trailing bytes after the %d data bytes that the dimensions %v describe",
			total, dims)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("after the data: %s%w", pre, err)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

func uint32s(raw []byte) []uint32 {
	out := make([]uint32, len(raw)/4)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return out
}

// idxReadErr describes a failed read of part of an IDX file.
func idxReadErr(err error, pre, part string, got, want int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%struncated %s: %d of %d bytes", pre, part, got, want)
	}
	return fmt.Errorf("reading the %s: %s%w", part, pre, err)
}

// readExact reads exactly n bytes. It starts with a buffer of at most 1 MiB
// and doubles it as data arrive, so a header that lies about n costs at most
// about twice the bytes that r actually holds. On error it returns what it
// read.
func readExact(r io.Reader, n int) ([]byte, error) {
	const first = 1 << 20
	buf := make([]byte, 0, min(n, first))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			next := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(next, buf)
			buf = next
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// ReadIDXFile reads the IDX file at path (gzip-compressed or not, see
// ReadIDX). Errors name the file.
func ReadIDXFile(path string) (*IDX, error) {
	return envelope.Load(path, "train: IDX file", readIDX)
}

// idxFiles are the four files of an MNIST-format folder, in the order
// LoadIDX reads them.
var idxFiles = [4]string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// findIDX returns the path of the file named name in dir, looking for, in
// this order, name, name.gz, and the dotted spelling of some MNIST copies
// (train-images.idx3-ubyte) with and without .gz.
func findIDX(dir, name string) (string, error) {
	dotted := strings.Replace(name, "-idx", ".idx", 1)
	for _, c := range []string{name, name + ".gz", dotted, dotted + ".gz"} {
		p := filepath.Join(dir, c)
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("train: %w", err)
		}
	}
	return "", fmt.Errorf("train: LoadIDX: %s has no file %s (nor %s.gz, %s, %s.gz)", dir, name, name, dotted, dotted)
}

// LoadIDX reads an MNIST-format folder: the four files
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte, each possibly gzipped (a .gz name, or any name
// whose content is gzip) and possibly spelled with a dot
// (train-images.idx3-ubyte); when several spellings are present, the first of
// name, name.gz, the dotted name and the dotted name.gz is read. This is how MNIST, Fashion-MNIST (Debian's
// dataset-fashion-mnist puts it in /usr/share/datasets/fashion-mnist) and
// KMNIST are distributed.
//
// Images must have three dimensions [N, H, W] (28×28 for MNIST, but any
// H×W is accepted, the same for both sets); they become Shape [1, H, W] with
// X = pixel/255 in [0, 1]. Each label file must have one dimension and as
// many labels as its image file has images. Classes is 10, or one more than
// the largest label of either set if that is above 9 (EMNIST's letters run
// to 26), so that both sets share one Classes. Names are the folder's name
// with "-train" and "-test" appended. The files are read concurrently.
func LoadIDX(dir string) (train, test *Dataset, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("train: LoadIDX: %w", err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("train: LoadIDX: %s is not a folder", dir)
	}
	var paths [4]string
	for i, name := range idxFiles {
		if paths[i], err = findIDX(dir, name); err != nil {
			return nil, nil, err
		}
	}
	var (
		files [4]*IDX
		errs  [4]error
		wg    sync.WaitGroup
	)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			files[i], errs[i] = ReadIDXFile(paths[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, nil, err
	}
	name := idxName(dir)
	train, trainMax, err := idxDataset(name+"-train", files[0], files[1], paths[0], paths[1])
	if err != nil {
		return nil, nil, err
	}
	test, testMax, err := idxDataset(name+"-test", files[2], files[3], paths[2], paths[3])
	if err != nil {
		return nil, nil, err
	}
	if train.Shape[1] != test.Shape[1] || train.Shape[2] != test.Shape[2] {
		return nil, nil, fmt.Errorf("train: LoadIDX: training images are %d×%d but test images are %d×%d",
			train.Shape[1], train.Shape[2], test.Shape[1], test.Shape[2])
	}
	classes := max(10, trainMax+1, testMax+1)
	train.Classes, test.Classes = classes, classes
	return train, test, nil
}

// pixelScale maps a byte to byte/255.
var pixelScale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// idxDataset builds a Dataset from an image file and a label file, checking
// that they fit together. It returns the largest label; Classes is left to
// the caller.
func idxDataset(name string, images, labels *IDX, imagePath, labelPath string) (*Dataset, int, error) {
	if len(images.Dims) != 3 {
		return nil, 0, fmt.Errorf("train: %s: images have %d dimensions %v, want 3 (count, height, width)",
			imagePath, len(images.Dims), images.Dims)
	}
	if len(labels.Dims) != 1 {
		return nil, 0, fmt.Errorf("train: %s: labels have %d dimensions %v, want 1 (count)",
			labelPath, len(labels.Dims), labels.Dims)
	}
	n, h, w := images.Dims[0], images.Dims[1], images.Dims[2]
	if n == 0 || h == 0 || w == 0 {
		return nil, 0, fmt.Errorf("train: %s: no images (dimensions %v)", imagePath, images.Dims)
	}
	if labels.Dims[0] != n {
		return nil, 0, fmt.Errorf("train: %s has %d labels but %s has %d images",
			labelPath, labels.Dims[0], imagePath, n)
	}
	d := &Dataset{
		Name:  name,
		X:     make([]float32, len(images.Data)),
		Y:     make([]int, n),
		Shape: []int{1, h, w},
	}
	for i, b := range images.Data {
		d.X[i] = pixelScale[b]
	}
	most := 0
	for i, b := range labels.Data {
		d.Y[i] = int(b)
		most = max(most, int(b))
	}
	return d, most, nil
}
