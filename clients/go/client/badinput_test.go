package client_test

import (
	"strings"
	"testing"

	coinjecturev1 "github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Bad input through the client: the service answers INVALID_ARGUMENT naming the field, and keeps
// serving. Needs COINJECTURE_CRYPTO_CORE like the parity tests.
func TestServiceRejectsBadInputAndKeepsServing(t *testing.T) {
	cc, ctx := dial(t)
	short := make([]byte, 31)
	for _, c := range []struct {
		name  string
		call  func() error
		field string
	}{
		{"leaf of 31 bytes", func() error {
			_, err := cc.CryptoCore.MerkleRoot(ctx, &coinjecturev1.MerkleRootRequest{Leaves: [][]byte{make([]byte, 32), short}})
			return err
		}, "leaves[1]"},
		{"proof index out of range", func() error {
			_, err := cc.CryptoCore.MerkleProof(ctx, &coinjecturev1.MerkleProofRequest{Leaves: [][]byte{make([]byte, 32)}, Index: 1})
			return err
		}, "index"},
		{"missing header", func() error {
			_, err := cc.CryptoCore.HashHeader(ctx, &coinjecturev1.HashHeaderRequest{})
			return err
		}, "header"},
		{"header codec_version 2", func() error {
			_, err := cc.CryptoCore.HashHeader(ctx, &coinjecturev1.HashHeaderRequest{Header: &coinjecturev1.BlockHeader{
				CodecVersion: 2, ParentHash: make([]byte, 32), MerkleRoot: make([]byte, 32), MinerAddress: make([]byte, 32), Commitment: make([]byte, 32),
			}})
			return err
		}, "header.codec_version"},
		{"extra_data of 257 bytes", func() error {
			_, err := cc.CryptoCore.HashHeader(ctx, &coinjecturev1.HashHeaderRequest{Header: &coinjecturev1.BlockHeader{
				CodecVersion: 1, ParentHash: make([]byte, 32), MerkleRoot: make([]byte, 32), MinerAddress: make([]byte, 32), Commitment: make([]byte, 32),
				ExtraData: make([]byte, 257),
			}})
			return err
		}, "header.extra_data"},
		{"transaction tx_type unspecified", func() error {
			_, err := cc.CryptoCore.HashTransaction(ctx, &coinjecturev1.HashTransactionRequest{Transaction: &coinjecturev1.Transaction{
				CodecVersion: 1, From: make([]byte, 32), To: make([]byte, 32), Signature: make([]byte, 64),
			}})
			return err
		}, "transaction.tx_type"},
		{"public key of 31 bytes", func() error {
			_, err := cc.CryptoCore.Ed25519Verify(ctx, &coinjecturev1.Ed25519VerifyRequest{PublicKey: short, Signature: make([]byte, 64)})
			return err
		}, "public_key"},
		{"address of a 31-byte key", func() error {
			_, err := cc.CryptoCore.DeriveAddress(ctx, &coinjecturev1.DeriveAddressRequest{PublicKey: short})
			return err
		}, "public_key"},
		{"missing subset-sum problem", func() error {
			_, err := cc.CryptoCore.VerifySubsetSum(ctx, &coinjecturev1.VerifySubsetSumRequest{Solution: &coinjecturev1.SubsetSumSolution{}})
			return err
		}, "problem"},
		{"miner salt of 31 bytes", func() error {
			_, err := cc.CryptoCore.CommitRevealCommitment(ctx, &coinjecturev1.CommitRevealCommitmentRequest{
				ParentHash: make([]byte, 32), MinerSalt: short,
				Problem:  &coinjecturev1.SubsetSumProblem{Tier: coinjecturev1.SubsetSumTier_SUBSET_SUM_TIER_MOBILE},
				Solution: &coinjecturev1.SubsetSumSolution{},
			})
			return err
		}, "miner_salt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			st, _ := status.FromError(err)
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), c.field) {
				t.Errorf("want INVALID_ARGUMENT naming %q, got %v", c.field, err)
			}
			// Still serving.
			if _, err := cc.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: []byte("abc")}); err != nil {
				t.Errorf("service stopped answering: %v", err)
			}
		})
	}
	// An invalid signature is an answer, not an error.
	r, err := cc.CryptoCore.Ed25519Verify(ctx, &coinjecturev1.Ed25519VerifyRequest{PublicKey: make([]byte, 32), Signature: make([]byte, 64)})
	if err != nil || r.Valid {
		t.Errorf("all-zero key and signature: %v %v", r, err)
	}
	// Oversize: a 17 MiB message (above the 16 MiB limit plus the service's 64 KiB of framing
	// slack) is refused by the service, and it keeps serving. The client's own send limit is
	// raised for this call so that the request reaches the service.
	_, err = cc.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: make([]byte, 17<<20)}, grpc.MaxCallSendMsgSize(32<<20))
	t.Logf("17 MiB request: %v", err)
	if err == nil {
		t.Error("a request over 16 MiB was accepted")
	}
	if _, err := cc.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: []byte("abc")}); err != nil {
		t.Errorf("service stopped answering after an oversize request: %v", err)
	}
}
