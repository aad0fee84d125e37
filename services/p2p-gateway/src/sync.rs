//! Block sync over libp2p request-response.
//!
//! The responder serves from the ledger's port ([`LedgerPort::blocks`]): the ledger itself in one
//! process, a `RemoteLedger` split; [`MemoryBlockSource`] in tests.
//!
//! Wire format on `/coinjecture/<network_id>/sync/1`: each side writes one frame, a 4-byte
//! big-endian length then that many bytes of protobuf — [`SyncRequest`] one way, [`SyncResponse`]
//! the other. Lengths are checked before anything is allocated. A responder answers at most
//! [`crate::config::MAX_SYNC_BLOCKS`] blocks and at most its byte budget (but always at least one
//! block when it has one), so a requester keeps asking from the next height until it has what it
//! wanted or gets an empty answer.

use std::collections::BTreeMap;
use std::io;
use std::sync::RwLock;

use coinjecture_primitives::consensus::Evidence;
use coinjecture_primitives::{CommitCertificate, Height, PublicKey, SealedBlock, SealedTransaction, UnixMillis};
use coinjecture_proto::ports::ledger::{
    AccountAtTip, Applied, ChainInfo, CheckedTransactions, Execution, LedgerPort, LedgerPortError, LedgerResult,
    StoredBlock, Tip, block_to_pb, stored_block_from_pb,
};
use coinjecture_proto::v1 as pb;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use prost::Message as _;

use crate::config::MAX_SYNC_BLOCKS;

/// Largest request frame: two integers.
const MAX_REQUEST_BYTES: usize = 64;

/// Asks for finalized blocks `from_height ..< from_height + count`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SyncRequest {
    /// First height wanted.
    #[prost(uint64, tag = "1")]
    pub from_height: u64,
    /// Most blocks wanted, 1 to 1,000.
    #[prost(uint32, tag = "2")]
    pub count: u32,
}

/// Finalized blocks with their commit certificates, heights ascending by one from the request's
/// `from_height`; empty when the responder has none of them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SyncResponse {
    /// The blocks.
    #[prost(message, repeated, tag = "1")]
    pub blocks: Vec<pb::Block>,
    /// Set (with no blocks) when the responder pruned the first height asked for
    /// (`ledger.keep_blocks`): the lowest height it serves. The requester asks another peer.
    #[prost(uint64, optional, tag = "2")]
    pub oldest_height: Option<u64>,
}

/// A [`LedgerPort`] impl for a block-serving double: the given methods, and "not offered" for
/// the rest.
macro_rules! serves_blocks_only {
    ($ty:ty, { $($served:tt)* }) => {
        #[async_trait::async_trait]
        impl LedgerPort for $ty {
        $($served)*
        async fn chain_info(&self) -> LedgerResult<ChainInfo> {
            Err(LedgerPortError::Unimplemented("chain_info"))
        }
        async fn tip(&self) -> LedgerResult<Tip> {
            Err(LedgerPortError::Unimplemented("tip"))
        }
        async fn account(&self, _: &PublicKey) -> LedgerResult<AccountAtTip> {
            Err(LedgerPortError::Unimplemented("account"))
        }
        async fn check_transactions(&self, _: &[SealedTransaction]) -> LedgerResult<CheckedTransactions> {
            Err(LedgerPortError::Unimplemented("check_transactions"))
        }
        async fn execute_block(&self, _: &SealedBlock, _: bool) -> LedgerResult<Execution> {
            Err(LedgerPortError::Unimplemented("execute_block"))
        }
        async fn apply_block(&self, _: &SealedBlock, _: &CommitCertificate) -> LedgerResult<Applied> {
            Err(LedgerPortError::Unimplemented("apply_block"))
        }
        async fn record_evidence(&self, _: &Evidence, _: UnixMillis) -> LedgerResult<bool> {
            Err(LedgerPortError::Unimplemented("record_evidence"))
        }
        async fn recorded_evidence(&self, _: u32) -> LedgerResult<Vec<(Evidence, UnixMillis)>> {
            Err(LedgerPortError::Unimplemented("recorded_evidence"))
        }
        }
    };
}

/// A ledger without blocks, for gateways that do not serve sync (benchmarks, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlocks;

