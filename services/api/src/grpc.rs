//! [`PublicApiService`]: the generated `PublicApi` trait over the [`Backends`]. The REST gateway
//! calls the same trait methods in process, so both faces of the API answer alike.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use coinjecture_primitives as p;
use coinjecture_primitives::Height;
use coinjecture_primitives::limits::{MAX_BATCH_ITEMS, MAX_MESSAGE_BYTES};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::public_api_server::{PublicApi, PublicApiServer};
use coinjecture_proto::{convert, ports};
use futures::{Stream, StreamExt};
use prost::Message;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::backend::Backends;
use crate::error::{consensus_upstream, upstream};
use crate::ledger_view::LedgerView as _;
use crate::rate_limit::{Admission, SlotGuard, cost};

/// Default and maximum of `ListBlocks.limit`.
pub const DEFAULT_BLOCK_PAGE: u32 = 20;
pub const MAX_BLOCK_PAGE: u32 = 100;
/// Maximum of `ListAccountTransactions.limit`.
pub const MAX_HISTORY_PAGE: u32 = 1_000;
/// How often `StreamBlocks` looks at the ledger tip when it has no tip updates.
const TIP_POLL: Duration = Duration::from_millis(200);
/// With tip updates, still look at the tip this often (a missed announcement costs little).
const WATCH_FALLBACK_POLL: Duration = Duration::from_secs(2);
/// Blocks `StreamBlocks` reads from the ledger at a time (a block may be up to 16 MiB): 8 small
/// ones, or one at a time once a block read was larger than [`STREAM_SMALL_BLOCK`], so an unread
/// stream holds at most about one large block.
const STREAM_READ_CHUNK: u64 = 8;
const STREAM_SMALL_BLOCK: usize = 64 * 1024;
/// Room under the 16 MiB message limit for a `ListBlocks` answer's framing.
const LIST_BLOCKS_BUDGET: usize = MAX_MESSAGE_BYTES - 64 * 1024;
/// gRPC message limit of the service.
pub(crate) const GRPC_MESSAGE_LIMIT: usize = MAX_MESSAGE_BYTES + 64 * 1024;

/// What `GET /v1/status` shows beyond `GetStatusResponse`.
#[derive(Debug, Clone)]
pub(crate) struct StatusDetail {
    pub status: pb::GetStatusResponse,
    /// Millisecond block time of the tip (with the PoA extra data's remainder).
    pub latest_block_time_ms: i64,
    pub mempool_size: u64,
}

/// The `PublicApi` gRPC service.
#[derive(Debug, Clone)]
pub struct PublicApiService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backends: Backends,
    /// Software version reported by GetStatus.
    version: String,
    /// Set to true when the server stops: open block streams end.
    shutdown: watch::Sender<bool>,
    /// Cost accounting and stream caps (set by [`crate::router`]).
    admission: OnceLock<Arc<Admission>>,
    /// Largest `ListBlocks` answer, bytes.
    max_list_bytes: AtomicUsize,
    /// Block listings and stream reads at once, all clients: the ledger's SQLite pool has 4
    /// connections, and listings admitted by the budget would otherwise hold them all while a
    /// status or account lookup waits behind them (seen: an honest `/v1/status` unanswered for
    /// 16 s under full listings of 900 KiB transactions).
    heavy_reads: tokio::sync::Semaphore,
}

/// Block listings and stream reads in flight at once (see `Inner::heavy_reads`).
const HEAVY_READS: usize = 2;

/// The client's address: the connection's peer (set by the server for gRPC; the REST gateway
/// copies it onto the requests it makes).
pub(crate) fn peer_ip<T>(request: &Request<T>) -> Option<IpAddr> {
    request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical())
}

/// Marks a request whose body the REST middleware already charged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyCharged;

/// The body's cost, unless already charged.
fn body_cost<T>(request: &Request<T>, bytes: usize) -> f64 {
    if request.extensions().get::<BodyCharged>().is_some() { 0.0 } else { cost::body(bytes) }
}

fn exhausted(message: String) -> Status {
    Status::resource_exhausted(message)
}

