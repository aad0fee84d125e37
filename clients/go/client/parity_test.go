package client_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coinjecture/coinjecture/clients/go/client"
	coinjecturev1 "github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1"
	"github.com/coinjecture/coinjecture/clients/go/internal/golden"
	"github.com/coinjecture/coinjecture/clients/go/internal/skip"
	"github.com/coinjecture/coinjecture/clients/go/reference"
)

// The parity tests run every golden vector of the kinds crypto-core serves through a running
// `coinjectured service crypto-core` and compare the service's answers with the vectors' expected
// values (not with the Go reference: both are compared with the vectors). They need
// COINJECTURE_CRYPTO_CORE=host:port and are skipped without it.

const envAddr = "COINJECTURE_CRYPTO_CORE"

func dial(t *testing.T) (*client.Client, context.Context) {
	t.Helper()
	addr := os.Getenv(envAddr)
	if addr == "" {
		skip.Unless(t, fmt.Sprintf("%s is not set: start `coinjectured service crypto-core --listen 127.0.0.1:50151` and set %s=127.0.0.1:50151 to run the parity tests against it", envAddr, envAddr))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := client.Dial(dctx, addr)
	if err != nil {
		t.Fatalf("%s=%s: %v", envAddr, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ctx
}

func loadCases(t *testing.T) []golden.Case {
	t.Helper()
	dir, err := golden.Dir()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := golden.LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func hx(b []byte) string { return hex.EncodeToString(b) }

// expect compares the fields the service computed with the case's expected fields of the same
// name; a field the vector lacks is an error too.
func expect(t *testing.T, c *golden.Case, fromService map[string]any) {
	t.Helper()
	var want map[string]json.RawMessage
	if err := json.Unmarshal(c.Expected, &want); err != nil {
		t.Fatal(err)
	}
	for k, v := range fromService {
		w, ok := want[k]
		if !ok {
			t.Errorf("%s: the service gave %s but the vector has no such field", k, show(v))
			continue
		}
		var wv, gv any
		g, _ := json.Marshal(v)
		if json.Unmarshal(w, &wv) != nil || json.Unmarshal(g, &gv) != nil || !reflect.DeepEqual(wv, gv) {
			t.Errorf("%s: service %s, expected %s", k, show(v), string(w))
		}
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// refusal returns the case's expected refusal, or nil when the case is answered.
func refusal(t *testing.T, c *golden.Case) *reference.Refusal {
	t.Helper()
	var e struct {
		Refused *struct {
			Field string `json:"field"`
			Code  string `json:"code"`
		} `json:"refused"`
	}
	if err := json.Unmarshal(c.Expected, &e); err != nil {
		t.Fatal(err)
	}
	if e.Refused == nil {
		return nil
	}
	return &reference.Refusal{Field: e.Refused.Field, Code: e.Refused.Code}
}

// forKind runs f for every answered case of kind (refusals are TestParityRefusals').
func forKind(t *testing.T, cases []golden.Case, kind string, f func(t *testing.T, c *golden.Case)) int {
	n := 0
	for i := range cases {
		if c := &cases[i]; c.Kind == kind && refusal(t, c) == nil {
			n++
			t.Run(c.ID(), func(t *testing.T) { f(t, c) })
		}
	}
	if n == 0 {
		t.Errorf("no %s cases", kind)
	}
	return n
}

func TestParitySha256(t *testing.T) {
	cc, ctx := dial(t)
	var inputs [][]byte
	var wants []*golden.Case
	forKind(t, loadCases(t), "sha256", func(t *testing.T, c *golden.Case) {
		n := 1
		if c.Repeat != nil {
			n = *c.Repeat
		}
		data := bytes.Repeat(c.InputHex, n)
		r, err := cc.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, c, map[string]any{"hash": hx(r.Digest)})
		inputs, wants = append(inputs, data), append(wants, c)
	})
	r, err := cc.CryptoCore.Sha256Batch(ctx, &coinjecturev1.Sha256BatchRequest{Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Digests) != len(wants) {
		t.Fatalf("batch: %d digests for %d inputs", len(r.Digests), len(wants))
	}
	for i, d := range r.Digests {
		t.Run("batch/"+wants[i].ID(), func(t *testing.T) { expect(t, wants[i], map[string]any{"hash": hx(d)}) })
	}
}

func leafBytes(leaves []reference.Hash) [][]byte {
	out := make([][]byte, len(leaves))
	for i := range leaves {
		out[i] = leaves[i][:]
	}
	return out
}

func TestParityMerkle(t *testing.T) {
	cc, ctx := dial(t)
	forKind(t, loadCases(t), "merkle", func(t *testing.T, c *golden.Case) {
		leaves, err := c.MerkleLeaves()
		if err != nil {
			t.Fatal(err)
		}
		lb := leafBytes(leaves)
		r, err := cc.CryptoCore.MerkleRoot(ctx, &coinjecturev1.MerkleRootRequest{Leaves: lb})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{"root": hx(r.Root)}
		var proofs []any
		for _, i := range c.ProofIndices {
			p, err := cc.CryptoCore.MerkleProof(ctx, &coinjecturev1.MerkleProofRequest{Leaves: lb, Index: uint32(i)})
			if err != nil {
				t.Fatalf("proof %d: %v", i, err)
			}
			if !bytes.Equal(p.Root, r.Root) {
				t.Errorf("proof %d: root %x differs from MerkleRoot %x", i, p.Root, r.Root)
			}
			steps := []any{}
			for _, s := range p.Steps {
				steps = append(steps, map[string]any{"sibling": hx(s.Sibling), "current_is_right": s.CurrentIsRight})
			}
			proofs = append(proofs, map[string]any{"index": i, "steps": steps})
			v, err := cc.CryptoCore.VerifyMerkleProof(ctx, &coinjecturev1.VerifyMerkleProofRequest{Leaf: lb[i], Steps: p.Steps, Root: r.Root})
			if err != nil || !v.Valid {
				t.Errorf("VerifyMerkleProof of leaf %d: %v %v", i, v, err)
			}
			wrongLeaf := reference.Sha256(lb[i])
			v, err = cc.CryptoCore.VerifyMerkleProof(ctx, &coinjecturev1.VerifyMerkleProofRequest{Leaf: wrongLeaf[:], Steps: p.Steps, Root: r.Root})
			if err != nil || v.Valid {
				t.Errorf("VerifyMerkleProof of a wrong leaf: %v %v", v, err)
			}
		}
		if len(proofs) > 0 {
			got["proofs"] = proofs
		}
		expect(t, c, got)
	})
}

func TestParityHeaders(t *testing.T) {
	cc, ctx := dial(t)
	forKind(t, loadCases(t), "header", func(t *testing.T, c *golden.Case) {
		h, _, err := c.BuildHeader() // extra_data from poa_extra is the Go reference's (no RPC for it)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cc.CryptoCore.HashHeader(ctx, &coinjecturev1.HashHeaderRequest{Header: client.Header(&h)})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, c, map[string]any{"hash": hx(r.Hash), "encoding": hx(r.Encoding)})
	})
}

func TestParityTransactions(t *testing.T) {
	cc, ctx := dial(t)
	var batch []*coinjecturev1.Transaction
	var wants []*golden.Case
	forKind(t, loadCases(t), "transaction", func(t *testing.T, c *golden.Case) {
		tx, err := c.BuildTransaction() // from, data and the signature are the Go reference's
		if err != nil {
			t.Fatal(err)
		}
		ptx := client.Transaction(&tx)
		r, err := cc.CryptoCore.HashTransaction(ctx, &coinjecturev1.HashTransactionRequest{Transaction: ptx})
		if err != nil {
			t.Fatal(err)
		}
		v, err := cc.CryptoCore.Ed25519Verify(ctx, &coinjecturev1.Ed25519VerifyRequest{
			PublicKey: ptx.From, Message: r.SigningMessage, Signature: ptx.Signature,
		})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, c, map[string]any{
			"hash": hx(r.TxHash), "encoding": hx(r.Encoding), "signing_message": hx(r.SigningMessage), "valid": v.Valid,
		})
		batch, wants = append(batch, ptx), append(wants, c)
	})
	r, err := cc.CryptoCore.HashTransactionBatch(ctx, &coinjecturev1.HashTransactionBatchRequest{Transactions: batch, VerifySignatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Digests) != len(wants) {
		t.Fatalf("batch: %d digests for %d transactions", len(r.Digests), len(wants))
	}
	allValid := true
	for i, d := range r.Digests {
		if d.Error != "" {
			t.Errorf("batch %s: %s", wants[i].ID(), d.Error)
		}
		t.Run("batch/"+wants[i].ID(), func(t *testing.T) {
			expect(t, wants[i], map[string]any{"hash": hx(d.TxHash), "valid": d.SignatureValid})
		})
		allValid = allValid && d.SignatureValid
	}
	if r.AllValid != allValid {
		t.Errorf("batch all_valid %v, items say %v", r.AllValid, allValid)
	}
}

func TestParityEd25519(t *testing.T) {
	cc, ctx := dial(t)
	var items []*coinjecturev1.Ed25519VerifyRequest
	var wants []*golden.Case
	forKind(t, loadCases(t), "ed25519", func(t *testing.T, c *golden.Case) {
		req := &coinjecturev1.Ed25519VerifyRequest{PublicKey: c.PublicKey, Message: c.MessageHex, Signature: c.Signature}
		r, err := cc.CryptoCore.Ed25519Verify(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, c, map[string]any{"valid": r.Valid})
		items, wants = append(items, req), append(wants, c)
	})
	// The batch must answer per item exactly as the single check (README §8), also with the
	// crafted signatures that a random-linear-combination batch would accept.
	r, err := cc.CryptoCore.Ed25519VerifyBatch(ctx, &coinjecturev1.Ed25519VerifyBatchRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Valid) != len(wants) {
		t.Fatalf("batch: %d verdicts for %d items", len(r.Valid), len(wants))
	}
	all := true
	for i, v := range r.Valid {
		t.Run("batch/"+wants[i].ID(), func(t *testing.T) { expect(t, wants[i], map[string]any{"valid": v}) })
		all = all && v
	}
	if r.AllValid != all {
		t.Errorf("batch all_valid %v, items say %v", r.AllValid, all)
	}
}

// The batch vectors (malformed.json): a malformed item is refused alone, its error naming the
// field as the vector does, and the other items are answered.
func TestParityEd25519BatchVectors(t *testing.T) {
	cc, ctx := dial(t)
	forKind(t, loadCases(t), "ed25519_batch", func(t *testing.T, c *golden.Case) {
		items := make([]*coinjecturev1.Ed25519VerifyRequest, len(c.Items))
		for i, it := range c.Items {
			items[i] = &coinjecturev1.Ed25519VerifyRequest{PublicKey: it.PublicKey, Message: it.MessageHex, Signature: it.Signature}
		}
		r, err := cc.CryptoCore.Ed25519VerifyBatch(ctx, &coinjecturev1.Ed25519VerifyBatchRequest{Items: items})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Errors) != len(items) || len(r.Valid) != len(items) {
			t.Fatalf("%d verdicts and %d errors for %d items", len(r.Valid), len(r.Errors), len(items))
		}
		var want struct {
			Items []struct {
				Refused *struct {
					Field string `json:"field"`
				} `json:"refused"`
			} `json:"items"`
		}
		if err := json.Unmarshal(c.Expected, &want); err != nil || len(want.Items) != len(items) {
			t.Fatalf("expected items: %v", err)
		}
		answers := []any{}
		for i, v := range r.Valid {
			a := map[string]any{"valid": v}
			if w := want.Items[i].Refused; w != nil {
				if !strings.HasPrefix(r.Errors[i], w.Field+":") {
					t.Errorf("item %d: error %q does not name %s", i, r.Errors[i], w.Field)
				}
				a["refused"] = map[string]any{"field": w.Field, "code": reference.RefusedWrongLength}
			} else if r.Errors[i] != "" {
				t.Errorf("item %d refused: %s", i, r.Errors[i])
			}
			answers = append(answers, a)
		}
		got := map[string]any{"all_valid": r.AllValid}
		if len(answers) > 0 {
			got["items"] = answers
		}
		expect(t, c, got)
	})
}

// Every refusal vector that some RPC can express is INVALID_ARGUMENT from the service, naming
// the field (as that RPC calls it). The chain tag, the PoA layout, consensus messages and
// tx_type names have no RPC (they are built by the client libraries, which the reference golden
// tests cover).
func TestParityRefusals(t *testing.T) {
	cc, ctx := dial(t)
	checked := 0
	for _, c := range loadCases(t) {
		c := c
		want := refusal(t, &c)
		if want == nil {
			continue
		}
		var err error
		field := want.Field
		switch {
		case c.Kind == "header" && c.PoaExtra == nil:
			h := &coinjecturev1.BlockHeader{
				CodecVersion: uint32(c.Header.CodecVersion), BlockIndex: c.Header.BlockIndex, Timestamp: c.Header.Timestamp,
				ParentHash: c.Header.ParentHash, MerkleRoot: c.Header.MerkleRoot, MinerAddress: c.Header.MinerAddress,
				Commitment: c.Header.Commitment, DifficultyTarget: c.Header.DifficultyTarget, Nonce: c.Header.Nonce,
				ExtraData: c.Header.ExtraData,
			}
			_, err = cc.CryptoCore.HashHeader(ctx, &coinjecturev1.HashHeaderRequest{Header: h})
		case c.Kind == "transaction" && strings.HasPrefix(field, "tx.") && field != "tx.tx_type":
			seed, _ := c.SecretSeed.H32("secret_seed")
			tag, terr := reference.ChainTag(c.ChainID)
			txType, perr := reference.ParseTxType(c.Tx.TxType)
			if terr != nil || perr != nil {
				t.Fatalf("%s: %v %v", c.ID(), terr, perr)
			}
			pk := reference.PublicKey(seed)
			cv := uint32(reference.CodecVersion)
			if c.Tx.CodecVersion != nil {
				cv = uint32(*c.Tx.CodecVersion)
			}
			ptx := &coinjecturev1.Transaction{
				CodecVersion: cv, TxType: coinjecturev1.TxType(txType), From: pk[:], To: c.Tx.To,
				Amount: c.Tx.Amount, Nonce: c.Tx.Nonce, GasLimit: c.Tx.GasLimit, GasPrice: c.Tx.GasPrice,
				Signature: make([]byte, 64), Data: append(tag, c.DataMemoHex...), Timestamp: c.Tx.Timestamp,
			}
			_, err = cc.CryptoCore.HashTransaction(ctx, &coinjecturev1.HashTransactionRequest{Transaction: ptx})
			field = "transaction." + strings.TrimPrefix(field, "tx.")
		case c.Kind == "ed25519":
			req := &coinjecturev1.Ed25519VerifyRequest{PublicKey: c.PublicKey, Message: c.MessageHex, Signature: c.Signature}
			b, berr := cc.CryptoCore.Ed25519VerifyBatch(ctx, &coinjecturev1.Ed25519VerifyBatchRequest{Items: []*coinjecturev1.Ed25519VerifyRequest{req}})
			if berr != nil || len(b.Errors) != 1 || b.Valid[0] || !strings.HasPrefix(b.Errors[0], "items[0]."+field+":") {
				t.Errorf("%s: the batch does not refuse the item as the single call does: %v %v", c.ID(), b, berr)
			}
			_, err = cc.CryptoCore.Ed25519Verify(ctx, req)
		case c.Kind == "merkle" && strings.HasPrefix(field, "leaves["):
			leaves := make([][]byte, len(c.Leaves))
			for i, l := range c.Leaves {
				leaves[i] = l
			}
			_, err = cc.CryptoCore.MerkleRoot(ctx, &coinjecturev1.MerkleRootRequest{Leaves: leaves})
		case c.Kind == "merkle" && strings.HasPrefix(field, "proof_indices["):
			var k int
			fmt.Sscanf(field, "proof_indices[%d]", &k)
			leaves := make([][]byte, len(c.Leaves))
			for i, l := range c.Leaves {
				leaves[i] = l
			}
			_, err = cc.CryptoCore.MerkleProof(ctx, &coinjecturev1.MerkleProofRequest{Leaves: leaves, Index: uint32(c.ProofIndices[k])})
			field = "index"
		case c.Kind == "address":
			_, err = cc.CryptoCore.DeriveAddress(ctx, &coinjecturev1.DeriveAddressRequest{PublicKey: c.PublicKey})
		default:
			continue
		}
		checked++
		if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), field+":") {
			t.Errorf("%s: want INVALID_ARGUMENT naming %s, got %v", c.ID(), field, err)
		}
	}
	if checked < 15 {
		t.Errorf("only %d refusal vectors went through the service", checked)
	}
}

func TestParityAddresses(t *testing.T) {
	cc, ctx := dial(t)
	forKind(t, loadCases(t), "address", func(t *testing.T, c *golden.Case) {
		r, err := cc.CryptoCore.DeriveAddress(ctx, &coinjecturev1.DeriveAddressRequest{PublicKey: c.PublicKey})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, c, map[string]any{"address": hx(r.Address)})
	})
}

func TestParitySubsetSum(t *testing.T) {
	cc, ctx := dial(t)
	forKind(t, loadCases(t), "subset_sum", func(t *testing.T, c *golden.Case) {
		p, s, err := c.BuildProblem()
		_, _, knownTier := p.Tier.Bounds()
		if err != nil && knownTier {
			t.Fatal(err)
		}
		// An unknown tier name is sent as the unspecified tier: INVALID_TIER.
		r, err := cc.CryptoCore.VerifySubsetSum(ctx, &coinjecturev1.VerifySubsetSumRequest{Problem: client.Problem(&p), Solution: client.Solution(&s)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{"valid": r.Valid}
		if r.Reason != coinjecturev1.SubsetSumRejectReason_SUBSET_SUM_REJECT_REASON_UNSPECIFIED {
			name := r.Reason.String()
			const prefix = "SUBSET_SUM_REJECT_REASON_"
			if len(name) > len(prefix) && name[:len(prefix)] == prefix {
				name = name[len(prefix):]
			}
			got["reason"] = name
		}
		if r.Valid != (r.Detail == "") {
			t.Errorf("detail %q with valid %v", r.Detail, r.Valid)
		}
		// The problem and solution hashes through CommitRevealCommitment, where they have an
		// encoding (the salts do not matter for these two values).
		if knownTier && len(p.Elements) <= reference.MaxSubsetSum && len(s.Indices) <= reference.MaxSubsetSum {
			cr, err := cc.CryptoCore.CommitRevealCommitment(ctx, &coinjecturev1.CommitRevealCommitmentRequest{
				ParentHash: make([]byte, 32), MinerSalt: make([]byte, 32), Problem: client.Problem(&p), Solution: client.Solution(&s),
			})
			if err != nil {
				t.Fatal(err)
			}
			got["problem_hash"], got["solution_hash"] = hx(cr.ProblemHash), hx(cr.SolutionHash)
		}
		expect(t, c, got)
	})
}

func TestParityCommitReveal(t *testing.T) {
	cc, ctx := dial(t)
	forKind(t, loadCases(t), "commit_reveal", func(t *testing.T, c *golden.Case) {
		p, s, err := c.BuildProblem()
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := c.MinerSecret.H32("miner_secret")
		parent, _ := c.ParentHash.H32("parent_hash")
		// The miner salt stays with the miner (the service never sees the secret): Go's HMAC.
		salt := reference.MinerSalt(secret, parent, c.BlockIndex)
		r, err := cc.CryptoCore.CommitRevealCommitment(ctx, &coinjecturev1.CommitRevealCommitmentRequest{
			ParentHash: parent[:], BlockIndex: c.BlockIndex, Problem: client.Problem(&p), Solution: client.Solution(&s), MinerSalt: salt[:],
		})
		if err != nil {
			t.Fatal(err)
		}
		e, err := cc.CryptoCore.EpochSalt(ctx, &coinjecturev1.EpochSaltRequest{ParentHash: parent[:], BlockIndex: c.BlockIndex})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.EpochSalt, r.EpochSalt) {
			t.Errorf("EpochSalt %x differs from CommitRevealCommitment's %x", e.EpochSalt, r.EpochSalt)
		}
		expect(t, c, map[string]any{
			"commitment": hx(r.Commitment), "epoch_salt": hx(r.EpochSalt),
			"problem_hash": hx(r.ProblemHash), "solution_hash": hx(r.SolutionHash), "miner_salt": hx(salt[:]),
		})
	})
}

// Consensus messages and snapshot attestations have no RPC; their signatures are checked through
// Ed25519Verify.
func TestParityConsensusSignatures(t *testing.T) {
	cc, ctx := dial(t)
	cases := loadCases(t)
	type exp struct {
		PublicKey      golden.Hex `json:"public_key"`
		SigningMessage golden.Hex `json:"signing_message"`
		Signature      golden.Hex `json:"signature"`
		Encoding       golden.Hex `json:"encoding"`
	}
	forKind(t, cases, "vote", func(t *testing.T, c *golden.Case) {
		var e exp
		if err := json.Unmarshal(c.Expected, &e); err != nil {
			t.Fatal(err)
		}
		r, err := cc.CryptoCore.Ed25519Verify(ctx, &coinjecturev1.Ed25519VerifyRequest{PublicKey: e.PublicKey, Message: e.SigningMessage, Signature: e.Signature})
		if err != nil || !r.Valid {
			t.Errorf("vote signature: %v %v", r, err)
		}
	})
	forKind(t, cases, "snapshot_attestation", func(t *testing.T, c *golden.Case) {
		var e exp
		if err := json.Unmarshal(c.Expected, &e); err != nil {
			t.Fatal(err)
		}
		// The wire encoding ends with validator ‖ signature (§10.6).
		if n := len(e.Encoding); n < 96 || !bytes.Equal(e.Encoding[n-96:n-64], e.PublicKey) || !bytes.Equal(e.Encoding[n-64:], e.Signature) {
			t.Errorf("encoding does not end with the public key and signature")
		}
		r, err := cc.CryptoCore.Ed25519Verify(ctx, &coinjecturev1.Ed25519VerifyRequest{PublicKey: e.PublicKey, Message: e.SigningMessage, Signature: e.Signature})
		if err != nil || !r.Valid {
			t.Errorf("attestation signature: %v %v", r, err)
		}
	})
	forKind(t, cases, "commit_certificate", func(t *testing.T, c *golden.Case) {
		var e exp
		if err := json.Unmarshal(c.Expected, &e); err != nil {
			t.Fatal(err)
		}
		const head = 1 + 8 + 4 + 32 + 2
		if len(e.Encoding) < head || (len(e.Encoding)-head)%96 != 0 {
			t.Fatalf("certificate encoding of %d bytes", len(e.Encoding))
		}
		var items []*coinjecturev1.Ed25519VerifyRequest
		for off := head; off < len(e.Encoding); off += 96 {
			items = append(items, &coinjecturev1.Ed25519VerifyRequest{
				PublicKey: e.Encoding[off : off+32], Message: e.SigningMessage, Signature: e.Encoding[off+32 : off+96],
			})
		}
		r, err := cc.CryptoCore.Ed25519VerifyBatch(ctx, &coinjecturev1.Ed25519VerifyBatchRequest{Items: items})
		if err != nil || !r.AllValid || len(r.Valid) != len(items) {
			t.Errorf("certificate signatures: %v %v", r, err)
		}
	})
}

func TestParityUpstream(t *testing.T) {
	cc, ctx := dial(t)
	dir, err := golden.Dir()
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := golden.LoadUpstream(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vectors {
		v := &vectors[i]
		t.Run(v.TestName, func(t *testing.T) {
			var got []byte
			var want string
			switch v.Operation {
			case "SHA256":
				r, err := cc.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: v.SHA256Input()})
				if err != nil {
					t.Fatal(err)
				}
				got, want = r.Digest, v.ExpectedHash
			case "MERKLE":
				leaves, err := v.MerkleLeaves()
				if err != nil {
					t.Fatal(err)
				}
				r, err := cc.CryptoCore.MerkleRoot(ctx, &coinjecturev1.MerkleRootRequest{Leaves: leafBytes(leaves)})
				if err != nil {
					t.Fatal(err)
				}
				got, want = r.Root, v.ExpectedRoot
			case "BLOCK_HEADER":
				h, err := v.Header.Header()
				if err != nil {
					t.Fatal(err)
				}
				r, err := cc.CryptoCore.HashHeader(ctx, &coinjecturev1.HashHeaderRequest{Header: client.Header(&h)})
				if err != nil {
					t.Fatal(err)
				}
				got, want = r.Hash, v.ExpectedHash
			default:
				t.Fatalf("unknown operation %q", v.Operation)
			}
			if hx(got) != want {
				t.Errorf("service %x, expected %s", got, want)
			}
		})
	}
}

// The service's own run of its compiled-in vectors: every case passes, and it runs exactly the
// cases of the files in golden/ (so the service was built from the same vectors).
func TestParityGoldenVectorsSelfTest(t *testing.T) {
	cc, ctx := dial(t)
	r, err := cc.CryptoCore.GoldenVectorsSelfTest(ctx, &coinjecturev1.GoldenVectorsSelfTestRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range r.Results {
		if !res.Passed {
			t.Errorf("%s:%s failed in the service: %s", res.File, res.CaseName, res.Detail)
		}
	}
	if r.Failed != 0 || r.Passed+r.Failed != r.Total || int(r.Total) != len(r.Results) {
		t.Errorf("total %d passed %d failed %d results %d", r.Total, r.Passed, r.Failed, len(r.Results))
	}
	want := map[string]bool{}
	for _, c := range loadCases(t) {
		want[c.ID()] = true
	}
	dir, _ := golden.Dir()
	ups, err := golden.LoadUpstream(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		want[golden.UpstreamFile+":"+u.TestName] = true
	}
	got := map[string]bool{}
	for _, res := range r.Results {
		got[res.File+":"+res.CaseName] = true
	}
	for id := range want {
		if !got[id] {
			t.Errorf("%s: in golden/ but not run by the service", id)
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("%s: run by the service but not in golden/", id)
		}
	}
	t.Logf("service self-test: %d/%d passed", r.Passed, r.Total)

	one, err := cc.CryptoCore.GoldenVectorsSelfTest(ctx, &coinjecturev1.GoldenVectorsSelfTestRequest{File: "merkle.json"})
	if err != nil || one.Total == 0 || one.Failed != 0 {
		t.Errorf("filter merkle.json: %v %v", one, err)
	}
	_, err = cc.CryptoCore.GoldenVectorsSelfTest(ctx, &coinjecturev1.GoldenVectorsSelfTestRequest{File: "no-such-file.json"})
	if err == nil {
		t.Error("a filter naming no file was accepted")
	}
}

func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "127.0.0.1:50151")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	r, err := c.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: []byte("abc")})
	if err == nil {
		fmt.Printf("%x\n", r.Digest)
	}
}
