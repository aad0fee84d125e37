package golden

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/coinjecture/coinjecture/clients/go/reference"
)

// MerkleLeaves returns the leaf list of a merkle case: leaves, or the generated SHA-256(prefix ‖ i).
func (c *Case) MerkleLeaves() ([]reference.Hash, error) {
	if g := c.GeneratedLeaves; g != nil {
		leaves := make([]reference.Hash, g.Count)
		for i := range leaves {
			leaves[i] = reference.Sha256(fmt.Appendf(nil, "%s%d", g.Prefix, i))
		}
		return leaves, nil
	}
	return hashes(c.Leaves, "leaves")
}

// within prefixes the field of a refusal (other errors pass unchanged).
func within(prefix string, err error) error {
	var r *reference.Refusal
	if errors.As(err, &r) {
		return r.Within(prefix)
	}
	return err
}

// BuildHeader returns the header of a header case, with extra_data replaced by the PoA layout
// when poa_extra is present (then also returned, else nil).
func (c *Case) BuildHeader() (reference.BlockHeader, []byte, error) {
	h, err := c.Header.Header()
	if err != nil {
		return h, nil, within("header.", err)
	}
	if c.PoaExtra == nil {
		return h, nil, nil
	}
	if len(h.ExtraData) != 0 {
		return h, nil, fmt.Errorf("poa_extra given but header.extra_data is not empty")
	}
	x := reference.PoaExtra{Round: c.PoaExtra.Round, TimestampMillis: c.PoaExtra.TimestampMillis}
	if x.StateCommitment, err = c.PoaExtra.StateCommitment.H32("poa_extra.state_commitment"); err != nil {
		return h, nil, err
	}
	if c.PoaExtra.ChainID != nil {
		x.ChainID = *c.PoaExtra.ChainID
	}
	if h.ExtraData, err = x.Encode(); err != nil {
		return h, nil, within("poa_extra.", err)
	}
	back, err := reference.DecodePoaExtra(h.ExtraData)
	if err != nil || back != x {
		return h, nil, fmt.Errorf("PoA extra_data does not decode to its input: %v %+v", err, back)
	}
	return h, h.ExtraData, nil
}

// BuildTransaction returns the transaction of a transaction case: from = the seed's public key,
// data = chain tag ‖ memo, signed by the seed, then tampered as the case says.
func (c *Case) BuildTransaction() (reference.Transaction, error) {
	var tx reference.Transaction
	seed, err := c.SecretSeed.H32("secret_seed")
	if err != nil {
		return tx, err
	}
	if tx.TxType, err = reference.ParseTxType(c.Tx.TxType); err != nil {
		return tx, within("tx.", err)
	}
	if tx.To, err = c.Tx.To.H32("tx.to"); err != nil {
		return tx, err
	}
	tag, err := reference.ChainTag(c.ChainID)
	if err != nil {
		return tx, err
	}
	tx.CodecVersion = reference.CodecVersion
	if c.Tx.CodecVersion != nil {
		tx.CodecVersion = *c.Tx.CodecVersion
	}
	tx.Amount, tx.Nonce, tx.GasLimit, tx.GasPrice = c.Tx.Amount, c.Tx.Nonce, c.Tx.GasLimit, c.Tx.GasPrice
	tx.Timestamp = c.Tx.Timestamp
	tx.Data = append(tag, c.DataMemoHex...)
	if err := tx.Sign(seed); err != nil {
		return tx, within("tx.", err)
	}
	if c.Tamper != nil {
		switch *c.Tamper {
		case "signature":
			tx.Signature[63] ^= 0x01
		case "amount":
			tx.Amount++ // wraps mod 2^64
		default:
			return tx, fmt.Errorf("unknown tamper %q", *c.Tamper)
		}
	}
	return tx, nil
}

