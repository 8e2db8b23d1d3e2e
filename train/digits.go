package train

import (
	"bytes"
	"compress/gzip"
	_ "embed" // for the embedded digits file
	"errors"
	"fmt"
	"io"
	"sync"
)

// digitsGz is the UCI "Optical Recognition of Handwritten Digits" test part,
// in the copy scikit-learn ships (see data/README.md for attribution and
// licence).
//
//go:embed data/digits.csv.gz
var digitsGz []byte

// DigitsLen is the number of examples Digits returns.
const DigitsLen = 1797

var digitsOnce struct {
	sync.Once
	d   *Dataset
	err error
}

// Digits returns the embedded handwritten digits: 1797 grey-scale images of
// 8×8 pixels (Shape [1, 8, 8]), 10 classes (the digits 0 to 9), about 180
// examples of each. Pixel counts 0..16 are scaled to X = pixel/16 in [0, 1].
// The order is the file's.
//
// The data are the test part of the UCI "Optical Recognition of Handwritten
// Digits" set (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), as scikit-learn's
// load_digits ships it. They are compiled into the package, so Digits needs
// no file and no network.
//
// The file is decompressed and parsed once per process; each call returns a
// new copy, which the caller owns and may change. Digits is safe to call from
// several goroutines.
func Digits() (*Dataset, error) {
	digitsOnce.Do(func() {
		d, err := parseDigitsGz(digitsGz)
		if err == nil && d.Len() != DigitsLen {
			err = fmt.Errorf("train: digits: the embedded file has %d rows, want %d", d.Len(), DigitsLen)
		}
		digitsOnce.d, digitsOnce.err = d, err
	})
	if digitsOnce.err != nil {
		return nil, digitsOnce.err
	}
	return digitsOnce.d.Clone(), nil
}

// parseDigitsGz decompresses and parses a gzipped digits CSV file.
func parseDigitsGz(gz []byte) (*Dataset, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("train: digits: %w", err)
	}
	raw, err := io.ReadAll(zr) // reading to EOF checks the gzip checksum
	if err != nil {
		return nil, fmt.Errorf("train: digits: %w", err)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("train: digits: %w", err)
	}
	return parseDigits(raw)
}

const (
	digitsSide   = 8
	digitsPixels = digitsSide * digitsSide
	digitsMaxPix = 16
)

// parseDigits parses the digits CSV format strictly: no header; one example
// per line, ended by "\n" (the last line may lack it); 65 comma-separated
// unsigned decimal integers, 64 pixels in 0..16 (row-major) and a label in
// 0..9. Anything else (an empty line, a space, a sign, "\r", a missing or
// extra column, a value out of range) is an error naming the line and column.
func parseDigits(raw []byte) (*Dataset, error) {
	const cols = digitsPixels + 1
	if len(raw) == 0 {
		return nil, errors.New("train: digits: the file is empty")
	}
	rows := bytes.Count(raw, []byte{'\n'})
	if raw[len(raw)-1] != '\n' {
		rows++
	}
	d := &Dataset{
		Name:    "digits",
		X:       make([]float32, 0, rows*digitsPixels),
		Y:       make([]int, 0, rows),
		Shape:   []int{1, digitsSide, digitsSide},
		Classes: 10,
	}
	line := 0
	for len(raw) > 0 {
		line++
		var text []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			text, raw = raw[:i], raw[i+1:]
		} else {
			text, raw = raw, nil
		}
		if len(text) == 0 {
			return nil, fmt.Errorf("train: digits: line %d is empty", line)
		}
		col := 0
		for field := range bytes.SplitSeq(text, []byte{','}) {
			col++
			if col > cols {
				return nil, fmt.Errorf("train: digits: line %d has more than %d columns", line, cols)
			}
			v, err := parseSmallUint(field)
			if err != nil {
				return nil, fmt.Errorf("train: digits: line %d, column %d: %v", line, col, err)
			}
			if col <= digitsPixels {
				if v > digitsMaxPix {
					return nil, fmt.Errorf("train: digits: line %d, column %d: pixel value %d is outside 0..%d",
						line, col, v, digitsMaxPix)
				}
				d.X = append(d.X, float32(v)/digitsMaxPix)
			} else {
				if v >= d.Classes {
					return nil, fmt.Errorf("train: digits: line %d, column %d: label %d is outside 0..%d",
						line, col, v, d.Classes-1)
				}
				d.Y = append(d.Y, v)
			}
		}
		if col != cols {
			return nil, fmt.Errorf("train: digits: line %d has %d columns, want %d", line, col, cols)
		}
	}
	return d, nil
}

// parseSmallUint parses one or more ASCII digits. Values above 999,999 are
// reported as out of range rather than parsed.
func parseSmallUint(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errors.New("empty value")
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not an unsigned integer", b)
		}
		if v > 99_999 {
			return 0, fmt.Errorf("%q is out of range", b)
		}
		v = v*10 + int(c-'0')
	}
	return v, nil
}
