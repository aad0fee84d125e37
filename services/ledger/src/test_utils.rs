//! Builders for tests and benchmarks (feature `test-utils`): deterministic accounts, signed
//! transfers, and a [`TestChain`] that tracks the expected state in memory so it can build valid
//! blocks (Merkle root, state commitment, parent, time) without a ledger.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a panic is the report")]

use std::collections::HashMap;
use std::sync::Arc;

use coinjecture_crypto_core::merkle::merkle_root;
use coinjecture_crypto_core::service::CryptoCoreService;
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::validators::{QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_primitives::{
    Block, BlockHeader, CODEC_VERSION, ChainId, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, Round,
    Signature, Transaction, TxType, UnixMillis, chain_tag, sha256,
};
use coinjecture_proto::ports::crypto::CryptoPort;

use crate::execute::run_transactions;
use crate::genesis::GenesisConfig;
use crate::state::{AccountState, next_state_commitment};
use crate::store::Tip;

/// Genesis time of test chains: 2026-01-01T00:00:00.000Z.
pub const GENESIS_TIME_MS: i64 = 1_767_225_600_000;
/// Gas limit of test transfers (the v4 minimum).
pub const GAS_LIMIT: u64 = 21_000;

/// crypto-core in process (Network A).
pub fn local_crypto() -> Arc<dyn CryptoPort> {
    Arc::new(CryptoCoreService)
}

/// A deterministic key pair for `seed`.
pub fn keypair(seed: u64) -> Keypair {
    Keypair::from_seed(&sha256(&seed.to_be_bytes()).0)
}

/// The gas price that makes a transfer of `amount` pay the v4 fee floor with [`GAS_LIMIT`].
pub fn gas_price_for(amount: u64) -> u64 {
    (amount / 10_000).max(1_000).div_ceil(GAS_LIMIT)
}

/// An unsigned transfer bound to `chain`, paying the minimum fee.
pub fn unsigned_transfer(chain: &ChainId, from: PublicKey, to: PublicKey, amount: u64, nonce: u64) -> Transaction {
    Transaction {
        codec_version: CODEC_VERSION,
        tx_type: TxType::Transfer,
        from,
        to,
        amount,
        nonce,
        gas_limit: GAS_LIMIT,
        gas_price: gas_price_for(amount),
        signature: Signature::ZERO,
        data: chain_tag(chain),
        timestamp: GENESIS_TIME_MS / 1000,
    }
}

/// Signs `tx` with `key` (which must be `tx.from`'s).
pub fn sign(mut tx: Transaction, key: &Keypair) -> Transaction {
    tx.signature = key.sign(&tx.signing_message());
    tx
}

/// The key of the single validator of test chains ([`validators`]); also the default proposer.
pub fn validator_key() -> Keypair {
    keypair(u64::MAX)
}

/// The validator schedule of test chains: [`validator_key`] alone from height 1 (crash quorum:
/// its signature is a quorum).
pub fn validators() -> ValidatorSchedule {
    let set = ValidatorSet::new(vec![validator_key().public_key()], QuorumMode::Crash).expect("one validator");
    ValidatorSchedule::fixed(set)
}

/// The commit certificate of `block` on `chain`, signed by `signers` (round 0).
pub fn certificate_by(chain: &ChainId, block: &Block, signers: &[&Keypair]) -> CommitCertificate {
    let mut certificate = CommitCertificate {
        height: block.header.block_index,
        round: Round(0),
        block_hash: block.hash(),
        signatures: vec![],
    };
    let message = certificate.signing_bytes(chain);
    certificate.signatures = signers.iter().map(|k| (k.public_key(), k.sign(&message))).collect();
    certificate.sorted()
}

/// A real commit certificate of `block` on `chain`: the precommit signature of the test
/// validator ([`validators`]), which the ledger verifies.
pub fn certificate(chain: &ChainId, block: &Block) -> CommitCertificate {
    certificate_by(chain, block, &[&validator_key()])
}

/// A chain of test blocks with its expected state.
#[derive(Debug, Clone)]
pub struct TestChain {
    pub genesis: GenesisConfig,
    /// The funded accounts, in creation order.
    pub accounts: Vec<PublicKey>,
    /// Their keys (`None` for an unsigned chain, whose transactions carry zero signatures).
    keys: Option<Arc<Vec<Keypair>>>,
    /// The proposer of every block (receives the fees).
    pub proposer: PublicKey,
    state: HashMap<PublicKey, AccountState>,
    tip: Tip,
}

impl TestChain {
    /// `accounts` funded accounts with real keys, `balance` each, on chain `chain_id`.
    pub fn new(chain_id: &str, accounts: usize, balance: u64) -> Self {
        let keys: Vec<Keypair> = (0..accounts as u64).map(keypair).collect();
        let addresses = keys.iter().map(Keypair::public_key).collect();
        Self::build(chain_id, addresses, Some(Arc::new(keys)), balance)
    }

    /// `accounts` funded accounts without keys (addresses are hashes); for benchmarks that apply
    /// with signatures marked as verified.
    pub fn new_unsigned(chain_id: &str, accounts: usize, balance: u64) -> Self {
        let addresses = (0..accounts as u64).map(|i| PublicKey(sha256(&i.to_le_bytes()).0)).collect();
        Self::build(chain_id, addresses, None, balance)
    }

    fn build(chain_id: &str, accounts: Vec<PublicKey>, keys: Option<Arc<Vec<Keypair>>>, balance: u64) -> Self {
        let genesis = GenesisConfig {
            chain_id: ChainId::new(chain_id).unwrap(),
            timestamp_ms: GENESIS_TIME_MS,
            allocations: accounts.iter().map(|a| (*a, balance)).collect(),
            block_limits: coinjecture_primitives::BlockLimits::default(),
        };
        let state = genesis.sorted_allocations().into_iter().collect();
        let tip = Tip {
            height: Height(0),
            hash: genesis.hash(),
            timestamp_ms: UnixMillis(GENESIS_TIME_MS),
            state_commitment: genesis.state_commitment(),
        };
        Self { genesis, accounts, keys, proposer: validator_key().public_key(), state, tip }
    }

    /// The same chain with other block limits in its genesis (so another genesis hash).
    pub fn with_block_limits(mut self, limits: coinjecture_primitives::BlockLimits) -> Self {
        self.genesis.block_limits = limits;
        self.tip.hash = self.genesis.hash();
        self
    }

    /// The validator schedule of the chain (see [`validators`]).
    pub fn validators(&self) -> ValidatorSchedule {
        validators()
    }

    /// The real commit certificate of `block` on this chain (see [`certificate`]).
    pub fn certificate(&self, block: &Block) -> CommitCertificate {
        certificate(self.chain_id(), block)
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.genesis.chain_id
    }

    /// The expected tip.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// The expected state of `address`.
    pub fn account(&self, address: &PublicKey) -> AccountState {
        self.state.get(address).copied().unwrap_or_default()
    }

    /// The expected state of every account with a non-zero state.
    pub fn state(&self) -> &HashMap<PublicKey, AccountState> {
        &self.state
    }

    /// The next nonce of funded account `i`.
    pub fn nonce(&self, i: usize) -> u64 {
        self.account(&self.accounts[i]).nonce
    }

    /// A transfer from funded account `from` (signed when the chain has keys).
    pub fn transfer(&self, from: usize, to: PublicKey, amount: u64, nonce: u64) -> Transaction {
        let tx = unsigned_transfer(self.chain_id(), self.accounts[from], to, amount, nonce);
        match &self.keys {
            Some(keys) => sign(tx, &keys[from]),
            None => tx,
        }
    }

    /// A transfer from `from` with its next nonce.
    pub fn next_transfer(&self, from: usize, to: PublicKey, amount: u64) -> Transaction {
        self.transfer(from, to, amount, self.nonce(from))
    }

    /// The block for tip + 1 carrying `txs`, proposed by [`Self::proposer`], one second after
    /// the tip. Its state commitment is the expected one when every transaction is valid, zero
    /// otherwise. Does not change the chain (see [`Self::extend`]).
    pub fn block(&self, transactions: Vec<Transaction>) -> Block {
        let hashes: Vec<Hash32> = transactions.iter().map(Transaction::hash).collect();
        let transition =
            run_transactions(self.chain_id(), |a| self.account(a), &transactions, &hashes, None, Some(&self.proposer));
        let commitment = if transition.first_rejection().is_none() {
            next_state_commitment(&self.tip.state_commitment, &transition.changes)
        } else {
            Hash32::ZERO
        };
        let (timestamp, timestamp_millis) = self.tip.timestamp_ms.saturating_add_millis(1_000).secs_and_millis();
        let extra = PoaExtra { round: Round(0), timestamp_millis, state_commitment: commitment, chain_id: None };
        Block {
            header: BlockHeader {
                codec_version: CODEC_VERSION,
                block_index: self.tip.height.next(),
                timestamp,
                parent_hash: self.tip.hash,
                merkle_root: merkle_root(&hashes),
                miner_address: self.proposer,
                commitment: Hash32::ZERO,
                difficulty_target: 0,
                nonce: 0,
                extra_data: extra.encode(),
            },
            transactions,
        }
    }

    /// Makes `block` (built by [`Self::block`] on the current tip) the tip; panics if one of its
    /// transactions is invalid.
    pub fn extend(&mut self, block: &Block) {
        assert_eq!(block.header.block_index, self.tip.height.next(), "block is not for the next height");
        let hashes: Vec<Hash32> = block.transactions.iter().map(Transaction::hash).collect();
        let transition = run_transactions(
            self.chain_id(),
            |a| self.account(a),
            &block.transactions,
            &hashes,
            None,
            Some(&block.header.miner_address),
        );
        if let Some((i, r)) = transition.first_rejection() {
            panic!("block {} transactions[{i}] is invalid: {}", block.header.block_index, r.message);
        }
        let commitment = next_state_commitment(&self.tip.state_commitment, &transition.changes);
        for (address, account) in transition.changes {
            self.state.insert(address, account);
        }
        self.tip = Tip {
            height: block.header.block_index,
            hash: block.hash(),
            timestamp_ms: block.header.timestamp_ms(),
            state_commitment: commitment,
        };
    }

    /// Builds the block for `txs` and extends the chain with it.
    pub fn push(&mut self, transactions: Vec<Transaction>) -> Block {
        let block = self.block(transactions);
        self.extend(&block);
        block
    }

    /// The sum of all balances.
    pub fn total_supply(&self) -> u128 {
        self.state.values().map(|a| u128::from(a.balance)).sum()
    }
}
