//! A block: the v4 header and its transactions, encoded as a MessagePack named map
//! `{"header": <header>, "transactions": [<tx>, ...]}` with the same canonical rules.

use crate::chain::limits;
use crate::error::DecodeError;
use crate::hash::Hash32;
use crate::header::BlockHeader;
use crate::msgpack::{Reader, Writer};
use crate::transaction::Transaction;

/// A block as proposed, gossiped and stored. Its hash is the header's hash; the header's
/// `merkle_root` commits to the transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Block {
    pub header: BlockHeader,
    pub transactions: Vec<Transaction>,
}

impl Block {
    /// The block hash (the header hash).
    pub fn hash(&self) -> Hash32 {
        self.header.hash()
    }

    /// The hashes of the transactions, in block order: the Merkle leaves.
    pub fn transaction_hashes(&self) -> Vec<Hash32> {
        self.transactions.iter().map(Transaction::hash).collect()
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let hint = 300 + self.transactions.iter().map(Transaction::encoded_len_hint).sum::<usize>();
        let mut w = Writer::with_capacity(hint);
        w.map_header(2);
        w.key("header");
        self.header.encode_into(&mut w);
        w.key("transactions");
        w.array_header(self.transactions.len());
        for tx in &self.transactions {
            tx.encode_into(&mut w);
        }
        w.into_bytes()
    }

    /// Decodes a block, rejecting anything but its canonical encoding and anything larger than
    /// 16 MiB or with more than [`limits::MAX_BLOCK_TRANSACTIONS`] transactions.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > limits::MAX_MESSAGE_BYTES {
            return Err(DecodeError::InputTooLarge { what: "block", len: bytes.len(), max: limits::MAX_MESSAGE_BYTES });
        }
        let mut r = Reader::new(bytes);
        r.map_header(2)?;
        r.key("header")?;
        let header = BlockHeader::decode_from(&mut r)?;
        r.key("transactions")?;
        let count = r.array_header(limits::MAX_BLOCK_TRANSACTIONS, "transactions")?;
        let mut transactions = Vec::with_capacity(count);
        for _ in 0..count {
            transactions.push(Transaction::decode_from(&mut r)?);
        }
        r.finish()?;
        Ok(Self { header, transactions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Height;
    use crate::hash::{PublicKey, Signature};
    use crate::transaction::TxType;

    #[test]
    fn block_round_trips_and_rejects_truncation() {
        let tx = Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 5,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature([3; 64]),
            data: vec![],
            timestamp: -2,
        };
        let block = Block {
            header: BlockHeader { codec_version: 1, block_index: Height(9), ..Default::default() },
            transactions: vec![tx.clone(), tx],
        };
        let bytes = block.encode();
        assert_eq!(Block::decode(&bytes).unwrap(), block);
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            assert!(Block::decode(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        assert_eq!(block.hash(), block.header.hash());
    }
}
