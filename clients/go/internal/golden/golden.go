// Package golden loads the golden vector files (golden/README.md §1) and turns their inputs into
// reference types. It is shared by the reference implementation's golden test and the client's
// parity test against a running crypto-core.
package golden

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coinjecture/coinjecture/clients/go/reference"
)

// OurFiles are the vector files of §1.1, in the order crypto-core runs them.
var OurFiles = []string{
	"sha256.json",
	"merkle.json",
	"headers.json",
	"transactions.json",
	"ed25519.json",
	"addresses.json",
	"subset_sum.json",
	"commit_reveal.json",
	"consensus.json",
	"blocks.json",
	"evidence.json",
	"snapshot.json",
	"malformed.json",
}

// UpstreamFile is the v4 core's vector file, relative to the golden directory (§1.2).
const UpstreamFile = "upstream/network_b_vectors.json"

// Dir returns the golden directory: $COINJECTURE_GOLDEN_DIR when set, else the first "golden"
// directory holding the upstream file found walking up from the working directory.
func Dir() (string, error) {
	if d := os.Getenv("COINJECTURE_GOLDEN_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "golden")
		if _, err := os.Stat(filepath.Join(cand, UpstreamFile)); err == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no golden/%s above %s (set COINJECTURE_GOLDEN_DIR)", UpstreamFile, wd)
		}
	}
}

// Hex is a byte string written as lower-case hex in JSON.
type Hex []byte

// UnmarshalJSON decodes a hex string.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// H32 returns h as a 32-byte array, or a WRONG_LENGTH *reference.Refusal of what.
func (h Hex) H32(what string) ([32]byte, error) {
	return reference.Fixed32(h, what)
}

// HeaderJSON is the ten header fields (§1.1 kind header; the upstream BLOCK_HEADER header).
type HeaderJSON struct {
	CodecVersion     uint8  `json:"codec_version"`
	BlockIndex       uint64 `json:"block_index"`
	Timestamp        int64  `json:"timestamp"`
	ParentHash       Hex    `json:"parent_hash"`
	MerkleRoot       Hex    `json:"merkle_root"`
	MinerAddress     Hex    `json:"miner_address"`
	Commitment       Hex    `json:"commitment"`
	DifficultyTarget uint64 `json:"difficulty_target"`
	Nonce            uint64 `json:"nonce"`
	ExtraData        Hex    `json:"extra_data"`
}

// Header converts to a reference header.
func (j *HeaderJSON) Header() (reference.BlockHeader, error) {
	h := reference.BlockHeader{
		CodecVersion: j.CodecVersion, BlockIndex: j.BlockIndex, Timestamp: j.Timestamp,
		DifficultyTarget: j.DifficultyTarget, Nonce: j.Nonce, ExtraData: []byte(j.ExtraData),
	}
	var err error
	for _, f := range []struct {
		dst  *[32]byte
		src  Hex
		name string
	}{
		{&h.ParentHash, j.ParentHash, "parent_hash"},
		{&h.MerkleRoot, j.MerkleRoot, "merkle_root"},
		{&h.MinerAddress, j.MinerAddress, "miner_address"},
		{&h.Commitment, j.Commitment, "commitment"},
	} {
		if *f.dst, err = f.src.H32(f.name); err != nil {
			return h, err
		}
	}
	if h.ExtraData == nil {
		h.ExtraData = []byte{}
	}
	return h, nil
}

// PoaExtraJSON is the optional poa_extra input of a header case.
type PoaExtraJSON struct {
	Round           uint32  `json:"round"`
	TimestampMillis uint16  `json:"timestamp_millis"`
	StateCommitment Hex     `json:"state_commitment"`
	ChainID         *string `json:"chain_id"`
}

// TxJSON is the tx input of a transaction case.
type TxJSON struct {
	CodecVersion *uint8 `json:"codec_version"` // absent means 1
	TxType       string `json:"tx_type"`
	To           Hex    `json:"to"`
	Amount       uint64 `json:"amount"`
	Nonce        uint64 `json:"nonce"`
	GasLimit     uint64 `json:"gas_limit"`
	GasPrice     uint64 `json:"gas_price"`
	Timestamp    int64  `json:"timestamp"`
}

