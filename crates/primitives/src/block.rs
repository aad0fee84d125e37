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

    /// The length of [`Self::encode`], computed from the header and the length of each
    /// transaction's encoding (`tx_lens`, in any order) without encoding the transactions.
    pub fn encoded_len_with(header: &BlockHeader, tx_lens: impl ExactSizeIterator<Item = usize>) -> usize {
        let count = tx_lens.len();
        let array_header = if count < 16 {
            1
        } else if count <= usize::from(u16::MAX) {
            3
        } else {
            5
        };
        // fixmap(2), "header" (fixstr 1 + 6), "transactions" (fixstr 1 + 12).
        1 + 7 + header.encode().len() + 13 + array_header + tx_lens.sum::<usize>()
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
    fn encoded_len_with_is_the_encoding_length_at_every_array_header_size() {
        let tx = |data: usize| Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 5,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature([3; 64]),
            data: vec![200; data],
            timestamp: 1,
        };
        for count in [0, 1, 15, 16, 300] {
            let block = Block {
                header: BlockHeader { block_index: Height(4), extra_data: vec![1; 39], ..BlockHeader::default() },
                transactions: (0..count).map(|i| tx(i % 7)).collect(),
            };
            let lens = block.transactions.iter().map(|t| t.encode().len()).collect::<Vec<_>>();
            assert_eq!(Block::encoded_len_with(&block.header, lens.into_iter()), block.encode().len(), "{count}");
        }
    }

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
