package prune

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/envelope"
)

// The mask file format, version 1.
//
// The file is an envelope (see internal/envelope: magic "SHRMASK\x00",
// version, payload length, CRC-32C). The payload, little endian:
//
//	count   uint32              number of masks
//	then per mask, in order:
//	  nameLen uint32            at most maskFileMaxName bytes
//	  name    nameLen bytes
//	  rank    uint32            at most maskFileMaxRank
//	  dims    rank × uint64     each at most maskFileMaxDim
//	  bits    ceil(n/8) bytes   n = product of dims (1 for rank 0);
//	                            element i is bit i%8 of byte i/8, 1 = kept;
//	                            bits past n in the last byte are zero
//
// The encoding is canonical: a file ReadMasks accepts re-encodes to the same
// bytes.
const (
	maskFileMagic   = "SHRMASK\x00"
	maskFileVersion = 1
	maskFileWhat    = "prune: mask file"

	// maskFileMaxName bounds a mask's name.
	maskFileMaxName = 1 << 16
	// maskFileMaxRank bounds a mask's rank.
	maskFileMaxRank = 32
	// maskFileMaxDim bounds each dimension, so that a shape with a zero
	// dimension cannot carry absurd sizes elsewhere.
	maskFileMaxDim = 1 << 48
	// maskFileMaxSize bounds the whole file ReadMasks accepts (1 TiB, masks
	// for 8 trillion weights). Memory use follows the bytes actually read.
	maskFileMaxSize = 1 << 40
)

// WriteTo writes ms to w in the mask file format: a checksummed envelope with
// magic "SHRMASK\x00" and version 1 holding, per mask, its name, its shape and
// its bits (one per element). It returns the number of bytes written, and
// implements io.WriterTo. ReadMasks reads the result.
func (ms *Masks) WriteTo(w io.Writer) (int64, error) {
	payload, err := ms.encodePayload()
	if err != nil {
		return 0, err
	}
	n, err := envelope.Write(w, maskFileMagic, maskFileVersion, payload)
	if err != nil {
		return n, fmt.Errorf("%s: write: %w", maskFileWhat, err)
	}
	return n, nil
}

// MarshalBinary returns ms in the mask file format, the bytes WriteTo writes.
// It implements encoding.BinaryMarshaler.
func (ms *Masks) MarshalBinary() ([]byte, error) {
	payload, err := ms.encodePayload()
	if err != nil {
		return nil, err
	}
	return envelope.Encode(maskFileMagic, maskFileVersion, payload), nil
}

// UnmarshalBinary replaces the content of ms with the masks of data, a mask
// file as MarshalBinary or WriteTo produce. On error ms is unchanged. It
// implements encoding.BinaryUnmarshaler.
func (ms *Masks) UnmarshalBinary(data []byte) error {
	got, err := decodeMaskFile(data)
	if err != nil {
		return err
	}
	*ms = *got
	return nil
}

// ReadMasks reads a mask file, as WriteTo writes it, from r to its end. It
// returns an error, and no masks, for a file that is truncated, corrupted
// (checksum), of another kind (magic), of an unsupported version, followed by
// extra bytes, or inconsistent (names twice, absurd shapes, set bits past the
// end of a mask). Its memory use is proportional to the bytes read.
func ReadMasks(r io.Reader) (*Masks, error) {
	if r == nil {
		return nil, errors.New(maskFileWhat + ": nil reader")
	}
	_, payload, err := envelope.Read(r, maskFileMagic, maskFileWhat, maskFileVersion, maskFileMaxSize)
	if err != nil {
		return nil, err
	}
	return decodeMaskPayload(payload)
}

// Save writes ms to the file at path atomically: a reader (or a run killed
// at any moment) sees the old file or the new one, never a part.
func (ms *Masks) Save(path string) error {
	if err := atomicfile.WriteTo(path, 0o644, ms); err != nil {
		return fmt.Errorf("%s: save %s: %w", maskFileWhat, path, err)
	}
	return nil
}

