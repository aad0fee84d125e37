// Package reference is a pure-Go reference implementation of the COINjecture wire rules.
//
// It is written from golden/README.md, the normative specification (section numbers in the
// documentation below refer to it), and golden_test.go checks it against every golden vector in
// golden/*.json and golden/upstream/network_b_vectors.json. It uses only the standard library:
// crypto/sha256, crypto/hmac, crypto/ed25519 and, for the strict-verification checks that
// crypto/ed25519 lacks, math/big.
//
// What it covers: canonical MessagePack (package msgpack), block header encoding and hash, the
// PoA extra_data layout, transaction encoding, hash and signing message, the chain tag, Merkle
// roots and inclusion proofs, subset-sum verification with reason codes, commit–reveal, strict
// ed25519 verification, address derivation, and the consensus encodings (vote, proposal,
// commit certificate, evidence, snapshot attestation) with their signing bytes.
//
// Nothing here is tuned for speed; everything is meant to be obviously right. Decoders of the
// MessagePack formats are not provided: the reference produces bytes, and the Rust nodes and
// crypto-core are the strict decoders.
package reference

import "crypto/sha256"

// Hash is a 32-byte SHA-256 digest (block hash, transaction hash, Merkle node, ...).
type Hash = [32]byte

// Sha256 returns the SHA-256 digest of data: the chain's only hash function.
func Sha256(data []byte) Hash { return sha256.Sum256(data) }
