// How tests/data/lock_state_rust.hex was made: the bytes of LockState::encode (services/consensus/src/lock_state.rs)
// for the lock built below. Not part of the workspace; to regenerate, put it in a scratch crate with
//   coinjecture-consensus = { path = "<repo>/services/consensus", default-features = false }
//   coinjecture-primitives = { path = "<repo>/crates/primitives" }
//   coinjecture-crypto-core = { path = "<repo>/services/crypto-core", default-features = false }
//   hex = "0.4"
// and run `cargo run > lock_state_rust.hex`. tests/test_lock_state.py builds the same lock in Python.
use coinjecture_consensus::LockState;
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::consensus::{Vote, VoteType, vote_signing_bytes};
use coinjecture_primitives::transaction::{Transaction, TxType};
use coinjecture_primitives::{Block, BlockHeader, ChainId, Hash32, PoaExtra, Signature};

fn main() {
    let chain = ChainId::new("coinjecture-sim").unwrap();
    let keys: Vec<Keypair> = (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let extra = PoaExtra { round: 2, timestamp_millis: 345, state_commitment: Hash32([3; 32]), chain_id: None };
    let mut data = b"cj:coinjecture-sim\n".to_vec();
    data.extend_from_slice(&[0, 200, 255]);
    let mut tx = Transaction {
        codec_version: 1,
        tx_type: TxType::Transfer,
        from: keys[0].public_key(),
        to: keys[1].public_key(),
        amount: 1_000_000,
        nonce: 3,
        gas_limit: 21_000,
        gas_price: 1,
        signature: Signature::ZERO,
        data,
        timestamp: -5,
    };
    tx.signature = keys[0].sign(&tx.signing_message());
    let header = BlockHeader {
        codec_version: 1,
        block_index: 7,
        timestamp: 1_767_225_601,
        parent_hash: Hash32([9; 32]),
        merkle_root: Hash32([8; 32]),
        miner_address: keys[2].public_key(),
        commitment: Hash32([0; 32]),
        difficulty_target: 300,
        nonce: 70_000,
        extra_data: extra.encode(),
    };
    let block = Block { header, transactions: vec![tx] };
    let hash = block.hash();
    let mut prevotes: Vec<Vote> = [2usize, 0, 3]
        .iter()
        .map(|i| {
            let bytes = vote_signing_bytes(&chain, 7, 2, VoteType::Prevote, Some(&hash));
            Vote {
                chain_id: chain.clone(),
                height: 7,
                round: 2,
                vote_type: VoteType::Prevote,
                block_hash: Some(hash),
                validator: keys[*i].public_key(),
                signature: keys[*i].sign(&bytes),
            }
        })
        .collect();
    prevotes.sort_by_key(|v| v.validator);
    let lock = LockState { height: 7, round: 2, block, prevotes };
    let bytes = lock.encode();
    assert_eq!(LockState::decode(&bytes).unwrap(), lock);
    println!("{}", hex::encode(&bytes));
}