// BuildProblem returns the problem and solution of a subset_sum or commit_reveal case.
func (c *Case) BuildProblem() (reference.SubsetSumProblem, reference.SubsetSumSolution, error) {
	if c.Problem == nil || c.Solution == nil {
		return reference.SubsetSumProblem{}, reference.SubsetSumSolution{}, fmt.Errorf("problem and solution are required")
	}
	p, err := c.Problem.Problem()
	return p, c.Solution.Solution(), err
}

// BuildVote returns the signed vote of a vote case.
func (c *Case) BuildVote() (reference.Vote, error) {
	v := reference.Vote{ChainID: c.ChainID, Height: c.Height, Round: c.Round}
	var err error
	if v.Type, err = reference.ParseVoteType(c.VoteType); err != nil {
		return v, err
	}
	if c.BlockHash != nil {
		h, err := c.BlockHash.H32("block_hash")
		if err != nil {
			return v, err
		}
		v.BlockHash = &h
	}
	seed, err := c.SecretSeed.H32("secret_seed")
	if err != nil {
		return v, err
	}
	return v, v.Sign(seed)
}

// BuildSnapshotAttestation returns the signed attestation of a snapshot_attestation case.
func (c *Case) BuildSnapshotAttestation() (reference.SnapshotAttestation, error) {
	a := reference.SnapshotAttestation{ChainID: c.ChainID, Height: c.Height}
	var err error
	if a.Root, err = c.Root.H32("root"); err != nil {
		return a, err
	}
	seed, err := c.SecretSeed.H32("secret_seed")
	if err != nil {
		return a, err
	}
	return a, a.Sign(seed)
}

// BuildCertificate returns the normalized commit certificate of a commit_certificate case and
// the precommit signing bytes its signers signed.
func (c *Case) BuildCertificate() (reference.CommitCertificate, []byte, error) {
	cert := reference.CommitCertificate{Height: c.Height, Round: c.Round}
	var err error
	if cert.BlockHash, err = c.BlockHash.H32("block_hash"); err != nil {
		return cert, nil, err
	}
	msg, err := cert.SigningBytes(c.ChainID)
	if err != nil {
		return cert, nil, err
	}
	for i, s := range c.SignerSeeds {
		seed, err := s.H32(fmt.Sprintf("signer_seeds[%d]", i))
		if err != nil {
			return cert, nil, err
		}
		cert.Signatures = append(cert.Signatures, reference.CommitSignature{
			Validator: reference.PublicKey(seed), Signature: reference.Sign(seed, msg),
		})
	}
	cert.Normalize()
	return cert, msg, nil
}

func hx(b []byte) string { return hex.EncodeToString(b) }