// LoadMasks reads the mask file at path, as Save writes it. See ReadMasks for
// what it rejects.
// Errors name the file ("prune: mask file PATH: ...").
func LoadMasks(path string) (*Masks, error) {
	return envelope.Load(path, maskFileWhat, ReadMasks)
}

func decodeMaskFile(data []byte) (*Masks, error) {
	_, payload, err := envelope.Decode(data, maskFileMagic, maskFileWhat, maskFileVersion)
	if err != nil {
		return nil, err
	}
	return decodeMaskPayload(payload)
}

// encodePayload returns the payload of the mask file of ms, or an error when
// ms holds something ReadMasks would reject.
func (ms *Masks) encodePayload() ([]byte, error) {
	if uint64(len(ms.masks)) > math.MaxUint32 {
		return nil, fmt.Errorf("%s: %d masks are more than the format holds", maskFileWhat, len(ms.masks))
	}
	size := 4
	for _, m := range ms.masks {
		if len(m.name) > maskFileMaxName {
			return nil, fmt.Errorf("%s: mask name of %d bytes is longer than the limit of %d", maskFileWhat, len(m.name), maskFileMaxName)
		}
		if len(m.shape) > maskFileMaxRank {
			return nil, fmt.Errorf("%s: mask %q: rank %d is more than the limit of %d", maskFileWhat, m.name, len(m.shape), maskFileMaxRank)
		}
		for k, d := range m.shape {
			if uint64(d) > maskFileMaxDim {
				return nil, fmt.Errorf("%s: mask %q: dimension %d is %d, more than the limit of %d", maskFileWhat, m.name, k, d, uint64(maskFileMaxDim))
			}
		}
		size += 4 + len(m.name) + 4 + 8*len(m.shape) + (m.n+7)/8
	}
	buf := make([]byte, 0, size)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(ms.masks)))
	for _, m := range ms.masks {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(m.name)))
		buf = append(buf, m.name...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(m.shape)))
		for _, d := range m.shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		nb := (m.n + 7) / 8
		full := nb / 8
		for _, w := range m.bits[:full] {
			buf = binary.LittleEndian.AppendUint64(buf, w)
		}
		if rest := nb - full*8; rest > 0 {
			w := m.bits[full]
			for k := 0; k < rest; k++ {
				buf = append(buf, byte(w>>(8*k)))
			}
		}
	}
	return buf, nil
}

// maskReader walks a payload and names what is wrong with it.
type maskReader struct {
	p   []byte
	off int
}

func (r *maskReader) left() int { return len(r.p) - r.off }

func (r *maskReader) u32(what string) (uint32, error) {
	if r.left() < 4 {
		return 0, fmt.Errorf("%s: payload ends inside %s at byte %d", maskFileWhat, what, r.off)
	}
	v := binary.LittleEndian.Uint32(r.p[r.off:])
	r.off += 4
	return v, nil
}

func (r *maskReader) u64(what string) (uint64, error) {
	if r.left() < 8 {
		return 0, fmt.Errorf("%s: payload ends inside %s at byte %d", maskFileWhat, what, r.off)
	}
	v := binary.LittleEndian.Uint64(r.p[r.off:])
	r.off += 8
	return v, nil
}

func (r *maskReader) bytes(n int, what string) ([]byte, error) {
	if n < 0 || r.left() < n {
		return nil, fmt.Errorf("%s: payload ends inside %s at byte %d (%d bytes needed, %d left)", maskFileWhat, what, r.off, n, r.left())
	}
	b := r.p[r.off : r.off+n]
	r.off += n
	return b, nil
}

