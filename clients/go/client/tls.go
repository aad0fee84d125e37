package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TLSFiles names the PEM files for mutual TLS with a node's internal gRPC services (a node's
// api.grpc_port or a split service off loopback), as `coinjectured tls gen` writes them: the
// validator's CA, and a certificate and key that CA signed (the server admits no other client).
type TLSFiles struct {
	// CA is the CA certificate (ca.pem): the only one the server's certificate may chain to.
	CA string
	// Cert and Key are this client's certificate and private key (e.g. node.pem, node-key.pem).
	Cert, Key string
	// ServerName overrides the name checked against the server's certificate (default: the
	// host of the address dialed).
	ServerName string
}

// TLSCredentials loads f into transport credentials for mutual TLS (TLS 1.2 or later).
func TLSCredentials(f TLSFiles) (credentials.TransportCredentials, error) {
	if f.CA == "" || f.Cert == "" || f.Key == "" {
		return nil, errors.New("coinjecture client TLS: CA, Cert and Key are all needed (mutual TLS)")
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("coinjecture client TLS: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("coinjecture client TLS: CA: %s holds no PEM certificate", f.CA)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("coinjecture client TLS: Cert/Key: %w", err)
	}
	return credentials.NewTLS(&tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{pair},
		ServerName:   f.ServerName,
		MinVersion:   tls.VersionTLS12,
	}), nil
}

// WithTLS is the dial option for mutual TLS with f, to pass to Dial:
//
//	opt, err := client.WithTLS(client.TLSFiles{CA: "tls/ca.pem", Cert: "tls/node.pem", Key: "tls/node-key.pem"})
//	c, err := client.Dial(ctx, "10.0.0.7:50051", opt)
func WithTLS(f TLSFiles) (grpc.DialOption, error) {
	creds, err := TLSCredentials(f)
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(creds), nil
}