serves_blocks_only!(NoBlocks, {
    async fn block_by_height(&self, _: Height) -> LedgerResult<Option<StoredBlock>> {
        Ok(None)
    }
    async fn blocks(&self, _: Height, _: u32, _: usize) -> LedgerResult<Vec<StoredBlock>> {
        Ok(Vec::new())
    }
});

/// Finalized blocks held in memory, keyed by height: a test double of the ledger that serves
/// sync (only [`LedgerPort::blocks`] and [`LedgerPort::block_by_height`]).
#[derive(Debug, Default)]
pub struct MemoryBlockSource {
    blocks: RwLock<BTreeMap<Height, pb::Block>>,
}

impl MemoryBlockSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a block at its header's height; blocks without a header are skipped.
    pub fn insert(&self, block: pb::Block) {
        let Some(height) = block.header.as_ref().map(|h| Height(h.block_index)) else { return };
        if let Ok(mut blocks) = self.blocks.write() {
            blocks.insert(height, block);
        }
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.blocks.read().map(|b| b.len()).unwrap_or(0)
    }

    /// True when no block is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn stored(block: &pb::Block) -> LedgerResult<StoredBlock> {
    stored_block_from_pb(block, "block").map_err(|e| LedgerPortError::Corrupt(e.to_string()))
}

serves_blocks_only!(MemoryBlockSource, {
    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        let blocks = self.blocks.read().map_err(|_| LedgerPortError::Internal("poisoned lock".into()))?;
        blocks.get(&height).map(stored).transpose()
    }

    async fn blocks(&self, from_height: Height, count: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>> {
        let blocks = self.blocks.read().map_err(|_| LedgerPortError::Internal("poisoned lock".into()))?;
        let mut out = Vec::new();
        let mut next = from_height;
        let mut bytes = 0usize;
        for (&height, block) in blocks.range(from_height..) {
            if height != next || out.len() >= count as usize || bytes >= max_bytes {
                break;
            }
            bytes += block.encoded_len();
            out.push(stored(block)?);
            next = next.saturating_add(1);
        }
        Ok(out)
    }
});

/// A pruning node's blocks, for tests: [`MemoryBlockSource`] whose blocks below `oldest` answer
/// [`LedgerPortError::Pruned`] (as a ledger with `ledger.keep_blocks` does).
#[derive(Debug, Default)]
pub struct PrunedBlockSource {
    /// The blocks held (those below `oldest` are never served).
    pub blocks: MemoryBlockSource,
    /// The lowest height served.
    pub oldest: Height,
}

impl PrunedBlockSource {
    fn refuse(&self, height: Height) -> LedgerResult<()> {
        if height < self.oldest {
            return Err(LedgerPortError::Pruned {
                height,
                oldest: self.oldest,
                message: format!("block {height} is pruned: this node keeps the blocks from height {} on", self.oldest),
            });
        }
        Ok(())
    }
}

serves_blocks_only!(PrunedBlockSource, {
    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        self.refuse(height)?;
        self.blocks.block_by_height(height).await
    }

    async fn blocks(&self, from_height: Height, count: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>> {
        self.refuse(from_height)?;
        self.blocks.blocks(from_height, count, max_bytes).await
    }
});

/// What the gateway answers a sync request with: the finalized blocks (with certificates; genesis
/// has none and is never served) the ledger holds from `from_height`, at most `count`, reading no
/// more than about `max_bytes` of transactions. The same call in both deployments: the ledger
/// itself in one process, a `RemoteLedger` split.
pub(crate) async fn served_blocks(
    ledger: &dyn LedgerPort,
    from_height: Height,
    count: u32,
    max_bytes: usize,
) -> LedgerResult<Vec<pb::Block>> {
    let stored = ledger.blocks(from_height, count.clamp(1, MAX_SYNC_BLOCKS), max_bytes).await?;
    Ok(stored.iter().filter(|b| b.certificate.is_some()).map(block_to_pb).collect())
}

/// Trims `blocks` to the byte budget, keeping at least the first block.
pub(crate) fn within_budget(blocks: Vec<pb::Block>, max_bytes: usize) -> Vec<pb::Block> {
    let mut total = 0usize;
    let mut out = Vec::with_capacity(blocks.len());
    for block in blocks {
        // 1 tag byte + up to 5 length bytes per repeated element.
        let size = block.encoded_len() + 6;
        if !out.is_empty() && total + size > max_bytes {
            break;
        }
        total += size;
        out.push(block);
    }
    out
}

