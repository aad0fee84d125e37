// Package client is a thin typed gRPC client for a COINjecture node's services: the stateless
// CryptoCore (the chain's hashes, encodings and signature checks) and the PublicApi.
//
//	c, err := client.Dial(ctx, "127.0.0.1:50151")
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.CryptoCore.MerkleRoot(ctx, &coinjecturev1.MerkleRootRequest{Leaves: leaves})
//
// The conversions in this package (Header, Transaction, Problem, Solution) turn the pure-Go
// reference types into their protobuf messages, so that the same values can be computed locally
// (package reference) and by the service, and compared.
package client

import (
	"context"
	"fmt"

	coinjecturev1 "github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxMessageSize is the largest gRPC message the client sends or accepts: the services' limit
// of 16 MiB plus room for framing. (gRPC's default receive limit, 4 MiB, is too small for, e.g.,
// a Sha256 of 16 MiB or a large MerkleProof batch.)
const MaxMessageSize = 16<<20 + 64<<10

// Client holds one connection and the typed stubs of the services reached through it.
type Client struct {
	conn *grpc.ClientConn

	// CryptoCore is the stateless crypto-core service (proto/coinjecture/v1/crypto.proto).
	CryptoCore coinjecturev1.CryptoCoreClient
	// PublicApi is the node's public API (proto/coinjecture/v1/api.proto). It is only usable
	// when addr is a node that serves it; crypto-core alone answers Unimplemented.
	PublicApi coinjecturev1.PublicApiClient
}

// Dial connects to addr (host:port) and waits until the connection is ready or ctx is done, so
// an unreachable address is reported here rather than at the first call: pass a ctx with a
// timeout. Without opts the connection is plaintext (the services listen without TLS on
// loopback or a private network); opts are appended to the defaults and may override them,
// e.g. grpc.WithTransportCredentials(credentials.NewTLS(cfg)).
func Dial(ctx context.Context, addr string, opts ...grpc.DialOption) (*Client, error) {
	all := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}, opts...)
	conn, err := grpc.NewClient(addr, all...)
	if err != nil {
		return nil, fmt.Errorf("coinjecture client %s: %w", addr, err)
	}
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			break
		}
		if s == connectivity.Shutdown || !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			return nil, fmt.Errorf("coinjecture client %s: not ready (last state %s): %w", addr, s, context.Cause(ctx))
		}
	}
	return New(conn), nil
}

// New wraps an existing connection (for callers that manage their own grpc.ClientConn).
// Closing the Client closes conn.
func New(conn *grpc.ClientConn) *Client {
	return &Client{
		conn:       conn,
		CryptoCore: coinjecturev1.NewCryptoCoreClient(conn),
		PublicApi:  coinjecturev1.NewPublicApiClient(conn),
	}
}

// Conn returns the underlying connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
