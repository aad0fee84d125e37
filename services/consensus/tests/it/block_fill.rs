//! Blocks sized by the chain's limits and the proposer's time budget (issue #24 item 3), with a
//! real SQLite ledger: one validator (always the proposer), so a batch admitted at once is all
//! in the mempool when the next block is filled.
//!
//! Reproduced first: nodes used to fill blocks up to `driver::default_block_limits()`, a
//! constant 10,000 transactions, whatever the chain could take; with
//! `max_block_transactions: 10_000` (what `node.rs` passed) the first test fails with a
//! largest block of 10,000.

use std::sync::Arc;
use std::time::Duration;

use coinjecture_consensus::driver::{self, DriverConfig, DriverHandle};
use coinjecture_consensus::{EngineConfig, MempoolConfig, QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, keypair, local_crypto, sign, unsigned_transfer};
use coinjecture_primitives::{BlockLimits, Height, PublicKey, Transaction, limits, sha256};
use tokio::sync::mpsc;

use crate::bus::{Bus, Port};

struct One {
    handle: DriverHandle,
    ledger: Arc<Ledger>,
    _task: tokio::task::JoinHandle<Result<(), driver::DriverError>>,
}

async fn one_validator(dir: &std::path::Path, chain: &TestChain, budget: Duration) -> One {
    let key = Keypair::from_seed(&sha256(b"block fill validator").0);
    let schedule = ValidatorSchedule::fixed(ValidatorSet::new(vec![key.public_key()], QuorumMode::Crash).unwrap());
    let ledger = Arc::new(
        Ledger::open(dir.join("node.db"), chain.genesis.clone(), schedule.clone(), local_crypto()).await.unwrap(),
    );
    let bus = Bus::default();
    let (inbox, inbound) = mpsc::channel(4096);
    *bus.inboxes.lock().unwrap() = vec![Some(inbox)];
    *bus.ledgers.lock().unwrap() = vec![Some(ledger.clone())];
    let config = DriverConfig {
        engine: EngineConfig::with_block_time(chain.chain_id().clone(), 300),
        schedule,
        mempool: MempoolConfig::default(),
        // What node.rs passes now: the decoder's bound; the genesis limits size the block.
        max_block_transactions: limits::MAX_BLOCK_TRANSACTIONS,
        block_limits: chain.genesis.block_limits,
        proposal_budget: budget,
        sign_state_path: dir.join("node.sign_state"),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: false,
        compact_proposals: true,
    };
    let (handle, task) = driver::start(config, key, ledger.clone(), Port { me: 0, bus }, inbound).await.unwrap();
    One { handle, ledger, _task: task }
}

/// `per_account` transfers from each of the chain's accounts, consecutive nonces from 0.
fn transfers(chain: &TestChain, per_account: u64) -> Vec<Transaction> {
    let to = PublicKey([7; 32]);
    (0..chain.accounts.len())
        .flat_map(|a| (0..per_account).map(move |n| (a, n)))
        .map(|(a, n)| chain.transfer(a, to, 1_000, n))
        .collect()
}

