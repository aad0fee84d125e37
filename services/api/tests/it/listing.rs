//! Block listings: the REST summary answers as it always did (from the ledger's headers and
//! transaction hashes, not whole blocks), `full=true` still carries the transactions, and a
//! headers-only listing (REST and gRPC) carries no transactions and is charged as light work.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use coinjecture_api::{ApiConfig, Backends, RateLimit};
use coinjecture_primitives::{
    CommitCertificate, Hash32, Height, PublicKey, SealedBlock, SealedTransaction, UnixMillis,
};
use coinjecture_proto::ports::ledger::{
    AccountAtTip, Applied, ChainInfo, CheckedTransactions, Execution, HeaderExtras, HistoryPage, IndexedTransaction,
    LedgerPort, LedgerResult, StoredBlock, StoredHeader, Tip,
};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::public_api_client::PublicApiClient;
use serde_json::Value;

use crate::support::{Chain, FakeConsensus, config, get, serve, start};

/// A chain of 4 blocks, the third with 3 transactions (the others 1).
async fn chain() -> Chain {
    let mut chain = Chain::new(2).await;
    let txs = (0..3).map(|i| chain.chain.next_transfer(i, chain.chain.accounts[(i + 1) % 3], 5)).collect();
    let block = chain.chain.push(txs);
    chain.ledger.apply_block(&block, &chain.chain.certificate(&block)).await.unwrap();
    chain.blocks.push(block);
    chain.push_transfer().await;
    chain
}

/// The summary the listing has always answered: the block's own JSON (`GET /v1/blocks/{h}`,
/// read whole) with its transactions replaced by their hashes.
fn summary_of(mut full: Value) -> Value {
    let hashes: Vec<Value> = full["transactions"].as_array().unwrap().iter().map(|t| t["hash"].clone()).collect();
    let map = full.as_object_mut().unwrap();
    map.remove("transactions").unwrap();
    map.insert("transaction_hashes".into(), hashes.into());
    full
}

#[tokio::test]
async fn the_summary_listing_answers_as_before_and_full_still_has_the_transactions() {
    let chain = chain().await;
    let api = start(&chain, config()).await;
    let mut whole = Vec::new();
    for h in 0..=4 {
        whole.push(get(&api.url(&format!("/v1/blocks/{h}"))).await.json());
    }
    assert_eq!(whole[3]["transaction_count"], 3);

    let page = get(&api.url("/v1/blocks?limit=100&order=asc")).await;
    assert_eq!(page.status, StatusCode::OK);
    let expected: Vec<Value> = whole.iter().cloned().map(summary_of).collect();
    assert_eq!(page.json(), serde_json::json!({ "blocks": expected, "next_from": null }));

    let down = get(&api.url("/v1/blocks?order=desc&limit=2&from=3")).await.json();
    assert_eq!(down, serde_json::json!({ "blocks": [expected[3], expected[2]], "next_from": 1 }));

    let full = get(&api.url("/v1/blocks?order=asc&limit=100&full=true")).await.json();
    assert_eq!(full, serde_json::json!({ "blocks": whole, "next_from": null }));
    assert_eq!(full["blocks"][3]["transactions"].as_array().unwrap().len(), 3);

    // Headers only: the summary without the hashes.
    let headers = get(&api.url("/v1/blocks?order=asc&limit=100&headers_only=true")).await.json();
    let without_hashes: Vec<Value> = expected
        .iter()
        .cloned()
        .map(|mut b| {
            b.as_object_mut().unwrap().remove("transaction_hashes");
            b
        })
        .collect();
    assert_eq!(headers, serde_json::json!({ "blocks": without_hashes, "next_from": null }));
    let both = get(&api.url("/v1/blocks?full=true&headers_only=true")).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert!(both.json()["message"].as_str().unwrap().starts_with("headers_only:"));
}

#[tokio::test]
async fn a_grpc_headers_only_listing_has_counts_certificates_and_no_transactions() {
    let chain = chain().await;
    let api = start(&chain, config()).await;
    let mut client = PublicApiClient::connect(api.url("")).await.unwrap();
    let request = pb::ListBlocksRequest { from_height: Some(1), limit: 10, headers_only: true, ..Default::default() };
    let page = client.list_blocks(request).await.unwrap().into_inner();
    assert_eq!(page.blocks.len(), 4);
    for (view, block) in page.blocks.iter().zip(&chain.blocks) {
        let b = view.block.as_ref().unwrap();
        assert!(b.transactions.is_empty() && view.transaction_hashes.is_empty());
        assert_eq!(view.transaction_count as usize, block.transactions.len());
        assert_eq!(view.block_hash, block.hash().0.to_vec());
        assert_eq!(b.header.as_ref().unwrap().block_index, block.header.block_index.get());
        assert!(b.commit_certificate.is_some());
    }
    let request = pb::ListBlocksRequest { from_height: Some(3), limit: 1, ..Default::default() };
    let full = client.list_blocks(request).await.unwrap().into_inner().blocks.remove(0);
    assert_eq!(
        (full.block.unwrap().transactions.len(), full.transaction_hashes.len(), full.transaction_count),
        (3, 3, 3)
    );
}

