package reference

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/coinjecture/coinjecture/clients/go/reference/msgpack"
)

// TxType is a transaction's type. Its numeric value is the type code of the signing message
// (§4.3), which is also the TxType enum number of the protobuf API.
type TxType uint8

// The transaction types of v4.
const (
	TxTransfer          TxType = 1
	TxProblemSubmission TxType = 2
	TxBountyPayment     TxType = 3
)

var txTypeNames = map[TxType]string{
	TxTransfer:          "Transfer",
	TxProblemSubmission: "ProblemSubmission",
	TxBountyPayment:     "BountyPayment",
}

// String returns the variant name used in encodings ("Transfer", "ProblemSubmission",
// "BountyPayment"), or "TxType(n)" for an unknown value.
func (t TxType) String() string {
	if s, ok := txTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("TxType(%d)", uint8(t))
}

func (t TxType) valid() bool { _, ok := txTypeNames[t]; return ok }

// ParseTxType returns the TxType of a variant name; an unknown name is an UNKNOWN_VARIANT
// *Refusal of "tx_type".
func ParseTxType(name string) (TxType, error) {
	for t, s := range txTypeNames {
		if s == name {
			return t, nil
		}
	}
	return 0, refuse("tx_type", RefusedUnknownVariant, "unknown tx_type %q", name)
}

// ChainTag returns "cj:" ‖ chain id ‖ "\n", the required start of a transaction's data on our
// chain (§4.4).
func ChainTag(chainID string) ([]byte, error) {
	if err := ValidateChainID(chainID); err != nil {
		return nil, err
	}
	return []byte("cj:" + chainID + "\n"), nil
}

// Transaction is a v4 transaction (§4.1).
type Transaction struct {
	CodecVersion uint8 // always CodecVersion (1)
	TxType       TxType
	From         [32]byte // the sender's ed25519 public key
	To           [32]byte // the recipient's public key
	Amount       uint64
	Nonce        uint64
	GasLimit     uint64
	GasPrice     uint64
	Signature    [64]byte // ed25519 signature (R ‖ s) by From over SigningMessage
	Data         []byte   // chain tag ‖ memo; at most MaxTxData bytes
	Timestamp    int64    // Unix seconds
}

// Validate refuses (*Refusal, §1.4) a transaction that has no encoding and no signing message:
// CodecVersion other than 1, an unknown TxType, Data over 1 MiB.
func (tx *Transaction) Validate() error {
	if tx.CodecVersion != CodecVersion {
		return refuse("codec_version", RefusedUnsupportedCodecVersion, "must be %d, found %d", CodecVersion, tx.CodecVersion)
	}
	if !tx.TxType.valid() {
		return refuse("tx_type", RefusedUnknownVariant, "unknown tx_type %d", tx.TxType)
	}
	if len(tx.Data) > MaxTxData {
		return refuse("data", RefusedTooLong, "%d bytes, at most %d", len(tx.Data), MaxTxData)
	}
	return nil
}

// Encode returns the canonical MessagePack encoding (§4.1): a fixmap of 11 entries, signature
// included. It refuses what Validate refuses.
func (tx *Transaction) Encode() ([]byte, error) {
	if err := tx.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 330+2*len(tx.Data))
	b = msgpack.AppendMapHeader(b, 11)
	b = msgpack.AppendStr(b, "codec_version")
	b = msgpack.AppendUint(b, uint64(tx.CodecVersion))
	b = msgpack.AppendStr(b, "tx_type")
	b = msgpack.AppendStr(b, tx.TxType.String())
	b = msgpack.AppendStr(b, "from")
	b = msgpack.AppendBin8(b, tx.From[:])
	b = msgpack.AppendStr(b, "to")
	b = msgpack.AppendBin8(b, tx.To[:])
	b = msgpack.AppendStr(b, "amount")
	b = msgpack.AppendUint(b, tx.Amount)
	b = msgpack.AppendStr(b, "nonce")
	b = msgpack.AppendUint(b, tx.Nonce)
	b = msgpack.AppendStr(b, "gas_limit")
	b = msgpack.AppendUint(b, tx.GasLimit)
	b = msgpack.AppendStr(b, "gas_price")
	b = msgpack.AppendUint(b, tx.GasPrice)
	b = msgpack.AppendStr(b, "signature")
	b = msgpack.AppendBin8(b, tx.Signature[:])
	b = msgpack.AppendStr(b, "data")
	b = msgpack.AppendByteArray(b, tx.Data)
	b = msgpack.AppendStr(b, "timestamp")
	return msgpack.AppendInt(b, tx.Timestamp), nil
}

