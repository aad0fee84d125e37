package reference

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ConsensusFormatVersion is the first byte of every consensus wire encoding (§10).
const ConsensusFormatVersion = 1

// Domain tags of the consensus signing bytes (§10.2, §10.3), NUL-terminated.
const (
	VoteDomain     = "coinjecture/v1/vote\x00"
	ProposalDomain = "coinjecture/v1/proposal\x00"
	SnapshotDomain = "coinjecture/v1/snapshot\x00"
)

// VoteType is a vote's kind; its value is the byte of the encodings.
type VoteType uint8

// The two vote types.
const (
	Prevote   VoteType = 1
	Precommit VoteType = 2
)

// String returns "prevote", "precommit" or "VoteType(n)".
func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("VoteType(%d)", uint8(t))
}

// ParseVoteType parses "prevote" or "precommit".
func ParseVoteType(s string) (VoteType, error) {
	switch s {
	case "prevote":
		return Prevote, nil
	case "precommit":
		return Precommit, nil
	}
	return 0, refuse("vote_type", RefusedUnknownVariant, "unknown vote type %q", s)
}

func appendChainID(b []byte, chainID string) ([]byte, error) {
	if err := ValidateChainID(chainID); err != nil {
		return nil, err
	}
	return append(append(b, byte(len(chainID))), chainID...), nil
}

// Vote is a prevote or precommit of one validator (§10.1).
type Vote struct {
	ChainID   string
	Height    uint64
	Round     uint32
	Type      VoteType
	BlockHash *Hash // nil for a nil vote
	Validator [32]byte
	Signature [64]byte
}

// body appends chain id ‖ height ‖ round ‖ vote type ‖ optional block hash.
func (v *Vote) body(b []byte) ([]byte, error) {
	if v.Type != Prevote && v.Type != Precommit {
		return nil, fmt.Errorf("unknown vote type %d", v.Type)
	}
	b, err := appendChainID(b, v.ChainID)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint64(b, v.Height)
	b = binary.BigEndian.AppendUint32(b, v.Round)
	b = append(b, byte(v.Type))
	if v.BlockHash == nil {
		return append(b, 0), nil
	}
	return append(append(b, 1), v.BlockHash[:]...), nil
}

// SigningBytes returns what the validator signs (§10.2): the domain tag
// "coinjecture/v1/vote\0" followed by the wire fields from the chain id up to the block hash.
func (v *Vote) SigningBytes() ([]byte, error) {
	return v.body([]byte(VoteDomain))
}

// Encode returns the vote's wire encoding (§10.1): version ‖ body ‖ validator ‖ signature.
func (v *Vote) Encode() ([]byte, error) {
	b, err := v.body([]byte{ConsensusFormatVersion})
	if err != nil {
		return nil, err
	}
	b = append(b, v.Validator[:]...)
	return append(b, v.Signature[:]...), nil
}

// Sign sets Validator to the public key of seed and Signature to its signature over the
// signing bytes.
func (v *Vote) Sign(seed [32]byte) error {
	msg, err := v.SigningBytes()
	if err != nil {
		return err
	}
	v.Validator = PublicKey(seed)
	v.Signature = Sign(seed, msg)
	return nil
}

// Verify reports whether Signature is Validator's strict ed25519 signature of the signing bytes.
func (v *Vote) Verify() bool {
	msg, err := v.SigningBytes()
	if err != nil {
		return false
	}
	valid, err := VerifyStrict(v.Validator[:], msg, v.Signature[:])
	return valid && err == nil
}

// Proposal is a proposer's block proposal (§10.3).
type Proposal struct {
	ChainID     string
	Height      uint64
	Round       uint32
	PolRound    *uint32 // proof-of-lock round; nil when absent
	TimestampMs int64   // proposer's clock, Unix milliseconds
	Block       Block
	Proposer    [32]byte
	Signature   [64]byte
}

func (p *Proposal) common(b []byte) ([]byte, error) {
	b, err := appendChainID(b, p.ChainID)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint64(b, p.Height)
	b = binary.BigEndian.AppendUint32(b, p.Round)
	if p.PolRound == nil {
		b = append(b, 0)
	} else {
		b = binary.BigEndian.AppendUint32(append(b, 1), *p.PolRound)
	}
	return binary.BigEndian.AppendUint64(b, uint64(p.TimestampMs)), nil
}

