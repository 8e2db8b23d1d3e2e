package train

import (
	"encoding/binary"
	"math"
	"unsafe"

	"gorgonia.org/tensor"
)

// nativeLE reports whether this machine stores numbers little-endian, the
// byte order of every file the package writes.
var nativeLE = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// asBytes returns the memory of s as bytes (no copy).
func asBytes[T float](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(z)))
}

// appendLE appends t's values, little-endian.
func appendLE(b []byte, t *tensor.Dense) []byte {
	if nativeLE {
		return append(b, rawBytes(t)...)
	}
	if t.Dtype() == tensor.Float32 {
		for _, v := range floats[float32](t) {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	for _, v := range floats[float64](t) {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// fromLE converts t's values, just copied from little-endian bytes, to the
// machine's byte order.
func fromLE(t *tensor.Dense) {
	if nativeLE {
		return
	}
	raw := rawBytes(t)
	if t.Dtype() == tensor.Float32 {
		s := floats[float32](t)
		for i := range s {
			s[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return
	}
	s := floats[float64](t)
	for i := range s {
		s[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
}
