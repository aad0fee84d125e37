package reference

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/coinjecture/coinjecture/clients/go/reference/msgpack"
)

// CodecVersion is the only codec version of headers and transactions (§3.1, §4.1).
const CodecVersion = 1

// Limits of the wire formats (§2.1).
const (
	MaxExtraData  = 256            // bytes of a header's extra_data
	MaxTxData     = 1024 * 1024    // bytes of a transaction's data
	MaxChainIDLen = 64             // bytes of a chain id
	MaxValidators = 1024           // signatures in a commit certificate
	MaxSubsetSum  = 32             // subset-sum elements, and indices
	poaBaseLen    = 1 + 4 + 2 + 32 // extra_data of a non-genesis PoA block
)

// ValidateChainID reports whether id is a valid chain id (§3.3): 1 to 64 bytes, each a
// lower-case ASCII letter, a digit, '-', '_' or '.'.
// An invalid id is an INVALID_CHAIN_ID *Refusal of "chain_id".
func ValidateChainID(id string) error {
	shown := id
	if len(shown) > 80 {
		shown = shown[:80]
	}
	if len(id) == 0 || len(id) > MaxChainIDLen {
		return refuse("chain_id", RefusedInvalidChainID, "invalid chain id %q: must be 1 to %d bytes", shown, MaxChainIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return refuse("chain_id", RefusedInvalidChainID, "invalid chain id %q: byte %d is not one of a-z 0-9 - _ .", shown, i)
		}
	}
	return nil
}

// BlockHeader is the v4 block header (§3.1). Its hash is the block hash.
type BlockHeader struct {
	CodecVersion     uint8  // always CodecVersion (1)
	BlockIndex       uint64 // block height, genesis = 0
	Timestamp        int64  // Unix seconds
	ParentHash       Hash
	MerkleRoot       Hash
	MinerAddress     [32]byte // on our chain, the proposer's raw ed25519 public key
	Commitment       Hash
	DifficultyTarget uint64
	Nonce            uint64
	ExtraData        []byte // at most MaxExtraData bytes; on our chain the PoaExtra layout
}

// Encode returns the canonical MessagePack encoding of the header (§3.1): a fixmap of 10
// entries keyed by field name in declaration order. It refuses (*Refusal, §1.4) a CodecVersion
// other than 1 and ExtraData longer than 256 bytes.
func (h *BlockHeader) Encode() ([]byte, error) {
	if h.CodecVersion != CodecVersion {
		return nil, refuse("codec_version", RefusedUnsupportedCodecVersion, "must be %d, found %d", CodecVersion, h.CodecVersion)
	}
	if len(h.ExtraData) > MaxExtraData {
		return nil, refuse("extra_data", RefusedTooLong, "%d bytes, at most %d", len(h.ExtraData), MaxExtraData)
	}
	return h.appendTo(make([]byte, 0, 270+2*len(h.ExtraData))), nil
}

func (h *BlockHeader) appendTo(b []byte) []byte {
	b = msgpack.AppendMapHeader(b, 10)
	b = msgpack.AppendStr(b, "codec_version")
	b = msgpack.AppendUint(b, uint64(h.CodecVersion))
	b = msgpack.AppendStr(b, "block_index")
	b = msgpack.AppendUint(b, h.BlockIndex)
	b = msgpack.AppendStr(b, "timestamp")
	b = msgpack.AppendInt(b, h.Timestamp)
	b = msgpack.AppendStr(b, "parent_hash")
	b = msgpack.AppendBin8(b, h.ParentHash[:])
	b = msgpack.AppendStr(b, "merkle_root")
	b = msgpack.AppendBin8(b, h.MerkleRoot[:])
	b = msgpack.AppendStr(b, "miner_address")
	b = msgpack.AppendBin8(b, h.MinerAddress[:])
	b = msgpack.AppendStr(b, "commitment")
	b = msgpack.AppendBin8(b, h.Commitment[:])
	b = msgpack.AppendStr(b, "difficulty_target")
	b = msgpack.AppendUint(b, h.DifficultyTarget)
	b = msgpack.AppendStr(b, "nonce")
	b = msgpack.AppendUint(b, h.Nonce)
	b = msgpack.AppendStr(b, "extra_data")
	return msgpack.AppendByteArray(b, h.ExtraData)
}

// Hash returns the block hash: SHA-256 of Encode's output, with no prefix or domain tag (§3.1).
func (h *BlockHeader) Hash() (Hash, error) {
	enc, err := h.Encode()
	if err != nil {
		return Hash{}, err
	}
	return Sha256(enc), nil
}

