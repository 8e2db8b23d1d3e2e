// Package envelope frames the binary and text files that shears writes: a
// magic string naming the kind of file, a format version, the payload length
// and a CRC-32C checksum of the payload, so that a reader rejects a foreign,
// truncated or corrupted file with a clear error.
//
// Layout (little endian):
//
//	magic   8 bytes, e.g. "SHRMASK\x00"
//	version uint32
//	length  uint64   payload bytes
//	payload length bytes
//	crc     uint32   CRC-32C (Castagnoli) of magic, version, length and payload
package envelope

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
)

// HeaderSize is the number of bytes before the payload.
const HeaderSize = 8 + 4 + 8

var table = crc32.MakeTable(crc32.Castagnoli)

// Encode returns the framed bytes of payload. magic must be exactly 8 bytes.
func Encode(magic string, version uint32, payload []byte) []byte {
	if len(magic) != 8 {
		panic("envelope: magic must be 8 bytes")
	}
	buf := make([]byte, 0, HeaderSize+len(payload)+4)
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint32(buf, version)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, table))
}

// Write writes the framed payload to w and returns the bytes written.
func Write(w io.Writer, magic string, version uint32, payload []byte) (int64, error) {
	n, err := w.Write(Encode(magic, version, payload))
	return int64(n), err
}

// ErrForeign is wrapped by errors about a file of another kind.
var ErrForeign = errors.New("not a file of this kind")

// Decode checks data's frame and returns its version and payload. what names
// the kind of file in errors ("mask file", "checkpoint"). Versions above
// maxVersion are rejected. Bytes after the frame are an error.
func Decode(data []byte, magic, what string, maxVersion uint32) (uint32, []byte, error) {
	if len(data) < len(magic) || !bytes.Equal(data[:len(magic)], []byte(magic)) {
		return 0, nil, fmt.Errorf("%s: bad magic number: %w", what, ErrForeign)
	}
	if len(data) < HeaderSize+4 {
		return 0, nil, fmt.Errorf("%s: truncated: %d bytes, the header alone needs %d", what, len(data), HeaderSize+4)
	}
	version := binary.LittleEndian.Uint32(data[8:12])
	length := binary.LittleEndian.Uint64(data[12:20])
	if length > uint64(len(data)-HeaderSize-4) {
		return 0, nil, fmt.Errorf("%s: truncated: header says %d payload bytes, %d present", what, length, len(data)-HeaderSize-4)
	}
	end := HeaderSize + int(length)
	if len(data) != end+4 {
		return 0, nil, fmt.Errorf("%s: %d unexpected bytes after the checksum", what, len(data)-end-4)
	}
	if got, want := crc32.Checksum(data[:end], table), binary.LittleEndian.Uint32(data[end:]); got != want {
		return 0, nil, fmt.Errorf("%s: checksum mismatch (file says %08x, content gives %08x): the file is corrupted", what, want, got)
	}
	if version == 0 || version > maxVersion {
		return 0, nil, fmt.Errorf("%s: unsupported format version %d (this build reads 1 to %d)", what, version, maxVersion)
	}
	return version, data[HeaderSize:end], nil
}

// Read reads one framed file from r and decodes it. It reads the header
// first and rejects a foreign stream (wrong magic), an unsupported version or
// a declared payload over limit bytes before reading any further, then reads
// the payload as it arrives (memory grows with the bytes actually present,
// never with the length a damaged header claims) and requires r to end right
// after the checksum.
func Read(r io.Reader, magic, what string, maxVersion uint32, limit int64) (uint32, []byte, error) {
	var head [HeaderSize]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	if n < len(magic) || string(head[:len(magic)]) != magic {
		return 0, nil, fmt.Errorf("%s: bad magic number: %w", what, ErrForeign)
	}
	if n < HeaderSize {
		return 0, nil, fmt.Errorf("%s: truncated: %d bytes, the header alone needs %d", what, n, HeaderSize+4)
	}
	version := binary.LittleEndian.Uint32(head[8:12])
	if version == 0 || version > maxVersion {
		return 0, nil, fmt.Errorf("%s: unsupported format version %d (this build reads 1 to %d)", what, version, maxVersion)
	}
	length := binary.LittleEndian.Uint64(head[12:20])
	if limit < HeaderSize+4 || length > uint64(limit-HeaderSize-4) {
		return 0, nil, fmt.Errorf("%s: header declares %d payload bytes, more than the %d-byte limit", what, length, limit)
	}
	var buf bytes.Buffer
	// Room for what the header declares, up to 64 MiB: beyond that the
	// buffer grows as data arrive, so a lying header costs little.
	buf.Grow(HeaderSize + int(min(length+4, 64<<20)))
	buf.Write(head[:])
	want := int64(length) + 4
	got, err := io.Copy(&buf, io.LimitReader(r, want))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	if got < want {
		return 0, nil, fmt.Errorf("%s: truncated: header says %d payload bytes, %d present", what, length, max(got-4, 0))
	}
	var extra [1]byte
	if m, _ := io.ReadFull(r, extra[:]); m > 0 {
		return 0, nil, fmt.Errorf("%s: unexpected bytes after the checksum", what)
	}
	return Decode(buf.Bytes(), magic, what, maxVersion)
}

// Load opens the file at path and decodes it with read, wrapping every
// error in the one style the Load functions of shears share:
// "pkg: what PATH: cause". prefix is the package and kind ("train:
// weights file"); errors of read that already start with it are not
// prefixed twice. A missing file's error matches os.ErrNotExist.
func Load[T any](path, prefix string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s %s: %w", prefix, path, unwrapPath(err))
	}
	defer f.Close()
	v, err := read(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, prefix+": "); ok {
			return zero, &pathError{msg: prefix + " " + path + ": " + rest, err: err}
		}
		return zero, fmt.Errorf("%s %s: %w", prefix, path, err)
	}
	return v, nil
}

// unwrapPath drops the *os.PathError frame of an open error, whose path the
// caller's message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &opError{op: pe.Op, err: pe.Err}
	}
	return err
}

type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

type pathError struct {
	msg string
	err error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.err }