#[tokio::test]
async fn a_headers_only_listing_is_charged_as_light_work() {
    let chain = chain().await;
    // 30 units: a listing of 100 blocks is charged 100 (up front, per block), one of 100
    // headers about 12.
    let config = ApiConfig { rate_limit: Some(RateLimit { per_second: 0.01, burst: 30 }), ..config() };
    let api = start(&chain, config).await;
    for _ in 0..2 {
        assert_eq!(get(&api.url("/v1/blocks?limit=100&headers_only=true")).await.status, StatusCode::OK);
    }
    let summaries = get(&api.url("/v1/blocks?limit=100&order=asc")).await;
    assert_eq!(summaries.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_byte_budget_bounds_summary_pages_which_go_on_where_they_stopped() {
    let chain = chain().await;
    let api = start(&chain, config()).await;
    let expected = get(&api.url("/v1/blocks?limit=100&order=asc")).await.json()["blocks"].clone();
    let tight = start(&chain, ApiConfig { max_list_bytes: 1, ..config() }).await;
    // Each page holds one block (at least one always comes back), and paging walks on.
    let mut next = Value::from(0);
    let mut walked = Vec::new();
    while let Some(from) = next.as_u64() {
        let page = get(&tight.url(&format!("/v1/blocks?order=asc&limit=100&from={from}"))).await.json();
        assert_eq!(page["blocks"].as_array().unwrap().len(), 1, "{page}");
        walked.push(page["blocks"][0].clone());
        next = page["next_from"].clone();
    }
    assert_eq!(Value::from(walked), expected);
    let down = get(&tight.url("/v1/blocks?limit=100&order=desc")).await.json();
    assert_eq!(down, serde_json::json!({ "blocks": [expected[4]], "next_from": 3 }));
    let headers = get(&tight.url("/v1/blocks?limit=100&order=desc&headers_only=true")).await.json();
    assert_eq!((headers["blocks"][0]["height"].as_u64(), headers["next_from"].as_u64()), (Some(4), Some(3)));
}

/// The ledger as the API reaches it, recording every range read of whole blocks.
struct Recording {
    inner: Arc<dyn LedgerPort>,
    ranges: Mutex<Vec<(u64, u32)>>,
}

impl Recording {
    /// The heights read whole (with transactions) since the last call.
    fn whole_reads(&self) -> Vec<u64> {
        let ranges = std::mem::take(&mut *self.ranges.lock().unwrap());
        ranges.iter().flat_map(|(from, limit)| *from..*from + u64::from(*limit)).collect()
    }
}

#[tonic::async_trait]
impl LedgerPort for Recording {
    async fn chain_info(&self) -> LedgerResult<ChainInfo> {
        self.inner.chain_info().await
    }
    async fn tip(&self) -> LedgerResult<Tip> {
        self.inner.tip().await
    }
    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        self.inner.block_by_height(height).await
    }
    async fn block_by_hash(&self, hash: &Hash32) -> LedgerResult<Option<StoredBlock>> {
        self.inner.block_by_hash(hash).await
    }
    async fn blocks(&self, from: Height, limit: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>> {
        self.ranges.lock().unwrap().push((from.get(), limit));
        self.inner.blocks(from, limit, max_bytes).await
    }
    async fn headers(&self, from: Height, limit: u32, extras: HeaderExtras) -> LedgerResult<Vec<StoredHeader>> {
        self.inner.headers(from, limit, extras).await
    }
    async fn transaction(&self, hash: &Hash32) -> LedgerResult<Option<IndexedTransaction>> {
        self.inner.transaction(hash).await
    }
    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip> {
        self.inner.account(address).await
    }
    async fn account_history(&self, address: &PublicKey, page_token: &[u8], limit: u32) -> LedgerResult<HistoryPage> {
        self.inner.account_history(address, page_token, limit).await
    }
    async fn check_transactions(&self, txs: &[SealedTransaction]) -> LedgerResult<CheckedTransactions> {
        self.inner.check_transactions(txs).await
    }
    async fn execute_block(&self, block: &SealedBlock, draft: bool) -> LedgerResult<Execution> {
        self.inner.execute_block(block, draft).await
    }
    async fn apply_block(&self, block: &SealedBlock, certificate: &CommitCertificate) -> LedgerResult<Applied> {
        self.inner.apply_block(block, certificate).await
    }
    async fn record_evidence(&self, evidence: &coinjecture_primitives::Evidence, at: UnixMillis) -> LedgerResult<bool> {
        self.inner.record_evidence(evidence, at).await
    }
    async fn recorded_evidence(&self, limit: u32) -> LedgerResult<Vec<(coinjecture_primitives::Evidence, UnixMillis)>> {
        self.inner.recorded_evidence(limit).await
    }
}

/// Whole-block listings (REST `full=true`, gRPC `ListBlocks`) are cut at `max_list_bytes` with
/// a height to go on from, and the ledger is asked for the transactions of the blocks sent
/// only: sizes come first, from the stored lengths.
#[tokio::test]
async fn a_byte_bounded_listing_of_whole_blocks_reads_only_the_blocks_it_sends() {
    // Blocks 1..=6 with 6, 1, 5, 2, 6, 3 transfers.
    let mut chain = Chain::new(0).await;
    for count in [6u64, 1, 5, 2, 6, 3] {
        let txs = (0..count)
            .map(|k| {
                let from = (k % 3) as usize;
                let nonce = chain.chain.nonce(from) + k / 3;
                chain.chain.transfer(from, chain.chain.accounts[(from + 1) % 3], 7, nonce)
            })
            .collect();
        let block = chain.chain.push(txs);
        chain.ledger.apply_block(&block, &chain.chain.certificate(&block)).await.unwrap();
        chain.blocks.push(block);
    }
    let all = get(&start(&chain, config()).await.url("/v1/blocks?limit=100&full=true&order=asc")).await.json();
    let all = all["blocks"].as_array().unwrap().clone();
    assert_eq!(all.len(), 7);

    let recording = Arc::new(Recording { inner: chain.ledger_service(), ranges: Mutex::new(Vec::new()) });
    let consensus = Arc::new(FakeConsensus::default());
    let backends =
        Backends { ledger: recording.clone(), consensus: Arc::clone(&consensus) as _, peers: None, tip_updates: None };
    // About two blocks of transfers a page.
    let api = serve(ApiConfig { max_list_bytes: 3_000, ..config() }, backends, consensus).await;

    for order in ["asc", "desc"] {
        let mut next = Value::from(if order == "asc" { 0 } else { 6 });
        let mut walked = Vec::new();
        let mut pages = 0;
        while let Some(from) = next.as_u64() {
            recording.whole_reads();
            let page = get(&api.url(&format!("/v1/blocks?limit=100&full=true&order={order}&from={from}"))).await;
            assert_eq!(page.status, StatusCode::OK);
            let page = page.json();
            let blocks = page["blocks"].as_array().unwrap();
            let size = page["blocks"].to_string().len();
            assert!(blocks.len() == 1 || size < 3 * 3_000, "page of {} blocks, {size} bytes of JSON", blocks.len());
            let mut heights: Vec<u64> = blocks.iter().map(|b| b["height"].as_u64().unwrap()).collect();
            heights.sort_unstable();
            assert_eq!(recording.whole_reads(), heights, "the ledger read whole only the blocks sent");
            walked.extend(blocks.iter().cloned());
            next = page["next_from"].clone();
            pages += 1;
        }
        if order == "desc" {
            walked.reverse();
        }
        assert_eq!(walked, all, "{order}: the pages, followed by next_from, list every block once");
        assert!((3..7).contains(&pages), "{order}: {pages} pages; a page holds blocks up to the byte bound");
    }

    // gRPC ListBlocks likewise.
    let mut client = PublicApiClient::connect(format!("http://{}", api.addr)).await.unwrap();
    let mut next = Some(0);
    let mut heights = Vec::new();
    while let Some(from) = next {
        recording.whole_reads();
        let page = client
            .list_blocks(pb::ListBlocksRequest { from_height: Some(from), limit: 100, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        let sent: Vec<u64> =
            page.blocks.iter().map(|b| b.block.as_ref().unwrap().header.as_ref().unwrap().block_index).collect();
        assert!(page.blocks.iter().all(|b| b.block.as_ref().unwrap().transactions.len() as u32 == b.transaction_count));
        assert_eq!(recording.whole_reads(), sent);
        heights.extend(sent);
        next = page.next_height;
    }
    assert_eq!(heights, (0..=6).collect::<Vec<u64>>());
}
