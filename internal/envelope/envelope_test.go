package envelope

import (
	"bytes"
	"errors"
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