// PoaExtraLayoutVersion is the version byte of the PoA extra_data layout (§3.3).
const PoaExtraLayoutVersion = 1

// PoaExtra is what the PoA chain stores in a header's extra_data (§3.3, layout version 1).
type PoaExtra struct {
	Round           uint32 // consensus round in which the block was proposed
	TimestampMillis uint16 // milliseconds of the block time beyond the header's timestamp, 0–999
	StateCommitment Hash   // the ledger's commitment after applying the block
	ChainID         string // genesis block only; "" in every other block
}

// Encode returns the extra_data bytes: version 01 ‖ round u32 BE ‖ millis u16 BE ‖ state
// commitment ‖ chain id (genesis only). 39 bytes, plus the chain id's length in genesis.
func (x *PoaExtra) Encode() ([]byte, error) {
	if x.TimestampMillis > 999 {
		return nil, refuse("timestamp_millis", RefusedOutOfRange, "%d: must be 0..999", x.TimestampMillis)
	}
	if x.ChainID != "" {
		if err := ValidateChainID(x.ChainID); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, poaBaseLen+len(x.ChainID))
	b = append(b, PoaExtraLayoutVersion)
	b = binary.BigEndian.AppendUint32(b, x.Round)
	b = binary.BigEndian.AppendUint16(b, x.TimestampMillis)
	b = append(b, x.StateCommitment[:]...)
	return append(b, x.ChainID...), nil
}

// DecodePoaExtra parses extra_data in the PoA layout. It rejects fewer than 39 bytes, a layout
// version other than 1, milliseconds above 999, and trailing bytes that are not a chain id.
func DecodePoaExtra(b []byte) (PoaExtra, error) {
	var x PoaExtra
	if len(b) < poaBaseLen {
		return x, errors.New("extra_data shorter than 39 bytes")
	}
	if b[0] != PoaExtraLayoutVersion {
		return x, fmt.Errorf("unsupported extra_data layout version %d", b[0])
	}
	x.Round = binary.BigEndian.Uint32(b[1:5])
	x.TimestampMillis = binary.BigEndian.Uint16(b[5:7])
	if x.TimestampMillis > 999 {
		return x, fmt.Errorf("timestamp_millis %d above 999", x.TimestampMillis)
	}
	copy(x.StateCommitment[:], b[7:poaBaseLen])
	if rest := b[poaBaseLen:]; len(rest) > 0 {
		if err := ValidateChainID(string(rest)); err != nil {
			return x, err
		}
		x.ChainID = string(rest)
	}
	return x, nil
}

// Block is a block as gossiped and stored (§3.5): the header and its transactions in order.
type Block struct {
	Header       BlockHeader
	Transactions []Transaction
}

// Limits of a block (§2.1): as many transactions and encoded bytes as a decoder accepts.
const (
	MaxBlockTransactions = 50_000
	MaxBlockBytes        = 16 * 1024 * 1024
)

// Encode returns the block encoding: a fixmap of 2, "header" (the header map) then
// "transactions" (an array of transaction maps). It refuses more than 50,000 transactions
// ("transactions") and an encoding over 16 MiB ("block"), as a decoder would, and what the
// header and each transaction refuse ("header.…", "transactions[i].…").
func (blk *Block) Encode() ([]byte, error) {
	if n := len(blk.Transactions); n > MaxBlockTransactions {
		return nil, refuse("transactions", RefusedTooLong, "%d, at most %d", n, MaxBlockTransactions)
	}
	if _, err := blk.Header.Encode(); err != nil {
		if r, ok := err.(*Refusal); ok {
			return nil, r.Within("header.")
		}
		return nil, err
	}
	b := msgpack.AppendMapHeader(nil, 2)
	b = msgpack.AppendStr(b, "header")
	b = blk.Header.appendTo(b)
	b = msgpack.AppendStr(b, "transactions")
	b = msgpack.AppendArrayHeader(b, len(blk.Transactions))
	for i := range blk.Transactions {
		enc, err := blk.Transactions[i].Encode()
		if r, ok := err.(*Refusal); ok {
			return nil, r.Within(fmt.Sprintf("transactions[%d].", i))
		}
		if err != nil {
			return nil, fmt.Errorf("transactions[%d]: %w", i, err)
		}
		b = append(b, enc...)
	}
	if len(b) > MaxBlockBytes {
		return nil, refuse("block", RefusedTooLong, "%d bytes, at most %d", len(b), MaxBlockBytes)
	}
	return b, nil
}

// Hash returns the block's hash, which is its header's hash.
func (blk *Block) Hash() (Hash, error) { return blk.Header.Hash() }
