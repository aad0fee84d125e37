package reference

// DeriveAddress returns the v4 derived address of an ed25519 public key: SHA-256 of the 32 raw
// key bytes, no prefix (§9). On chain, accounts and validators are the raw public key; this
// exists for v4 parity.
func DeriveAddress(publicKey [32]byte) Hash { return Sha256(publicKey[:]) }
