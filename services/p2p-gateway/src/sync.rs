//! Block sync over libp2p request-response.
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

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use coinjecture_proto::client::{TracedChannel, traced};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::ledger_client::LedgerClient;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use prost::Message as _;
use tonic::transport::Channel;

use crate::config::{ENVELOPE_MARGIN_BYTES, MAX_SYNC_BLOCKS};
use crate::error::BlockSourceError;

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
}

/// Where a gateway finds the finalized blocks it serves to peers. The node implements it with
/// a Ledger gRPC client (`Ledger.GetBlockRange`); tests use [`MemoryBlockSource`].
#[async_trait::async_trait]
pub trait BlockSource: Send + Sync + 'static {
    /// Finalized blocks (with certificates) from `from_height`, at most `count` of them,
    /// ascending by one; fewer (or none) when the chain is shorter. A source should stop once the
    /// blocks' encoded size reaches `max_bytes` (the gateway trims to that budget anyway, keeping
    /// at least one block), so a range of large blocks never sits in memory whole.
    async fn blocks(&self, from_height: u64, count: u32, max_bytes: usize) -> Result<Vec<pb::Block>, BlockSourceError>;
}

/// A source without blocks, for nodes that do not serve sync.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlocks;

#[async_trait::async_trait]
impl BlockSource for NoBlocks {
    async fn blocks(
        &self,
        _from_height: u64,
        _count: u32,
        _max_bytes: usize,
    ) -> Result<Vec<pb::Block>, BlockSourceError> {
        Ok(Vec::new())
    }
}

/// Blocks held in memory, keyed by height.
#[derive(Debug, Default)]
pub struct MemoryBlockSource {
    blocks: RwLock<BTreeMap<u64, pb::Block>>,
}

impl MemoryBlockSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a block at its header's height; blocks without a header are skipped.
    pub fn insert(&self, block: pb::Block) {
        let Some(height) = block.header.as_ref().map(|h| h.block_index) else { return };
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

#[async_trait::async_trait]
impl BlockSource for MemoryBlockSource {
    async fn blocks(&self, from_height: u64, count: u32, max_bytes: usize) -> Result<Vec<pb::Block>, BlockSourceError> {
        let blocks = self.blocks.read().map_err(|_| BlockSourceError("poisoned lock".into()))?;
        let mut out = Vec::new();
        let mut next = from_height;
        let mut bytes = 0usize;
        for (&height, block) in blocks.range(from_height..) {
            if height != next || out.len() >= count as usize || bytes >= max_bytes {
                break;
            }
            bytes += block.encoded_len();
            out.push(block.clone());
            next = next.saturating_add(1);
        }
        Ok(out)
    }
}

/// Serves sync from the ledger over gRPC (`Ledger.GetBlockRange`): the node's block source.
#[derive(Debug, Clone)]
pub struct LedgerBlockSource {
    client: LedgerClient<TracedChannel>,
}

impl LedgerBlockSource {
    /// A source over a ledger client; raises its decoding limit to the chain's 16 MiB.
    pub fn new(client: LedgerClient<TracedChannel>) -> Self {
        Self { client: client.max_decoding_message_size(MAX_MESSAGE_BYTES + ENVELOPE_MARGIN_BYTES) }
    }

    /// A source over a channel to the ledger service (calls carry the caller's trace context).
    pub fn from_channel(channel: Channel) -> Self {
        Self::new(LedgerClient::new(traced(channel)))
    }
}

#[async_trait::async_trait]
impl BlockSource for LedgerBlockSource {
    async fn blocks(&self, from_height: u64, count: u32, max_bytes: usize) -> Result<Vec<pb::Block>, BlockSourceError> {
        let request =
            pb::GetBlockRangeRequest { from_height, limit: count.clamp(1, MAX_SYNC_BLOCKS), ..Default::default() };
        let mut stream = self
            .client
            .clone()
            .get_block_range(request)
            .await
            .map_err(|s| BlockSourceError(format!("Ledger.GetBlockRange: {}", s.message())))?
            .into_inner();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // Dropping the stream early cancels the rest of the range.
        while bytes < max_bytes {
            match stream.message().await {
                Ok(Some(item)) => {
                    let Some(block) = item.block else { break };
                    bytes += block.encoded_len();
                    out.push(block);
                }
                Ok(None) => break,
                Err(s) => {
                    if out.is_empty() {
                        return Err(BlockSourceError(format!("Ledger.GetBlockRange: {}", s.message())));
                    }
                    break;
                }
            }
        }
        Ok(out)
    }
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

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
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

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
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

    fn block(height: u64, data: usize) -> pb::Block {
        pb::Block {
            header: Some(pb::BlockHeader { block_index: height, extra_data: vec![0; data], ..Default::default() }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn memory_source_answers_a_contiguous_range() {
        let source = MemoryBlockSource::new();
        for h in [1, 2, 3, 5] {
            source.insert(block(h, 0));
        }
        let got = source.blocks(1, 10, usize::MAX).await.unwrap();
        assert_eq!(got.iter().map(|b| b.header.as_ref().unwrap().block_index).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(source.blocks(2, 1, usize::MAX).await.unwrap().len(), 1);
        assert!(source.blocks(4, 10, usize::MAX).await.unwrap().is_empty());
        // The byte budget stops the range (after at least one block).
        assert_eq!(source.blocks(1, 10, 1).await.unwrap().len(), 1);
    }

    #[test]
    fn budget_keeps_at_least_one_block() {
        let blocks = vec![block(1, 100), block(2, 100), block(3, 100)];
        assert_eq!(within_budget(blocks.clone(), 10).len(), 1);
        assert_eq!(within_budget(blocks.clone(), 250).len(), 2);
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
        codec.write_response(&proto, &mut buf, SyncResponse { blocks: vec![block(1, 2000)] }).await.unwrap();
        let err = codec.read_response(&proto, &mut buf.as_slice()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Garbage never panics.
        assert!(codec.read_request(&proto, &mut [0u8, 0, 0, 3, 0xff, 0xff, 0xff].as_slice()).await.is_err());
    }
}
