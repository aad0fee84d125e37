package client_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coinjecture/coinjecture/clients/go/client"
	coinjecturev1 "github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1"
	"github.com/coinjecture/coinjecture/clients/go/internal/skip"
	"github.com/coinjecture/coinjecture/clients/go/reference"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// startTLSCryptoCore runs `coinjectured service crypto-core` with mutual TLS (api.internal_tls
// of a one-validator devnet config; certificates from `coinjectured tls gen`) on a loopback
// port; it returns the address and the TLS directory.
func startTLSCryptoCore(t *testing.T) (string, string) {
	t.Helper()
	bin := os.Getenv("COINJECTURED")
	if bin == "" {
		skip.Unless(t, "COINJECTURED is not set: the path of a coinjectured binary runs the mutual-TLS test against it")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("coinjectured %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("devnet", "--init-only", "--validators", "1", "--dir", filepath.Join(dir, "devnet"))
	tlsDir := filepath.Join(dir, "tls")
	run("tls", "gen", "--dir", tlsDir, "--names", "127.0.0.1")
	config := filepath.Join(dir, "devnet", "validator-1.yaml")
	text, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	section := "api:\n  internal_tls:\n    ca: " + filepath.Join(tlsDir, "ca.pem") + "\n    cert: " +
		filepath.Join(tlsDir, "node.pem") + "\n    key: " + filepath.Join(tlsDir, "node-key.pem") + "\n"
	if err := os.WriteFile(config, []byte(strings.Replace(string(text), "api:\n", section, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cmd := exec.Command(bin, "service", "crypto-core", "--config", config, "--listen", addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("crypto-core never listened on %s:\n%s", addr, logs.String())
		}
	}
	return addr, tlsDir
}

func TestMutualTLSWithCoinjectured(t *testing.T) {
	addr, tlsDir := startTLSCryptoCore(t)
	files := client.TLSFiles{
		CA:   filepath.Join(tlsDir, "ca.pem"),
		Cert: filepath.Join(tlsDir, "node.pem"),
		Key:  filepath.Join(tlsDir, "node-key.pem"),
	}
	opt, err := client.WithTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := []byte("mutual TLS")
	r, err := c.CryptoCore.Sha256(ctx, &coinjecturev1.Sha256Request{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if want := reference.Sha256(data); !bytes.Equal(r.Digest, want[:]) {
		t.Errorf("digest %x", r.Digest)
	}

	// Without a client certificate (or in plaintext) the server refuses the connection.
	short, cancelShort := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelShort()
	if c, err := client.Dial(short, addr); err == nil {
		_, callErr := c.CryptoCore.Sha256(short, &coinjecturev1.Sha256Request{Data: data})
		c.Close()
		if callErr == nil {
			t.Fatal("a plaintext client was served")
		}
	}
	caOnly := withoutClientCert(t, files.CA)
	short2, cancelShort2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelShort2()
	if c, err := client.Dial(short2, addr, caOnly); err == nil {
		_, callErr := c.CryptoCore.Sha256(short2, &coinjecturev1.Sha256Request{Data: data})
		c.Close()
		if callErr == nil {
			t.Fatal("a client without a certificate was served")
		}
	}
}

func TestTLSFilesMustBeComplete(t *testing.T) {
	if _, err := client.WithTLS(client.TLSFiles{CA: "ca.pem"}); err == nil || !strings.Contains(err.Error(), "all needed") {
		t.Fatalf("got %v", err)
	}
	if _, err := client.WithTLS(client.TLSFiles{CA: "/nonexistent/ca.pem", Cert: "c", Key: "k"}); err == nil || !strings.Contains(err.Error(), "CA") {
		t.Fatalf("got %v", err)
	}
}

// withoutClientCert trusts the CA but presents no certificate.
func withoutClientCert(t *testing.T, ca string) grpc.DialOption {
	t.Helper()
	creds, err := credentials.NewClientTLSFromFile(ca, "")
	if err != nil {
		t.Fatal(err)
	}
	return grpc.WithTransportCredentials(creds)
}
