package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
)

type txInfo struct {
	scheduledAt time.Time
	accepted    bool
	finalAt     time.Time
}

type blockSeen struct {
	at       time.Time
	txCount  int
	proposer string
}

// tracker holds every transaction sent and every block seen.
type tracker struct {
	mu         sync.Mutex
	txs        map[[32]byte]*txInfo
	blocks     []blockSeen
	rejected   map[string]uint64
	duplicated uint64

	submitted, accepted, rejectedTotal, final, unsent, scheduled, taken atomic.Uint64
	maxBacklog                                                          atomic.Uint64
}

func (t *tracker) onBlock(txs [][]byte, proposer string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tx := range txs {
		info, ok := t.txs[sha256.Sum256(tx)]
		if !ok {
			continue
		}
		if !info.finalAt.IsZero() {
			t.duplicated++
			continue
		}
		info.finalAt = now
		t.final.Add(1)
	}
	t.blocks = append(t.blocks, blockSeen{at: now, txCount: len(txs), proposer: proposer})
}

type batch struct {
	firstSeq    uint64
	count       uint64
	scheduledAt time.Time
}

type loadArgs struct {
	rpc          []string
	rate         float64
	duration     time.Duration
	grace        time.Duration
	variant      string
	txBytes      int
	accounts     int
	batch        uint64
	lanesPerNode int
	presign      bool
	report       string
}

func runLoad(argv []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var a loadArgs
	rpc := fs.String("rpc", "http://127.0.0.1:26657", "CometBFT RPC URLs, comma-separated (the first is followed for blocks)")
	fs.Float64Var(&a.rate, "rate", 100, "offered transactions per second (open loop)")
	fs.DurationVar(&a.duration, "duration", 20*time.Second, "how long to offer load")
	fs.DurationVar(&a.grace, "grace", 30*time.Second, "how long accepted transactions may take to become final")
	fs.StringVar(&a.variant, "variant", "plain", "plain (kvstore) or signed (kvstore + one ed25519 check per transaction)")
	fs.IntVar(&a.txBytes, "tx-bytes", 290, "size of every transaction (match ours)")
	fs.IntVar(&a.accounts, "accounts", 1000, "signing keys (signed variant)")
	fs.Uint64Var(&a.batch, "batch", 0, "transactions per RPC batch (default rate/20, 1-500)")
	fs.IntVar(&a.lanesPerNode, "lanes-per-node", 4, "concurrent submission lanes per node")
	fs.BoolVar(&a.presign, "presign", false, "build (and sign) every transaction before the measuring window")
	fs.StringVar(&a.report, "report", "", "write the report as JSON here")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	a.rpc = strings.Split(*rpc, ",")
	if a.variant != "plain" && a.variant != "signed" {
		return fmt.Errorf("--variant %q: expected plain or signed", a.variant)
	}
	if a.rate <= 0 || a.accounts <= 0 {
		return errors.New("--rate and --accounts must be positive")
	}
	if a.batch == 0 {
		a.batch = min(max(uint64(a.rate/20), 1), 500)
	}
	if a.variant == "signed" && a.txBytes < minSignedTxBytes+8 {
		return fmt.Errorf("--tx-bytes %d: a signed transaction needs at least %d", a.txBytes, minSignedTxBytes+8)
	}
	report, err := load(a)
	if err != nil {
		return err
	}
	fmt.Print(report.table())
	if a.report != "" {
		data, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(a.report, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", a.report, err)
		}
	}
	return nil
}

