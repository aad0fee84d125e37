//! Integration tests of the ledger on real SQLite files in temporary directories.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code: a panic is the failure report")]

mod batch;
mod block_limits;
mod certificates;
mod crash;
mod disk_full;
mod grpc;
mod headers;
mod journal;
mod open;
mod property;
mod prune;
mod replay;
mod snapshot;
mod stored;
mod transfers;

use std::path::Path;
use std::sync::Arc;

use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{AccountState, Ledger, Tip};
use coinjecture_primitives::{Block, PublicKey};

/// Opens (or creates) the ledger of `chain` at `dir/ledger.db` with in-process crypto.
pub async fn open_ledger(dir: &Path, chain: &TestChain) -> Arc<Ledger> {
    Arc::new(
        Ledger::open(dir.join("ledger.db"), chain.genesis.clone(), chain.validators(), local_crypto()).await.unwrap(),
    )
}

/// A deterministic chain of `blocks` blocks on `chain_id`, each a transfer of 1 from every one of
/// `accounts` unsigned accounts to another; returns the chain at genesis and the blocks. The
/// crash and disk-full tests build it in the parent and in the child process alike.
pub fn ring_transfer_blocks(chain_id: &str, accounts: usize, blocks: usize) -> (TestChain, Vec<Block>) {
    let mut chain = TestChain::new_unsigned(chain_id, accounts, 1_000_000_000);
    let genesis = chain.clone();
    let blocks = (1..=blocks)
        .map(|h| {
            let txs = (0..accounts)
                .map(|i| chain.next_transfer(i, chain.accounts[(i + 1 + h % (accounts - 1)) % accounts], 1))
                .collect();
            chain.push(txs)
        })
        .collect();
    (genesis, blocks)
}

/// Applies `block` with its certificate, verifying signatures.
pub async fn apply(ledger: &Ledger, block: &Block) {
    ledger.apply_block(block, &certificate(ledger.chain_id(), block)).await.unwrap();
}

/// The tip and the state of every account `chain` knows, plus the proposer and `extra`.
pub async fn snapshot(
    ledger: &Ledger,
    chain: &TestChain,
    extra: &[PublicKey],
) -> (Tip, Vec<(PublicKey, AccountState)>) {
    let mut addresses: Vec<PublicKey> = chain.accounts.clone();
    addresses.push(chain.proposer);
    addresses.extend_from_slice(extra);
    let mut accounts = Vec::new();
    for a in addresses {
        accounts.push((a, ledger.account(&a).await.unwrap().0));
    }
    (ledger.tip().await.unwrap(), accounts)
}
