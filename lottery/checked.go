package lottery

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/shearsml/shears/internal/atomicfile"
)

// The JSON files lottery writes (experiment.json, result.json) stay readable
// by people and by jq, and carry what an envelope carries: a format name (the
// magic), a version and a checksum. The layout is
//
//	{
//	  "format": "shears-lottery-result",
//	  "version": 1,
//	  "sha256": "<hex SHA-256 of the bytes of the payload value, exactly as in the file>",
//	  "<payload key>": { ... }
//	}
//
// A reader rejects another format, a newer version, a checksum that does not
// match (a damaged or hand-edited file), and unknown fields.
const (
	checkedVersion   = 1
	resultFormat     = "shears-lottery-result"
	experimentFormat = "shears-lottery-experiment"
	maxCheckedSize   = 64 << 20
)

// encodeChecked returns the file bytes of v under the given format and
// payload key. extra fields (key, value already JSON) go between the checksum
// and the payload.
func encodeChecked(format, key string, v any, extra ...[2]string) ([]byte, error) {
	payload, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return nil, fmt.Errorf("lottery: encoding %s: %w", format, err)
	}
	sum := sha256.Sum256(payload)
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"format\": %q,\n  \"version\": %d,\n  \"sha256\": %q,\n", format, checkedVersion, hex.EncodeToString(sum[:]))
	for _, kv := range extra {
		fmt.Fprintf(&b, "  %q: %s,\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "  %q: ", key)
	b.Write(payload)
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

// decodeChecked checks data's frame and decodes its payload into v (strictly:
// unknown fields are an error). extra receives the raw values of the extra
// fields allowed by name. what names the file in errors.
func decodeChecked(data []byte, format, key, what string, v any, extra map[string]*json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("%s: not a %s file (%v)", what, format, err)
	}
	var got string
	if raw, ok := fields["format"]; !ok || json.Unmarshal(raw, &got) != nil || got != format {
		return fmt.Errorf("%s: not a %s file (format %s)", what, format, string(fields["format"]))
	}
	var version int
	if json.Unmarshal(fields["version"], &version) != nil || version < 1 || version > checkedVersion {
		return fmt.Errorf("%s: unsupported version %s (this build reads 1 to %d)", what, string(fields["version"]), checkedVersion)
	}
	var sum string
	if json.Unmarshal(fields["sha256"], &sum) != nil {
		return fmt.Errorf("%s: no sha256 checksum", what)
	}
	payload, ok := fields[key]
	if !ok {
		return fmt.Errorf("%s: no %q field", what, key)
	}
	for name, raw := range fields {
		switch name {
		case "format", "version", "sha256", key:
		default:
			dst, ok := extra[name]
			if !ok {
				return fmt.Errorf("%s: unknown field %q", what, name)
			}
			*dst = raw
		}
	}
	h := sha256.Sum256(payload)
	if hex.EncodeToString(h[:]) != sum {
		return fmt.Errorf("%s: checksum mismatch: the file is damaged or was edited", what)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// writeChecked writes v atomically to path as a checked JSON file.
func writeChecked(path, format, key string, v any, extra ...[2]string) error {
	b, err := encodeChecked(format, key, v, extra...)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("lottery: writing %s: %w", path, err)
	}
	return nil
}

// readFileLimited reads path, at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a file lottery wrote", path, limit)
	}
	return data, nil
}

// errNotExist reports whether err means a missing file.
func errNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