func decodeMaskPayload(p []byte) (*Masks, error) {
	r := &maskReader{p: p}
	count, err := r.u32("the mask count")
	if err != nil {
		return nil, err
	}
	// Every mask takes at least 9 bytes (name length, rank, and one bit byte
	// or one dimension), so a count the payload cannot hold is rejected
	// before anything is allocated for it.
	if uint64(count)*9 > uint64(r.left()) {
		return nil, fmt.Errorf("%s: %d masks cannot fit in the %d payload bytes left", maskFileWhat, count, r.left())
	}
	ms := &Masks{index: make(map[string]int)}
	for i := 0; i < int(count); i++ {
		m, err := decodeMask(r, i)
		if err != nil {
			return nil, err
		}
		if _, dup := ms.index[m.name]; dup {
			return nil, fmt.Errorf("%s: mask %d: name %q appears twice", maskFileWhat, i, m.name)
		}
		ms.add(m)
	}
	if r.left() != 0 {
		return nil, fmt.Errorf("%s: %d unexpected bytes after the last mask", maskFileWhat, r.left())
	}
	return ms, nil
}

func decodeMask(r *maskReader, i int) (*Mask, error) {
	nameLen, err := r.u32(fmt.Sprintf("the name length of mask %d", i))
	if err != nil {
		return nil, err
	}
	if nameLen > maskFileMaxName {
		return nil, fmt.Errorf("%s: mask %d: name of %d bytes is longer than the limit of %d", maskFileWhat, i, nameLen, maskFileMaxName)
	}
	nb, err := r.bytes(int(nameLen), fmt.Sprintf("the name of mask %d", i))
	if err != nil {
		return nil, err
	}
	name := string(nb)
	rank, err := r.u32(fmt.Sprintf("the rank of mask %q", name))
	if err != nil {
		return nil, err
	}
	if rank > maskFileMaxRank {
		return nil, fmt.Errorf("%s: mask %q: rank %d is more than the limit of %d", maskFileWhat, name, rank, maskFileMaxRank)
	}
	var shape []int
	if rank > 0 {
		if r.left() < 8*int(rank) {
			return nil, fmt.Errorf("%s: payload ends inside the shape of mask %q at byte %d", maskFileWhat, name, r.off)
		}
		shape = make([]int, rank)
	}
	zero := false
	for k := range shape {
		d, err := r.u64(fmt.Sprintf("the shape of mask %q", name))
		if err != nil {
			return nil, err
		}
		if d > maskFileMaxDim || d > math.MaxInt {
			return nil, fmt.Errorf("%s: mask %q: dimension %d is %d, more than the limit of %d", maskFileWhat, name, k, d, min(uint64(maskFileMaxDim), math.MaxInt))
		}
		shape[k] = int(d)
		zero = zero || d == 0
	}
	// The number of elements must fit in the bits left in the payload; that
	// also keeps the product from overflowing.
	maxBits := uint64(r.left()) * 8
	n := uint64(1)
	if zero {
		n = 0
	} else {
		for _, d := range shape {
			if hi, lo := bits.Mul64(n, uint64(d)); hi != 0 || lo > maxBits {
				return nil, fmt.Errorf("%s: mask %q: shape %v has more elements than the %d payload bytes left can hold", maskFileWhat, name, shape, r.left())
			}
			n *= uint64(d)
		}
		if n > maxBits {
			return nil, fmt.Errorf("%s: mask %q: shape %v has more elements than the %d payload bytes left can hold", maskFileWhat, name, shape, r.left())
		}
	}
	raw, err := r.bytes(int((n+7)/8), fmt.Sprintf("the bits of mask %q", name))
	if err != nil {
		return nil, err
	}
	if rest := n % 8; rest != 0 && raw[len(raw)-1]>>rest != 0 {
		return nil, fmt.Errorf("%s: mask %q: bits set past its %d elements", maskFileWhat, name, n)
	}
	m := &Mask{name: name, shape: shape, n: int(n), bits: make([]uint64, (n+63)/64)}
	for w := range m.bits {
		chunk := raw[8*w:]
		if len(chunk) >= 8 {
			m.bits[w] = binary.LittleEndian.Uint64(chunk)
			continue
		}
		var x uint64
		for k, b := range chunk {
			x |= uint64(b) << (8 * k)
		}
		m.bits[w] = x
	}
	m.recount()
	return m, nil
}
