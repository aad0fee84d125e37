package reference

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"math"
	"testing"

	"github.com/coinjecture/coinjecture/clients/go/internal/skip"
	"github.com/coinjecture/coinjecture/clients/go/reference/msgpack"
)

// Rules the vectors do not pin down on their own, checked against the README's wording.

func TestIntegersTakeTheirSmallestForm(t *testing.T) {
	for _, c := range []struct {
		v    int64
		want string
	}{
		{0, "00"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"}, {65535, "cdffff"},
		{65536, "ce00010000"}, {1 << 32, "cf0000000100000000"}, {200, "ccc8"}, {1609459200, "ce5fee6600"},
		{-1, "ff"}, {-2, "fe"}, {-32, "e0"}, {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"},
		{-32769, "d2ffff7fff"}, {-(1 << 31) - 1, "d3ffffffff7fffffff"}, {math.MinInt64, "d38000000000000000"},
	} {
		if got := hex.EncodeToString(msgpack.AppendInt(nil, c.v)); got != c.want {
			t.Errorf("AppendInt(%d) = %s, want %s", c.v, got, c.want)
		}
	}
	if got := hex.EncodeToString(msgpack.AppendUint(nil, math.MaxUint64)); got != "cfffffffffffffffff" {
		t.Errorf("AppendUint(max) = %s", got)
	}
}

func TestContainerAndStringHeaders(t *testing.T) {
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{msgpack.AppendArrayHeader(nil, 0), "90"},
		{msgpack.AppendArrayHeader(nil, 15), "9f"},
		{msgpack.AppendArrayHeader(nil, 16), "dc0010"},
		{msgpack.AppendArrayHeader(nil, 65536), "dd00010000"},
		{msgpack.AppendMapHeader(nil, 10), "8a"},
		{msgpack.AppendMapHeader(nil, 16), "de0010"},
		{msgpack.AppendStr(nil, "nonce"), "a56e6f6e6365"},
		{msgpack.AppendStr(nil, string(make([]byte, 32)))[:2], "d920"},
		{msgpack.AppendByteArray(nil, []byte{0x00, 0x7f, 0x80, 0xff}), "94007fcc80ccff"},
	} {
		if h := hex.EncodeToString(c.got); h != c.want {
			t.Errorf("got %s, want %s", h, c.want)
		}
	}
}

func TestUpstreamGenesisIs269BytesAndHashesToD1d959b0(t *testing.T) {
	h := BlockHeader{CodecVersion: 1, Timestamp: 1609459200, DifficultyTarget: 1000}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != 269 {
		t.Errorf("%d bytes, want 269", len(enc))
	}
	if !bytes.HasPrefix(enc, []byte("\x8a\xadcodec_version\x01")) || !bytes.HasSuffix(enc, []byte("\xaaextra_data\x90")) {
		t.Errorf("unexpected framing: %x", enc)
	}
	if !bytes.Equal(enc[39:44], []byte{0xce, 0x5f, 0xee, 0x66, 0x00}) {
		t.Errorf("timestamp bytes %x", enc[39:44])
	}
	hash, _ := h.Hash()
	if got := hex.EncodeToString(hash[:]); got != "d1d959b0b7ec30e7613e650973fe34fc55c40bd97c476135e8163ee28068f66c" {
		t.Errorf("hash %s", got)
	}
}

func TestHeaderRefusesWhatHasNoEncoding(t *testing.T) {
	if _, err := (&BlockHeader{CodecVersion: 2}).Encode(); err == nil {
		t.Error("codec_version 2 encoded")
	}
	if _, err := (&BlockHeader{CodecVersion: 1, ExtraData: make([]byte, 257)}).Encode(); err == nil {
		t.Error("257 bytes of extra_data encoded")
	}
	if _, err := (&BlockHeader{CodecVersion: 1, ExtraData: make([]byte, 256)}).Encode(); err != nil {
		t.Errorf("256 bytes of extra_data: %v", err)
	}
}

func TestPoaExtraLayout(t *testing.T) {
	x := PoaExtra{Round: 3, TimestampMillis: 999, StateCommitment: Hash{1}}
	b, err := x.Encode()
	if err != nil || len(b) != 39 || b[0] != 1 {
		t.Fatalf("normal block extra_data: %x %v", b, err)
	}
	x.ChainID = "coinjecture-go-testnet"
	g, _ := x.Encode()
	if len(g) != 39+len(x.ChainID) {
		t.Errorf("genesis extra_data is %d bytes", len(g))
	}
	if back, err := DecodePoaExtra(g); err != nil || back != x {
		t.Errorf("round trip: %+v %v", back, err)
	}
	bad := map[string][]byte{
		"short":        b[:38],
		"version 2":    append([]byte{2}, b[1:]...),
		"millis 1000":  append([]byte{1, 0, 0, 0, 3, 0x03, 0xe8}, b[7:39]...),
		"bad chain id": append(append([]byte{}, b...), "UPPER"...),
	}
	for name, in := range bad {
		if _, err := DecodePoaExtra(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := (&PoaExtra{TimestampMillis: 1000}).Encode(); err == nil {
		t.Error("millis 1000 encoded")
	}
	for _, id := range []string{"", "A", "a b", string(make([]byte, 65))} {
		if ValidateChainID(id) == nil {
			t.Errorf("chain id %q accepted", id)
		}
	}
}

func TestStatelessTransactionRulesInOrder(t *testing.T) {
	const chain = "coinjecture-go-testnet"
	tag, _ := ChainTag(chain)
	base := func() Transaction {
		return Transaction{
			CodecVersion: 1, TxType: TxTransfer, From: [32]byte{1}, To: [32]byte{2}, Amount: 1_000_000,
			Nonce: 7, GasLimit: 21_000, GasPrice: 1, Data: append(append([]byte{}, tag...), "memo"...),
		}
	}
	ok := base()
	if r := ok.CheckStateless(chain); r != TxOK {
		t.Fatalf("valid transfer rejected: %s", r)
	}
	for want, change := range map[TxRejection]func(*Transaction){
		TxCodecVersion:  func(tx *Transaction) { tx.CodecVersion = 2 },
		TxDataTooLong:   func(tx *Transaction) { tx.Data = append(tx.Data, make([]byte, MaxTxData)...) },
		TxGasTooLow:     func(tx *Transaction) { tx.GasLimit = 20_999 },
		TxFeeTooLow:     func(tx *Transaction) { tx.Amount = 1_000_000_000 },
		TxFeeOverflow:   func(tx *Transaction) { tx.GasPrice = math.MaxUint64 },
		TxTotalOverflow: func(tx *Transaction) { tx.Amount, tx.GasLimit, tx.GasPrice = math.MaxUint64, math.MaxUint64/2, 2 },
		TxSelfTransfer:  func(tx *Transaction) { tx.To = tx.From },
		TxUnknownTxType: func(tx *Transaction) { tx.TxType = 9 },
	} {
		tx := base()
		change(&tx)
		if got := tx.CheckStateless(chain); got != want {
			t.Errorf("want %s, got %q", want, got)
		}
	}
	if got := ok.CheckStateless("coinjecture-migration-testnet"); got != TxWrongChain {
		t.Errorf("other chain: %q", got)
	}
	ps := base()
	ps.TxType, ps.GasLimit = TxProblemSubmission, 49_999
	if got := ps.CheckStateless(chain); got != TxGasTooLow {
		t.Errorf("problem submission gas 49,999: %q", got)
	}
}

func TestSignedTransactionVerifiesAndTamperingBreaksIt(t *testing.T) {
	tag, _ := ChainTag("coinjecture-go-testnet")
	tx := Transaction{CodecVersion: 1, TxType: TxTransfer, Amount: 5, GasLimit: 21000, GasPrice: 1, Data: tag}
	if err := tx.Sign([32]byte{7}); err != nil {
		t.Fatal(err)
	}
	if ok, err := tx.VerifySignature(); !ok || err != nil {
		t.Fatalf("own signature rejected: %v", err)
	}
	if msg, _ := tx.SigningMessage(); len(msg) != 110+len(tag) {
		t.Errorf("signing message is %d bytes", len(msg))
	}
	tx.Amount++
	if ok, _ := tx.VerifySignature(); ok {
		t.Error("tampered amount accepted")
	}
}

// A transaction of another codec version has no signing message, encoding or signature: it is
// refused, naming codec_version (golden/README.md §1.4).
func TestOtherCodecVersionsAreRefused(t *testing.T) {
	tag, _ := ChainTag("coinjecture-go-testnet")
	tx := Transaction{CodecVersion: 2, TxType: TxTransfer, GasLimit: 21000, GasPrice: 1, Data: tag}
	for name, err := range map[string]error{
		"Sign":           tx.Sign([32]byte{7}),
		"Encode":         func() error { _, err := tx.Encode(); return err }(),
		"SigningMessage": func() error { _, err := tx.SigningMessage(); return err }(),
	} {
		r, ok := err.(*Refusal)
		if !ok || r.Field != "codec_version" || r.Code != RefusedUnsupportedCodecVersion {
			t.Errorf("%s: %v, want a refusal of codec_version", name, err)
		}
	}
}

func TestSubsetSumOverflowDependsOnIndexOrder(t *testing.T) {
	p := SubsetSumProblem{Tier: TierMobile, Elements: []int64{math.MaxInt64, 1, math.MinInt64, 4, 5, 6, 7, 8}}
	if r := VerifySubsetSum(&p, &SubsetSumSolution{Indices: []uint32{0, 1, 2}}); r != ReasonOverflow {
		t.Errorf("[0 1 2]: %q", r)
	}
	if r := VerifySubsetSum(&p, &SubsetSumSolution{Indices: []uint32{0, 2, 1}}); r != SubsetSumValid {
		t.Errorf("[0 2 1]: %q", r)
	}
	// Upstream's order: repetition over the whole list first, then range and overflow per index.
	if r := VerifySubsetSum(&p, &SubsetSumSolution{Indices: []uint32{9, 9}}); r != ReasonDuplicateIndex {
		t.Errorf("[9 9]: %q", r)
	}
	if r := VerifySubsetSum(&p, &SubsetSumSolution{Indices: []uint32{0, 1, 9}}); r != ReasonOverflow {
		t.Errorf("[0 1 9]: %q", r)
	}
	if r := VerifySubsetSum(&p, &SubsetSumSolution{Indices: []uint32{9, 0, 1}}); r != ReasonIndexOutOfRange {
		t.Errorf("[9 0 1]: %q", r)
	}
	bad := SubsetSumProblem{Tier: 0, Elements: p.Elements}
	if r := VerifySubsetSum(&bad, &SubsetSumSolution{Indices: []uint32{0}}); r != ReasonInvalidTier {
		t.Errorf("tier 0: %q", r)
	}
	if _, err := bad.Encode(); err == nil {
		t.Error("tier 0 encoded")
	}
}

func TestAddInt64(t *testing.T) {
	for _, c := range []struct {
		a, b int64
		over bool
	}{
		{math.MaxInt64, 1, true}, {math.MinInt64, -1, true}, {math.MaxInt64, math.MinInt64, false},
		{math.MaxInt64, 0, false}, {-5, 3, false}, {math.MinInt64, 0, false}, {math.MaxInt64 / 2, math.MaxInt64/2 + 1, false},
	} {
		if _, over := addInt64(c.a, c.b); over != c.over {
			t.Errorf("%d + %d: overflow %v", c.a, c.b, over)
		}
	}
}

func TestMerklePromotedLeafOfFiveHasOneStep(t *testing.T) {
	leaves := make([]Hash, 5)
	for i := range leaves {
		leaves[i] = Sha256([]byte{byte(i)})
	}
	steps, root, err := MerkleProof(leaves, 4)
	if err != nil || len(steps) != 1 || !steps[0].CurrentIsRight {
		t.Fatalf("steps %+v %v", steps, err)
	}
	if root != MerkleRoot(leaves) || !VerifyMerkleProof(leaves[4], steps, root) {
		t.Error("proof does not lead to the root")
	}
	if VerifyMerkleProof(leaves[3], steps, root) {
		t.Error("proof of leaf 4 accepted for leaf 3")
	}
	abc := MerkleRoot(leaves[:3])
	if abc != hashPair(hashPair(leaves[0], leaves[1]), leaves[2]) {
		t.Error("three leaves: root is not H(H(a‖b)‖c)")
	}
	if _, _, err := MerkleProof(leaves, 5); err == nil {
		t.Error("index 5 of 5 accepted")
	}
	if _, _, err := MerkleProof(nil, 0); err == nil {
		t.Error("proof in an empty tree accepted")
	}
}

// The eight torsion points (canonical encodings), which strict verification refuses as keys and
// as R.
var torsion = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
}

func TestSmallOrderPoints(t *testing.T) {
	for _, s := range torsion {
		b, _ := hex.DecodeString(s)
		p, ok := decodePoint(b)
		if !ok || !p.isSmallOrder() {
			t.Errorf("%s: decoded %v, small order %v", s, ok, ok && p.isSmallOrder())
		}
	}
	// y = p + 1 is a non-canonical encoding of the identity: accepted by decoding (y mod p),
	// then refused as small order.
	nonCanonicalIdentity, _ := hex.DecodeString("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	if p, ok := decodePoint(nonCanonicalIdentity); !ok || !p.isSmallOrder() {
		t.Error("non-canonical identity not decoded as a small-order point")
	}
	base, _ := hex.DecodeString("5866666666666666666666666666666666666666666666666666666666666666")
	if p, ok := decodePoint(base); !ok || p.isSmallOrder() {
		t.Error("base point")
	}
	for i := range 32 {
		pk := PublicKey([32]byte{byte(i), 0x5a})
		p, ok := decodePoint(pk[:])
		if !ok || p.isSmallOrder() {
			t.Errorf("public key of seed %d: decoded %v", i, ok)
		}
	}
	notOnCurve, _ := hex.DecodeString("0200000000000000000000000000000000000000000000000000000000000000")
	if _, ok := decodePoint(notOnCurve); ok {
		t.Error("y = 2 has no x on the curve, yet decoded")
	}
}

// With the identity as key, R = identity and s = 0 "verify" any message under the cofactorless
// equation; crypto/ed25519 alone accepts that, VerifyStrict must not.
func TestIdentityKeyForgeryIsRefused(t *testing.T) {
	pk, _ := hex.DecodeString(torsion[0])
	sig := append(append([]byte{}, pk...), make([]byte, 32)...)
	msg := []byte("anything at all")
	if !ed25519.Verify(pk, msg, sig) {
		skip.Unless(t, "crypto/ed25519 now refuses small-order keys itself")
		return
	}
	if ok, _ := VerifyStrict(pk, msg, sig); ok {
		t.Error("identity-key forgery accepted")
	}
}

func TestNonCanonicalSIsRefused(t *testing.T) {
	seed := [32]byte{42}
	pk := PublicKey(seed)
	sig := Sign(seed, []byte("m"))
	if ok, _ := VerifyStrict(pk[:], []byte("m"), sig[:]); !ok {
		t.Fatal("valid signature rejected")
	}
	// s + L: same point equation, non-canonical scalar.
	s := leToInt(sig[32:])
	s.Add(s, orderL)
	be := s.FillBytes(make([]byte, 32))
	for i := range 32 {
		sig[32+i] = be[31-i]
	}
	if ok, _ := VerifyStrict(pk[:], []byte("m"), sig[:]); ok {
		t.Error("s + L accepted")
	}
	// Wrong lengths are refused, not answered (§1.4), alone and as batch items.
	if _, err := VerifyStrict(pk[:31], []byte("m"), sig[:]); err == nil || err.(*Refusal).Field != "public_key" {
		t.Errorf("31-byte key: %v", err)
	}
	if _, err := VerifyStrict(pk[:], []byte("m"), sig[:63]); err == nil || err.(*Refusal).Field != "signature" {
		t.Errorf("63-byte signature: %v", err)
	}
	good := Sign(seed, []byte("m"))
	v := VerifyBatch([]VerifyItem{{pk[:], []byte("m"), good[:]}, {pk[:31], []byte("m"), good[:]}})
	if !v[0].Valid || v[0].Refused != nil || v[1].Valid || v[1].Refused == nil || v[1].Refused.Field != "items[1].public_key" {
		t.Errorf("batch: %+v %+v", v[0], v[1])
	}
}

func TestVoteEvidenceHasOneForm(t *testing.T) {
	h1, h2 := Hash{1}, Hash{2}
	a := Vote{ChainID: "coinjecture-go-testnet", Height: 5, Round: 1, Type: Precommit, BlockHash: &h1}
	b := a
	b.BlockHash = &h2
	seed := [32]byte{3}
	if a.Sign(seed) != nil || b.Sign(seed) != nil {
		t.Fatal("sign")
	}
	ab, err1 := DuplicateVoteEvidence(&a, &b)
	ba, err2 := DuplicateVoteEvidence(&b, &a)
	if err1 != nil || err2 != nil || !bytes.Equal(ab, ba) {
		t.Errorf("evidence differs by argument order: %v %v", err1, err2)
	}
	if _, err := DuplicateVoteEvidence(&a, &a); err == nil {
		t.Error("a vote conflicts with itself")
	}
	nilVote := a
	nilVote.BlockHash = nil
	if _, err := DuplicateVoteEvidence(&a, &nilVote); err != nil {
		t.Errorf("nil counts as a value: %v", err)
	}
}

func TestProposalSigningBytesAreDomainSeparated(t *testing.T) {
	pol := uint32(0)
	p := Proposal{
		ChainID: "coinjecture-go-testnet", Height: 5, PolRound: &pol, TimestampMs: 1_700_000_000_123,
		Block: Block{Header: BlockHeader{CodecVersion: 1, BlockIndex: 5}},
	}
	sb, err := p.SigningBytes()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := p.Block.Hash()
	if !bytes.HasPrefix(sb, []byte("coinjecture/v1/proposal\x00\x16coinjecture-go-testnet")) || !bytes.HasSuffix(sb, h[:]) {
		t.Errorf("signing bytes %x", sb)
	}
	enc, err := p.Encode()
	blk, _ := p.Block.Encode()
	if err != nil || !bytes.HasSuffix(enc, blk) {
		t.Errorf("encoding does not end with the block: %v", err)
	}
	p.Height = 6
	if _, err := p.Encode(); err == nil {
		t.Error("block_index ≠ height encoded")
	}
}

func TestCommitCertificateNormalize(t *testing.T) {
	c := CommitCertificate{Signatures: []CommitSignature{
		{Validator: [32]byte{3}, Signature: [64]byte{1}},
		{Validator: [32]byte{1}},
		{Validator: [32]byte{3}, Signature: [64]byte{2}},
	}}
	if _, err := c.Encode(); err == nil {
		t.Error("unsorted signers encoded")
	}
	c.Normalize()
	if len(c.Signatures) != 2 || c.Signatures[0].Validator[0] != 1 || c.Signatures[1].Signature[0] != 1 {
		t.Errorf("normalized: %+v", c.Signatures)
	}
	enc, err := c.Encode()
	if err != nil || len(enc) != 47+2*96 {
		t.Errorf("encoding: %d bytes, %v", len(enc), err)
	}
}

func TestSnapshotAttestationSigningBytesAreSharedByValidators(t *testing.T) {
	a := SnapshotAttestation{ChainID: "coinjecture-go-testnet", Height: 1000, Root: Hash{7}}
	b := a
	if a.Sign([32]byte{1}) != nil || b.Sign([32]byte{2}) != nil {
		t.Fatal("sign")
	}
	ma, _ := a.SigningBytes()
	mb, _ := b.SigningBytes()
	if !bytes.Equal(ma, mb) || !bytes.HasPrefix(ma, []byte("coinjecture/v1/snapshot\x00\x16coinjecture-go-testnet")) {
		t.Errorf("signing bytes %x / %x", ma, mb)
	}
	if !a.Verify() || !b.Verify() {
		t.Error("own signature does not verify")
	}
	enc, err := a.Encode()
	if err != nil || len(enc) != 1+1+22+8+32+32+64 || enc[0] != ConsensusFormatVersion {
		t.Errorf("encoding: %x %v", enc, err)
	}
	b.Signature = a.Signature
	if b.Verify() {
		t.Error("another validator's signature verifies")
	}
	a.ChainID = "Bad"
	if _, err := a.Encode(); err == nil || err.(*Refusal).Code != RefusedInvalidChainID {
		t.Errorf("invalid chain id: %v", err)
	}
}
