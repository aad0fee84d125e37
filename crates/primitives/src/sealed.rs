//! Sealed values: a value together with its canonical encoding and its hash, computed once.
//!
//! A [`SealedTransaction`] is built only by sealing a transaction ([`SealedTransaction::seal`]:
//! one encoding, one SHA-256) or by decoding canonical bytes ([`SealedTransaction::decode`]: the
//! bytes are kept, one SHA-256). It cannot be changed afterwards (no `&mut` access), so its bytes
//! and hash always describe its transaction; clones share one allocation. Inside a process the
//! services pass sealed values, so a transaction submitted once is encoded and hashed once, not
//! once per service it crosses.
//!
//! A sealed transaction also carries the verdict on its signature once someone in the process
//! verified it ([`SealedTransaction::signature_verdict`]; crypto-core's `verify_transactions`
//! records it), so the checks after the first (gossip validation, admission, block validation)
//! reuse it instead of verifying again. A transaction decoded from the wire starts without one.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use crate::block::Block;
use crate::error::DecodeError;
use crate::hash::Hash32;
use crate::header::BlockHeader;
use crate::msgpack::Writer;
use crate::transaction::{Transaction, hash_encoding};

/// A transaction with its canonical MessagePack encoding and its hash (SHA-256 of the
/// encoding). Cheap to clone (one `Arc`). Dereferences to the [`Transaction`].
#[derive(Clone)]
pub struct SealedTransaction(Arc<Sealed>);

struct Sealed {
    tx: Transaction,
    bytes: Box<[u8]>,
    hash: Hash32,
    /// Whether the signature verifies, once someone verified it.
    signature: OnceLock<bool>,
}

impl SealedTransaction {
    /// Seals a built (or converted) transaction: encodes it once and hashes the encoding once.
    pub fn seal(tx: Transaction) -> Self {
        let bytes = tx.encode().into_boxed_slice();
        let hash = hash_encoding(&bytes);
        Self(Arc::new(Sealed { tx, bytes, hash, signature: OnceLock::new() }))
    }

    /// Decodes one transaction from its canonical encoding, keeping the bytes (no re-encoding)
    /// and hashing them once.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let tx = Transaction::decode(bytes)?;
        let hash = hash_encoding(bytes);
        Ok(Self(Arc::new(Sealed { tx, bytes: bytes.into(), hash, signature: OnceLock::new() })))
    }

    /// The transaction.
    pub fn transaction(&self) -> &Transaction {
        &self.0.tx
    }

    /// The transaction hash (SHA-256 of [`Self::bytes`]), computed when sealed.
    pub fn hash(&self) -> Hash32 {
        self.0.hash
    }

    /// The verdict on the signature (`from` over the signing message), if it was verified in
    /// this process: shared by every clone.
    pub fn signature_verdict(&self) -> Option<bool> {
        self.0.signature.get().copied()
    }

    /// Records the verdict of a verification of this transaction's signature (the first one
    /// recorded stays). Only code that verified it calls this: crypto-core, or a service that
    /// got the verdict from crypto-core.
    pub fn record_signature_verdict(&self, valid: bool) {
        let _ = self.0.signature.set(valid);
    }

    /// The canonical MessagePack encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The exact encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.0.bytes.len()
    }

    /// The transaction, without its seal (cloned only when the seal is shared).
    pub fn into_transaction(self) -> Transaction {
        match Arc::try_unwrap(self.0) {
            Ok(sealed) => sealed.tx,
            Err(shared) => shared.tx.clone(),
        }
    }
}

impl Deref for SealedTransaction {
    type Target = Transaction;
    fn deref(&self) -> &Transaction {
        &self.0.tx
    }
}

impl From<Transaction> for SealedTransaction {
    fn from(tx: Transaction) -> Self {
        Self::seal(tx)
    }
}

/// Equal when the hashes are: the hash covers the whole encoding, signature included.
impl PartialEq for SealedTransaction {
    fn eq(&self, other: &Self) -> bool {
        self.0.hash == other.0.hash
    }
}

impl Eq for SealedTransaction {}

impl std::hash::Hash for SealedTransaction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash.hash(state);
    }
}

impl fmt::Debug for SealedTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedTransaction")
            .field("hash", &self.0.hash)
            .field("bytes", &self.0.bytes.len())
            .field("tx", &self.0.tx)
            .finish()
    }
}

/// A block with its hash and its transactions sealed ([`SealedTransaction`]): built once where
/// a block enters a validator (the proposer's draft from sealed mempool transactions, a
/// received proposal or synced block decoded and sealed once), then passed by reference from
/// validation to storage, so no step encodes or hashes its transactions again. Cheap to clone
/// (one `Arc`); it cannot be changed, so the hashes always describe the block.
#[derive(Clone)]
pub struct SealedBlock(Arc<SealedBlockInner>);

struct SealedBlockInner {
    block: Block,
    transactions: Vec<SealedTransaction>,
    hash: Hash32,
}

impl SealedBlock {
    /// Seals a block: each transaction encoded and hashed once, the header hashed once.
    pub fn seal(block: Block) -> Self {
        let transactions = block.transactions.iter().cloned().map(SealedTransaction::seal).collect();
        let hash = block.hash();
        Self(Arc::new(SealedBlockInner { block, transactions, hash }))
    }