impl PublicApiService {
    pub fn new(backends: Backends, version: impl Into<String>) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                backends,
                version: version.into(),
                shutdown,
                admission: OnceLock::new(),
                max_list_bytes: AtomicUsize::new(LIST_BLOCKS_BUDGET),
                heavy_reads: tokio::sync::Semaphore::new(HEAVY_READS),
            }),
        }
    }

    /// The admission state, made by `make` on first use.
    pub(crate) fn admission_or(&self, make: impl FnOnce() -> Admission) -> Arc<Admission> {
        Arc::clone(self.inner.admission.get_or_init(|| Arc::new(make())))
    }

    /// Bounds `ListBlocks` answers (never above the message limit's budget).
    pub(crate) fn set_max_list_bytes(&self, bytes: usize) {
        self.inner.max_list_bytes.store(bytes.clamp(1, LIST_BLOCKS_BUDGET), Ordering::Relaxed);
    }

    /// Charges `work` to the caller, or `RESOURCE_EXHAUSTED` (no caller address: not charged).
    fn charge(&self, ip: Option<IpAddr>, work: f64) -> Result<(), Status> {
        match (ip, self.inner.admission.get()) {
            (Some(ip), Some(a)) => a.charge(ip, work).map_err(|r| exhausted(r.message(ip))),
            _ => Ok(()),
        }
    }

    /// [`Self::charge`] without counting a refusal (a stream waits instead).
    fn throttle(&self, ip: Option<IpAddr>, work: f64) -> Result<(), Status> {
        match (ip, self.inner.admission.get()) {
            (Some(ip), Some(a)) => a.charge_uncounted(ip, work).map_err(|r| exhausted(r.message(ip))),
            _ => Ok(()),
        }
    }

    /// Counts a refusal made outside admission (a REST body over the limit).
    pub(crate) fn count_refusal(&self, reason: crate::rate_limit::RefusalReason) {
        if let Some(a) = self.inner.admission.get() {
            a.refusals.count(reason);
        }
    }

    /// Charges `work` that was already done, whatever the budget says (the next request pays).
    fn debit(&self, ip: Option<IpAddr>, work: f64) {
        if let (Some(ip), Some(a)) = (ip, self.inner.admission.get()) {
            a.debit(ip, work);
        }
    }

    /// The tonic server for this service, with the chain's 16 MiB message limit.
    pub fn into_server(self) -> PublicApiServer<Self> {
        PublicApiServer::new(self)
            .max_decoding_message_size(GRPC_MESSAGE_LIMIT)
            .max_encoding_message_size(GRPC_MESSAGE_LIMIT)
    }

    /// Ends every open `StreamBlocks` stream (with `UNAVAILABLE`), for a graceful shutdown.
    pub fn end_streams(&self) {
        self.inner.shutdown.send_replace(true);
    }

    pub(crate) fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    /// GetStatus with the tip's millisecond time and the mempool size.
    pub(crate) async fn status_detail(&self) -> Result<StatusDetail, Status> {
        let b = self.backends();
        let (info, consensus, peers) = tokio::join!(b.ledger.get_chain_info(), b.consensus.status(), async {
            match &b.peers {
                None => 0,
                Some(peers) => match peers.connected_peers().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "p2p-gateway did not answer GetNetworkInfo; reporting 0 peers");
                        0
                    }
                },
            }
        });
        let info = info.map_err(upstream("ledger"))?;
        let consensus = consensus.map_err(consensus_upstream)?;
        // The tip's header alone (not the whole block: a status must stay cheap while the node
        // serves large blocks).
        let tip_header = pb::GetBlockRangeRequest {
            from_height: info.tip_height,
            limit: 1,
            headers_only: true,
            ..Default::default()
        };
        let tip = b.ledger.get_block_range(tip_header).await.map(|mut r| r.pop().and_then(|r| r.block?.header));
        let latest_block_time_ms = match tip {
            Ok(Some(h)) if h.block_index == info.tip_height => {
                let millis = p::PoaExtra::decode(&h.extra_data).map_or(0, |e| i64::from(e.timestamp_millis));
                h.timestamp.saturating_mul(1000).saturating_add(millis)
            }
            // The tip moved on or the read failed: the seconds are still right.
            _ => info.tip_timestamp.saturating_mul(1000),
        };
        Ok(StatusDetail {
            status: pb::GetStatusResponse {
                network_id: info.chain_id.clone(),
                chain_id: info.chain_id,
                block_height: info.tip_height,
                latest_block_hash: info.tip_hash,
                latest_block_time: info.tip_timestamp,
                validator: consensus.local_validator.map(|k| k.0.to_vec()).unwrap_or_default(),
                peers,
                syncing: consensus.syncing,
                version: self.inner.version.clone(),
                genesis_hash: info.genesis_hash,
                signing_paused: consensus.signing_paused.clone().unwrap_or_default(),
                oldest_block_height: info.oldest_block_height,
            },
            latest_block_time_ms,
            mempool_size: consensus.mempool_size,
        })
    }

    /// Mempool size and capacity (REST `GET /v1/mempool`; not part of `PublicApi`).
    pub(crate) async fn mempool_stats(&self) -> Result<pb::GetMempoolStatsResponse, Status> {
        let stats = self.backends().consensus.mempool_stats().await.map_err(consensus_upstream)?;
        Ok(ports::consensus::mempool_stats_to_pb(&stats))
    }

    pub(crate) async fn tip_height(&self) -> Result<u64, Status> {
        Ok(self.backends().ledger.get_chain_info().await.map_err(upstream("ledger"))?.tip_height)
    }

    /// Blocks `from..from + count` (fewer at the tip), as views carrying what `listing` asks.
    async fn block_range(&self, from: u64, count: u64, listing: Listing) -> Result<Vec<pb::BlockView>, Status> {
        let request = pb::GetBlockRangeRequest {
            from_height: from,
            limit: u32::try_from(count).unwrap_or(u32::MAX),
            headers_only: listing != Listing::Full,
            with_transaction_hashes: listing == Listing::Hashes,
            with_transactions_bytes: false,
        };
        let range = self.backends().ledger.get_block_range(request).await.map_err(upstream("ledger"))?;
        range.into_iter().map(|r| range_view(r, listing)).collect()
    }

    /// A turn among the block reads of listings and streams (see `Inner::heavy_reads`).
    async fn read_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Status> {
        self.inner.heavy_reads.acquire().await.map_err(|_| Status::unavailable("the API is shutting down"))
    }

    /// What each of `count` blocks from `from` will weigh in a `listing` (protobuf bytes, an
    /// upper bound), from the ledger's headers and stored lengths: no transaction is read, so
    /// a byte-bounded listing reads only the blocks that fit. A ledger older than
    /// `with_transactions_bytes` answers 0 for the transactions; the listing is then trimmed
    /// after reading, as before.
    async fn listed_sizes(&self, from: u64, count: u64, listing: Listing) -> Result<Vec<usize>, Status> {
        let request = pb::GetBlockRangeRequest {
            from_height: from,
            limit: u32::try_from(count).unwrap_or(u32::MAX),
            headers_only: true,
            with_transaction_hashes: false,
            with_transactions_bytes: listing == Listing::Full,
        };
        let range = self.backends().ledger.get_block_range(request).await.map_err(upstream("ledger"))?;
        range
            .into_iter()
            .map(|r| {
                let transactions = r.transaction_count as usize;
                // The stored MessagePack of a transaction (field names included) is longer
                // than its protobuf with the field's tag and length.
                let bodies = if listing == Listing::Full {
                    usize::try_from(r.transactions_bytes).unwrap_or(usize::MAX)
                } else {
                    0
                };
                let header = range_view(r, Listing::Headers)?.encoded_len();
                Ok(header.saturating_add(transactions * TRANSACTION_HASH_BYTES).saturating_add(bodies))
            })
            .collect()
    }
}

