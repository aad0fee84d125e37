//! State-sync snapshots over libp2p request-response: `/coinjecture/<network_id>/snapshot/1`.
//!
//! Framing as the block-sync protocol ([`crate::sync`]): one frame each way, a 4-byte
//! big-endian length then protobuf, lengths checked before allocation. A request asks for the
//! manifests the peer holds, or for one chunk of one snapshot (height, root, index); the answer
//! is at most [`MAX_SNAPSHOT_RESPONSE_BYTES`] (a chunk is at most about 1 MiB). The gateway
//! neither decodes nor checks manifests and chunks: they are opaque bytes here, produced by the
//! ledger (`coinjecture_ledger::snapshot`) and verified by the joining node against the
//! validators' attestations and the manifest's chunk hashes. Serving costs a lookup in memory.

use std::io;
use std::sync::Arc;

use futures::{AsyncRead, AsyncWrite};
use libp2p::StreamProtocol;
use prost::Message as _;

use crate::sync::{read_frame, write_frame};

/// Largest request frame.
const MAX_REQUEST_BYTES: usize = 128;

/// Largest response frame: a 1 MiB chunk, or the manifests, with room to spare.
pub const MAX_SNAPSHOT_RESPONSE_BYTES: usize = 8 << 20;

/// How long one snapshot request may take before the requester tries another peer.
pub const SNAPSHOT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The snapshot protocol's name on a network.
pub fn snapshot_protocol(network_id: &str) -> String {
    format!("/coinjecture/{network_id}/snapshot/1")
}

/// What a node serves snapshots from (the ledger's kept snapshots in a node).
pub trait SnapshotSource: Send + Sync + std::fmt::Debug {
    /// The encoded manifests held, newest first.
    fn manifests(&self) -> Vec<Vec<u8>>;
    /// Chunk `index` of the snapshot at `height` whose root is `root`, if held.
    fn chunk(&self, height: u64, root: &[u8], index: u32) -> Option<Arc<Vec<u8>>>;
}

/// A request: the manifests (`chunk` unset), or one chunk.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SnapshotRequest {
    /// Set to ask for chunk `chunk` of the snapshot at `height` with `root`.
    #[prost(uint32, optional, tag = "1")]
    pub chunk: Option<u32>,
    #[prost(uint64, tag = "2")]
    pub height: u64,
    #[prost(bytes = "vec", tag = "3")]
    pub root: Vec<u8>,
}

/// The answer: the manifests, or the chunk (absent when not held).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SnapshotResponse {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub manifests: Vec<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub chunk: Option<Vec<u8>>,
}

/// The answer `source` gives `request` (nothing without a source), within the byte bound.
pub(crate) fn answer(source: Option<&Arc<dyn SnapshotSource>>, request: &SnapshotRequest) -> SnapshotResponse {
    let Some(source) = source else { return SnapshotResponse::default() };
    match request.chunk {
        None => {
            let mut total = 0usize;
            let manifests = source
                .manifests()
                .into_iter()
                .take_while(|m| {
                    total += m.len() + 8;
                    total <= MAX_SNAPSHOT_RESPONSE_BYTES - 64
                })
                .collect();
            SnapshotResponse { manifests, chunk: None }
        }
        Some(index) => SnapshotResponse {
            manifests: Vec::new(),
            chunk: source
                .chunk(request.height, &request.root, index)
                .filter(|c| c.len() + 64 <= MAX_SNAPSHOT_RESPONSE_BYTES)
                .map(|c| c.as_ref().clone()),
        },
    }
}

/// The request-response codec of the snapshot protocol.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCodec;

fn invalid_data(e: prost::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl libp2p::request_response::Codec for SnapshotCodec {
    type Protocol = StreamProtocol;
    type Request = SnapshotRequest;
    type Response = SnapshotResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SnapshotRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io, MAX_REQUEST_BYTES).await?;
        SnapshotRequest::decode(frame.as_slice()).map_err(invalid_data)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SnapshotResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io, MAX_SNAPSHOT_RESPONSE_BYTES).await?;
        SnapshotResponse::decode(frame.as_slice()).map_err(invalid_data)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: SnapshotRequest) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.encode_to_vec()).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: SnapshotResponse) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.encode_to_vec()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec as _;

    #[derive(Debug)]
    struct One;
    impl SnapshotSource for One {
        fn manifests(&self) -> Vec<Vec<u8>> {
            vec![vec![1, 2, 3]]
        }
        fn chunk(&self, height: u64, root: &[u8], index: u32) -> Option<Arc<Vec<u8>>> {
            (height == 5 && root == [9; 32] && index == 0).then(|| Arc::new(vec![7; 10]))
        }
    }

    #[tokio::test]
    async fn answers_round_trip_and_an_oversized_or_garbage_frame_is_refused() {
        let source: Arc<dyn SnapshotSource> = Arc::new(One);
        let manifests = answer(Some(&source), &SnapshotRequest::default());
        assert_eq!(manifests.manifests, vec![vec![1, 2, 3]]);
        let chunk = answer(Some(&source), &SnapshotRequest { chunk: Some(0), height: 5, root: vec![9; 32] });
        assert_eq!(chunk.chunk, Some(vec![7; 10]));
        let missing = answer(Some(&source), &SnapshotRequest { chunk: Some(1), height: 5, root: vec![9; 32] });
        assert_eq!(missing.chunk, None);
        assert_eq!(answer(None, &SnapshotRequest::default()), SnapshotResponse::default());

        let proto = StreamProtocol::new("/test/snapshot/1");
        let mut codec = SnapshotCodec;
        let mut buf = Vec::new();
        codec.write_response(&proto, &mut buf, chunk.clone()).await.unwrap();
        assert_eq!(codec.read_response(&proto, &mut buf.as_slice()).await.unwrap(), chunk);
        // A length above the bound is refused before anything is allocated.
        let huge = ((MAX_SNAPSHOT_RESPONSE_BYTES + 1) as u32).to_be_bytes();
        let err = codec.read_response(&proto, &mut huge.as_slice()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(codec.read_request(&proto, &mut [0u8, 0, 0, 3, 0xff, 0xff, 0xff].as_slice()).await.is_err());
    }
}
