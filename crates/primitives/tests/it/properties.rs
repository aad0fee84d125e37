//! Property tests of the canonical encodings: round trips, rejection of every mutation that does
//! not produce another valid value, and integer forms identical to an independent MessagePack
//! implementation (`rmp`).
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use coinjecture_primitives::consensus::{CommitCertificate, Vote, VoteType};
use coinjecture_primitives::msgpack::{Reader, Writer};
use coinjecture_primitives::{
    Block, BlockHeader, ChainId, Hash32, PublicKey, Signature, SubsetSumProblem, SubsetSumSolution, Tier, Transaction,
    TxType, sha256,
};
use proptest::prelude::*;

fn any_hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

/// Integers concentrated around every MessagePack width boundary.
fn boundary_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        prop::sample::select(vec![0u64, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296, u64::MAX]),
        0u64..300,
    ]
}

fn boundary_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        prop::sample::select(vec![
            0i64,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MIN,
            i64::MAX,
            127,
            128
        ]),
        -300i64..300,
    ]
}

fn any_header() -> impl Strategy<Value = BlockHeader> {
    (
        boundary_u64(),
        boundary_i64(),
        any_hash(),
        any_hash(),
        any::<[u8; 32]>(),
        any_hash(),
        boundary_u64(),
        boundary_u64(),
        prop::collection::vec(any::<u8>(), 0..=256),
    )
        .prop_map(
            |(block_index, timestamp, parent_hash, merkle_root, miner, commitment, difficulty_target, nonce, extra)| {
                BlockHeader {
                    codec_version: 1,
                    block_index: coinjecture_primitives::Height(block_index),
                    timestamp,
                    parent_hash,
                    merkle_root,
                    miner_address: PublicKey(miner),
                    commitment,
                    difficulty_target,
                    nonce,
                    extra_data: extra,
                }
            },
        )
}

fn any_tx() -> impl Strategy<Value = Transaction> {
    (
        prop::sample::select(vec![TxType::Transfer, TxType::ProblemSubmission, TxType::BountyPayment]),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        (boundary_u64(), boundary_u64(), boundary_u64(), boundary_u64()),
        prop::collection::vec(any::<u8>(), 64),
        prop::collection::vec(any::<u8>(), 0..300),
        boundary_i64(),
    )
        .prop_map(|(tx_type, from, to, (amount, nonce, gas_limit, gas_price), sig, data, timestamp)| Transaction {
            codec_version: 1,
            tx_type,
            from: PublicKey(from),
            to: PublicKey(to),
            amount,
            nonce,
            gas_limit,
            gas_price,
            signature: Signature(sig.try_into().unwrap()),
            data,
            timestamp,
        })
}

