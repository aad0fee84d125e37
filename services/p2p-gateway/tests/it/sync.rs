//! Block sync over request-response: a node 500 blocks behind catches up.

use std::sync::Arc;
use std::time::Duration;

use coinjecture_p2p_gateway::{MemoryBlockSource, P2pError};
use coinjecture_primitives as prim;
use coinjecture_primitives::{Height, Round};
use coinjecture_proto::ports::ledger::LedgerPort;
use coinjecture_proto::v1 as pb;
use futures::StreamExt;

use crate::support::*;

/// A transfer carrying `data` bytes (not signed: the gateway does not check transactions).
fn transfer(data: usize) -> prim::Transaction {
    prim::Transaction {
        codec_version: prim::CODEC_VERSION,
        tx_type: prim::TxType::Transfer,
        from: prim::PublicKey([1; 32]),
        to: prim::PublicKey([2; 32]),
        amount: 1,
        nonce: 0,
        gas_limit: 21_000,
        gas_price: 1,
        signature: prim::Signature([0; 64]),
        data: vec![0xAA; data],
        timestamp: 0,
    }
}

/// A chain of `n` empty blocks after a zero genesis hash, each with a dummy certificate for its
/// hash (the gateway does not verify certificates; consensus does).
pub(crate) fn chain(n: u64) -> Vec<pb::Block> {
    let mut parent = prim::Hash32::ZERO;
    (1..=n)
        .map(|height| {
            let extra = prim::PoaExtra {
                round: Round(0),
                timestamp_millis: 250,
                state_commitment: prim::Hash32([9; 32]),
                chain_id: None,
            };
            let block = prim::Block {
                header: prim::BlockHeader {
                    codec_version: prim::CODEC_VERSION,
                    block_index: Height(height),
                    timestamp: 1_700_000_000 + height as i64 * 2,
                    parent_hash: parent,
                    merkle_root: prim::Hash32::ZERO,
                    miner_address: prim::PublicKey([1; 32]),
                    commitment: prim::Hash32::ZERO,
                    difficulty_target: 0,
                    nonce: 0,
                    extra_data: extra.encode(),
                },
                transactions: Vec::new(),
            };
            let hash = block.hash();
            parent = hash;
            let mut pb_block = pb::Block::from(&block);
            pb_block.commit_certificate = Some(pb::CommitCertificate {
                height,
                round: 0,
                block_hash: hash.0.to_vec(),
                signatures: vec![pb::CommitSignature { validator: vec![1; 32], signature: vec![0; 64] }],
            });
            pb_block
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_500_blocks_behind_catches_up_over_request_response() {
    init_tracing();
    let full = Arc::new(MemoryBlockSource::new());
    for b in chain(500) {
        full.insert(b);
    }
    let server = TestNode::start_with(config(NET, 1, vec![]), full.clone()).await;
    // A peer with no blocks, so the requester has to fail over.
    let empty_peer = TestNode::start(config(NET, 2, vec![server.addr.clone()])).await;
    let behind = Arc::new(MemoryBlockSource::new());
    let lagging =
        TestNode::start_with(config(NET, 3, vec![server.addr.clone(), empty_peer.addr.clone()]), behind.clone()).await;
    wait_until(Duration::from_secs(10), "lagging node connected to both", || async { peer_count(&lagging).await == 2 })
        .await;

    let started = std::time::Instant::now();
    let mut stream = lagging.handle.request_blocks(1, 500, None).await.expect("first block found");
    let mut parent = prim::Hash32::ZERO;
    let mut height = 1u64;
    while let Some(synced) = stream.next().await {
        assert_eq!(synced.peer_id, server.handle.local_peer_id(), "only the full node has blocks");
        let block = prim::Block::try_from(&synced.block).expect("valid block");
        assert_eq!(block.header.block_index, Height(height));
        assert_eq!(block.header.parent_hash, parent, "hash chain at {height}");
        let certificate = synced.block.commit_certificate.as_ref().expect("certificate");
        assert_eq!(certificate.block_hash, block.hash().0.to_vec());
        parent = block.hash();
        behind.insert(synced.block);
        height += 1;
    }
    assert_eq!(behind.len(), 500, "caught up");
    tracing::info!(elapsed = ?started.elapsed(), "synced 500 blocks");
    assert_eq!(behind.blocks(Height(500), 10, usize::MAX).await.unwrap().len(), 1);

    // Asking beyond the tip: nobody has it.
    let err = lagging.handle.request_blocks(501, 10, None).await.unwrap_err();
    assert!(matches!(err, P2pError::NotFound(_)), "{err}");
    // Only the named peer, which has nothing.
    let err = lagging.handle.request_blocks(1, 10, Some(empty_peer.handle.local_peer_id())).await.unwrap_err();
    assert!(matches!(err, P2pError::NotFound(_)), "{err}");
    // A range that runs past the tip ends early.
    let tail: Vec<_> = lagging.handle.request_blocks(495, 100, None).await.unwrap().collect().await;
    assert_eq!(tail.len(), 6);
    // Limits.
    assert!(matches!(lagging.handle.request_blocks(1, 0, None).await, Err(P2pError::InvalidArgument { .. })));
    assert!(matches!(lagging.handle.request_blocks(1, 1001, None).await, Err(P2pError::InvalidArgument { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ranges_are_split_by_the_byte_budget_and_refetched() {
    init_tracing();
    let source = Arc::new(MemoryBlockSource::new());
    for mut b in chain(30) {
        // ~100 KB per block: with a 1 MB budget a response carries ~10 blocks.
        if let Some(h) = b.header.as_mut() {
            h.extra_data.clear();
        }
        b.transactions = vec![pb::Transaction::from(&transfer(100_000))];
        source.insert(b);
    }
    let mut cfg = config(NET, 1, vec![]);
    cfg.limits.max_sync_response_bytes = 1_000_000;
    let server = TestNode::start_with(cfg, source).await;
    let client = TestNode::start(config(NET, 2, vec![server.addr.clone()])).await;
    wait_until(Duration::from_secs(10), "connected", || async { peer_count(&client).await == 1 }).await;

    let batch = client.handle.request_block_batch(server.handle.local_peer_id(), 1, 30).await.unwrap();
    assert!(batch.blocks.len() < 30 && !batch.blocks.is_empty(), "{} blocks in one response", batch.blocks.len());
    let all: Vec<_> = client.handle.request_blocks(1, 30, None).await.unwrap().collect().await;
    assert_eq!(all.len(), 30);
    for (i, b) in all.iter().enumerate() {
        assert_eq!(b.block.header.as_ref().unwrap().block_index, i as u64 + 1);
    }
}

/// #22 item 3: a pruning peer asked for blocks it pruned answers at once that it pruned them
/// (with the lowest height it serves), and the requester takes them from another peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_peer_answers_pruned_at_once_and_sync_fails_over_to_an_archive_peer() {
    init_tracing();
    let blocks = chain(120);
    let pruned = Arc::new(coinjecture_p2p_gateway::PrunedBlockSource { oldest: Height(90), ..Default::default() });
    let archive = Arc::new(MemoryBlockSource::new());
    for b in &blocks {
        pruned.blocks.insert(b.clone());
        archive.insert(b.clone());
    }
    let pruned_node = TestNode::start_with(config(NET, 1, vec![]), pruned).await;
    let archive_node = TestNode::start_with(config(NET, 2, vec![]), archive).await;
    let lagging = TestNode::start(config(NET, 3, vec![pruned_node.addr.clone(), archive_node.addr.clone()])).await;
    wait_until(Duration::from_secs(10), "connected to both", || async { peer_count(&lagging).await == 2 }).await;

    // Asked directly: "pruned, the oldest I serve is 90", no blocks (bounded wait: never hangs).
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        lagging.handle.request_block_batch(pruned_node.handle.local_peer_id(), 1, 50),
    )
    .await
    .expect("a pruned peer answers, it does not hang")
    .unwrap();
    assert!(answer.blocks.is_empty());
    assert_eq!(answer.oldest_height, Some(90));
    // Within its window it serves as usual.
    let kept = lagging.handle.request_block_batch(pruned_node.handle.local_peer_id(), 95, 10).await.unwrap();
    assert_eq!(kept.blocks.len(), 10);
    assert_eq!(kept.oldest_height, None);

    // Sync from 1, whatever the peers' order: every block, the pruned range from the archive.
    let all: Vec<_> = lagging.handle.request_blocks(1, 120, None).await.unwrap().collect().await;
    assert_eq!(all.len(), 120);
    for (i, synced) in all.iter().enumerate() {
        assert_eq!(synced.block.header.as_ref().unwrap().block_index, i as u64 + 1);
        if i < 89 {
            assert_eq!(synced.peer_id, archive_node.handle.local_peer_id(), "block {} is pruned elsewhere", i + 1);
        }
    }
}

/// Catch-up read-ahead: the gateway port answers consecutive full requests in order (the second
/// from the fetch started after the first), and a request for other heights is not confused
/// by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_catch_up_requests_are_answered_in_order_with_read_ahead() {
    use coinjecture_proto::ports::gateway::GatewayPort;
    init_tracing();
    let source = Arc::new(MemoryBlockSource::new());
    let blocks = chain(250);
    for b in &blocks {
        source.insert(b.clone());
    }
    let server = TestNode::start_with(config(NET, 1, vec![]), source).await;
    let client = TestNode::start(config(NET, 2, vec![server.addr.clone()])).await;
    wait_until(Duration::from_secs(10), "connected", || async { peer_count(&client).await == 1 }).await;

    let port: &dyn GatewayPort = &client.handle;
    let heights = |got: &[(prim::Block, prim::CommitCertificate)]| -> Vec<u64> {
        got.iter().map(|(b, _)| b.header.block_index.get()).collect()
    };
    let first = port.request_blocks(Height(1), 100).await.unwrap();
    assert_eq!(heights(&first), (1..=100).collect::<Vec<_>>());
    let second = port.request_blocks(Height(101), 100).await.unwrap();
    assert_eq!(heights(&second), (101..=200).collect::<Vec<_>>());
    // Not the read-ahead's range (201..=300): fetched afresh.
    let other = port.request_blocks(Height(150), 10).await.unwrap();
    assert_eq!(heights(&other), (150..=159).collect::<Vec<_>>());
    let last = port.request_blocks(Height(201), 100).await.unwrap();
    assert_eq!(heights(&last), (201..=250).collect::<Vec<_>>(), "ends at the tip");
    assert_eq!(last[0].0, prim::Block::try_from(&blocks[200]).unwrap());
}

/// Split mode (#22 item 2): the gRPC service reads ahead as the port does in one process. After
/// an answer served in full, the next range is fetched in the background; the proof is that it
/// is still served after the only peer that had it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_service_reads_ahead_after_a_full_answer_so_split_catch_up_is_pipelined() {
    use coinjecture_proto::ports::gateway::{GatewayPort, RemoteGateway};
    init_tracing();
    let source = Arc::new(MemoryBlockSource::new());
    for b in chain(250) {
        source.insert(b);
    }
    let server = TestNode::start_with(config(NET, 1, vec![]), source).await;
    let client = TestNode::start(config(NET, 2, vec![server.addr.clone()])).await;
    wait_until(Duration::from_secs(10), "connected", || async { peer_count(&client).await == 1 }).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = client.handle.clone();
    tokio::spawn(async move { coinjecture_p2p_gateway::serve(handle, listener, std::future::pending()).await });
    let remote = RemoteGateway::from_url(&format!("http://{addr}")).unwrap();
    let heights = |got: &[(prim::Block, prim::CommitCertificate)]| -> Vec<u64> {
        got.iter().map(|(b, _)| b.header.block_index.get()).collect()
    };

    let first = remote.request_blocks(Height(1), 100).await.unwrap();
    assert_eq!(heights(&first), (1..=100).collect::<Vec<_>>());
    // The read-ahead of 101.. runs now, while a consensus would apply 1..=100 (loopback: far
    // less than this).
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill().await;
    wait_until(Duration::from_secs(10), "the peer gone", || async { peer_count(&client).await == 0 }).await;
    let second = remote.request_blocks(Height(101), 100).await.expect("served from the read-ahead");
    assert!(!second.is_empty(), "nothing was read ahead");
    assert_eq!(heights(&second), (101..101 + second.len() as u64).collect::<Vec<_>>());
    // Nothing is read ahead for a range no full answer preceded: no peer serves it now.
    assert!(remote.request_blocks(Height(150), 10).await.is_err(), "no peer is left to serve 150..");
}
