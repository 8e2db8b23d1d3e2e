package envelope

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

const magic = "SHRTEST\x00"

func TestRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte{7}, 1000)} {
		b := Encode(magic, 3, payload)
		v, got, err := Decode(b, magic, "test file", 3)
		if err != nil {
			t.Fatal(err)
		}
		if v != 3 || !bytes.Equal(got, payload) {
			t.Fatalf("got version %d payload %q, want 3 %q", v, got, payload)
		}
		var buf bytes.Buffer
		if n, err := Write(&buf, magic, 3, payload); err != nil || n != int64(len(b)) || !bytes.Equal(buf.Bytes(), b) {
			t.Fatalf("Write: %d bytes, %v", n, err)
		}
		if _, _, err := Read(&buf, magic, "test file", 3, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRejects(t *testing.T) {
	good := Encode(magic, 1, []byte("payload"))
	cases := map[string]struct {
		data []byte
		max  uint32
		want string
	}{
		"foreign":    {Encode("OTHER\x00\x00\x00", 1, []byte("payload")), 1, "bad magic"},
		"empty":      {nil, 1, "bad magic"},
		"trailing":   {append(append([]byte(nil), good...), 0), 1, "unexpected bytes"},
		"version 0":  {Encode(magic, 0, nil), 1, "unsupported format version 0"},
		"newer":      {Encode(magic, 2, nil), 1, "unsupported format version 2"},
		"header cut": {good[:HeaderSize], 1, "truncated"},
	}
	for i := 8; i < len(good); i++ { // every flipped byte after the magic
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		cases["flip "+string(rune('a'+i))] = struct {
			data []byte
			max  uint32
			want string
		}{b, 1, ""}
	}
	for n := range len(good) { // every truncation
		cases["cut "+string(rune('A'+n))] = struct {
			data []byte
			max  uint32
			want string
		}{good[:n], 1, ""}
	}
	for name, c := range cases {
		_, _, err := Decode(c.data, magic, "test file", c.max)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "test file: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want one naming the file and %q", name, err, c.want)
		}
	}
	if _, _, err := Decode(Encode("OTHER\x00\x00\x00", 1, nil), magic, "test file", 1); !errors.Is(err, ErrForeign) {
		t.Errorf("foreign file: %v does not wrap ErrForeign", err)
	}
	if _, _, err := Read(bytes.NewReader(good), magic, "test file", 1, int64(len(good)-1)); err == nil {
		t.Error("Read accepted a file over its size limit")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(magic, 1, []byte("payload")))
	f.Add(Encode(magic, 1, nil))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, payload, err := Decode(data, magic, "test file", 1)
		if err != nil {
			return
		}
		if !bytes.Equal(Encode(magic, v, payload), data) {
			t.Fatal("an accepted file does not re-encode to its own bytes")
		}
	})
}

// countingReader is an endless stream of b that counts the bytes read.
type countingReader struct {
	b byte
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.b
	}
	c.n += int64(len(p))
	return len(p), nil
}

// TestReadChecksMagicFirst: a foreign stream, however long, is rejected after
// its header, not read to the size limit.
func TestReadChecksMagicFirst(t *testing.T) {
	r := &countingReader{b: 'x'}
	_, _, err := Read(r, magic, "test file", 1, 1<<36)
	if !errors.Is(err, ErrForeign) {
		t.Fatalf("foreign endless stream: %v, want ErrForeign", err)
	}
	if r.n > HeaderSize {
		t.Errorf("read %d bytes of a foreign stream before rejecting it, want at most %d", r.n, HeaderSize)
	}
}

// TestReadBoundsDeclaredLength: a header that declares more than the limit
// is refused before the payload is read; one that declares more than is
// present reads only what is there.
func TestReadBoundsDeclaredLength(t *testing.T) {
	good := Encode(magic, 1, bytes.Repeat([]byte{1}, 100))
	huge := append([]byte(nil), good...)
	huge[12], huge[19] = 0xff, 0x7f // length ≈ 2^63
	r := &countingReader{b: 0}
	_, _, err := Read(io.MultiReader(bytes.NewReader(huge[:HeaderSize]), r), magic, "test file", 1, 1<<30)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("declared length over the limit: %v", err)
	}
	if r.n != 0 {
		t.Errorf("read %d payload bytes after a header over the limit", r.n)
	}
	short := append([]byte(nil), good...)
	short[15] = 0x10 // 2^24+100 declared, 100 present
	if _, _, err := Read(bytes.NewReader(short), magic, "test file", 1, 1<<30); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("declared length over what is present: %v", err)
	}
	if _, _, err := Read(bytes.NewReader(append(good, 9)), magic, "test file", 1, 1<<30); err == nil || !strings.Contains(err.Error(), "after the checksum") {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, _, err := Read(bytes.NewReader(Encode(magic, 7, nil)), magic, "test file", 1, 1<<30); err == nil || !strings.Contains(err.Error(), "version 7") {
		t.Fatalf("newer version: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/f.bin"
	if err := os.WriteFile(path, Encode(magic, 1, []byte("hi")), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(r io.Reader) (string, error) {
		_, p, err := Read(r, magic, "pkg: test file", 1, 1<<20)
		return string(p), err
	}
	if got, err := Load(path, "pkg: test file", read); err != nil || got != "hi" {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("nope, a foreign file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, "pkg: test file", read)
	if want := "pkg: test file " + path + ": bad magic number"; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrForeign) {
		t.Errorf("foreign: %v, want it to start with %q and match ErrForeign", err, want)
	}
	_, err = Load(dir+"/missing", "pkg: test file", read)
	if want := "pkg: test file " + dir + "/missing: open: "; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v, want it to start with %q and match os.ErrNotExist", err, want)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(Encode(magic, 1, []byte("payload")))
	f.Add([]byte("SHRTEST\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v1, p1, err1 := Read(bytes.NewReader(data), magic, "test file", 2, 1<<20)
		v2, p2, err2 := Decode(data, magic, "test file", 2)
		if (err1 == nil) != (err2 == nil) || v1 != v2 || !bytes.Equal(p1, p2) {
			t.Fatalf("Read (%d, %v) and Decode (%d, %v) disagree", v1, err1, v2, err2)
		}
	})
}
