//! The signed transfer the generator sends (and the bench measures the size and verification of).

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{ChainId, PublicKey, Signature, Transaction, TxType, chain_tag};

/// Minimum gas of a transfer.
pub const TRANSFER_GAS: u64 = 21_000;

/// A signed transfer; the fee covers the minimum for `amount`.
pub fn transfer(
    chain: &ChainId,
    from: &Keypair,
    to: PublicKey,
    amount: u64,
    nonce: u64,
    timestamp: i64,
) -> Transaction {
    let min_fee = (amount / 10_000).max(1_000);
    let mut tx = Transaction {
        codec_version: 1,
        tx_type: TxType::Transfer,
        from: from.public_key(),
        to,
        amount,
        nonce,
        gas_limit: TRANSFER_GAS,
        gas_price: min_fee.div_ceil(TRANSFER_GAS).max(1),
        signature: Signature::ZERO,
        data: chain_tag(chain),
        timestamp,
    };
    tx.signature = from.sign(&tx.signing_message());
    tx
}
