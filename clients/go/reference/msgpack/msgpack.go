// Package msgpack is a writer for the canonical MessagePack subset of golden/README.md §2: the
// form that serde's "named" struct encoding produces, in which every value has exactly one
// encoding. It appends to byte slices in the style of strconv.AppendInt.
//
// Nothing outside that subset is offered: no nil, booleans, floats, bin 16/32 or ext types.
package msgpack

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendUint appends v in its smallest unsigned form: positive fixint (0–127), uint 8 (cc),
// uint 16 (cd), uint 32 (ce) or uint 64 (cf).
func AppendUint(dst []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
	}
}

// AppendInt appends a signed (i64) value. A non-negative value takes the unsigned forms of
// AppendUint (200 is cc c8, never d1 00 c8); a negative one the smallest of negative fixint
// (−32 … −1), int 8 (d0), int 16 (d1), int 32 (d2) and int 64 (d3).
func AppendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
	}
}

// AppendStr appends s as fixstr (< 32 bytes), str 8, str 16 or str 32. All keys and variant
// names of the wire formats are short ASCII strings.
func AppendStr(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

func appendContainerHeader(dst []byte, n int, fix, m16, m32 byte) []byte {
	switch {
	case n < 0 || uint64(n) > math.MaxUint32:
		panic(fmt.Sprintf("msgpack: container length %d out of range", n))
	case n < 16:
		return append(dst, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, m32), uint32(n))
	}
}

// AppendMapHeader appends the header of a map of n entries: fixmap (n < 16), map 16 or map 32.
// It panics if n is negative or above 2^32−1.
func AppendMapHeader(dst []byte, n int) []byte {
	return appendContainerHeader(dst, n, 0x80, 0xde, 0xdf)
}

// AppendArrayHeader appends the header of an array of n elements: fixarray (n < 16), array 16
// or array 32. It panics if n is negative or above 2^32−1.
func AppendArrayHeader(dst []byte, n int) []byte {
	return appendContainerHeader(dst, n, 0x90, 0xdc, 0xdd)
}

// AppendBin8 appends a fixed-size byte array (a 32-byte hash or key, a 64-byte signature) as
// bin 8: c4, the length, the bytes. It panics if b is longer than 255 bytes.
func AppendBin8(dst []byte, b []byte) []byte {
	if len(b) > math.MaxUint8 {
		panic(fmt.Sprintf("msgpack: bin 8 of %d bytes", len(b)))
	}
	return append(append(dst, 0xc4, byte(len(b))), b...)
}

// AppendByteArray appends a variable byte string (extra_data, transaction data) the way serde
// encodes a Vec<u8>: an array of integers, one per byte, so 00–7f take one byte and 80–ff take
// two (cc XX). Not bin.
func AppendByteArray(dst []byte, b []byte) []byte {
	dst = AppendArrayHeader(dst, len(b))
	for _, x := range b {
		if x >= 0x80 {
			dst = append(dst, 0xcc)
		}
		dst = append(dst, x)
	}
	return dst
}
