package main

import (
	"crypto/ed25519"
	"testing"
	"time"
)

func TestSignedTransactionsVerifyAndATamperedOneDoesNot(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := makeTx(42, 290, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(tx) != 290 {
		t.Fatalf("size %d, want 290", len(tx))
	}
	if err := verifyTx(tx); err != nil {
		t.Fatalf("a fresh signed tx: %v", err)
	}
	tx[1] ^= 1 // the signed id
	if verifyTx(tx) == nil {
		t.Fatal("a tampered tx verified")
	}
	if verifyTx([]byte("k=v")) == nil {
		t.Fatal("a malformed tx verified")
	}
}

func TestPlainTransactionsHaveTheRequestedSizeAndOneEquals(t *testing.T) {
	tx, err := makeTx(7, 290, nil)
	if err != nil {
		t.Fatal(err)
	}
	eq := 0
	for _, c := range tx {
		if c == '=' {
			eq++
		}
	}
	if len(tx) != 290 || eq != 1 {
		t.Fatalf("len %d, %d '=': %q", len(tx), eq, tx)
	}
	if _, err := makeTx(7, 10, nil); err != nil {
		t.Fatalf("short plain tx: %v", err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	if _, err := makeTx(7, 100, key); err == nil {
		t.Fatal("a signed tx cannot fit in 100 bytes")
	}
}

func TestSustainedRateMatchesTheLoadtestDefinition(t *testing.T) {
	t0 := time.Now()
	var times []time.Time
	for _, ms := range []int{0, 2000, 4000, 6000} {
		for range 200 {
			times = append(times, t0.Add(time.Duration(ms)*time.Millisecond))
		}
	}
	if r, ok := sustainedRate(times, t0.Add(5*time.Second)); !ok || r != 100 {
		t.Fatalf("got %v %v, want 100", r, ok)
	}
	if _, ok := sustainedRate(times, t0.Add(500*time.Millisecond)); ok {
		t.Fatal("under a second has no sustained rate")
	}
}

func TestPercentilesAreNearestRank(t *testing.T) {
	l := summarize([]float64{4, 1, 3, 2})
	if *l.P50 != 2 || *l.P99 != 4 || *l.Max != 4 || *l.Mean != 2.5 || l.Count != 4 {
		t.Fatalf("%+v", l)
	}
	if summarize(nil).P50 != nil {
		t.Fatal("empty has no p50")
	}
}
