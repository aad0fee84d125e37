package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"
)

// Transactions are kvstore transactions, `key=value`, of a fixed size (our transfer's canonical
// size, so blocks hold as many of them as ours do):
//
//	plain:  <id>=<hex filler>
//	signed: <id>=<hex public key (64)><hex signature (128)>   (the signature is over <id>)
//
// Both contain exactly one '=' and no ':', which the kvstore's own CheckTx requires.
const (
	pubHexLen = 2 * ed25519.PublicKeySize
	sigHexLen = 2 * ed25519.SignatureSize
)

// minSignedTxBytes is the shortest signed transaction: a one-byte id, '=', key and signature.
const minSignedTxBytes = 1 + 1 + pubHexLen + sigHexLen

var errMalformed = errors.New("not <id>=<hex public key><hex signature>")

// makeTx builds transaction `seq` of exactly `size` bytes; signed when key is not nil.
func makeTx(seq uint64, size int, key ed25519.PrivateKey) ([]byte, error) {
	prefix := fmt.Sprintf("t%d-", seq)
	valueLen := size / 2
	if key != nil {
		valueLen = pubHexLen + sigHexLen
	}
	idLen := size - 1 - valueLen
	if idLen < len(prefix) {
		return nil, fmt.Errorf("--tx-bytes %d is too small for transaction %d (needs %d)", size, seq, len(prefix)+1+valueLen)
	}
	tx := make([]byte, 0, size)
	tx = append(tx, prefix...)
	for len(tx) < idLen {
		tx = append(tx, 'x')
	}
	id := tx[:idLen]
	tx = append(tx, '=')
	if key == nil {
		for len(tx) < size {
			tx = append(tx, 'a'+byte(len(tx)%6))
		}
		return tx, nil
	}
	pub := key.Public().(ed25519.PublicKey)
	tx = hex.AppendEncode(tx, pub)
	tx = hex.AppendEncode(tx, ed25519.Sign(key, id))
	return tx, nil
}

// verifyTx checks a signed transaction's signature.
func verifyTx(tx []byte) error {
	if len(tx) < minSignedTxBytes {
		return errMalformed
	}
	split := len(tx) - pubHexLen - sigHexLen - 1
	if tx[split] != '=' {
		return errMalformed
	}
	var pub [ed25519.PublicKeySize]byte
	var sig [ed25519.SignatureSize]byte
	if _, err := hex.Decode(pub[:], tx[split+1:split+1+pubHexLen]); err != nil {
		return errMalformed
	}
	if _, err := hex.Decode(sig[:], tx[split+1+pubHexLen:]); err != nil {
		return errMalformed
	}
	if !ed25519.Verify(pub[:], tx[:split], sig[:]) {
		return errors.New("bad signature")
	}
	return nil
}

// signedApp is the kvstore that also checks one ed25519 signature per transaction, once per
// node: in CheckTx (mempool admission, from a client or from gossip) or, for a transaction the
// node has not seen, in ProcessProposal. Verified transactions are remembered until a block
// holds them, so rechecks and proposals do not verify them again (as our ledger's
// verified-signature cache does).
type signedApp struct {
	*kvstore.Application
	mu       sync.Mutex
	verified map[string]struct{}
}

func newSignedApp() *signedApp {
	return &signedApp{Application: kvstore.NewInMemoryApplication(), verified: make(map[string]struct{})}
}

func (a *signedApp) check(tx []byte) error {
	a.mu.Lock()
	_, seen := a.verified[string(tx)]
	a.mu.Unlock()
	if seen {
		return nil
	}
	if err := verifyTx(tx); err != nil {
		return err
	}
	a.mu.Lock()
	a.verified[string(tx)] = struct{}{}
	a.mu.Unlock()
	return nil
}

func (a *signedApp) CheckTx(ctx context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	if err := a.check(req.Tx); err != nil {
		return &abci.ResponseCheckTx{Code: 100, Log: err.Error()}, nil
	}
	return a.Application.CheckTx(ctx, req)
}

func (a *signedApp) ProcessProposal(ctx context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	for _, tx := range req.Txs {
		if a.check(tx) != nil {
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
	}
	return a.Application.ProcessProposal(ctx, req)
}

func (a *signedApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	a.mu.Lock()
	for _, tx := range req.Txs {
		delete(a.verified, string(tx))
	}
	a.mu.Unlock()
	return a.Application.FinalizeBlock(ctx, req)
}
