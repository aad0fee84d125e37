package client_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coinjecture/coinjecture/clients/go/client"
	coinjecturev1 "github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1"
	"github.com/coinjecture/coinjecture/clients/go/reference"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeCore serves Sha256 from the Go reference and nothing else, to test the client without
// the Rust service.
type fakeCore struct {
	coinjecturev1.UnimplementedCryptoCoreServer
}

func (fakeCore) Sha256(_ context.Context, r *coinjecturev1.Sha256Request) (*coinjecturev1.Sha256Response, error) {
	h := reference.Sha256(r.Data)
	return &coinjecturev1.Sha256Response{Digest: h[:]}, nil
}

func serveFake(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(client.MaxMessageSize))
	coinjecturev1.RegisterCryptoCoreServer(s, fakeCore{})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestDialAndCallInProcessServer(t *testing.T) {
	addr := serveFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 8 MiB: above gRPC's default 4 MiB limit, within the services' 16 MiB.
	data := bytes.Repeat([]byte{0xaa}, 8<<20)
	r, err := c.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if want := reference.Sha256(data); !bytes.Equal(r.Digest, want[:]) {
		t.Errorf("digest %x", r.Digest)
	}
	_, err = c.CryptoCore.MerkleRoot(ctx, &coinjecturev1.MerkleRootRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("unimplemented RPC: %v", err)
	}
}

func TestDialUnreachableFailsWithinTheContext(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := client.Dial(ctx, addr)
	if err == nil {
		c.Close()
		t.Fatal("dial of a closed port succeeded")
	}
	if !strings.Contains(err.Error(), addr) || time.Since(start) > 5*time.Second {
		t.Errorf("error %q after %v", err, time.Since(start))
	}
}

func TestConversionsKeepNumbering(t *testing.T) {
	tx := reference.Transaction{CodecVersion: 1, TxType: reference.TxBountyPayment, Amount: 7, Data: []byte("x")}
	p := client.Transaction(&tx)
	if p.TxType != coinjecturev1.TxType_TX_TYPE_BOUNTY_PAYMENT || p.Amount != 7 || len(p.From) != 32 || len(p.Signature) != 64 {
		t.Errorf("transaction: %v", p)
	}
	prob := client.Problem(&reference.SubsetSumProblem{Tier: reference.TierCluster, Elements: []int64{-1}})
	if prob.Tier != coinjecturev1.SubsetSumTier_SUBSET_SUM_TIER_CLUSTER || prob.Elements[0] != -1 {
		t.Errorf("problem: %v", prob)
	}
	for _, r := range []reference.SubsetSumReason{
		reference.ReasonInvalidTier, reference.ReasonTooManyElements, reference.ReasonElementCountOutside,
		reference.ReasonEmptySolution, reference.ReasonTooManyIndices, reference.ReasonIndexOutOfRange,
		reference.ReasonDuplicateIndex, reference.ReasonOverflow, reference.ReasonSumMismatch,
	} {
		if v, ok := client.RejectReason(r); !ok || v == 0 {
			t.Errorf("%s has no gRPC reason", r)
		}
	}
	h := client.Header(&reference.BlockHeader{CodecVersion: 1, ExtraData: []byte{1}})
	if len(h.ParentHash) != 32 || h.CodecVersion != 1 || !bytes.Equal(h.ExtraData, []byte{1}) {
		t.Errorf("header: %v", h)
	}
}
