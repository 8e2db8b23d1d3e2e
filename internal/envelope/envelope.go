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
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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

// Read reads one framed file from r (to EOF, at most limit bytes) and decodes it.
func Read(r io.Reader, magic, what string, maxVersion uint32, limit int64) (uint32, []byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(data)) > limit {
		return 0, nil, fmt.Errorf("%s: larger than the %d-byte limit", what, limit)
	}
	return Decode(data, magic, what, maxVersion)
}