/// One transaction hash in a `BlockView`: 32 bytes, tag and length.
const TRANSACTION_HASH_BYTES: usize = 34;

/// What a block listing carries of each block's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    /// The transactions and their hashes (gRPC `ListBlocks`, REST `full=true`, `StreamBlocks`).
    Full,
    /// Their hashes only (the REST summary): the ledger hashes the stored transactions and
    /// sends neither them nor their decoded form.
    Hashes,
    /// Neither (`headers_only`): the ledger reads the block headers only.
    Headers,
}

/// A view of one `GetBlockRange` answer. A ledger that sent whole blocks although asked for
/// headers (one older than the field) is answered from them all the same.
fn range_view(r: pb::GetBlockRangeResponse, listing: Listing) -> Result<pb::BlockView, Status> {
    let whole = r.block.as_ref().is_some_and(|b| !b.transactions.is_empty());
    if listing == Listing::Full || whole {
        let mut view = view(r.block, r.block_hash)?;
        if listing != Listing::Full {
            if let Some(block) = &mut view.block {
                block.transactions = Vec::new();
            }
            if listing == Listing::Headers {
                view.transaction_hashes = Vec::new();
            }
        }
        return Ok(view);
    }
    let block = r.block.ok_or_else(|| Status::internal("ledger: answered without a block"))?;
    if listing == Listing::Hashes && r.transaction_hashes.len() != r.transaction_count as usize {
        return Err(Status::internal(format!(
            "ledger: answered {} transaction hashes for a block of {} transactions",
            r.transaction_hashes.len(),
            r.transaction_count
        )));
    }
    Ok(pb::BlockView {
        block: Some(block),
        block_hash: r.block_hash,
        transaction_hashes: r.transaction_hashes,
        transaction_count: r.transaction_count,
    })
}