/// The request-response codec of the sync protocol.
#[derive(Debug, Clone)]
pub struct SyncCodec {
    max_response_bytes: usize,
}

impl SyncCodec {
    /// A codec accepting responses up to `max_response_bytes`.
    pub fn new(max_response_bytes: usize) -> Self {
        Self { max_response_bytes }
    }
}

pub(crate) async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes exceeds {max}")));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

pub(crate) async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid_data(e: prost::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io, MAX_REQUEST_BYTES).await?;
        SyncRequest::decode(frame.as_slice()).map_err(invalid_data)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io, self.max_response_bytes).await?;
        SyncResponse::decode(frame.as_slice()).map_err(invalid_data)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: SyncRequest) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.encode_to_vec()).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: SyncResponse) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.encode_to_vec()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::Height;

    fn block(height: u64, data: usize) -> pb::Block {
        let header = coinjecture_primitives::BlockHeader {
            codec_version: 1,
            block_index: Height(height),
            extra_data: vec![0; data],
            ..Default::default()
        };
        pb::Block::from(&coinjecture_primitives::Block { header, transactions: Vec::new() })
    }

    /// A transfer carrying `data` bytes.
    pub(crate) fn transfer(data: usize) -> pb::Transaction {
        pb::Transaction::from(&coinjecture_primitives::Transaction {
            codec_version: 1,
            tx_type: coinjecture_primitives::TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 1,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: coinjecture_primitives::Signature([0; 64]),
            data: vec![0xAA; data],
            timestamp: 0,
        })
    }

    #[tokio::test]
    async fn memory_source_answers_a_contiguous_range() {
        let source = MemoryBlockSource::new();
        for h in [1, 2, 3, 5] {
            source.insert(block(h, 0));
        }
        let got = source.blocks(Height(1), 10, usize::MAX).await.unwrap();
        assert_eq!(got.iter().map(|b| b.height).collect::<Vec<_>>(), vec![Height(1), Height(2), Height(3)]);
        assert_eq!(source.blocks(Height(2), 1, usize::MAX).await.unwrap().len(), 1);
        assert!(source.blocks(Height(4), 10, usize::MAX).await.unwrap().is_empty());
        // The byte budget stops the range (after at least one block).
        let big = |height| pb::Block { transactions: vec![transfer(10)], ..block(height, 0) };
        let heavy = MemoryBlockSource::new();
        for h in [1, 2] {
            heavy.insert(big(h));
        }
        assert_eq!(heavy.blocks(Height(1), 10, 1).await.unwrap().len(), 1);
    }

    #[test]
    fn budget_keeps_at_least_one_block() {
        let blocks = vec![block(1, 100), block(2, 100), block(3, 100)];
        assert_eq!(within_budget(blocks.clone(), 10).len(), 1);
        // 1 tag byte + up to 5 length bytes each.
        let one = blocks[0].encoded_len() + 6;
        assert_eq!(within_budget(blocks.clone(), 2 * one + one / 2).len(), 2);
        assert_eq!(within_budget(blocks, 10_000).len(), 3);
    }

    #[tokio::test]
    async fn frames_round_trip_and_oversized_frames_fail() {
        use libp2p::request_response::Codec as _;
        let proto = StreamProtocol::new("/test/sync/1");
        let mut codec = SyncCodec::new(1024);
        let mut buf = Vec::new();
        codec.write_request(&proto, &mut buf, SyncRequest { from_height: 7, count: 3 }).await.unwrap();
        let req = codec.read_request(&proto, &mut buf.as_slice()).await.unwrap();
        assert_eq!(req, SyncRequest { from_height: 7, count: 3 });

        let mut buf = Vec::new();
        codec
            .write_response(&proto, &mut buf, SyncResponse { blocks: vec![block(1, 2000)], oldest_height: None })
            .await
            .unwrap();
        let err = codec.read_response(&proto, &mut buf.as_slice()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Garbage never panics.
        assert!(codec.read_request(&proto, &mut [0u8, 0, 0, 3, 0xff, 0xff, 0xff].as_slice()).await.is_err());
    }
}