// SigningBytes returns what the proposer signs: "coinjecture/v1/proposal\0" ‖ chain id ‖ height
// ‖ round ‖ optional pol_round ‖ timestamp_ms ‖ block hash.
func (p *Proposal) SigningBytes() ([]byte, error) {
	b, err := p.common([]byte(ProposalDomain))
	if err != nil {
		return nil, err
	}
	h, err := p.Block.Hash()
	if err != nil {
		return nil, err
	}
	return append(b, h[:]...), nil
}

// Sign sets Proposer to the public key of seed and Signature to its signature over the signing
// bytes.
func (p *Proposal) Sign(seed [32]byte) error {
	msg, err := p.SigningBytes()
	if err != nil {
		return err
	}
	p.Proposer = PublicKey(seed)
	p.Signature = Sign(seed, msg)
	return nil
}

// Encode returns the proposal's wire encoding: version ‖ chain id ‖ height ‖ round ‖ pol_round ‖
// timestamp_ms ‖ proposer ‖ signature ‖ block length u32 BE ‖ block. The block's block_index
// must equal the height.
func (p *Proposal) Encode() ([]byte, error) {
	if p.Block.Header.BlockIndex != p.Height {
		return nil, fmt.Errorf("block_index %d differs from height %d", p.Block.Header.BlockIndex, p.Height)
	}
	b, err := p.common([]byte{ConsensusFormatVersion})
	if err != nil {
		return nil, err
	}
	block, err := p.Block.Encode()
	if err != nil {
		return nil, err
	}
	b = append(b, p.Proposer[:]...)
	b = append(b, p.Signature[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(block)))
	return append(b, block...), nil
}

// CommitSignature is one validator's precommit signature in a commit certificate.
type CommitSignature struct {
	Validator [32]byte
	Signature [64]byte
}

// CommitCertificate is a quorum of precommits for one block (§10.4). It carries no chain id:
// each signature is over the precommit signing bytes of the verifier's own chain.
type CommitCertificate struct {
	Height     uint64
	Round      uint32
	BlockHash  Hash
	Signatures []CommitSignature // validators strictly ascending bytewise
}

// SigningBytes returns the precommit signing bytes (§10.2) that every signature of the
// certificate is over, for chainID.
func (c *CommitCertificate) SigningBytes(chainID string) ([]byte, error) {
	h := c.BlockHash
	v := Vote{ChainID: chainID, Height: c.Height, Round: c.Round, Type: Precommit, BlockHash: &h}
	return v.SigningBytes()
}

// Normalize sorts the signatures by validator key (bytewise ascending) and drops every pair
// whose key occurred earlier in the list, keeping the first.
func (c *CommitCertificate) Normalize() {
	seen := make(map[[32]byte]bool, len(c.Signatures))
	kept := c.Signatures[:0:0]
	for _, s := range c.Signatures {
		if !seen[s.Validator] {
			seen[s.Validator] = true
			kept = append(kept, s)
		}
	}
	slices.SortFunc(kept, func(a, b CommitSignature) int { return bytes.Compare(a.Validator[:], b.Validator[:]) })
	c.Signatures = kept
}

// Encode returns the certificate encoding (§10.4): version ‖ height u64 BE ‖ round u32 BE ‖
// block hash ‖ count u16 BE ‖ count × (key ‖ signature). It fails for more than 1,024
// signatures or keys that are not strictly ascending (call Normalize first).
func (c *CommitCertificate) Encode() ([]byte, error) {
	if len(c.Signatures) > MaxValidators {
		return nil, fmt.Errorf("%d signatures: at most %d", len(c.Signatures), MaxValidators)
	}
	for i := 1; i < len(c.Signatures); i++ {
		if bytes.Compare(c.Signatures[i-1].Validator[:], c.Signatures[i].Validator[:]) >= 0 {
			return nil, errors.New("signers must be strictly ascending (use Normalize)")
		}
	}
	b := make([]byte, 0, 47+96*len(c.Signatures))
	b = append(b, ConsensusFormatVersion)
	b = binary.BigEndian.AppendUint64(b, c.Height)
	b = binary.BigEndian.AppendUint32(b, c.Round)
	b = append(b, c.BlockHash[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Signatures)))
	for _, s := range c.Signatures {
		b = append(b, s.Validator[:]...)
		b = append(b, s.Signature[:]...)
	}
	return b, nil
}