// ProblemJSON is a subset-sum problem input.
type ProblemJSON struct {
	Tier      string  `json:"tier"`
	Elements  []int64 `json:"elements"`
	Target    int64   `json:"target"`
	Timestamp int64   `json:"timestamp"`
}

// Problem converts to a reference problem.
func (j *ProblemJSON) Problem() (reference.SubsetSumProblem, error) {
	t, err := reference.ParseTier(j.Tier)
	return reference.SubsetSumProblem{Tier: t, Elements: j.Elements, Target: j.Target, Timestamp: j.Timestamp}, err
}

// SolutionJSON is a subset-sum solution input.
type SolutionJSON struct {
	Indices   []uint32 `json:"indices"`
	Timestamp int64    `json:"timestamp"`
}

// Solution converts to a reference solution.
func (j *SolutionJSON) Solution() reference.SubsetSumSolution {
	return reference.SubsetSumSolution{Indices: j.Indices, Timestamp: j.Timestamp}
}

// Case is one case of our files: name, kind, the inputs of every kind (each kind uses its own,
// the others stay zero) and the raw expected object.
type Case struct {
	File string `json:"-"`
	Name string `json:"name"`
	Kind string `json:"kind"`

	// sha256
	InputHex Hex  `json:"input_hex"`
	Repeat   *int `json:"repeat"`
	// merkle
	Leaves          []Hex `json:"leaves"`
	GeneratedLeaves *struct {
		Prefix string `json:"prefix"`
		Count  int    `json:"count"`
	} `json:"generated_leaves"`
	ProofIndices []int `json:"proof_indices"`
	// header
	Header   *HeaderJSON   `json:"header"`
	PoaExtra *PoaExtraJSON `json:"poa_extra"`
	// transaction (chain_id and secret_seed also vote / commit_certificate)
	ChainID     string  `json:"chain_id"`
	SecretSeed  Hex     `json:"secret_seed"`
	Tx          *TxJSON `json:"tx"`
	DataMemoHex Hex     `json:"data_memo_hex"`
	Tamper      *string `json:"tamper"`
	// ed25519, address
	PublicKey  Hex `json:"public_key"`
	MessageHex Hex `json:"message_hex"`
	Signature  Hex `json:"signature"`
	// subset_sum, commit_reveal
	Problem     *ProblemJSON  `json:"problem"`
	Solution    *SolutionJSON `json:"solution"`
	MinerSecret Hex           `json:"miner_secret"`
	ParentHash  Hex           `json:"parent_hash"`
	BlockIndex  uint64        `json:"block_index"`
	// vote, commit_certificate (height also snapshot_attestation)
	Height      uint64 `json:"height"`
	Round       uint32 `json:"round"`
	VoteType    string `json:"vote_type"`
	BlockHash   Hex    `json:"block_hash"`
	SignerSeeds []Hex  `json:"signer_seeds"`
	// block
	Transactions []struct {
		ChainID     string  `json:"chain_id"`
		SecretSeed  Hex     `json:"secret_seed"`
		Tx          *TxJSON `json:"tx"`
		DataMemoHex Hex     `json:"data_memo_hex"`
	} `json:"transactions"`
	// ed25519_batch
	Items []struct {
		PublicKey  Hex `json:"public_key"`
		MessageHex Hex `json:"message_hex"`
		Signature  Hex `json:"signature"`
	} `json:"items"`
	// duplicate_vote_evidence, duplicate_proposal_evidence
	BlockHashA Hex `json:"block_hash_a"`
	BlockHashB Hex `json:"block_hash_b"`
	Proposals  []struct {
		PolRound    *uint32    `json:"pol_round"`
		TimestampMs int64      `json:"timestamp_ms"`
		Header      HeaderJSON `json:"header"`
	} `json:"proposals"`
	// snapshot_attestation
	Root     Hex             `json:"root"`
	Expected json.RawMessage `json:"expected"`
}

// ID is "file:case", unique across all files.
func (c *Case) ID() string { return c.File + ":" + c.Name }