/// Every single-byte change of `bytes` either fails to decode or decodes to a different value
/// whose re-encoding is the mutated bytes (so its hash differs too).
fn check_mutations<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    original: &T,
    decode: impl Fn(&[u8]) -> Option<T>,
    encode: impl Fn(&T) -> Vec<u8>,
    deltas: &[u8],
) {
    let original_hash = sha256(bytes);
    let mut mutated = bytes.to_vec();
    for i in 0..bytes.len() {
        for &d in deltas {
            mutated[i] = bytes[i].wrapping_add(d);
            if let Some(value) = decode(&mutated) {
                assert_ne!(&value, original, "mutation at byte {i} decoded to the same value");
                assert_eq!(encode(&value), mutated, "a mutated encoding decoded non-canonically (byte {i})");
                assert_ne!(sha256(&mutated), original_hash);
            }
        }
        mutated[i] = bytes[i];
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn header_round_trips(h in any_header()) {
        prop_assert_eq!(BlockHeader::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn transaction_round_trips(t in any_tx()) {
        prop_assert_eq!(Transaction::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn block_round_trips(h in any_header(), txs in prop::collection::vec(any_tx(), 0..20)) {
        let b = Block { header: h, transactions: txs };
        prop_assert_eq!(Block::decode(&b.encode()).unwrap(), b);
    }

    #[test]
    fn header_mutations_are_rejected_or_change_the_value(h in any_header(), d in 1u8..=255) {
        let bytes = h.encode();
        check_mutations(&bytes, &h, |b| BlockHeader::decode(b).ok(), BlockHeader::encode, &[1, 0x80, d]);
    }

    #[test]
    fn transaction_mutations_are_rejected_or_change_the_value(t in any_tx(), d in 1u8..=255) {
        let bytes = t.encode();
        check_mutations(&bytes, &t, |b| Transaction::decode(b).ok(), Transaction::encode, &[1, 0x80, d]);
    }

    #[test]
    fn truncations_and_extensions_are_rejected(t in any_tx(), extra in any::<u8>()) {
        let bytes = t.encode();
        for cut in 0..bytes.len() {
            prop_assert!(Transaction::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(extra);
        prop_assert!(Transaction::decode(&longer).is_err());
    }

    #[test]
    fn unsigned_integers_match_rmp_byte_for_byte(v in boundary_u64()) {
        let mut ours = Writer::default();
        ours.uint(v);
        let mut theirs = Vec::new();
        rmp::encode::write_uint(&mut theirs, v).unwrap();
        let ours = ours.into_bytes();
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(Reader::new(&ours).uint(u64::MAX, "v").unwrap(), v);
    }

    #[test]
    fn signed_integers_match_rmp_byte_for_byte(v in boundary_i64()) {
        let mut ours = Writer::default();
        ours.int(v);
        let mut theirs = Vec::new();
        rmp::encode::write_sint(&mut theirs, v).unwrap();
        prop_assert_eq!(ours.into_bytes(), theirs);
    }

    #[test]
    fn non_shortest_integer_forms_are_rejected(v in 0u64..=u64::from(u32::MAX)) {
        // Re-encode v in the 64-bit form: valid MessagePack, but not the shortest.
        let mut long = vec![0xcf];
        long.extend_from_slice(&v.to_be_bytes());
        prop_assert!(Reader::new(&long).uint(u64::MAX, "v").is_err());
    }

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = BlockHeader::decode(&bytes);
        let _ = Transaction::decode(&bytes);
        let _ = Block::decode(&bytes);
        let _ = Vote::decode(&bytes);
        let _ = CommitCertificate::decode(&bytes);
        let _ = SubsetSumProblem::decode(&bytes);
        let _ = SubsetSumSolution::decode(&bytes);
    }

    #[test]
    fn vote_round_trips_and_mutations_are_caught(
        height in any::<u64>(), round in any::<u32>(), hash in prop::option::of(any_hash()),
        precommit in any::<bool>(), d in 1u8..=255,
    ) {
        let v = Vote {
            chain_id: ChainId::new("coinjecture-go-testnet").unwrap(),
            height: coinjecture_primitives::Height(height),
            round: coinjecture_primitives::Round(round),
            vote_type: if precommit { VoteType::Precommit } else { VoteType::Prevote },
            block_hash: hash,
            validator: PublicKey([3; 32]),
            signature: Signature([4; 64]),
        };
        let bytes = v.encode();
        prop_assert_eq!(Vote::decode(&bytes).unwrap(), v.clone());
        check_mutations(&bytes, &v, |b| Vote::decode(b).ok(), Vote::encode, &[1, d]);
    }

    #[test]
    fn subset_sum_values_round_trip(elements in prop::collection::vec(boundary_i64(), 0..=32), target in boundary_i64(),
        indices in prop::collection::vec(any::<u32>(), 0..=32)) {
        let p = SubsetSumProblem { tier: Tier::Cluster, elements, target, timestamp: target };
        prop_assert_eq!(SubsetSumProblem::decode(&p.encode()).unwrap(), p);
        let s = SubsetSumSolution { indices, timestamp: -1 };
        prop_assert_eq!(SubsetSumSolution::decode(&s.encode()).unwrap(), s);
    }
}