// DuplicateVoteEvidence returns the evidence encoding of two conflicting votes (§10.5):
// 01 ‖ 01 ‖ len(a) u32 BE ‖ a ‖ len(b) u32 BE ‖ b, with the two vote encodings in bytewise
// ascending order, so one equivocation has one encoding. The votes must share validator, chain
// id, height, round and type and differ in block hash (nil counts as a value).
func DuplicateVoteEvidence(a, b *Vote) ([]byte, error) {
	sameHash := (a.BlockHash == nil) == (b.BlockHash == nil) && (a.BlockHash == nil || *a.BlockHash == *b.BlockHash)
	if a.Validator != b.Validator || a.ChainID != b.ChainID || a.Height != b.Height ||
		a.Round != b.Round || a.Type != b.Type || sameHash {
		return nil, refuse("b", RefusedNotConflicting, "the votes do not conflict")
	}
	ea, err := a.Encode()
	if err != nil {
		return nil, err
	}
	eb, err := b.Encode()
	if err != nil {
		return nil, err
	}
	return evidence(1, ea, eb), nil
}

// evidence returns 01 ‖ kind ‖ len(a) u32 BE ‖ a ‖ len(b) u32 BE ‖ b with the two encodings in
// bytewise ascending order.
func evidence(kind byte, ea, eb []byte) []byte {
	if bytes.Compare(ea, eb) > 0 {
		ea, eb = eb, ea
	}
	out := []byte{ConsensusFormatVersion, kind}
	out = binary.BigEndian.AppendUint32(out, uint32(len(ea)))
	out = append(out, ea...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(eb)))
	return append(out, eb...)
}

// DuplicateProposalEvidence returns the evidence encoding of two conflicting proposals (§10.5,
// kind 2): 01 ‖ 02 ‖ len(a) u32 BE ‖ a ‖ len(b) u32 BE ‖ b, the proposal encodings with their
// blocks' transactions dropped (the signatures cover the block hash, which the header alone
// fixes), in bytewise ascending order. The proposals must share proposer, chain id, height and
// round and differ in their signing bytes.
func DuplicateProposalEvidence(a, b *Proposal) ([]byte, error) {
	sa, err := a.SigningBytes()
	if err != nil {
		return nil, err
	}
	sb, err := b.SigningBytes()
	if err != nil {
		return nil, err
	}
	if a.Proposer != b.Proposer || a.ChainID != b.ChainID || a.Height != b.Height || a.Round != b.Round ||
		bytes.Equal(sa, sb) {
		return nil, refuse("b", RefusedNotConflicting, "the proposals do not conflict")
	}
	bare := func(p *Proposal) ([]byte, error) {
		q := *p
		q.Block = Block{Header: p.Block.Header}
		return q.Encode()
	}
	ea, err := bare(a)
	if err != nil {
		return nil, err
	}
	eb, err := bare(b)
	if err != nil {
		return nil, err
	}
	return evidence(2, ea, eb), nil
}

// SnapshotAttestation is a validator's statement that the account state after block Height has
// the state-sync snapshot root Root (§10.6). It is not part of the chain.
type SnapshotAttestation struct {
	ChainID   string
	Height    uint64
	Root      Hash // Merkle root (§5) of the snapshot's chunk hashes
	Validator [32]byte
	Signature [64]byte
}

// body appends chain id ‖ height u64 BE ‖ root.
func (a *SnapshotAttestation) body(b []byte) ([]byte, error) {
	b, err := appendChainID(b, a.ChainID)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint64(b, a.Height)
	return append(b, a.Root[:]...), nil
}

// SigningBytes returns what the validator signs (§10.6): "coinjecture/v1/snapshot\0" ‖ chain id
// ‖ height ‖ root. They do not depend on the validator, so the attestations of one snapshot
// verify as one batch.
func (a *SnapshotAttestation) SigningBytes() ([]byte, error) {
	return a.body([]byte(SnapshotDomain))
}

// Encode returns the attestation's wire encoding (§10.6): version ‖ chain id ‖ height ‖ root ‖
// validator ‖ signature.
func (a *SnapshotAttestation) Encode() ([]byte, error) {
	b, err := a.body([]byte{ConsensusFormatVersion})
	if err != nil {
		return nil, err
	}
	b = append(b, a.Validator[:]...)
	return append(b, a.Signature[:]...), nil
}

// Sign sets Validator to the public key of seed and Signature to its signature over the
// signing bytes.
func (a *SnapshotAttestation) Sign(seed [32]byte) error {
	msg, err := a.SigningBytes()
	if err != nil {
		return err
	}
	a.Validator = PublicKey(seed)
	a.Signature = Sign(seed, msg)
	return nil
}

// Verify reports whether Signature is Validator's strict ed25519 signature of the signing bytes.
func (a *SnapshotAttestation) Verify() bool {
	msg, err := a.SigningBytes()
	if err != nil {
		return false
	}
	valid, err := VerifyStrict(a.Validator[:], msg, a.Signature[:])
	return valid && err == nil
}