    /// A block of transactions sealed already (a proposer's mempool selection): only the header
    /// is hashed.
    pub fn from_sealed(header: BlockHeader, transactions: Vec<SealedTransaction>) -> Self {
        let block = Block { header, transactions: transactions.iter().map(|t| t.transaction().clone()).collect() };
        let hash = block.hash();
        Self(Arc::new(SealedBlockInner { block, transactions, hash }))
    }

    /// The block.
    pub fn block(&self) -> &Block {
        &self.0.block
    }

    /// The block, owned: moved out when this is the last handle (the sealed encodings are
    /// freed), cloned otherwise.
    pub fn into_block(self) -> Block {
        match Arc::try_unwrap(self.0) {
            Ok(inner) => inner.block,
            Err(shared) => shared.block.clone(),
        }
    }

    /// The header.
    pub fn header(&self) -> &BlockHeader {
        &self.0.block.header
    }

    /// The block hash (the header's), computed when sealed.
    pub fn hash(&self) -> Hash32 {
        self.0.hash
    }

    /// The transactions, sealed, in block order.
    pub fn transactions(&self) -> &[SealedTransaction] {
        &self.0.transactions
    }

    /// The transactions' hashes in block order (the Merkle leaves), without hashing anything.
    pub fn transaction_hashes(&self) -> Vec<Hash32> {
        self.0.transactions.iter().map(SealedTransaction::hash).collect()
    }

    /// The block's canonical encoding ([`Block::encode`]), built from the sealed transactions'
    /// bytes: no transaction is encoded again.
    pub fn encode(&self) -> Vec<u8> {
        let body: usize = self.0.transactions.iter().map(SealedTransaction::encoded_len).sum();
        let mut w = Writer::with_capacity(300 + self.0.block.header.extra_data.len() + body + 5);
        w.map_header(2);
        w.key("header");
        self.0.block.header.encode_into(&mut w);
        w.key("transactions");
        w.array_header(self.0.transactions.len());
        for tx in &self.0.transactions {
            w.raw(tx.bytes());
        }
        w.into_bytes()
    }

    /// The transactions' canonical encodings in block order, without encoding anything.
    pub fn transaction_bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.0.transactions.iter().map(SealedTransaction::bytes)
    }
}

impl Deref for SealedBlock {
    type Target = Block;
    fn deref(&self) -> &Block {
        &self.0.block
    }
}

impl From<Block> for SealedBlock {
    fn from(block: Block) -> Self {
        Self::seal(block)
    }
}

/// Equal when the blocks are (the hash covers the header, which commits to the transactions
/// only through a Merkle root the block may not match, so the transactions are compared too).
impl PartialEq for SealedBlock {
    fn eq(&self, other: &Self) -> bool {
        self.0.hash == other.0.hash && self.0.transactions == other.0.transactions
    }
}

impl Eq for SealedBlock {}

impl fmt::Debug for SealedBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedBlock")
            .field("hash", &self.0.hash)
            .field("height", &self.0.block.header.block_index)
            .field("transactions", &self.0.transactions.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;
    use crate::Height;
    use crate::hash::{PublicKey, Signature};
    use crate::transaction::TxType;

    fn tx() -> Transaction {
        Transaction {
            codec_version: crate::CODEC_VERSION,
            tx_type: TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 5,
            nonce: 7,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature([3; 64]),
            data: vec![9; 10],
            timestamp: 1_700_000_000,
        }
    }

    #[test]
    fn a_sealed_transaction_carries_the_same_bytes_and_hash_as_the_transaction() {
        let t = tx();
        let sealed = SealedTransaction::seal(t.clone());
        assert_eq!(sealed.bytes(), t.encode().as_slice());
        assert_eq!(sealed.hash(), t.hash());
        assert_eq!(sealed.encoded_len(), t.encode().len());
        assert_eq!(*sealed, t);
        let decoded = SealedTransaction::decode(sealed.bytes()).unwrap();
        assert_eq!(decoded, sealed);
        assert_eq!(decoded.transaction(), &t);
        assert_eq!(decoded.clone().into_transaction(), t);
    }

    #[test]
    fn decoding_refuses_what_the_transaction_decoder_refuses() {
        let mut bytes = tx().encode();
        bytes.push(0);
        assert!(SealedTransaction::decode(&bytes).is_err());
    }

    #[test]
    fn a_sealed_block_encodes_as_its_block_without_encoding_a_transaction_again() {
        let header =
            BlockHeader { codec_version: 1, block_index: Height(3), extra_data: vec![1, 2], ..Default::default() };
        let block = Block { header, transactions: vec![tx(), Transaction { nonce: 8, ..tx() }] };
        let sealed = SealedBlock::seal(block.clone());
        assert_eq!(sealed.hash(), block.hash());
        assert_eq!(sealed.transaction_hashes(), block.transaction_hashes());
        assert_eq!(sealed.encode(), block.encode());
        let from_sealed = SealedBlock::from_sealed(block.header.clone(), sealed.transactions().to_vec());
        assert_eq!(from_sealed, sealed);
        assert_eq!(from_sealed.block(), &block);
    }
}