// BuildProposals returns the two signed proposals of a duplicate_proposal_evidence case (blocks
// without transactions).
func (c *Case) BuildProposals() ([]reference.Proposal, error) {
	seed, err := c.SecretSeed.H32("secret_seed")
	if err != nil {
		return nil, err
	}
	if err := reference.ValidateChainID(c.ChainID); err != nil {
		return nil, err
	}
	if len(c.Proposals) != 2 {
		return nil, fmt.Errorf("proposals must hold exactly two proposals")
	}
	out := make([]reference.Proposal, 2)
	for i, pj := range c.Proposals {
		prefix := fmt.Sprintf("proposals[%d].", i)
		h, err := pj.Header.Header()
		if err != nil {
			return nil, within(prefix+"header.", err)
		}
		if _, err := h.Encode(); err != nil {
			return nil, within(prefix+"header.", err)
		}
		if h.BlockIndex != c.Height {
			return nil, &reference.Refusal{Field: prefix + "header.block_index", Code: reference.RefusedOutOfRange}
		}
		out[i] = reference.Proposal{
			ChainID: c.ChainID, Height: c.Height, Round: c.Round, PolRound: pj.PolRound,
			TimestampMs: pj.TimestampMs, Block: reference.Block{Header: h},
		}
		if err := out[i].Sign(seed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// notConflicting renames the NOT_CONFLICTING refusal of an evidence constructor (whose field is
// its second argument) to the case's input field.
func notConflicting(err error, field string) error {
	var r *reference.Refusal
	if errors.As(err, &r) && r.Code == reference.RefusedNotConflicting {
		return &reference.Refusal{Field: field, Code: r.Code, Detail: r.Detail}
	}
	return err
}

func refusalJSON(r *reference.Refusal) map[string]any {
	return map[string]any{"field": r.Field, "code": r.Code}
}

// Compute returns the expected object of a case, computed from its inputs alone by the Go
// reference (§1.1): exactly the fields that apply, with JSON-ready values. An input the
// reference refuses gives {"refused": {field, code}} (§1.4), the field a path into the inputs.
func Compute(c *Case) (map[string]any, error) {
	e, err := compute(c)
	var r *reference.Refusal
	if errors.As(err, &r) {
		return map[string]any{"refused": refusalJSON(r)}, nil
	}
	return e, err
}

func compute(c *Case) (map[string]any, error) {
	e := map[string]any{}
	switch c.Kind {
	case "sha256":
		n := 1
		if c.Repeat != nil {
			n = *c.Repeat
		}
		h := reference.Sha256(bytes.Repeat(c.InputHex, n))
		e["hash"] = hx(h[:])

	case "merkle":
		leaves, err := c.MerkleLeaves()
		if err != nil {
			return nil, err
		}
		root := reference.MerkleRoot(leaves)
		e["root"] = hx(root[:])
		var proofs []any
		for k, i := range c.ProofIndices {
			steps, proofRoot, err := reference.MerkleProof(leaves, i)
			var r *reference.Refusal
			if errors.As(err, &r) {
				return nil, &reference.Refusal{Field: fmt.Sprintf("proof_indices[%d]", k), Code: r.Code}
			}
			if err != nil {
				return nil, err
			}
			if proofRoot != root || !reference.VerifyMerkleProof(leaves[i], steps, root) {
				return nil, fmt.Errorf("proof of leaf %d does not lead to the root", i)
			}
			js := []any{}
			for _, s := range steps {
				js = append(js, map[string]any{"sibling": hx(s.Sibling[:]), "current_is_right": s.CurrentIsRight})
			}
			proofs = append(proofs, map[string]any{"index": i, "steps": js})
		}
		if len(proofs) > 0 {
			e["proofs"] = proofs
		}

	case "header":
		h, extra, err := c.BuildHeader()
		if err != nil {
			return nil, err
		}
		if extra != nil {
			e["extra_data"] = hx(extra)
		}
		enc, err := h.Encode()
		if err != nil {
			return nil, within("header.", err)
		}
		hash := reference.Sha256(enc)
		e["encoding"], e["hash"] = hx(enc), hx(hash[:])

	case "transaction":
		tx, err := c.BuildTransaction()
		if err != nil {
			return nil, err
		}
		enc, err := tx.Encode()
		if err != nil {
			return nil, err
		}
		hash := reference.Sha256(enc)
		msg, err := tx.SigningMessage()
		if err != nil {
			return nil, err
		}
		valid, err := tx.VerifySignature()
		if err != nil {
			return nil, err
		}
		e["from"] = hx(tx.From[:])
		e["data"] = hx(tx.Data)
		e["signing_message"] = hx(msg)
		e["signature"] = hx(tx.Signature[:])
		e["valid"] = valid
		e["encoding"] = hx(enc)
		e["hash"] = hx(hash[:])

	case "ed25519":
		valid, err := reference.VerifyStrict(c.PublicKey, c.MessageHex, c.Signature)
		if err != nil {
			return nil, err
		}
		e["valid"] = valid

	case "ed25519_batch":
		items := make([]reference.VerifyItem, len(c.Items))
		for i, it := range c.Items {
			items[i] = reference.VerifyItem{PublicKey: it.PublicKey, Message: it.MessageHex, Signature: it.Signature}
		}
		answers := []any{}
		all := true
		for _, v := range reference.VerifyBatch(items) {
			a := map[string]any{"valid": v.Valid}
			if v.Refused != nil {
				a["refused"] = refusalJSON(v.Refused)
			}
			answers = append(answers, a)
			all = all && v.Valid
		}
		if len(answers) > 0 {
			e["items"] = answers
		}
		e["all_valid"] = all

	case "address":
		pk, err := c.PublicKey.H32("public_key")
		if err != nil {
			return nil, err
		}
		a := reference.DeriveAddress(pk)
		e["address"] = hx(a[:])

	case "subset_sum":
		// An unknown tier name is Tier(0): VerifySubsetSum answers INVALID_TIER (a verdict,
		// as over gRPC), and the problem has no encoding.
		p, s, _ := c.BuildProblem()
		reason := reference.VerifySubsetSum(&p, &s)
		e["valid"] = reason == reference.SubsetSumValid
		if reason != reference.SubsetSumValid {
			e["reason"] = string(reason)
		}
		if _, _, known := p.Tier.Bounds(); known && len(p.Elements) <= reference.MaxSubsetSum && len(s.Indices) <= reference.MaxSubsetSum {
			pe, err := p.Encode()
			if err != nil {
				return nil, err
			}
			se, err := s.Encode()
			if err != nil {
				return nil, err
			}
			ph, sh := reference.Sha256(pe), reference.Sha256(se)
			e["problem_encoding"], e["problem_hash"] = hx(pe), hx(ph[:])
			e["solution_encoding"], e["solution_hash"] = hx(se), hx(sh[:])
		}

	case "commit_reveal":
		p, s, err := c.BuildProblem()
		if err != nil {
			return nil, err
		}
		secret, err := c.MinerSecret.H32("miner_secret")
		if err != nil {
			return nil, err
		}
		parent, err := c.ParentHash.H32("parent_hash")
		if err != nil {
			return nil, err
		}
		cr, err := reference.Commit(secret, parent, c.BlockIndex, &p, &s)
		if err != nil {
			return nil, err
		}
		e["epoch_salt"] = hx(cr.EpochSalt[:])
		e["miner_salt"] = hx(cr.MinerSalt[:])
		e["problem_hash"] = hx(cr.ProblemHash[:])
		e["solution_hash"] = hx(cr.SolutionHash[:])
		e["commitment"] = hx(cr.Commitment[:])

	case "vote":
		v, err := c.BuildVote()
		if err != nil {
			return nil, err
		}
		if !v.Verify() {
			return nil, fmt.Errorf("the vote's own signature does not verify")
		}
		msg, err := v.SigningBytes()
		if err != nil {
			return nil, err
		}
		enc, err := v.Encode()
		if err != nil {
			return nil, err
		}
		e["public_key"] = hx(v.Validator[:])
		e["signing_message"] = hx(msg)
		e["signature"] = hx(v.Signature[:])
		e["encoding"] = hx(enc)

	case "snapshot_attestation":
		a, err := c.BuildSnapshotAttestation()
		if err != nil {
			return nil, err
		}
		if !a.Verify() {
			return nil, fmt.Errorf("the attestation's own signature does not verify")
		}
		msg, err := a.SigningBytes()
		if err != nil {
			return nil, err
		}
		enc, err := a.Encode()
		if err != nil {
			return nil, err
		}
		e["public_key"] = hx(a.Validator[:])
		e["signing_message"] = hx(msg)
		e["signature"] = hx(a.Signature[:])
		e["encoding"] = hx(enc)

	case "commit_certificate":
		cert, msg, err := c.BuildCertificate()
		if err != nil {
			return nil, err
		}
		enc, err := cert.Encode()
		if err != nil {
			return nil, err
		}
		signers := []any{}
		for _, s := range cert.Signatures {
			signers = append(signers, hx(s.Validator[:]))
		}
		e["signing_message"] = hx(msg)
		e["signers"] = signers
		e["encoding"] = hx(enc)

	case "block":
		n := 1
		if c.Repeat != nil {
			n = *c.Repeat
		}
		if len(c.Transactions)*n > reference.MaxBlockTransactions {
			return nil, &reference.Refusal{Field: "transactions", Code: reference.RefusedTooLong}
		}
		h, err := c.Header.Header()
		if err != nil {
			return nil, within("header.", err)
		}
		blk := reference.Block{Header: h}
		var txs []reference.Transaction
		for i, t := range c.Transactions {
			one := Case{ChainID: t.ChainID, SecretSeed: t.SecretSeed, Tx: t.Tx, DataMemoHex: t.DataMemoHex}
			tx, err := one.BuildTransaction()
			if err != nil {
				var r *reference.Refusal
				if errors.As(err, &r) {
					return nil, r.Within(fmt.Sprintf("transactions[%d].", i))
				}
				return nil, err
			}
			txs = append(txs, tx)
		}
		for range n {
			blk.Transactions = append(blk.Transactions, txs...)
		}
		enc, err := blk.Encode()
		if err != nil {
			return nil, err
		}
		hash, err := blk.Hash()
		if err != nil {
			return nil, err
		}
		sum := reference.Sha256(enc)
		e["hash"], e["encoding_len"], e["encoding_hash"] = hx(hash[:]), len(enc), hx(sum[:])
		if len(enc) <= 64*1024 {
			e["encoding"] = hx(enc)
		}

	case "duplicate_vote_evidence":
		seed, err := c.SecretSeed.H32("secret_seed")
		if err != nil {
			return nil, err
		}
		votes := make([]reference.Vote, 2)
		for i, bh := range []Hex{c.BlockHashA, c.BlockHashB} {
			votes[i] = reference.Vote{ChainID: c.ChainID, Height: c.Height, Round: c.Round}
			if votes[i].Type, err = reference.ParseVoteType(c.VoteType); err != nil {
				return nil, err
			}
			if bh != nil {
				h, err := bh.H32(fmt.Sprintf("block_hash_%c", 'a'+i))
				if err != nil {
					return nil, err
				}
				votes[i].BlockHash = &h
			}
			if err := votes[i].Sign(seed); err != nil {
				return nil, err
			}
		}
		enc, err := reference.DuplicateVoteEvidence(&votes[0], &votes[1])
		if err != nil {
			return nil, notConflicting(err, "block_hash_b")
		}
		e["encoding"] = hx(enc)

	case "duplicate_proposal_evidence":
		ps, err := c.BuildProposals()
		if err != nil {
			return nil, err
		}
		enc, err := reference.DuplicateProposalEvidence(&ps[0], &ps[1])
		if err != nil {
			return nil, notConflicting(err, "proposals[1]")
		}
		e["encoding"] = hx(enc)

	default:
		return nil, fmt.Errorf("unknown kind %q", c.Kind)
	}
	return e, nil
}

// normalize round-trips v through JSON into maps, slices, strings, bools and json.Number, so
// that computed and expected values compare exactly (integers are never floats).
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	err = d.Decode(&out)
	return out, err
}

// Diff compares a computed expected object with the case's expected JSON, field by field, and
// returns one line per difference: a missing field, an extra field or a different value.
func Diff(computed map[string]any, expected json.RawMessage) ([]string, error) {
	got, err := normalize(computed)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(expected))
	d.UseNumber()
	var want map[string]any
	if err := d.Decode(&want); err != nil {
		return nil, err
	}
	gotMap := got.(map[string]any)
	keys := map[string]bool{}
	for k := range gotMap {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, k := range sorted {
		g, gok := gotMap[k]
		w, wok := want[k]
		switch {
		case !wok:
			diffs = append(diffs, fmt.Sprintf("%s: computed %s but the vector has no such field", k, short(g)))
		case !gok:
			diffs = append(diffs, fmt.Sprintf("%s: missing, expected %s", k, short(w)))
		case !reflect.DeepEqual(g, w):
			diffs = append(diffs, fmt.Sprintf("%s: computed %s, expected %s", k, short(g), short(w)))
		}
	}
	return diffs, nil
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