func load(a loadArgs) (*Report, error) {
	total := uint64(a.duration.Seconds() * a.rate)
	var keys []ed25519.PrivateKey
	if a.variant == "signed" {
		for range a.accounts {
			_, k, err := ed25519.GenerateKey(nil)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	// Transaction seq's key; ids start with a run-unique prefix so reruns never collide.
	runID := uint64(time.Now().UnixNano() % 1_000_000_000)
	build := func(seq uint64) ([]byte, error) {
		var key ed25519.PrivateKey
		if keys != nil {
			key = keys[seq%uint64(len(keys))]
		}
		return makeTx(runID*10_000_000+seq, a.txBytes, key)
	}
	var presigned [][]byte
	var presignStats *[2]float64
	if a.presign {
		started := time.Now()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		presigned = make([][]byte, total)
		var wg sync.WaitGroup
		workers := runtime.NumCPU()
		errs := make([]error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := uint64(w); seq < total; seq += uint64(workers) {
					tx, err := build(seq)
					if err != nil {
						errs[w] = err
						return
					}
					presigned[seq] = tx
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		seconds := time.Since(started).Seconds()
		heapMiB := float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / (1 << 20)
		fmt.Fprintf(os.Stderr, "presigned %d transactions in %.1f s (heap +%.0f MiB)\n", total, seconds, heapMiB)
		presignStats = &[2]float64{seconds, heapMiB}
	}

	clients := make([]*rpchttp.HTTP, len(a.rpc))
	for i, url := range a.rpc {
		c, err := rpchttp.New(url, "/websocket")
		if err != nil {
			return nil, fmt.Errorf("RPC client for %s: %w", url, err)
		}
		clients[i] = c
	}
	ctx := context.Background()
	status, err := clients[0].Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status of %s (is the network running?): %w", a.rpc[0], err)
	}
	fmt.Fprintf(os.Stderr, "chain %s at height %d; %d node(s); batch %d; %s\n", status.NodeInfo.Network,
		status.SyncInfo.LatestBlockHeight, len(a.rpc), a.batch, a.variant)

	t := &tracker{txs: make(map[[32]byte]*txInfo, total), rejected: map[string]uint64{}}
	stopFollow := make(chan struct{})
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		follow(clients[0], status.SyncInfo.LatestBlockHeight+1, t, stopFollow)
	}()

	lanes := len(a.rpc) * max(a.lanesPerNode, 1)
	queues := make([]chan batch, lanes)
	start := time.Now().Add(100 * time.Millisecond)
	end := start.Add(a.duration)
	var wg sync.WaitGroup
	for l := range lanes {
		queues[l] = make(chan batch, total/a.batch+2)
		client := clients[l%len(clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range queues[l] {
				t.taken.Add(b.count)
				if time.Now().After(end) {
					t.unsent.Add(b.count)
					continue
				}
				send(ctx, client, b, t, presigned, build)
			}
		}()
	}

	// Open loop: batch k is due when its first transaction is, whatever the lanes are doing.
	var emitted uint64
	lane := 0
	for emitted < total {
		now := time.Now()
		if now.Before(start) {
			time.Sleep(start.Sub(now))
			continue
		}
		due := min(uint64(now.Sub(start).Seconds()*a.rate)+1, total)
		for emitted < due {
			count := min(a.batch, total-emitted)
			at := start.Add(time.Duration(float64(emitted) / a.rate * float64(time.Second)))
			queues[lane%lanes] <- batch{firstSeq: emitted, count: count, scheduledAt: at}
			lane++
			emitted += count
			t.scheduled.Add(count)
		}
		backlog := t.scheduled.Load() - t.taken.Load()
		if backlog > t.maxBacklog.Load() {
			t.maxBacklog.Store(backlog)
		}
		time.Sleep(min(max(time.Duration(float64(a.batch)/a.rate*float64(time.Second)), time.Millisecond), 50*time.Millisecond))
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()

	deadline := time.Now().Add(a.grace)
	if end.After(time.Now()) {
		deadline = end.Add(a.grace)
	}
	for time.Now().Before(deadline) && t.final.Load() < t.accepted.Load() {
		time.Sleep(100 * time.Millisecond)
	}
	close(stopFollow)
	<-followed
	report := t.report(a, start, end)
	if presignStats != nil {
		report.Presigned = total
		report.PresignSeconds, report.PresignHeapMiB = &presignStats[0], &presignStats[1]
	}
	return report, nil
}

// send submits one batch with broadcast_tx_sync (the answer comes after CheckTx, as our API's
// comes after admission) in one JSON-RPC batch call.
func send(ctx context.Context, client *rpchttp.HTTP, b batch, t *tracker, presigned [][]byte, build func(uint64) ([]byte, error)) {
	txs := make([][]byte, 0, b.count)
	hashes := make([][32]byte, 0, b.count)
	for seq := b.firstSeq; seq < b.firstSeq+b.count; seq++ {
		var tx []byte
		if presigned != nil {
			tx = presigned[seq]
		} else {
			var err error
			if tx, err = build(seq); err != nil {
				t.reject("BUILD: " + err.Error())
				continue
			}
		}
		txs = append(txs, tx)
		hashes = append(hashes, sha256.Sum256(tx))
	}
	t.mu.Lock()
	for _, h := range hashes {
		t.txs[h] = &txInfo{scheduledAt: b.scheduledAt}
	}
	t.mu.Unlock()
	t.submitted.Add(uint64(len(txs)))
	rpcBatch := client.NewBatch()
	for _, tx := range txs {
		if _, err := rpcBatch.BroadcastTxSync(ctx, tx); err != nil {
			t.reject("rpc: " + err.Error())
		}
	}
	results, err := rpcBatch.Send(ctx)
	if err != nil {
		for range txs {
			t.reject("rpc: " + firstLine(err.Error()))
		}
		return
	}
	if len(results) != len(txs) {
		// The server refused the batch as a whole (e.g. over rpc.max_request_batch_size).
		reason := fmt.Sprintf("rpc: %d answers to %d requests", len(results), len(txs))
		if len(results) == 1 {
			reason = fmt.Sprintf("rpc: %v", results[0])
		}
		for range txs {
			t.reject(firstLine(reason))
		}
		return
	}
	for i, r := range results {
		res, ok := r.(*ctypes.ResultBroadcastTx)
		switch {
		case !ok:
			t.reject(firstLine(fmt.Sprintf("rpc: %v", r)))
		case res.Code != 0:
			t.reject(fmt.Sprintf("CODE_%d: %s", res.Code, firstLine(res.Log)))
		default:
			t.accepted.Add(1)
			t.mu.Lock()
			t.txs[hashes[i]].accepted = true
			t.mu.Unlock()
		}
	}
}

func (t *tracker) reject(reason string) {
	t.rejectedTotal.Add(1)
	t.mu.Lock()
	t.rejected[reason]++
	t.mu.Unlock()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// follow reads committed blocks in order from `from` until stop (a block of CometBFT's is final
// once committed: no forks).
func follow(client *rpchttp.HTTP, from int64, t *tracker, stop <-chan struct{}) {
	height := from
	for {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		block, err := client.Block(ctx, &height)
		cancel()
		if err != nil || block == nil || block.Block == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		txs := make([][]byte, len(block.Block.Txs))
		for i, tx := range block.Block.Txs {
			txs[i] = tx
		}
		t.onBlock(txs, block.Block.ProposerAddress.String())
		height++
	}
}

// Report has the field names of coinjecture-loadtest's report (bin/loadtest/src/report.rs), so
// bench/run.sh and the plot read both alike. What CometBFT cannot tell (propagation, our node
// processes) is null or empty.
type Report struct {
	Nodes             []string          `json:"nodes"`
	Variant           string            `json:"variant"`
	Presigned         uint64            `json:"presigned"`
	PresignSeconds    *float64          `json:"presign_seconds"`
	PresignHeapMiB    *float64          `json:"presign_rss_mib"`
	TxBytes           int               `json:"tx_bytes"`
	Accounts          uint64            `json:"accounts"`
	Batch             uint64            `json:"batch"`
	DurationS         float64           `json:"duration_s"`
	OfferedTPS        float64           `json:"offered_tps"`
	Scheduled         uint64            `json:"scheduled"`
	Submitted         uint64            `json:"submitted"`
	Accepted          uint64            `json:"accepted"`
	FinalCount        uint64            `json:"final_count"`
	Rejected          map[string]uint64 `json:"rejected"`
	RejectedTotal     uint64            `json:"rejected_total"`
	MaxBacklog        uint64            `json:"max_backlog"`
	UnsentBacklog     uint64            `json:"unsent_backlog"`
	SustainedFinalTPS float64           `json:"sustained_final_tps"`
	OverallFinalTPS   float64           `json:"overall_final_tps"`
	Latency           Latency           `json:"latency"`
	Lost              uint64            `json:"lost"`
	Stranded          uint64            `json:"stranded"`
	Duplicated        uint64            `json:"duplicated"`
	GraceS            float64           `json:"grace_s"`
	Blocks            uint64            `json:"blocks"`
	Proposers         uint64            `json:"proposers"`
	MaxTxsPerBlock    uint64            `json:"max_txs_per_block"`
	PropagationP50    *float64          `json:"block_propagation_p50_s"`
	PropagationP99    *float64          `json:"block_propagation_p99_s"`
	NodeUsage         []struct{}        `json:"node_usage"`
}

// Latency is stats::LatencySummary: nearest-rank percentiles in seconds.
type Latency struct {
	Count uint64   `json:"count"`
	P50   *float64 `json:"p50"`
	P95   *float64 `json:"p95"`
	P99   *float64 `json:"p99"`
	Max   *float64 `json:"max"`
	Mean  *float64 `json:"mean"`
}

func percentile(sorted []float64, q float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	rank := int(math.Ceil(float64(len(sorted)) * q))
	rank = min(max(rank, 1), len(sorted))
	v := sorted[rank-1]
	return &v
}

func summarize(samples []float64) Latency {
	sort.Float64s(samples)
	l := Latency{Count: uint64(len(samples)), P50: percentile(samples, 0.5), P95: percentile(samples, 0.95), P99: percentile(samples, 0.99)}
	if len(samples) > 0 {
		sum := 0.0
		for _, s := range samples {
			sum += s
		}
		mean, maximum := sum/float64(len(samples)), samples[len(samples)-1]
		l.Mean, l.Max = &mean, &maximum
	}
	return l
}

// sustainedRate is the loadtest's: finalized after the first finalization up to the last one at
// or before end, over the time between them; ok is false below two instants or one second.
func sustainedRate(finalTimes []time.Time, end time.Time) (float64, bool) {
	if len(finalTimes) == 0 {
		return 0, false
	}
	first, last := finalTimes[0], time.Time{}
	for _, at := range finalTimes {
		if at.Before(first) {
			first = at
		}
		if !at.After(end) && at.After(last) {
			last = at
		}
	}
	span := last.Sub(first).Seconds()
	if last.IsZero() || span < 1 {
		return 0, false
	}
	count := 0
	for _, at := range finalTimes {
		if at.After(first) && !at.After(last) {
			count++
		}
	}
	return float64(count) / span, true
}

func (t *tracker) report(a loadArgs, start, end time.Time) *Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	var latencies []float64
	var finalTimes []time.Time
	var lost uint64
	var lastFinal time.Time
	for _, info := range t.txs {
		switch {
		case !info.finalAt.IsZero():
			latencies = append(latencies, info.finalAt.Sub(info.scheduledAt).Seconds())
			finalTimes = append(finalTimes, info.finalAt)
			if info.finalAt.After(lastFinal) {
				lastFinal = info.finalAt
			}
		case info.accepted:
			lost++
		}
	}
	overall := 0.0
	if !lastFinal.IsZero() && lastFinal.After(start) {
		overall = float64(len(finalTimes)) / lastFinal.Sub(start).Seconds()
	}
	sustained, ok := sustainedRate(finalTimes, end)
	if !ok {
		sustained = overall
	}
	proposers := map[string]bool{}
	var blocks, maxTxs uint64
	for _, b := range t.blocks {
		if b.at.Before(start) || b.at.After(end) {
			continue
		}
		blocks++
		proposers[b.proposer] = true
		maxTxs = max(maxTxs, uint64(b.txCount))
	}
	return &Report{
		Nodes: a.rpc, Variant: a.variant, TxBytes: a.txBytes, Accounts: uint64(a.accounts),
		Batch: a.batch, DurationS: a.duration.Seconds(), OfferedTPS: a.rate,
		Scheduled: t.scheduled.Load(), Submitted: t.submitted.Load(), Accepted: t.accepted.Load(),
		FinalCount: uint64(len(latencies)), Rejected: t.rejected, RejectedTotal: t.rejectedTotal.Load(),
		MaxBacklog: t.maxBacklog.Load(), UnsentBacklog: t.unsent.Load(),
		SustainedFinalTPS: sustained, OverallFinalTPS: overall, Latency: summarize(latencies),
		Lost: lost, Duplicated: t.duplicated, GraceS: a.grace.Seconds(),
		Blocks: blocks, Proposers: uint64(len(proposers)), MaxTxsPerBlock: maxTxs, NodeUsage: []struct{}{},
	}
}

func (r *Report) table() string {
	ms := func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f ms", *v*1000)
	}
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "  %-34s %s\n", k, v) }
	row("CometBFT variant", r.Variant)
	row("offered", fmt.Sprintf("%.0f tx/s for %.0f s (batch %d, %d-byte txs)", r.OfferedTPS, r.DurationS, r.Batch, r.TxBytes))
	row("scheduled / submitted / accepted", fmt.Sprintf("%d / %d / %d", r.Scheduled, r.Submitted, r.Accepted))
	row("final", fmt.Sprint(r.FinalCount))
	row("rejected", fmt.Sprint(r.RejectedTotal))
	for reason, n := range r.Rejected {
		row("  "+reason, fmt.Sprint(n))
	}
	row("backlog max / unsent at end", fmt.Sprintf("%d / %d", r.MaxBacklog, r.UnsentBacklog))
	row("sustained final TPS", fmt.Sprintf("%.1f", r.SustainedFinalTPS))
	row("overall final TPS", fmt.Sprintf("%.1f", r.OverallFinalTPS))
	row("submit→final p50 / p95 / p99 / max", fmt.Sprintf("%s / %s / %s / %s", ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99), ms(r.Latency.Max)))
	row("lost (grace)", fmt.Sprintf("%d (%.0f s)", r.Lost, r.GraceS))
	row("duplicated", fmt.Sprint(r.Duplicated))
	row("blocks / proposers / max txs", fmt.Sprintf("%d / %d / %d", r.Blocks, r.Proposers, r.MaxTxsPerBlock))
	return b.String()
}