// Hash returns the transaction hash: SHA-256 of the encoding, signature included (§4.2).
func (tx *Transaction) Hash() (Hash, error) {
	enc, err := tx.Encode()
	if err != nil {
		return Hash{}, err
	}
	return Sha256(enc), nil
}

// SigningMessage returns the bytes the sender signs (§4.3), with little-endian integers:
// codec_version ‖ type code ‖ from ‖ to ‖ amount ‖ nonce ‖ gas_limit ‖ gas_price ‖
// len(data) u32 ‖ data ‖ timestamp. The signature is not part of it. It refuses what Validate
// refuses.
func (tx *Transaction) SigningMessage() ([]byte, error) {
	if err := tx.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 110+len(tx.Data))
	b = append(b, tx.CodecVersion, byte(tx.TxType))
	b = append(b, tx.From[:]...)
	b = append(b, tx.To[:]...)
	b = binary.LittleEndian.AppendUint64(b, tx.Amount)
	b = binary.LittleEndian.AppendUint64(b, tx.Nonce)
	b = binary.LittleEndian.AppendUint64(b, tx.GasLimit)
	b = binary.LittleEndian.AppendUint64(b, tx.GasPrice)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tx.Data)))
	b = append(b, tx.Data...)
	return binary.LittleEndian.AppendUint64(b, uint64(tx.Timestamp)), nil
}

// Sign sets From to the public key of seed and Signature to the ed25519 signature of the
// signing message by seed. It refuses what Validate refuses.
func (tx *Transaction) Sign(seed [32]byte) error {
	tx.From = PublicKey(seed)
	msg, err := tx.SigningMessage()
	if err != nil {
		return err
	}
	tx.Signature = Sign(seed, msg)
	return nil
}

// VerifySignature reports whether Signature is a valid strict ed25519 signature (§8) by From
// over the signing message. It refuses what Validate refuses.
func (tx *Transaction) VerifySignature() (bool, error) {
	msg, err := tx.SigningMessage()
	if err != nil {
		return false, err
	}
	return VerifyStrict(tx.From[:], msg, tx.Signature[:])
}

// TxRejection names the first stateless rule a transaction breaks (§4.5); "" means none.
type TxRejection string

// The stateless rules of §4.5, in the order they are checked.
const (
	TxOK            TxRejection = ""
	TxCodecVersion  TxRejection = "CODEC_VERSION"
	TxDataTooLong   TxRejection = "DATA_TOO_LONG"
	TxGasTooLow     TxRejection = "GAS_TOO_LOW"
	TxFeeOverflow   TxRejection = "FEE_OVERFLOW"
	TxFeeTooLow     TxRejection = "FEE_TOO_LOW"
	TxTotalOverflow TxRejection = "TOTAL_OVERFLOW"
	TxWrongChain    TxRejection = "WRONG_CHAIN"
	TxSelfTransfer  TxRejection = "SELF_TRANSFER"
	// TxUnknownTxType is not a rule of §4.5: a transaction of an unknown type has no encoding
	// at all (a decoder refuses it), so CheckStateless reports it before the rules.
	TxUnknownTxType TxRejection = "UNKNOWN_TX_TYPE"
)

const (
	minFee           = 1000
	feeAmountDivisor = 10000
)

// MinGasLimit returns the minimum gas limit of a transaction type: 21,000 for a transfer,
// 50,000 for the others.
func MinGasLimit(t TxType) uint64 {
	if t == TxTransfer {
		return 21000
	}
	return 50000
}

// CheckStateless applies the stateless rules of §4.5 for the chain chainID, in order, and
// returns the first one broken (TxOK if none). The signature is checked separately.
func (tx *Transaction) CheckStateless(chainID string) TxRejection {
	if !tx.TxType.valid() {
		return TxUnknownTxType
	}
	if tx.CodecVersion != CodecVersion {
		return TxCodecVersion
	}
	if len(tx.Data) > MaxTxData {
		return TxDataTooLong
	}
	if tx.GasLimit < MinGasLimit(tx.TxType) {
		return TxGasTooLow
	}
	hi, fee := bits.Mul64(tx.GasLimit, tx.GasPrice)
	if hi != 0 {
		return TxFeeOverflow
	}
	if fee < max(tx.Amount/feeAmountDivisor, minFee) {
		return TxFeeTooLow
	}
	if _, carry := bits.Add64(tx.Amount, fee, 0); carry != 0 {
		return TxTotalOverflow
	}
	tag, err := ChainTag(chainID)
	if err != nil || !bytes.HasPrefix(tx.Data, tag) {
		return TxWrongChain
	}
	if tx.TxType == TxTransfer && tx.From == tx.To {
		return TxSelfTransfer
	}
	return TxOK
}
