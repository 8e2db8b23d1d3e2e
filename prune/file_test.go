package prune

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shearsml/shears/internal/envelope"
)

// testMasks returns masks with awkward shapes and varied patterns: a 0-d
// mask, 1-d masks of sizes around word and byte boundaries, a 4-d mask, an
// empty mask, all kept, all pruned, random and alternating.
func fileTestMasks(t testing.TB) *Masks {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	type spec struct {
		name    string
		shape   []int
		pattern string
	}
	specs := []spec{
		{"scalar", nil, "pruned"},
		{"one", []int{1}, "kept"},
		{"seven", []int{7}, "random"},
		{"byte", []int{8}, "alternate"},
		{"word", []int{64}, "random"},
		{"word+1", []int{65}, "pruned"},
		{"conv", []int{3, 5, 7, 11}, "random"},
		{"empty", []int{0, 3}, "kept"},
		{"dense", []int{10, 13}, "kept"},
		{"", []int{130}, "alternate"},
		{"fc.weight", []int{33, 31}, "random"},
	}
	var list []*Mask
	for _, s := range specs {
		m, err := NewMask(s.name, s.shape)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m.Len(); i++ {
			switch s.pattern {
			case "pruned":
				m.Set(i, false)
			case "random":
				m.Set(i, rng.IntN(3) != 0)
			case "alternate":
				m.Set(i, i%2 == 0)
			}
		}
		list = append(list, m)
	}
	ms, err := NewMasksOf(list...)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func encodeMaskFile(t testing.TB, ms *Masks) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := ms.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// reframe returns an envelope around payload, as a hostile but well-framed
// file would be.
func maskReframe(payload []byte) []byte {
	return envelope.Encode(maskFileMagic, maskFileVersion, payload)
}

func maskPayloadOf(t *testing.T, file []byte) []byte {
	t.Helper()
	_, p, err := envelope.Decode(file, maskFileMagic, "test", maskFileVersion)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), p...)
}

func wantMaskFileError(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", substr)
	}
	if !strings.HasPrefix(err.Error(), "prune: mask file: ") {
		t.Errorf("error %q does not start with %q", err, "prune: mask file: ")
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
}

func TestMaskFileRoundTrip(t *testing.T) {
	ms := fileTestMasks(t)
	data := encodeMaskFile(t, ms)

	got, err := ReadMasks(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(ms) {
		t.Fatal("masks read back differ from the masks written")
	}
	if got.Kept() != ms.Kept() || got.Total() != ms.Total() {
		t.Fatalf("kept/total %d/%d, want %d/%d", got.Kept(), got.Total(), ms.Kept(), ms.Total())
	}
	for i := 0; i < ms.Len(); i++ {
		a, b := ms.At(i), got.At(i)
		if got.Mask(a.Name()) != b {
			t.Errorf("mask %q: lookup by name does not find it", a.Name())
		}
		for j := 0; j < a.Len(); j++ {
			if a.Keeps(j) != b.Keeps(j) {
				t.Fatalf("mask %q element %d: kept %v, want %v", a.Name(), j, b.Keeps(j), a.Keeps(j))
			}
		}
		if b.Kept() != a.Kept() {
			t.Errorf("mask %q: Kept %d, want %d", a.Name(), b.Kept(), a.Kept())
		}
	}
	// Independent of the source: changing what was read leaves ms alone.
	got.At(2).Set(0, !got.At(2).Keeps(0))
	if got.Equal(ms) {
		t.Fatal("changing a read mask changed the original")
	}

	// MarshalBinary writes the same bytes; UnmarshalBinary reads them.
	mb, err := ms.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mb, data) {
		t.Fatal("MarshalBinary and WriteTo differ")
	}
	var um Masks
	if err := um.UnmarshalBinary(mb); err != nil {
		t.Fatal(err)
	}
	if !um.Equal(ms) || um.Mask("conv") == nil {
		t.Fatal("UnmarshalBinary does not give back the masks")
	}
	// A failed UnmarshalBinary leaves the receiver alone.
	if err := um.UnmarshalBinary(mb[:len(mb)-1]); err == nil {
		t.Fatal("UnmarshalBinary accepted a truncated file")
	}
	if !um.Equal(ms) {
		t.Fatal("a failed UnmarshalBinary changed the receiver")
	}

	// Re-encoding what was read gives the same bytes.
	again := encodeMaskFile(t, ms.Clone())
	if !bytes.Equal(again, data) {
		t.Fatal("encoding is not stable")
	}
}

