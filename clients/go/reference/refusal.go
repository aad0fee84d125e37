package reference

import "fmt"

// The refusal codes of golden/README.md §1.4.
const (
	RefusedWrongLength             = "WRONG_LENGTH"              // a fixed-size byte string of another length
	RefusedTooLong                 = "TOO_LONG"                  // a byte string or list over its limit
	RefusedUnsupportedCodecVersion = "UNSUPPORTED_CODEC_VERSION" // codec_version other than 1
	RefusedUnknownVariant          = "UNKNOWN_VARIANT"           // a tx_type or vote type name that does not exist
	RefusedInvalidChainID          = "INVALID_CHAIN_ID"          // not 1–64 of a-z 0-9 - _ .
	RefusedOutOfRange              = "OUT_OF_RANGE"              // a proof index, PoA milliseconds above 999
	RefusedNotConflicting          = "NOT_CONFLICTING"           // evidence of messages that do not conflict
)

// Refusal is the error of malformed input (golden/README.md §1.4): such input has no encoding,
// hash or verdict. Field names the input at fault ("codec_version", "leaves[1]", "public_key"),
// Code is one of the Refused* constants. Every implementation (crypto-core, the Rust library,
// the Python and Go references) refuses the same inputs with the same field and code.
type Refusal struct {
	Field  string
	Code   string
	Detail string
}

func (r *Refusal) Error() string {
	if r.Detail == "" {
		return r.Field + ": " + r.Code
	}
	return r.Field + ": " + r.Detail
}

// Within returns the same refusal with prefix before the field ("header." + "codec_version").
func (r *Refusal) Within(prefix string) *Refusal {
	return &Refusal{Field: prefix + r.Field, Code: r.Code, Detail: r.Detail}
}

func refuse(field, code, format string, args ...any) *Refusal {
	return &Refusal{Field: field, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Fixed32 returns b as a 32-byte array, or a WRONG_LENGTH refusal of field.
func Fixed32(b []byte, field string) ([32]byte, error) {
	var out [32]byte
	if len(b) != 32 {
		return out, refuse(field, RefusedWrongLength, "expected 32 bytes, found %d", len(b))
	}
	copy(out[:], b)
	return out, nil
}

// Fixed64 returns b as a 64-byte array, or a WRONG_LENGTH refusal of field.
func Fixed64(b []byte, field string) ([64]byte, error) {
	var out [64]byte
	if len(b) != 64 {
		return out, refuse(field, RefusedWrongLength, "expected 64 bytes, found %d", len(b))
	}
	copy(out[:], b)
	return out, nil
}