/// A block as the API returns it: with its hash and its transactions' hashes.
fn view(block: Option<pb::Block>, block_hash: Vec<u8>) -> Result<pb::BlockView, Status> {
    let block = block.ok_or_else(|| Status::internal("ledger: answered without a block"))?;
    let transaction_hashes = block
        .transactions
        .iter()
        .map(|tx| p::Transaction::try_from(tx).map(|t| t.hash().0.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Status::internal(format!("ledger: stored block has a bad transaction: {e}")))?;
    let transaction_count = u32::try_from(transaction_hashes.len()).unwrap_or(u32::MAX);
    Ok(pb::BlockView { block: Some(block), block_hash, transaction_hashes, transaction_count })
}

/// How many of the leading items of `sizes` (encoded bytes each) fit in `budget` bytes of a
/// `ListBlocks` answer, at least one.
fn fitting(sizes: impl Iterator<Item = usize>, budget: usize) -> usize {
    let mut size = 0;
    let mut n = 0;
    for item in sizes {
        size += item + 8;
        if size > budget {
            return n.max(1);
        }
        n += 1;
    }
    n
}

fn check_limit(limit: u32, max: u32, default: u32) -> Result<u32, Status> {
    match limit {
        0 => Ok(default),
        l if l > max => Err(Status::invalid_argument(format!("limit: must be at most {max}, found {l}"))),
        l => Ok(l),
    }
}

type BlockStream = Pin<Box<dyn Stream<Item = Result<pb::StreamBlocksResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PublicApi for PublicApiService {
    async fn get_status(&self, _: Request<pb::GetStatusRequest>) -> Result<Response<pb::GetStatusResponse>, Status> {
        Ok(Response::new(self.status_detail().await?.status))
    }

    async fn get_block(&self, request: Request<pb::GetBlockRequest>) -> Result<Response<pb::GetBlockResponse>, Status> {
        let ledger = &self.backends().ledger;
        let block = match request.into_inner().selector {
            None => return Err(Status::invalid_argument("selector: set exactly one of height or hash")),
            Some(pb::get_block_request::Selector::Height(height)) => {
                let found = ledger.get_block_by_height(height).await.map_err(upstream("ledger"))?;
                view(found.block, found.block_hash)?
            }
            Some(pb::get_block_request::Selector::Hash(hash)) => {
                convert::hash32(&hash, "hash")?;
                let found = ledger.get_block_by_hash(hash.clone()).await.map_err(upstream("ledger"))?;
                view(found.block, hash)?
            }
        };
        Ok(Response::new(pb::GetBlockResponse { block: Some(block) }))
    }

    async fn list_blocks(
        &self,
        request: Request<pb::ListBlocksRequest>,
    ) -> Result<Response<pb::ListBlocksResponse>, Status> {
        let listing = if request.get_ref().headers_only { Listing::Headers } else { Listing::Full };
        self.list(request, listing).await
    }

    async fn get_transaction(
        &self,
        request: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::GetTransactionResponse>, Status> {
        let tx_hash = request.into_inner().tx_hash;
        convert::hash32(&tx_hash, "tx_hash")?;
        let found = self.backends().ledger.get_transaction(tx_hash).await.map_err(upstream("ledger"))?;
        Ok(Response::new(pb::GetTransactionResponse { transaction: found.transaction }))
    }

    async fn submit_transaction(
        &self,
        request: Request<pb::SubmitTransactionRequest>,
    ) -> Result<Response<pb::SubmitTransactionResponse>, Status> {
        let ip = peer_ip(&request);
        let body = body_cost(&request, request.get_ref().encoded_len());
        let tx =
            request.into_inner().transaction.ok_or_else(|| Status::invalid_argument("transaction: is required"))?;
        self.charge(ip, cost::TRANSACTION + body)?;
        let mut results = self.submit(vec![tx]).await?;
        Ok(Response::new(pb::SubmitTransactionResponse { result: results.pop() }))
    }

    async fn submit_transactions(
        &self,
        request: Request<pb::SubmitTransactionsRequest>,
    ) -> Result<Response<pb::SubmitTransactionsResponse>, Status> {
        let ip = peer_ip(&request);
        let body = body_cost(&request, request.get_ref().encoded_len());
        let transactions = request.into_inner().transactions;
        if transactions.len() > MAX_BATCH_ITEMS {
            return Err(Status::invalid_argument(format!(
                "transactions: {} items exceed the maximum {MAX_BATCH_ITEMS}",
                transactions.len()
            )));
        }
        self.charge(ip, transactions.len() as f64 * cost::TRANSACTION + body)?;
        let results = if transactions.is_empty() { Vec::new() } else { self.submit(transactions).await? };
        let accepted_count = u32::try_from(results.iter().filter(|r| r.accepted).count()).unwrap_or(u32::MAX);
        Ok(Response::new(pb::SubmitTransactionsResponse { results, accepted_count }))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let address = request.into_inner().address;
        convert::public_key(&address, "address")?;
        let found = self.backends().ledger.get_account(address).await.map_err(upstream("ledger"))?;
        Ok(Response::new(pb::GetAccountResponse { account: found.account, height: found.height }))
    }

    async fn list_account_transactions(
        &self,
        request: Request<pb::ListAccountTransactionsRequest>,
    ) -> Result<Response<pb::ListAccountTransactionsResponse>, Status> {
        let request = request.into_inner();
        convert::public_key(&request.address, "address")?;
        check_limit(request.limit, MAX_HISTORY_PAGE, 0)?;
        let page = self
            .backends()
            .ledger
            .get_account_history(pb::GetAccountHistoryRequest {
                address: request.address,
                page_token: request.page_token,
                limit: request.limit,
            })
            .await
            .map_err(upstream("ledger"))?;
        Ok(Response::new(pb::ListAccountTransactionsResponse {
            transactions: page.transactions,
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_validators(
        &self,
        request: Request<pb::GetValidatorsRequest>,
    ) -> Result<Response<pb::GetValidatorsResponse>, Status> {
        let height = request.into_inner().height;
        if height == Some(0) {
            return Err(Status::invalid_argument("height: must be at least 1 (genesis is not voted on)"));
        }
        if let Some(h) = height {
            // Sets are known up to the height being decided; above it the answer would be a guess.
            let tip = self.tip_height().await?;
            if h > tip.saturating_add(1) {
                return Err(Status::not_found(format!(
                    "height: {h} is above the height being decided ({}); validator sets are known up to it",
                    tip.saturating_add(1)
                )));
            }
        }
        let at = self.backends().consensus.validator_set(height.map(Height)).await.map_err(consensus_upstream)?;
        let mut validator_set = Some(ports::consensus::validator_set_to_pb(&at.set, at.activation_height));
        // A validator's peer id is its public key's (the node's network identity is its key).
        for v in validator_set.iter_mut().flat_map(|s| s.validators.iter_mut()) {
            if v.peer_id.is_empty() {
                v.peer_id = crate::peer_id::of_ed25519(&v.public_key).unwrap_or_default();
            }
        }
        Ok(Response::new(pb::GetValidatorsResponse { validator_set, height: at.height.get() }))
    }

    type StreamBlocksStream = BlockStream;

    async fn stream_blocks(
        &self,
        request: Request<pb::StreamBlocksRequest>,
    ) -> Result<Response<Self::StreamBlocksStream>, Status> {
        let ip = peer_ip(&request);
        let slot = match (ip, self.inner.admission.get()) {
            (Some(ip), Some(a)) => Some(a.streams.take(ip).map_err(exhausted)?),
            _ => None,
        };
        let state = StreamState {
            api: self.clone(),
            ip,
            _slot: slot,
            chunk: STREAM_READ_CHUNK,
            next: request.into_inner().from_height,
            buffer: VecDeque::new(),
            updates: self.backends().tip_updates.as_ref().map(|subscribe| subscribe()),
            shutdown: self.inner.shutdown.subscribe(),
            done: false,
        };
        Ok(Response::new(Box::pin(futures::stream::unfold(state, StreamState::step))))
    }
}

impl PublicApiService {
    /// `ListBlocks` with `listing` deciding what each block carries (the REST summary asks for
    /// [`Listing::Hashes`]). Charged per block read up front ([`cost::HEADER`] for headers,
    /// [`cost::BLOCK`] otherwise), then by the bytes sent and the transactions hashed.
    pub(crate) async fn list(
        &self,
        request: Request<pb::ListBlocksRequest>,
        listing: Listing,
    ) -> Result<Response<pb::ListBlocksResponse>, Status> {
        let ip = peer_ip(&request);
        let request = request.into_inner();
        let limit = u64::from(check_limit(request.limit, MAX_BLOCK_PAGE, DEFAULT_BLOCK_PAGE)?);
        let per_block = if listing == Listing::Headers { cost::HEADER } else { cost::BLOCK };
        self.charge(ip, limit as f64 * per_block)?;
        // Every block read of a listing (headers, sizes, transactions) within one turn.
        let _turn = self.read_turn().await?;
        let tip = self.tip_height().await?;
        let budget = self.inner.max_list_bytes.load(Ordering::Relaxed);
        // The heights to list, lowest first.
        let (mut from, mut count) = if request.descending {
            let top = request.from_height.unwrap_or(tip).min(tip);
            let bottom = top.saturating_sub(limit - 1);
            (bottom, top - bottom + 1)
        } else {
            let from = request.from_height.unwrap_or(0);
            (from, if from > tip { 0 } else { limit.min(tip - from + 1) })
        };
        if listing != Listing::Headers && count > 1 {
            // Listing transactions (or their hashes) means reading them: first the headers,
            // with the transaction counts and stored sizes, to see how many blocks fit in the
            // byte budget; then only those are read.
            let mut sizes = self.listed_sizes(from, count, listing).await?;
            if request.descending {
                sizes.reverse();
            }
            let fit = fitting(sizes.into_iter(), budget) as u64;
            if request.descending {
                from += count - fit.min(count);
            }
            count = fit.min(count);
        }
        let mut blocks = if count == 0 { Vec::new() } else { self.block_range(from, count, listing).await? };
        if request.descending {
            blocks.reverse();
        }
        if listing == Listing::Hashes {
            let hashed: u64 = blocks.iter().map(|b| u64::from(b.transaction_count)).sum();
            self.debit(ip, hashed as f64 * cost::TRANSACTION_HASHED);
        }
        // Bounded by bytes (always at least one block: one block fits by the chain's rules).
        blocks.truncate(fitting(blocks.iter().map(Message::encoded_len), budget));
        self.debit(ip, cost::bytes(blocks.iter().map(|b| b.encoded_len()).sum()));
        let last = blocks.last().and_then(|b| b.block.as_ref()?.header.as_ref()).map(|h| h.block_index);
        let next_height = match (last, request.descending) {
            (Some(h), false) if h < tip => Some(h + 1),
            (Some(h), true) if h > 0 => Some(h - 1),
            _ => None,
        };
        Ok(Response::new(pb::ListBlocksResponse { blocks, next_height }))
    }

    async fn submit(&self, transactions: Vec<pb::Transaction>) -> Result<Vec<pb::TransactionResult>, Status> {
        let n = transactions.len();
        let span = tracing::info_span!("submit transactions", txs = n);
        // Sealed once here (encoded and hashed once for the whole way in); a malformed one gets
        // its own result.
        let (sealed, refused) = ports::consensus::seal_all(&transactions, "transactions");
        let sealed_count = sealed.len();
        let verdicts = if sealed.is_empty() {
            Vec::new()
        } else {
            match self.backends().consensus.submit(sealed).instrument(span).await {
                Ok(verdicts) => verdicts,
                Err(e) => {
                    if matches!(e, ports::consensus::ConsensusError::Overloaded { .. }) {
                        self.count_refusal(crate::rate_limit::RefusalReason::Backpressure);
                    }
                    return Err(consensus_upstream(e));
                }
            }
        };
        if verdicts.len() != sealed_count {
            return Err(Status::internal(format!(
                "consensus: answered {} results for {sealed_count} transactions",
                verdicts.len()
            )));
        }
        Ok(ports::consensus::merge_results(refused, verdicts)
            .iter()
            .map(ports::consensus::submit_result_to_pb)
            .collect())
    }
}

/// A `StreamBlocks` subscription: the next height to send and the blocks read but not yet sent.
/// It is pulled by the transport as the client reads (HTTP/2 flow control), so a slow client
/// never makes the server buffer more than one ledger read.
struct StreamState {
    api: PublicApiService,
    /// The client, charged per block sent.
    ip: Option<IpAddr>,
    /// This stream's place under the stream caps.
    _slot: Option<SlotGuard>,
    /// Blocks to read next time.
    chunk: u64,
    next: u64,
    buffer: VecDeque<pb::BlockView>,
    updates: Option<Pin<Box<dyn Stream<Item = ()> + Send>>>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

type Step = Option<(Result<pb::StreamBlocksResponse, Status>, StreamState)>;

impl StreamState {
    async fn step(mut self) -> Step {
        loop {
            if self.done {
                return None;
            }
            if let Some(block) = self.buffer.pop_front() {
                // Charged per block and byte; past the budget the stream slows down, it does not fail.
                let work = cost::BLOCK + cost::bytes(block.encoded_len());
                while let Err(e) = self.api.throttle(self.ip, work) {
                    if *self.shutdown.borrow() {
                        break;
                    }
                    tracing::trace!(error = %e.message(), "StreamBlocks throttled");
                    let shutdown = self.shutdown.changed();
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                        _ = shutdown => {}
                    }
                }
                return Some((Ok(pb::StreamBlocksResponse { block: Some(block) }), self));
            }
            if *self.shutdown.borrow() {
                let message = format!("the node is shutting down; resume from height {}", self.next);
                return self.fail(Status::unavailable(message));
            }
            let tip = match self.api.tip_height().await {
                Ok(tip) => tip,
                Err(e) => return self.fail(e),
            };
            if self.next <= tip {
                let count = (tip - self.next + 1).min(self.chunk);
                let read = async {
                    let _turn = self.api.read_turn().await?;
                    self.api.block_range(self.next, count, Listing::Full).await
                };
                match read.await {
                    Ok(blocks) if !blocks.is_empty() => {
                        let largest = blocks.iter().map(Message::encoded_len).max().unwrap_or(0);
                        self.chunk = if largest > STREAM_SMALL_BLOCK { 1 } else { STREAM_READ_CHUNK };
                        self.next += blocks.len() as u64;
                        self.buffer.extend(blocks);
                    }
                    Ok(_) => self.wait().await,
                    Err(e) => return self.fail(e),
                }
            } else {
                self.wait().await;
            }
        }
    }

    fn fail(mut self, status: Status) -> Step {
        self.done = true;
        Some((Err(status), self))
    }

    /// Until the finalized height may have changed, or the server stops.
    async fn wait(&mut self) {
        let shutdown = self.shutdown.changed();
        let updates_ended = match &mut self.updates {
            Some(updates) => tokio::select! {
                update = updates.next() => update.is_none(),
                _ = tokio::time::sleep(WATCH_FALLBACK_POLL) => false,
                _ = shutdown => false,
            },
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(TIP_POLL) => {}
                    _ = shutdown => {}
                }
                false
            }
        };
        if updates_ended {
            // The announcer is gone: fall back to polling.
            self.updates = None;
        }
    }
}