func TestMaskFileEmptyMasks(t *testing.T) {
	ms, err := NewMasksOf()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadMasks(bytes.NewReader(encodeMaskFile(t, ms)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 0 || got.Total() != 0 {
		t.Fatalf("got %d masks, %d elements; want none", got.Len(), got.Total())
	}
}

// TestMaskFileLayout pins the format with bytes worked out by hand.
func TestMaskFileLayout(t *testing.T) {
	m, err := NewMask("ab", []int{2, 5})
	if err != nil {
		t.Fatal(err)
	}
	m.Set(1, false)
	m.Set(9, false)
	ms, err := NewMasksOf(m)
	if err != nil {
		t.Fatal(err)
	}
	data := encodeMaskFile(t, ms)
	want := []byte{
		1, 0, 0, 0, // one mask
		2, 0, 0, 0, 'a', 'b', // name
		2, 0, 0, 0, // rank
		2, 0, 0, 0, 0, 0, 0, 0, // dims
		5, 0, 0, 0, 0, 0, 0, 0,
		0xFD, // elements 0-7: all kept but 1
		0x01, // element 8 kept, 9 pruned, bits past 10 zero
	}
	if string(data[:8]) != "SHRMASK\x00" {
		t.Errorf("magic %q", data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:12]); v != 1 {
		t.Errorf("version %d, want 1", v)
	}
	if got := maskPayloadOf(t, data); !bytes.Equal(got, want) {
		t.Errorf("payload\n% x\nwant\n% x", got, want)
	}
}

func TestMaskFileTruncated(t *testing.T) {
	data := encodeMaskFile(t, fileTestMasks(t))
	for k := 0; k < len(data); k++ {
		_, err := ReadMasks(bytes.NewReader(data[:k]))
		if err == nil {
			t.Fatalf("accepted the file cut to %d of %d bytes", k, len(data))
		}
		if !strings.HasPrefix(err.Error(), "prune: mask file: ") {
			t.Fatalf("cut to %d bytes: error %q lacks the prefix", k, err)
		}
	}
}

func TestMaskFileEveryByteFlipped(t *testing.T) {
	data := encodeMaskFile(t, fileTestMasks(t))
	for i := range data {
		for _, x := range []byte{0x01, 0x80, 0xFF} {
			c := append([]byte(nil), data...)
			c[i] ^= x
			if _, err := ReadMasks(bytes.NewReader(c)); err == nil {
				t.Fatalf("accepted the file with byte %d xor %#x", i, x)
			}
		}
	}
}

func TestMaskFileRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 2000; k++ {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if k%2 == 1 && len(b) >= 8 {
			copy(b, maskFileMagic) // get past the magic check
		}
		if _, err := ReadMasks(bytes.NewReader(b)); err == nil {
			t.Fatalf("accepted %d random bytes", len(b))
		}
		// A random payload in a valid frame must be rejected or re-encode
		// to itself; it must never panic.
		file := maskReframe(b)
		if ms, err := ReadMasks(bytes.NewReader(file)); err == nil {
			if again, _ := ms.MarshalBinary(); !bytes.Equal(again, file) {
				t.Fatalf("accepted a random payload that does not re-encode to itself: % x", b)
			}
		}
	}
}

func TestMaskFileUnknownVersion(t *testing.T) {
	data := encodeMaskFile(t, fileTestMasks(t))
	v2 := envelope.Encode(maskFileMagic, 2, maskPayloadOf(t, data))
	_, err := ReadMasks(bytes.NewReader(v2))
	wantMaskFileError(t, err, "unsupported format version 2")
}

func TestMaskFileTrailingGarbage(t *testing.T) {
	data := encodeMaskFile(t, fileTestMasks(t))
	_, err := ReadMasks(bytes.NewReader(append(data, 0)))
	wantMaskFileError(t, err, "unexpected bytes after the checksum")
	// Two files back to back are not one file.
	_, err = ReadMasks(bytes.NewReader(append(data, data...)))
	wantMaskFileError(t, err, "unexpected bytes")
}

func TestMaskFileForeignMagic(t *testing.T) {
	data := encodeMaskFile(t, fileTestMasks(t))
	foreign := envelope.Encode("SHRCKPT\x00", 1, maskPayloadOf(t, data))
	_, err := ReadMasks(bytes.NewReader(foreign))
	wantMaskFileError(t, err, "bad magic number")
	if !errors.Is(err, envelope.ErrForeign) {
		t.Errorf("error %v does not wrap envelope.ErrForeign", err)
	}
	_, err = ReadMasks(strings.NewReader(""))
	wantMaskFileError(t, err, "bad magic number")
	_, err = ReadMasks(nil)
	wantMaskFileError(t, err, "nil reader")
}

// maskPayloadBuilder writes hand-made payloads for the hostile-file tests.
type maskPayloadBuilder []byte

func (b maskPayloadBuilder) u32(v uint32) maskPayloadBuilder {
	return binary.LittleEndian.AppendUint32(b, v)
}
func (b maskPayloadBuilder) u64(v uint64) maskPayloadBuilder {
	return binary.LittleEndian.AppendUint64(b, v)
}
func (b maskPayloadBuilder) str(s string) maskPayloadBuilder {
	return append(b.u32(uint32(len(s))), s...)
}
func (b maskPayloadBuilder) raw(p ...byte) maskPayloadBuilder {
	return append(b, p...)
}

// TestMaskFileHostile feeds well-framed payloads (valid checksum) that lie
// about their content. Each must be rejected, with the reason named, before
// anything large is allocated.
func TestMaskFileHostile(t *testing.T) {
	var b maskPayloadBuilder
	tests := []struct {
		name    string
		payload maskPayloadBuilder
		want    string
	}{
		{"empty payload", b, "ends inside the mask count"},
		{"huge count", b.u32(1 << 31), "cannot fit"},
		{"count beyond masks", b.u32(2).str("a").u32(0).raw(1).u32(8).raw(make([]byte, 6)...), "ends inside the name of mask 1"},
		{"second mask bits missing", b.u32(2).str("a").u32(0).raw(1).raw(make([]byte, 8)...), "more elements than"},
		{"huge name", b.u32(1).u32(1 << 30).raw(make([]byte, 16)...), "longer than the limit"},
		{"name cut", b.u32(1).u32(20).raw(make([]byte, 16)...), "ends inside the name of mask 0"},
		{"huge rank", b.u32(1).str("w").u32(1 << 20).raw(make([]byte, 8)...), "rank 1048576 is more than the limit"},
		{"shape cut", b.u32(1).str("w").u32(3).u64(2).u64(2), "ends inside the shape"},
		{"huge dim", b.u32(1).str("w").u32(1).u64(1 << 62), "more than the limit"},
		{"huge dim beside zero", b.u32(1).str("w").u32(2).u64(0).u64(1 << 60), "more than the limit"},
		{"elements beyond payload", b.u32(1).str("w").u32(2).u64(1 << 20).u64(1 << 20).raw(0xFF), "more elements than"},
		{"product overflow", b.u32(1).str("w").u32(4).u64(1 << 47).u64(1 << 47).u64(1 << 47).u64(1 << 47).raw(0xFF), "more elements than"},
		{"bits cut", b.u32(1).str("w").u32(1).u64(17).raw(0xFF, 0xFF), "more elements than"},
		{"tail bits set", b.u32(1).str("w").u32(1).u64(5).raw(0x20), "bits set past its 5 elements"},
		{"tail bits set 0-d", b.u32(1).str("s").u32(0).raw(0x03), "bits set past its 1 elements"},
		{"duplicate names", b.u32(2).str("w").u32(0).raw(1).str("w").u32(0).raw(0), `name "w" appears twice`},
		{"bytes after last mask", b.u32(1).str("w").u32(0).raw(1, 0), "unexpected bytes after the last mask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadMasks(bytes.NewReader(maskReframe(tt.payload)))
			wantMaskFileError(t, err, tt.want)
		})
	}
	// Control: the same builder makes a file ReadMasks accepts.
	ok := b.u32(2).str("w").u32(1).u64(5).raw(0x15).str("s").u32(0).raw(0)
	ms, err := ReadMasks(bytes.NewReader(maskReframe(ok)))
	if err != nil {
		t.Fatal(err)
	}
	if w := ms.Mask("w"); w == nil || w.Len() != 5 || w.Kept() != 3 || !w.Keeps(0) || w.Keeps(1) || !w.Keeps(4) {
		t.Fatalf("hand-made mask read wrong: %+v", w)
	}
	if s := ms.Mask("s"); s == nil || s.Len() != 1 || s.Kept() != 0 || len(s.Shape()) != 0 {
		t.Fatalf("hand-made 0-d mask read wrong: %+v", s)
	}
}

