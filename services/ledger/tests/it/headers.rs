//! Headers-only range reads (listings): the block rows alone, checked like every stored read,
//! without reading the transactions (or, when asked, hashing them without decoding them).

use coinjecture_ledger::{HeaderExtras, LedgerService};
use coinjecture_primitives::{Hash32, Height, Transaction};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::ledger_server::Ledger as LedgerRpc;
use tonic::Request;

use crate::open_ledger;
use crate::stored::{flip_in_file, written_chain};

#[tokio::test]
async fn a_header_range_has_the_blocks_headers_counts_and_certificates_without_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, _) = written_chain(dir.path()).await;
    let ledger = open_ledger(dir.path(), &chain).await;

    let blocks = ledger.block_range(Height(0), 10).await.unwrap();
    assert_eq!(blocks.len(), 4, "genesis and 3 blocks");
    for hashes in [false, true] {
        let headers = ledger.header_range(Height(0), 10, hashes).await.unwrap();
        assert_eq!(headers.len(), blocks.len());
        for (h, b) in headers.iter().zip(&blocks) {
            assert_eq!((h.height, h.hash, &h.header), (b.height, b.hash, &b.block.header));
            assert_eq!(h.certificate, b.certificate);
            assert_eq!(h.transaction_count as usize, b.block.transactions.len());
            let expected: Vec<Hash32> = b.block.transactions.iter().map(Transaction::hash).collect();
            assert_eq!(h.transaction_hashes, hashes.then_some(expected));
        }
    }
    assert_eq!(ledger.header_range(Height(0), 10, false).await.unwrap()[2].transaction_count, 2);
    assert_eq!(ledger.header_range(Height(2), 1, false).await.unwrap()[0].height, Height(2), "from and limit");
    assert!(ledger.header_range(Height(9), 5, false).await.unwrap().is_empty(), "above the tip");
    assert!(ledger.header_range(Height(0), 0, false).await.is_err(), "limit 0");

    // With sizes: each block's stored transaction bytes, for a byte-bounded listing to decide on.
    let sized = ledger.header_range_with(Height(0), 10, HeaderExtras::Sizes).await.unwrap();
    let expected: Vec<Option<u64>> =
        blocks.iter().map(|b| Some(b.block.transactions.iter().map(|t| t.encode().len() as u64).sum())).collect();
    assert_eq!(sized.iter().map(|h| h.transactions_bytes).collect::<Vec<_>>(), expected);
    assert!(expected[1].unwrap() > 0 && expected[0] == Some(0), "genesis has none");
    assert!(sized.iter().all(|h| h.transaction_hashes.is_none()));
    assert!(ledger.header_range(Height(0), 10, true).await.unwrap().iter().all(|h| h.transactions_bytes.is_none()));

    // The same over the service: blocks without transactions, with their counts.
    let service = LedgerService::new(ledger.clone());
    for with_transaction_hashes in [false, true] {
        let request = pb::GetBlockRangeRequest {
            from_height: 1,
            limit: 10,
            headers_only: true,
            with_transaction_hashes,
            with_transactions_bytes: false,
        };
        let mut stream = service.get_block_range(Request::new(request)).await.unwrap().into_inner();
        let mut seen = Vec::new();
        while let Some(item) = tokio_stream::StreamExt::next(&mut stream).await {
            let item = item.unwrap();
            let block = item.block.unwrap();
            assert!(block.transactions.is_empty());
            assert!(block.commit_certificate.is_some());
            assert_eq!(item.transaction_count, 2);
            assert_eq!(item.transaction_hashes.len(), if with_transaction_hashes { 2 } else { 0 });
            seen.push((Height(block.header.unwrap().block_index), item.block_hash));
        }
        let expected: Vec<_> = blocks[1..].iter().map(|b| (b.height, b.hash.0.to_vec())).collect();
        assert_eq!(seen, expected);
    }
    let sized = pb::GetBlockRangeRequest {
        from_height: 1,
        limit: 10,
        headers_only: true,
        with_transactions_bytes: true,
        ..Default::default()
    };
    let mut stream = service.get_block_range(Request::new(sized)).await.unwrap().into_inner();
    let mut bytes = Vec::new();
    while let Some(item) = tokio_stream::StreamExt::next(&mut stream).await {
        let item = item.unwrap();
        assert!(item.block.unwrap().transactions.is_empty());
        bytes.push(Some(item.transactions_bytes));
    }
    assert_eq!(bytes, expected[1..]);
    let full = pb::GetBlockRangeRequest { from_height: 1, limit: 1, ..Default::default() };
    let mut stream = service.get_block_range(Request::new(full)).await.unwrap().into_inner();
    let item = tokio_stream::StreamExt::next(&mut stream).await.unwrap().unwrap();
    assert_eq!((item.block.unwrap().transactions.len(), item.transaction_count), (2, 2), "whole blocks as before");
}

/// A corrupt transaction row does not stop a headers-only read (it never reads the row), stops
/// one with hashes (it hashes the row), and a corrupt header stops both.
#[tokio::test]
async fn a_header_range_reads_no_transaction_rows_and_still_checks_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, txs) = written_chain(dir.path()).await;
    let encoded = txs[3].encode();
    let from_at = encoded.windows(32).position(|w| w == txs[3].from.0).unwrap();
    flip_in_file(&dir.path().join("ledger.db"), &encoded, from_at + 5);

    let ledger = open_ledger(dir.path(), &chain).await;
    assert!(ledger.block_range(Height(0), 10).await.is_err(), "block 2 has a corrupt transaction row");
    let headers = ledger.header_range(Height(0), 10, false).await.unwrap();
    assert_eq!(headers.iter().map(|h| h.transaction_count).collect::<Vec<_>>(), vec![0, 2, 2, 2]);
    let err = ledger.header_range(Height(0), 10, true).await.unwrap_err().to_string();
    assert!(err.contains("block 2") && err.contains("transaction 1"), "{err}");

    let header = ledger.block_by_height(Height(1)).await.unwrap().unwrap().block.header;
    ledger.close().await;
    drop(ledger);
    flip_in_file(&dir.path().join("ledger.db"), &header.merkle_root.0, 0);
    let ledger = open_ledger(dir.path(), &chain).await;
    let err = ledger.header_range(Height(0), 10, false).await.unwrap_err();
    assert!(err.to_string().contains("block 1 (blocks row 1): the stored header hashes to"), "{err}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::DataLoss);
}