/// Waits until every account has used `per_account` nonces; returns each block's transaction
/// count, height 1 up.
async fn final_block_sizes(one: &One, chain: &TestChain, per_account: u64, secs: u64) -> Vec<usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    'wait: loop {
        assert!(tokio::time::Instant::now() < deadline, "transfers not final after {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
        for a in &chain.accounts {
            if one.ledger.account(a).await.unwrap().0.nonce < per_account {
                continue 'wait;
            }
        }
        break;
    }
    let tip = one.ledger.tip().await.unwrap().height;
    let mut sizes = Vec::new();
    for h in 1..=tip.get() {
        sizes.push(one.ledger.block_by_height(Height(h)).await.unwrap().unwrap().block.transactions.len());
    }
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_takes_more_than_the_old_10000_cap_when_the_genesis_limits_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    // 12,000 transfers (21,000 gas, ~270 bytes each): 252 M gas and ~3.3 MB, inside the default
    // limits (1,000 M gas, 8 MiB).
    let chain = TestChain::new("coinjecture-block-fill", 12, 1_000_000_000_000);
    assert_eq!(chain.genesis.block_limits, BlockLimits::default());
    let one = one_validator(dir.path(), &chain, Duration::from_secs(60)).await;
    let txs = transfers(&chain, 1_000);
    let results = one.handle.submit(txs).await.unwrap();
    assert!(results.iter().all(|r| r.outcome.is_ok()), "{:?}", results.iter().find(|r| r.outcome.is_err()));
    let sizes = final_block_sizes(&one, &chain, 1_000, 120).await;
    // Admitted as one batch, so one block takes them all.
    assert_eq!(sizes.iter().max(), Some(&12_000), "block sizes: {sizes:?}");
    let stops = one.handle.status().fill_stops;
    assert!(stops.get("empty").copied().unwrap_or(0) >= 1, "the mempool, not a limit, ended the block: {stops:?}");
    assert_eq!(stops.get("time"), None, "{stops:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_genesis_gas_limit_ends_a_block_and_the_rest_follows_in_the_next() {
    let dir = tempfile::tempdir().unwrap();
    // Room for 100 transfers per block.
    let limits = BlockLimits { max_gas: 100 * 21_000, ..BlockLimits::default() };
    let chain = TestChain::new("coinjecture-block-fill", 5, 1_000_000_000_000).with_block_limits(limits);
    let one = one_validator(dir.path(), &chain, Duration::from_secs(60)).await;
    let results = one.handle.submit(transfers(&chain, 50)).await.unwrap();
    assert!(results.iter().all(|r| r.outcome.is_ok()));
    let sizes = final_block_sizes(&one, &chain, 50, 60).await;
    assert_eq!(sizes.iter().max(), Some(&100), "no block over the gas limit, and full ones: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 250);
    let stops = one.handle.status().fill_stops;
    assert!(stops.get("gas").copied().unwrap_or(0) >= 2, "{stops:?}");

    // A transaction no block could hold is refused at admission, naming the limit.
    let mut huge = unsigned_transfer(chain.chain_id(), chain.accounts[0], PublicKey([7; 32]), 1_000, 50);
    huge.gas_limit = limits.max_gas + 1;
    let huge = sign(huge, &keypair(0));
    let result = one.handle.submit(vec![huge]).await.unwrap();
    let refused = result[0].outcome.as_ref().unwrap_err();
    assert!(refused.message.contains("max_block_gas 2100000"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_time_budget_ends_a_block_and_is_counted_as_time() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("coinjecture-block-fill", 4, 1_000_000_000_000);
    // 1 ms: at the assumed 20 µs per transaction, at most 50 a block (fewer once measured).
    let one = one_validator(dir.path(), &chain, Duration::from_millis(1)).await;
    let results = one.handle.submit(transfers(&chain, 100)).await.unwrap();
    assert!(results.iter().all(|r| r.outcome.is_ok()));
    let sizes = final_block_sizes(&one, &chain, 100, 120).await;
    assert!(sizes.iter().all(|n| *n <= 50), "block sizes: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 400, "every transfer still finalizes");
    let stops = one.handle.status().fill_stops;
    assert!(stops.get("time").copied().unwrap_or(0) >= 2, "{stops:?}");
}

/// What validator A (a real driver and ledger on a genesis with room for 100 transfers per
/// block) prevotes on validator B's round-0 proposal of `count` transfers at height 1.
async fn prevote_on_a_proposal_of(count: u64) -> Option<coinjecture_primitives::Hash32> {
    use coinjecture_primitives::consensus::Proposal;
    use coinjecture_primitives::{Round, Signature, UnixMillis, VoteType};
    use coinjecture_proto::ports::gateway::GossipMessage;

    let dir = tempfile::tempdir().unwrap();
    let limits = BlockLimits { max_gas: 100 * 21_000, ..BlockLimits::default() };
    let chain = TestChain::new("coinjecture-block-fill", 1, 1_000_000_000_000).with_block_limits(limits);
    let a = Keypair::from_seed(&sha256(b"block fill validator").0);
    // B proposes height 1, round 0; TestChain's blocks name it as their proposer.
    let b = coinjecture_ledger::test_utils::validator_key();
    let set = [vec![a.public_key(), b.public_key()], vec![b.public_key(), a.public_key()]]
        .into_iter()
        .map(|keys| ValidatorSet::new(keys, QuorumMode::Crash).unwrap())
        .find(|set| set.proposer(Height(1), Round(0)) == b.public_key())
        .expect("one order makes B the first proposer");
    let schedule = ValidatorSchedule::fixed(set);
    let ledger = Arc::new(
        Ledger::open(dir.path().join("a.db"), chain.genesis.clone(), schedule.clone(), local_crypto()).await.unwrap(),
    );
    let bus = Bus::default();
    let (inbox, inbound) = mpsc::channel(4096);
    let (to_b, mut at_b) = mpsc::channel(4096);
    *bus.inboxes.lock().unwrap() = vec![Some(inbox.clone()), Some(to_b)];
    *bus.ledgers.lock().unwrap() = vec![Some(ledger.clone()), None];
    let mut engine = EngineConfig::with_block_time(chain.chain_id().clone(), 10_000);
    // No timeout fires during the test: a nil prevote is A's verdict on the proposal.
    (engine.timeout_propose_ms, engine.rebroadcast_ms) = (600_000, 600_000);
    let config = DriverConfig {
        engine,
        schedule,
        mempool: MempoolConfig::default(),
        max_block_transactions: limits::MAX_BLOCK_TRANSACTIONS,
        block_limits: limits,
        proposal_budget: Duration::from_secs(2),
        sign_state_path: dir.path().join("a.sign_state"),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: false,
        compact_proposals: false,
    };
    let a_key = a.public_key();
    let (_handle, task) = driver::start(config, a, ledger, Port { me: 0, bus }, inbound).await.unwrap();

    let block = chain.block(transfers(&chain, count));
    let mut proposal = Proposal {
        chain_id: chain.chain_id().clone(),
        height: Height(1),
        round: Round(0),
        pol_round: None,
        timestamp_ms: UnixMillis(i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_millis()).unwrap()),
        block,
        proposer: b.public_key(),
        signature: Signature::ZERO,
    };
    proposal.signature = b.sign(&proposal.signing_bytes());
    inbox.send(GossipMessage::Proposal(proposal)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, at_b.recv()).await {
            Ok(Some(GossipMessage::Vote(v)))
                if v.validator == a_key && v.vote_type == VoteType::Prevote && v.height == Height(1) =>
            {
                task.abort();
                return v.block_hash;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("validator A never prevoted on the proposal of {count} transfers"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_prevotes_nil_on_a_proposal_over_the_genesis_gas_limit() {
    // 101 transfers: 2,121,000 gas, over the chain's 2,100,000 (the ledger's TOO_LARGE, named in
    // coinjecture-ledger's block_limits tests).
    assert_eq!(prevote_on_a_proposal_of(101).await, None, "over the limit: a nil prevote");
    // The same proposal within the limit gets a prevote for its block.
    assert!(prevote_on_a_proposal_of(100).await.is_some(), "within the limit: a prevote for the block");
}

/// Intake backpressure on saturated cores (#24): while the intake verification budget
/// (`driver::VERIFYING_TRANSACTIONS`) is spent, a submission is refused whole as overloaded,
/// with the block time as `Retry-After`, and nothing of it is admitted; once verification
/// frees its place the same transactions go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_past_the_intake_verification_budget_is_refused_overloaded_until_it_frees() {
    use coinjecture_proto::ports::consensus::ConsensusError;
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("coinjecture-intake-budget", 2, 1_000_000_000_000);
    let one = one_validator(dir.path(), &chain, Duration::from_secs(60)).await;
    let txs = transfers(&chain, 3);
    // Everything the node is verifying now: the whole budget.
    let busy = one.handle.reserve_intake(driver::VERIFYING_TRANSACTIONS).unwrap();
    match one.handle.submit(txs.clone()).await {
        Err(ConsensusError::Overloaded { message, retry_after_secs }) => {
            assert!(message.contains("intake limit"), "{message}");
            assert_eq!(retry_after_secs, 1, "one block time (300 ms), in whole seconds, at least 1");
        }
        other => panic!("expected an overloaded refusal, got {other:?}"),
    }
    assert_eq!(one.handle.status().mempool_size, 0, "nothing of a refused submission is admitted");
    drop(busy);
    let results = one.handle.submit(txs).await.unwrap();
    assert!(results.iter().all(|r| r.outcome.is_ok()), "{results:?}");
    final_block_sizes(&one, &chain, 3, 60).await;
}