func TestMaskFileWriteRejectsUnreadable(t *testing.T) {
	long, _ := NewMask(strings.Repeat("x", maskFileMaxName+1), []int{2})
	deep, _ := NewMask("deep", make([]int, maskFileMaxRank+1))
	masks := []*Mask{long, deep}
	if strconv.IntSize == 64 {
		wideDim := uint64(maskFileMaxDim + 1)
		wide, _ := NewMask("wide", []int{0, int(wideDim)})
		masks = append(masks, wide)
	}
	for _, m := range masks {
		ms, err := NewMasksOf(m)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := ms.WriteTo(&buf); err == nil {
			t.Errorf("mask %.10q: WriteTo wrote a file ReadMasks would reject", m.Name())
		} else if buf.Len() != 0 {
			t.Errorf("mask %.10q: WriteTo failed after writing %d bytes", m.Name(), buf.Len())
		}
		if _, err := ms.MarshalBinary(); err == nil {
			t.Errorf("mask %.10q: MarshalBinary accepted it", m.Name())
		}
	}
}

type maskFailWriter struct{}

func (maskFailWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMaskFileWriteError(t *testing.T) {
	_, err := fileTestMasks(t).WriteTo(maskFailWriter{})
	wantMaskFileError(t, err, "disk full")
}

func TestMaskFileSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "masks.bin")
	ms := fileTestMasks(t)
	if err := ms.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadMasks(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(ms) {
		t.Fatal("loaded masks differ")
	}
	// Overwrite with different masks: the file holds the new ones, and no
	// temporary file is left behind.
	ms2 := ms.Clone()
	ms2.At(1).Set(0, false)
	if err := ms2.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, err = LoadMasks(path); err != nil || !got.Equal(ms2) {
		t.Fatalf("after overwrite: err %v, equal %v", err, err == nil && got.Equal(ms2))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after Save, want 1", len(entries))
	}

	if err := ms.Save(filepath.Join(dir, "missing", "masks.bin")); err == nil {
		t.Error("Save into a missing folder succeeded")
	}
	if _, err := LoadMasks(filepath.Join(dir, "missing.bin")); err == nil {
		t.Error("LoadMasks of a missing file succeeded")
	}
	// A corrupted file names the path.
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 1
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadMasks(bad)
	if !strings.HasPrefix(fmt.Sprint(err), "prune: mask file "+bad+": checksum mismatch") {
		t.Errorf("error %q: want it to start with %q", err, "prune: mask file "+bad+": checksum mismatch")
	}
	if _, err := LoadMasks(filepath.Join(dir, "missing.bin")); !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "prune: mask file "+filepath.Join(dir, "missing.bin")+": open: ") {
		t.Errorf("missing file: error %v, want one matching os.ErrNotExist in the shared style", err)
	}
}