// decodeStrict decodes JSON refusing unknown fields, so that an input field the Go code does
// not know about fails loudly instead of being ignored.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// LoadCases reads every case of OurFiles from dir.
func LoadCases(dir string) ([]Case, error) {
	var all []Case
	for _, name := range OurFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		var f struct {
			Description string            `json:"description"`
			Cases       []json.RawMessage `json:"cases"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(f.Cases) == 0 {
			return nil, fmt.Errorf("%s: no cases", name)
		}
		for i, raw := range f.Cases {
			c := Case{File: name}
			if err := decodeStrict(raw, &c); err != nil {
				return nil, fmt.Errorf("%s: case %d: %w", name, i, err)
			}
			all = append(all, c)
		}
	}
	return all, nil
}

// Upstream is one vector of the upstream file (§1.2).
type Upstream struct {
	TestName     string      `json:"test_name"`
	Operation    string      `json:"operation"`
	InputHex     Hex         `json:"input_hex"`
	InputSize    *int        `json:"input_size"`
	ExpectedHash string      `json:"expected_hash"`
	TxHashes     []Hex       `json:"tx_hashes"`
	TxCount      *int        `json:"tx_count"`
	FirstTxHash  string      `json:"first_tx_hash"`
	LastTxHash   string      `json:"last_tx_hash"`
	ExpectedRoot string      `json:"expected_root"`
	Header       *HeaderJSON `json:"header"`
}

// LoadUpstream reads the upstream vectors from dir.
func LoadUpstream(dir string) ([]Upstream, error) {
	b, err := os.ReadFile(filepath.Join(dir, UpstreamFile))
	if err != nil {
		return nil, err
	}
	var f struct {
		TotalVectors int               `json:"total_vectors"`
		Vectors      []json.RawMessage `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if len(f.Vectors) != f.TotalVectors {
		return nil, fmt.Errorf("%s: %d vectors, total_vectors says %d", UpstreamFile, len(f.Vectors), f.TotalVectors)
	}
	out := make([]Upstream, len(f.Vectors))
	for i, raw := range f.Vectors {
		if err := decodeStrict(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: vector %d: %w", UpstreamFile, i, err)
		}
	}
	return out, nil
}

// SHA256Input returns the real input of an upstream SHA256 vector: when input_size is present
// the file cuts input_hex short and the input is input_size copies of its first byte.
func (u *Upstream) SHA256Input() []byte {
	if u.InputSize != nil && len(u.InputHex) > 0 {
		return bytes.Repeat(u.InputHex[:1], *u.InputSize)
	}
	return u.InputHex
}

// MerkleLeaves returns the leaves of an upstream MERKLE vector: tx_hashes, or for the 100- and
// 1000-leaf vectors the SHA-256 of "transaction_<i>" and of "tx_<i:04>".
func (u *Upstream) MerkleLeaves() ([]reference.Hash, error) {
	if u.TxHashes != nil || u.TxCount == nil {
		return hashes(u.TxHashes, "tx_hashes")
	}
	var format string
	switch *u.TxCount {
	case 100:
		format = "transaction_%d"
	case 1000:
		format = "tx_%04d"
	default:
		return nil, fmt.Errorf("merkle vector %s: tx_count %d without leaves", u.TestName, *u.TxCount)
	}
	leaves := make([]reference.Hash, *u.TxCount)
	for i := range leaves {
		leaves[i] = reference.Sha256(fmt.Appendf(nil, format, i))
	}
	if u.FirstTxHash != "" && hex.EncodeToString(leaves[0][:]) != u.FirstTxHash {
		return nil, errors.New("first_tx_hash does not match the generated leaves")
	}
	if u.LastTxHash != "" && hex.EncodeToString(leaves[len(leaves)-1][:]) != u.LastTxHash {
		return nil, errors.New("last_tx_hash does not match the generated leaves")
	}
	return leaves, nil
}

func hashes(hs []Hex, what string) ([]reference.Hash, error) {
	out := make([]reference.Hash, len(hs))
	for i, h := range hs {
		var err error
		if out[i], err = h.H32(fmt.Sprintf("%s[%d]", what, i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
