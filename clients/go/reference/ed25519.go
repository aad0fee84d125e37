package reference

import (
	"crypto/ed25519"
	"fmt"
	"math/big"
)

// PublicKey returns the ed25519 public key of a 32-byte secret seed (RFC 8032).
func PublicKey(seed [32]byte) [32]byte {
	var pk [32]byte
	copy(pk[:], ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	return pk
}

// Sign returns the RFC 8032 Ed25519 signature (pure, no context) of message by seed. Signing is
// deterministic, so the golden vectors fix signatures exactly.
func Sign(seed [32]byte, message []byte) [64]byte {
	var sig [64]byte
	copy(sig[:], ed25519.Sign(ed25519.NewKeyFromSeed(seed[:]), message))
	return sig
}

// VerifyStrict reports whether signature is a valid ed25519 signature of message under
// publicKey by the strict rule of §8 (ed25519-dalek's verify_strict):
//
//  1. the public key A decodes to a curve point (y taken mod p, top bit the sign of x);
//  2. A is not of small order (8·A ≠ identity);
//  3. R, the first 32 signature bytes, decodes to a point not of small order;
//  4. s, the last 32 bytes little-endian, is canonical (s < L);
//  5. the cofactorless equation: s·B − k·A encodes to exactly the bytes of R,
//     k = SHA-512(R ‖ A ‖ message) mod L.
//
// crypto/ed25519.Verify checks 4 and 5 but accepts small-order keys and R values, so checks
// 1–3 are done here first. A key that is not 32 bytes or a signature that is not 64 is refused
// (a WRONG_LENGTH *Refusal of "public_key" or "signature", §1.4), not answered.
func VerifyStrict(publicKey, message, signature []byte) (bool, error) {
	if len(publicKey) != ed25519.PublicKeySize {
		return false, refuse("public_key", RefusedWrongLength, "expected 32 bytes, found %d", len(publicKey))
	}
	if len(signature) != ed25519.SignatureSize {
		return false, refuse("signature", RefusedWrongLength, "expected 64 bytes, found %d", len(signature))
	}
	a, ok := decodePoint(publicKey)
	if !ok || a.isSmallOrder() {
		return false, nil
	}
	r, ok := decodePoint(signature[:32])
	if !ok || r.isSmallOrder() {
		return false, nil
	}
	if !isCanonicalScalar(signature[32:]) {
		return false, nil
	}
	return ed25519.Verify(ed25519.PublicKey(publicKey), message, signature), nil
}

// VerifyItem is one signature check of a batch.
type VerifyItem struct {
	PublicKey, Message, Signature []byte
}

// BatchVerdict is one item's answer in a batch (§1.4): Valid, and for a refused item Valid false
// with the refusal, its field under "items[i].".
type BatchVerdict struct {
	Valid   bool
	Refused *Refusal
}

// VerifyBatch returns one answer per item: always exactly what VerifyStrict answers for it, or
// its refusal (§8 "Batches": no random-linear-combination batch equation; §1.4: a malformed item
// is refused alone, the others are answered).
func VerifyBatch(items []VerifyItem) []BatchVerdict {
	out := make([]BatchVerdict, len(items))
	for i, it := range items {
		valid, err := VerifyStrict(it.PublicKey, it.Message, it.Signature)
		out[i].Valid = valid && err == nil
		if r, ok := err.(*Refusal); ok {
			out[i].Refused = r.Within(fmt.Sprintf("items[%d].", i))
		}
	}
	return out
}

// Curve constants of edwards25519, and the group order L.
var (
	fieldP  = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	orderL  = mustInt("7237005577332262213973186563042994240857116359379907606001950938285454250989")
	curveD  = mustInt("37095705934669439343138083508754565189542113879843219016388785533085940283555")
	sqrtM1  = mustInt("19681161376707505956807079304988542015446066515923890162744021073123829784752")
	pMinus5 = new(big.Int).Rsh(new(big.Int).Sub(fieldP, big.NewInt(5)), 3) // (p−5)/8
	one     = big.NewInt(1)
)

func mustInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("reference: bad constant " + s)
	}
	return v
}

// affinePoint is a point (x, y) of edwards25519 in affine coordinates over GF(p). It is used
// only for the decoding and small-order checks of VerifyStrict; it is not constant-time, which
// is fine for verification (all inputs are public).
type affinePoint struct{ x, y *big.Int }

// leToInt reads a 32-byte little-endian integer.
func leToInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

func isCanonicalScalar(s []byte) bool { return leToInt(s).Cmp(orderL) < 0 }

func mod(v *big.Int) *big.Int { return v.Mod(v, fieldP) }

// decodePoint decompresses a 32-byte point encoding as ed25519-dalek does: y is the low 255
// bits reduced mod p (non-canonical y is accepted), the top bit selects the sign of x, and the
// encoding is rejected only when no x exists.
func decodePoint(b []byte) (affinePoint, bool) {
	raw := leToInt(b)
	sign := raw.Bit(255)
	y := mod(raw.SetBit(raw, 255, 0))
	yy := mod(new(big.Int).Mul(y, y))
	u := mod(new(big.Int).Sub(yy, one))                           // y² − 1
	v := mod(new(big.Int).Add(new(big.Int).Mul(curveD, yy), one)) // d·y² + 1
	// Candidate square root of u/v: x = u·v³·(u·v⁷)^((p−5)/8).
	v3 := mod(new(big.Int).Mul(mod(new(big.Int).Mul(v, v)), v))
	v7 := mod(new(big.Int).Mul(mod(new(big.Int).Mul(v3, v3)), v))
	x := new(big.Int).Exp(mod(new(big.Int).Mul(u, v7)), pMinus5, fieldP)
	x = mod(x.Mul(x, mod(new(big.Int).Mul(u, v3))))
	vxx := mod(new(big.Int).Mul(v, mod(new(big.Int).Mul(x, x))))
	switch {
	case vxx.Cmp(u) == 0:
	case vxx.Cmp(mod(new(big.Int).Neg(u))) == 0:
		x = mod(x.Mul(x, sqrtM1))
	default:
		return affinePoint{}, false
	}
	if x.Bit(0) != sign {
		x = mod(x.Neg(x))
	}
	return affinePoint{x, y}, true
}

// add returns p + q by the (complete) twisted Edwards addition law with a = −1.
func (p affinePoint) add(q affinePoint) affinePoint {
	t := mod(new(big.Int).Mul(curveD, mod(new(big.Int).Mul(mod(new(big.Int).Mul(p.x, q.x)), mod(new(big.Int).Mul(p.y, q.y))))))
	xn := mod(new(big.Int).Add(new(big.Int).Mul(p.x, q.y), new(big.Int).Mul(p.y, q.x)))
	yn := mod(new(big.Int).Add(new(big.Int).Mul(p.y, q.y), new(big.Int).Mul(p.x, q.x)))
	xd := new(big.Int).ModInverse(mod(new(big.Int).Add(one, t)), fieldP)
	yd := new(big.Int).ModInverse(mod(new(big.Int).Sub(one, t)), fieldP)
	return affinePoint{mod(xn.Mul(xn, xd)), mod(yn.Mul(yn, yd))}
}

// isSmallOrder reports whether 8·p is the identity (0, 1), i.e. p is one of the eight
// torsion points.
func (p affinePoint) isSmallOrder() bool {
	q := p.add(p)
	q = q.add(q)
	q = q.add(q)
	return q.x.Sign() == 0 && q.y.Cmp(one) == 0
}