// FuzzReadMasks feeds ReadMasks arbitrary files, and arbitrary payloads in a
// valid frame (so that mutations get past the checksum). Whatever it
// accepts must re-encode to the same bytes and count its kept bits right.
func FuzzReadMasks(f *testing.F) {
	full := encodeMaskFile(f, fileTestMasks(f))
	one, _ := NewMask("w", []int{3, 3})
	one.Set(4, false)
	ones, _ := NewMasksOf(one)
	scalar, _ := NewMask("b", nil)
	scalars, _ := NewMasksOf(scalar)
	empty, _ := NewMasksOf()
	for _, file := range [][]byte{full, encodeMaskFile(f, ones), encodeMaskFile(f, scalars), encodeMaskFile(f, empty)} {
		f.Add(file)
		f.Add(file[envelope.HeaderSize : len(file)-4]) // the payload alone
	}
	f.Add(full[:len(full)/2])
	f.Add([]byte(maskFileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReadMasks(t, data)
		checkReadMasks(t, maskReframe(data))
	})
}

func checkReadMasks(t *testing.T, data []byte) {
	ms, err := ReadMasks(bytes.NewReader(data))
	if err != nil {
		if ms != nil {
			t.Fatal("ReadMasks returned masks with an error")
		}
		if !strings.HasPrefix(err.Error(), "prune: mask file: ") {
			t.Fatalf("error %q lacks the prefix", err)
		}
		return
	}
	again, err := ms.MarshalBinary()
	if err != nil {
		t.Fatalf("accepted masks do not re-encode: %v", err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("accepted file re-encodes differently:\n% x\n% x", data, again)
	}
	kept := 0
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		if ms.Mask(m.Name()) != m {
			t.Fatalf("mask %q not found by name", m.Name())
		}
		k := 0
		for j := 0; j < m.Len(); j++ {
			if m.Keeps(j) {
				k++
			}
		}
		if k != m.Kept() {
			t.Fatalf("mask %q: Kept %d, bits say %d", m.Name(), m.Kept(), k)
		}
		kept += k
	}
	if kept != ms.Kept() {
		t.Fatalf("Masks.Kept %d, masks say %d", ms.Kept(), kept)
	}
}
