//! # coinjecture-golden
//!
//! The inputs of every golden vector, and the generator that computes their expected values
//! with `coinjecture-crypto-core` and writes `golden/*.json`. The committed files are the
//! contract for every implementation; `tests/committed.rs` fails when they drift from the code.

use coinjecture_crypto_core::golden::{
    BlockTxJson, Case, Ed25519ItemJson, GeneratedLeaves, GoldenFile, HeaderJson, Input, InputError, PoaExtraJson,
    ProblemJson, ProposalJson, SolutionJson, TxJson, compute,
};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::sha256;

/// Chain ids used in the vectors.
pub const NETWORK_A: &str = "coinjecture-go-testnet";
/// Network B's chain id.
pub const NETWORK_B: &str = "coinjecture-migration-testnet";

fn h(label: &str) -> String {
    sha256(label.as_bytes()).to_hex()
}

/// §3.6: SHA-256(`coinjecture/v1/block-limits` 00 ‖ max_block_gas u64 BE ‖ max_block_bytes u64 BE).
fn block_limits_commitment(max_block_gas: u64, max_block_bytes: u64) -> String {
    let mut bytes = b"coinjecture/v1/block-limits\0".to_vec();
    bytes.extend_from_slice(&max_block_gas.to_be_bytes());
    bytes.extend_from_slice(&max_block_bytes.to_be_bytes());
    sha256(&bytes).to_hex()
}

fn z32() -> String {
    "00".repeat(32)
}

fn seed_hex(label: &str) -> String {
    // Deterministic test seeds: SHA-256 of a label. Never use such keys for real funds.
    sha256(format!("coinjecture golden seed {label}").as_bytes()).to_hex()
}

fn pubkey_of(label: &str) -> String {
    let seed: [u8; 32] = sha256(format!("coinjecture golden seed {label}").as_bytes()).0;
    Keypair::from_seed(&seed).public_key().to_hex()
}

fn case(name: &str, input: Input) -> (String, Input) {
    (name.to_string(), input)
}

fn file(description: &str, cases: Vec<(String, Input)>) -> Result<GoldenFile, InputError> {
    let cases = cases
        .into_iter()
        .map(|(name, input)| {
            let expected = compute(&input).map_err(|e| InputError(format!("{name}: {}", e.0)))?;
            Ok(Case { name, input, expected })
        })
        .collect::<Result<_, InputError>>()?;
    Ok(GoldenFile { description: description.to_string(), cases })
}

fn sha256_cases() -> Vec<(String, Input)> {
    let hexs = |s: &[u8]| hex::encode(s);
    let mut cases = vec![
        case("empty", Input::Sha256 { input_hex: String::new(), repeat: 1 }),
        case("abc", Input::Sha256 { input_hex: hexs(b"abc"), repeat: 1 }),
        case("coinjecture", Input::Sha256 { input_hex: hexs(b"COINjecture"), repeat: 1 }),
        case(
            "nist_two_block_message",
            Input::Sha256 { input_hex: hexs(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), repeat: 1 },
        ),
        case("million_a", Input::Sha256 { input_hex: hexs(b"a"), repeat: 1_000_000 }),
    ];
    // Padding boundaries: 55 bytes fit one block with the length, 56 need two.
    for n in [55usize, 56, 63, 64, 65, 119, 120] {
        cases.push(case(&format!("len_{n}"), Input::Sha256 { input_hex: "5a".into(), repeat: n }));
    }
    cases
}

fn merkle_cases() -> Vec<(String, Input)> {
    let leaves = |n: usize| (0..n).map(|i| h(&format!("leaf {i}"))).collect::<Vec<_>>();
    let mut cases =
        vec![case("empty", Input::Merkle { leaves: vec![], generated_leaves: None, proof_indices: vec![] })];
    for n in [1usize, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17] {
        let mut proof_indices: Vec<usize> = vec![0, n - 1];
        if n > 2 {
            proof_indices.insert(1, n / 2);
        }
        proof_indices.dedup();
        cases.push(case(
            &format!("leaves_{n}"),
            Input::Merkle { leaves: leaves(n), generated_leaves: None, proof_indices },
        ));
    }
    cases.push(case(
        "duplicate_leaves_are_not_collapsed",
        Input::Merkle { leaves: vec![h("same"), h("same"), h("same")], generated_leaves: None, proof_indices: vec![2] },
    ));
    for (prefix, count, idx) in [("tx_", 1000usize, vec![0, 500, 999]), ("leaf_", 10_001, vec![0, 4096, 10_000])] {
        cases.push(case(
            &format!("generated_{count}"),
            Input::Merkle {
                leaves: vec![],
                generated_leaves: Some(GeneratedLeaves { prefix: prefix.into(), count }),
                proof_indices: idx,
            },
        ));
    }
    cases
}

fn header(block_index: u64, timestamp: i64, difficulty_target: u64, nonce: u64, extra_data: &str) -> HeaderJson {
    HeaderJson {
        codec_version: 1,
        block_index,
        timestamp,
        parent_hash: h(&format!("parent {block_index}")),
        merkle_root: h(&format!("merkle {block_index}")),
        miner_address: pubkey_of("validator-1"),
        commitment: z32(),
        difficulty_target,
        nonce,
        extra_data: extra_data.into(),
    }
}

fn header_cases() -> Vec<(String, Input)> {
    let plain = |name: &str, hj: HeaderJson| case(name, Input::Header { header: hj, poa_extra: None });
    let mut cases = vec![plain(
        "upstream_genesis_v4",
        HeaderJson {
            codec_version: 1,
            block_index: 0,
            timestamp: 1_609_459_200,
            parent_hash: z32(),
            merkle_root: z32(),
            miner_address: z32(),
            commitment: z32(),
            difficulty_target: 1000,
            nonce: 0,
            extra_data: String::new(),
        },
    )];
    for v in [0u64, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296, u64::MAX] {
        cases.push(plain(&format!("integers_{v}"), header(v, 1_704_067_200, v, v, "")));
    }
    for t in [
        -1i64,
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
    ] {
        cases.push(plain(&format!("timestamp_{t}"), header(7, t, 0, 0, "")));
    }
    let high_bytes: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
    cases.push(plain("extra_data_max_256_bytes", header(9, 1_704_067_200, 0, 0, &high_bytes)));
    cases.push(plain("extra_data_15_bytes_fixarray", header(9, 1_704_067_200, 0, 0, &"80".repeat(15))));
    cases.push(plain("extra_data_16_bytes_array16", header(9, 1_704_067_200, 0, 0, &"7f".repeat(16))));
    let poa =
        |name: &str, hj: HeaderJson, x: PoaExtraJson| case(name, Input::Header { header: hj, poa_extra: Some(x) });
    cases.push(poa(
        "poa_genesis_network_a",
        HeaderJson {
            parent_hash: z32(),
            merkle_root: z32(),
            miner_address: z32(),
            ..header(0, 1_767_225_600, 0, 0, "")
        },
        PoaExtraJson {
            round: 0,
            timestamp_millis: 0,
            state_commitment: h("genesis state"),
            chain_id: Some(NETWORK_A.into()),
        },
    ));
    cases.push(poa(
        "poa_genesis_network_b",
        HeaderJson {
            parent_hash: z32(),
            merkle_root: z32(),
            miner_address: z32(),
            ..header(0, 1_767_225_600, 0, 0, "")
        },
        PoaExtraJson {
            round: 0,
            timestamp_millis: 0,
            state_commitment: h("genesis state"),
            chain_id: Some(NETWORK_B.into()),
        },
    ));
    // A genesis with other block limits than the defaults commits them in `commitment` (§3.6);
    // otherwise it is `poa_genesis_network_a`.
    cases.push(poa(
        "poa_genesis_network_a_block_limits",
        HeaderJson {
            parent_hash: z32(),
            merkle_root: z32(),
            miner_address: z32(),
            commitment: block_limits_commitment(2_000_000_000, 8 * 1024 * 1024),
            ..header(0, 1_767_225_600, 0, 0, "")
        },
        PoaExtraJson {
            round: 0,
            timestamp_millis: 0,
            state_commitment: h("genesis state"),
            chain_id: Some(NETWORK_A.into()),
        },
    ));
    cases.push(poa(
        "poa_block_round_3_millis_999",
        header(42, 1_767_225_684, 0, 0, ""),
        PoaExtraJson { round: 3, timestamp_millis: 999, state_commitment: h("state 42"), chain_id: None },
    ));
    cases.push(poa(
        "poa_block_round_max",
        header(43, 1_767_225_686, 0, 0, ""),
        PoaExtraJson { round: u32::MAX, timestamp_millis: 0, state_commitment: h("state 43"), chain_id: None },
    ));
    cases
}

fn tx(tx_type: &str, to: &str, amount: u64, nonce: u64, gas_limit: u64, gas_price: u64, timestamp: i64) -> TxJson {
    TxJson {
        codec_version: 1,
        tx_type: tx_type.into(),
        to: pubkey_of(to),
        amount,
        nonce,
        gas_limit,
        gas_price,
        timestamp,
    }
}

fn transaction_cases() -> Vec<(String, Input)> {
    let t = |name: &str, chain: &str, signer: &str, tx: TxJson, memo: &str, tamper: Option<&str>| {
        case(
            name,
            Input::Transaction {
                chain_id: chain.into(),
                secret_seed: seed_hex(signer),
                tx,
                data_memo_hex: memo.into(),
                tamper: tamper.map(str::to_string),
            },
        )
    };
    let memo_high: String = (0x70..=0x90u8).map(|b| format!("{b:02x}")).collect();
    vec![
        t("transfer_simple", NETWORK_A, "alice", tx("Transfer", "bob", 1_000, 0, 21_000, 1, 1_767_225_600), "", None),
        t(
            "transfer_network_b",
            NETWORK_B,
            "alice",
            tx("Transfer", "bob", 1_000, 0, 21_000, 1, 1_767_225_600),
            "",
            None,
        ),
        t(
            "transfer_with_memo_high_bytes",
            NETWORK_A,
            "alice",
            tx("Transfer", "bob", 128, 1, 21_000, 1, 1_767_225_601),
            &memo_high,
            None,
        ),
        t(
            "transfer_integer_boundaries",
            NETWORK_A,
            "carol",
            tx("Transfer", "bob", 4_294_967_296, 65_536, 4_294_967_295, 256, -129),
            "",
            None,
        ),
        t(
            "transfer_u64_max_amount",
            NETWORK_A,
            "carol",
            tx("Transfer", "bob", u64::MAX, u64::MAX, 21_000, 1, i64::MAX),
            "",
            None,
        ),
        t(
            "problem_submission",
            NETWORK_A,
            "dave",
            tx("ProblemSubmission", "bob", 0, 3, 50_000, 2, 1_767_225_602),
            &hex::encode(b"subset-sum problem"),
            None,
        ),
        t(
            "bounty_payment",
            NETWORK_B,
            "dave",
            tx("BountyPayment", "alice", 5_000_000, 4, 50_000, 10, 1_767_225_603),
            "00ff",
            None,
        ),
        t(
            "tampered_signature_is_invalid",
            NETWORK_A,
            "alice",
            tx("Transfer", "bob", 1_000, 0, 21_000, 1, 1_767_225_600),
            "",
            Some("signature"),
        ),
        t(
            "tampered_amount_is_invalid",
            NETWORK_A,
            "alice",
            tx("Transfer", "bob", 1_000, 0, 21_000, 1, 1_767_225_600),
            "",
            Some("amount"),
        ),
    ]
}

const RFC8032: [(&str, &str, &str, &str); 3] = [
    (
        "rfc8032_test_1",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "rfc8032_test_2",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "rfc8032_test_3",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

fn ed25519_cases() -> Vec<(String, Input)> {
    let v = |name: &str, pk: &str, msg: &str, sig: &str| {
        case(name, Input::Ed25519 { public_key: pk.into(), message_hex: msg.into(), signature: sig.into() })
    };
    let mut cases: Vec<_> = RFC8032.iter().map(|(n, pk, m, s)| v(n, pk, m, s)).collect();
    let (_, pk2, _, sig2) = RFC8032[1];
    let (_, pk1, _, _) = RFC8032[0];
    cases.push(v("wrong_message", pk2, "73", sig2));
    cases.push(v("wrong_public_key", pk1, "72", sig2));
    let mut flipped = hex::decode(sig2).unwrap_or_default();
    if let Some(b) = flipped.get_mut(0) {
        *b ^= 0x01;
    }
    cases.push(v("flipped_signature_bit", pk2, "72", &hex::encode(&flipped)));
    // s = s + L (non-canonical scalar): must be rejected (RFC 8032 §5.1.7).
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut non_canonical = hex::decode(sig2).unwrap_or_default();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(non_canonical[32 + i]) + u16::from(l[i]) + carry;
        non_canonical[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    cases.push(v("non_canonical_s", pk2, "72", &hex::encode(&non_canonical)));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    cases.push(v("small_order_public_key", &hex::encode(identity), "72", &(hex::encode(identity) + &"00".repeat(32))));
    cases.push(v("public_key_not_on_curve", &"ff".repeat(32), "72", sig2));
    let (pk, msg, sig) = crafted_signature(CraftedR::SmallOrder);
    cases.push(v("crafted_small_order_r", &pk, &msg, &sig));
    let (pk, msg, sig) = crafted_signature(CraftedR::Torsioned);
    cases.push(v("crafted_r_with_torsion_component", &pk, &msg, &sig));
    cases.push(v("all_zero_signature", pk2, "72", &"00".repeat(64)));
    cases
}

#[derive(Clone, Copy)]
enum CraftedR {
    /// R = the identity point (order 1), s = h·a: passes the plain equation sB = R + hA.
    SmallOrder,
    /// R = rB + T with T of order 2, s = r + h·a: the equation misses by T; random-linear-
    /// combination batch verifiers accept it whenever their weight for it is even.
    Torsioned,
}

/// An adversarial signature that strict verification rejects and `ed25519_dalek::verify_batch`
/// can accept. Returns (public key, message, signature) in hex.
fn crafted_signature(kind: CraftedR) -> (String, String, String) {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};

    let a = Scalar::from_bytes_mod_order([9u8; 32]);
    let public_key = (a * B).compress().to_bytes();
    let message = b"pay me twice".to_vec();
    let (big_r, r) = match kind {
        CraftedR::SmallOrder => {
            let mut identity = [0u8; 32];
            identity[0] = 1;
            (identity, Scalar::ZERO)
        }
        CraftedR::Torsioned => {
            let mut order_two = [0xffu8; 32];
            order_two[0] = 0xec;
            order_two[31] = 0x7f;
            let Some(t) = CompressedEdwardsY(order_two).decompress() else {
                unreachable!("(0, -1) is a point of the curve")
            };
            let r = Scalar::from_bytes_mod_order([7u8; 32]);
            ((r * B + t).compress().to_bytes(), r)
        }
    };
    let mut hasher = Sha512::new();
    hasher.update(big_r);
    hasher.update(public_key);
    hasher.update(&message);
    let h = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    let s = r + h * a;
    let mut signature = big_r.to_vec();
    signature.extend_from_slice(s.as_bytes());
    (hex::encode(public_key), hex::encode(message), hex::encode(signature))
}

fn address_cases() -> Vec<(String, Input)> {
    let mut cases: Vec<_> = RFC8032
        .iter()
        .map(|(n, pk, _, _)| case(&format!("{n}_key"), Input::Address { public_key: (*pk).into() }))
        .collect();
    cases.push(case("zero_key", Input::Address { public_key: z32() }));
    cases.push(case("validator_1", Input::Address { public_key: pubkey_of("validator-1") }));
    cases
}

fn problem(tier: &str, elements: Vec<i64>, target: i64) -> ProblemJson {
    ProblemJson { tier: tier.into(), elements, target, timestamp: 1_767_225_600 }
}

fn solution(indices: Vec<u32>) -> SolutionJson {
    SolutionJson { indices, timestamp: 1_767_225_605 }
}

fn subset_sum_cases() -> Vec<(String, Input)> {
    let s = |name: &str, p: ProblemJson, sol: SolutionJson| case(name, Input::SubsetSum { problem: p, solution: sol });
    let seq = |n: i64| (1..=n).collect::<Vec<i64>>();
    let mut cases = vec![
        s("upstream_example_sums_to_14", problem("Mobile", seq(8), 14), solution(vec![0, 1, 3, 6])),
        s("upstream_placeholder_target_15_is_wrong", problem("Mobile", seq(8), 15), solution(vec![0, 1, 3, 6])),
    ];
    for (tier, min, max) in
        [("Mobile", 8, 12), ("Desktop", 12, 16), ("Workstation", 16, 20), ("Server", 20, 24), ("Cluster", 24, 32)]
    {
        cases.push(s(&format!("{tier}_min_{min}"), problem(tier, seq(min), 1), solution(vec![0])));
        cases.push(s(&format!("{tier}_max_{max}"), problem(tier, seq(max), max), solution(vec![max as u32 - 1])));
        cases.push(s(&format!("{tier}_below_min"), problem(tier, seq(min - 1), 1), solution(vec![0])));
        cases.push(s(&format!("{tier}_above_max"), problem(tier, seq(max + 1), 1), solution(vec![0])));
    }
    cases.extend([
        s("all_32_indices", problem("Cluster", seq(32), 528), solution((0..32).collect())),
        s("more_than_32_elements", problem("Cluster", seq(33), 1), solution(vec![0])),
        s("empty_solution_target_0", problem("Mobile", seq(8), 0), solution(vec![])),
        s("empty_solution_target_5", problem("Mobile", seq(8), 5), solution(vec![])),
        s("more_indices_than_elements", problem("Mobile", seq(8), 36), solution((0..9).collect())),
        s("duplicate_index", problem("Mobile", seq(8), 2), solution(vec![0, 0])),
        s("index_out_of_range", problem("Mobile", seq(8), 8), solution(vec![8])),
        s("index_u32_max", problem("Mobile", seq(8), 1), solution(vec![u32::MAX])),
        // Upstream's check order (§6.3): repetition over the whole list, then range and overflow
        // index by index. (Until stop 26 `[9, 9]` was INDEX_OUT_OF_RANGE, in a case named
        // `out_of_range_before_duplicate`; the verdict, invalid, is unchanged.)
        s("duplicate_before_out_of_range", problem("Mobile", seq(8), 1), solution(vec![9, 9])),
        s("duplicate_after_out_of_range", problem("Mobile", seq(8), 1), solution(vec![9, 0, 0])),
        s(
            "overflow_before_out_of_range",
            problem("Mobile", vec![i64::MAX, 1, 3, 4, 5, 6, 7, 8], 0),
            solution(vec![0, 1, 9]),
        ),
        s(
            "out_of_range_before_overflow",
            problem("Mobile", vec![i64::MAX, 1, 3, 4, 5, 6, 7, 8], 0),
            solution(vec![9, 0, 1]),
        ),
        s("unknown_tier_is_a_verdict", problem("Laptop", seq(8), 1), solution(vec![0])),
        s("positive_overflow", problem("Mobile", vec![i64::MAX, 1, 3, 4, 5, 6, 7, 8], i64::MIN), solution(vec![0, 1])),
        s("negative_overflow", problem("Mobile", vec![i64::MIN, -1, 3, 4, 5, 6, 7, 8], i64::MAX), solution(vec![0, 1])),
        s("extremes_cancel", problem("Mobile", vec![i64::MIN, i64::MAX, 3, 4, 5, 6, 7, 8], -1), solution(vec![0, 1])),
        s("negative_elements", problem("Mobile", vec![-5, 5, -3, 4, 9, -9, 7, 8], 0), solution(vec![0, 1])),
        s("zero_target_non_empty", problem("Mobile", vec![-5, 5, -3, 4, 9, -9, 7, 8], 0), solution(vec![4, 5])),
        s("wrong_sum", problem("Mobile", seq(8), 100), solution(vec![0, 1, 2])),
        s(
            "duplicate_elements_distinct_indices",
            problem("Mobile", vec![3, 3, 3, 3, 3, 3, 3, 3], 9),
            solution(vec![7, 0, 3]),
        ),
    ]);
    cases
}

fn commit_reveal_cases() -> Vec<(String, Input)> {
    let c = |name: &str, block_index: u64, p: ProblemJson, sol: SolutionJson| {
        case(
            name,
            Input::CommitReveal {
                miner_secret: seed_hex("miner"),
                parent_hash: h(&format!("parent {block_index}")),
                block_index,
                problem: p,
                solution: sol,
            },
        )
    };
    vec![
        c("block_1", 1, problem("Mobile", (1..=8).collect(), 14), solution(vec![0, 1, 3, 6])),
        c("block_u64_max", u64::MAX, problem("Cluster", (1..=32).collect(), 528), solution((0..32).collect())),
        c("negative_elements", 256, problem("Desktop", (-6..=6).collect(), 0), solution(vec![0, 12])),
    ]
}

fn consensus_cases() -> Vec<(String, Input)> {
    let vote = |name: &str, chain: &str, height: u64, round: u32, vt: &str, block: Option<String>| {
        case(
            name,
            Input::Vote {
                chain_id: chain.into(),
                secret_seed: seed_hex("validator-1"),
                height,
                round,
                vote_type: vt.into(),
                block_hash: block,
            },
        )
    };
    vec![
        vote("prevote_for_block", NETWORK_A, 1, 0, "prevote", Some(h("block 1"))),
        vote("precommit_for_block", NETWORK_A, 1, 0, "precommit", Some(h("block 1"))),
        vote("precommit_same_block_network_b", NETWORK_B, 1, 0, "precommit", Some(h("block 1"))),
        vote("nil_prevote", NETWORK_A, 2, 5, "prevote", None),
        vote("large_height_and_round", NETWORK_A, u64::MAX, u32::MAX, "precommit", Some(h("block max"))),
        case(
            "commit_certificate_3_of_3",
            Input::CommitCertificate {
                chain_id: NETWORK_A.into(),
                height: 1,
                round: 0,
                block_hash: h("block 1"),
                signer_seeds: vec![seed_hex("validator-1"), seed_hex("validator-2"), seed_hex("validator-3")],
            },
        ),
    ]
}

fn snapshot_cases() -> Vec<(String, Input)> {
    let attest = |name: &str, chain: &str, signer: &str, height: u64, root: String| {
        case(name, Input::SnapshotAttestation { chain_id: chain.into(), secret_seed: seed_hex(signer), height, root })
    };
    vec![
        attest("attestation_at_1000", NETWORK_A, "validator-1", 1000, h("snapshot root 1000")),
        attest("same_root_another_validator", NETWORK_A, "validator-2", 1000, h("snapshot root 1000")),
        attest("same_root_network_b", NETWORK_B, "validator-1", 1000, h("snapshot root 1000")),
        attest("large_height_zero_root", NETWORK_A, "validator-1", u64::MAX, z32()),
    ]
}

fn evidence_cases() -> Vec<(String, Input)> {
    let votes = |name: &str, vt: &str, a: Option<String>, b: Option<String>| {
        case(
            name,
            Input::DuplicateVoteEvidence {
                chain_id: NETWORK_A.into(),
                secret_seed: seed_hex("validator-1"),
                height: 7,
                round: 2,
                vote_type: vt.into(),
                block_hash_a: a,
                block_hash_b: b,
            },
        )
    };
    let block_header = |height: u64, salt: &str| HeaderJson {
        parent_hash: h(&format!("parent {height}")),
        merkle_root: h(&format!("merkle {salt}")),
        ..header(height, 1_767_225_700, 0, 0, "")
    };
    let proposals = |name: &str, height: u64, a: ProposalJson, b: ProposalJson| {
        case(
            name,
            Input::DuplicateProposalEvidence {
                chain_id: NETWORK_A.into(),
                secret_seed: seed_hex("validator-2"),
                height,
                round: 1,
                proposals: vec![a, b],
            },
        )
    };
    let p = |pol_round: Option<u32>, timestamp_ms: i64, header: HeaderJson| ProposalJson {
        pol_round,
        timestamp_ms,
        header,
    };
    vec![
        votes("two_precommits_for_different_blocks", "precommit", Some(h("block a")), Some(h("block b"))),
        votes("prevote_for_block_and_nil_prevote", "prevote", Some(h("block a")), None),
        votes("same_vote_twice_is_not_evidence", "precommit", Some(h("block a")), Some(h("block a"))),
        proposals(
            "two_blocks_at_one_height_and_round",
            9,
            p(None, 1_767_225_700_000, block_header(9, "a")),
            p(None, 1_767_225_700_000, block_header(9, "b")),
        ),
        proposals(
            "same_block_different_pol_round_and_time",
            9,
            p(Some(0), 1_767_225_700_001, block_header(9, "a")),
            p(None, 1_767_225_700_000, block_header(9, "a")),
        ),
        proposals(
            "same_proposal_twice_is_not_evidence",
            9,
            p(None, 1_767_225_700_000, block_header(9, "a")),
            p(None, 1_767_225_700_000, block_header(9, "a")),
        ),
    ]
}

/// Blocks (§3.5): our `{header, transactions}` map, and the transaction-count limit (§11.1).
fn block_cases() -> Vec<(String, Input)> {
    let btx = |signer: &str, nonce: u64| BlockTxJson {
        chain_id: NETWORK_A.into(),
        secret_seed: seed_hex(signer),
        tx: tx("Transfer", "bob", 1_000, nonce, 21_000, 1, 1_767_225_600),
        data_memo_hex: String::new(),
    };
    let block = |name: &str, transactions: Vec<BlockTxJson>, repeat: usize| {
        case(name, Input::Block { header: header(3, 1_767_225_606, 0, 0, ""), transactions, repeat })
    };
    vec![
        block("no_transactions", vec![], 1),
        block("two_transactions", vec![btx("alice", 0), btx("carol", 0)], 1),
        // Above upstream's 10,000 transactions per block, within ours (50,000).
        block("10001_transactions", vec![btx("alice", 0)], 10_001),
        block("50000_transactions", vec![btx("alice", 0)], 50_000),
        block("50001_transactions_refused", vec![btx("alice", 0)], 50_001),
    ]
}

/// Refusals (golden/README.md §1.4): inputs every implementation must refuse, with the field and
/// the code. Each class here once had implementations that disagreed (issue #21).
fn malformed_cases() -> Vec<(String, Input)> {
    let mut cases = Vec::new();
    // Header codec_version other than 1: no encoding, no hash.
    for v in [0u8, 2, 255] {
        cases.push(case(
            &format!("header_codec_version_{v}"),
            Input::Header {
                header: HeaderJson { codec_version: v, ..header(1, 1_767_225_600, 0, 0, "") },
                poa_extra: None,
            },
        ));
    }
    cases.push(case(
        "header_extra_data_257_bytes",
        Input::Header { header: header(1, 1_767_225_600, 0, 0, &"00".repeat(257)), poa_extra: None },
    ));
    cases.push(case(
        "header_parent_hash_31_bytes",
        Input::Header {
            header: HeaderJson { parent_hash: "00".repeat(31), ..header(1, 1_767_225_600, 0, 0, "") },
            poa_extra: None,
        },
    ));
    cases.push(case(
        "poa_extra_millis_1000",
        Input::Header {
            header: header(42, 1_767_225_684, 0, 0, ""),
            poa_extra: Some(PoaExtraJson {
                round: 0,
                timestamp_millis: 1000,
                state_commitment: h("state 42"),
                chain_id: None,
            }),
        },
    ));
    cases.push(case(
        "poa_extra_chain_id_upper_case",
        Input::Header {
            header: HeaderJson {
                parent_hash: z32(),
                merkle_root: z32(),
                miner_address: z32(),
                ..header(0, 1_767_225_600, 0, 0, "")
            },
            poa_extra: Some(PoaExtraJson {
                round: 0,
                timestamp_millis: 0,
                state_commitment: h("genesis state"),
                chain_id: Some("Coinjecture".into()),
            }),
        },
    ));
    // Transaction codec_version other than 1: no signing message, encoding or hash.
    let t = |name: &str, chain: &str, tx: TxJson| {
        case(
            name,
            Input::Transaction {
                chain_id: chain.into(),
                secret_seed: seed_hex("alice"),
                tx,
                data_memo_hex: String::new(),
                tamper: None,
            },
        )
    };
    let transfer = || tx("Transfer", "bob", 1_000, 0, 21_000, 1, 1_767_225_600);
    for v in [0u8, 2] {
        cases.push(t(&format!("transaction_codec_version_{v}"), NETWORK_A, TxJson { codec_version: v, ..transfer() }));
    }
    cases.push(t("transaction_unknown_tx_type", NETWORK_A, TxJson { tx_type: "Transfex".into(), ..transfer() }));
    cases.push(t("transaction_to_33_bytes", NETWORK_A, TxJson { to: "00".repeat(33), ..transfer() }));
    cases.push(t("transaction_chain_id_empty", "", transfer()));
    // ed25519 keys and signatures of the wrong length: refused alone and per item in a batch.
    let (_, pk2, msg2, sig2) = RFC8032[1];
    let ed = |name: &str, pk: &str, sig: &str| {
        case(name, Input::Ed25519 { public_key: pk.into(), message_hex: msg2.into(), signature: sig.into() })
    };
    cases.push(ed("ed25519_public_key_31_bytes", &pk2[..62], sig2));
    cases.push(ed("ed25519_public_key_33_bytes", &format!("{pk2}00"), sig2));
    cases.push(ed("ed25519_public_key_empty", "", sig2));
    cases.push(ed("ed25519_signature_63_bytes", pk2, &sig2[..126]));
    cases.push(ed("ed25519_signature_65_bytes", pk2, &format!("{sig2}00")));
    let item = |pk: &str, sig: &str| Ed25519ItemJson {
        public_key: pk.into(),
        message_hex: msg2.into(),
        signature: sig.into(),
    };
    let mut flipped = hex::decode(sig2).unwrap_or_default();
    if let Some(b) = flipped.get_mut(0) {
        *b ^= 0x01;
    }
    cases.push(case(
        "ed25519_batch_refuses_only_the_malformed_items",
        Input::Ed25519Batch {
            items: vec![
                item(pk2, sig2),
                item(&pk2[..62], sig2),
                item(pk2, &hex::encode(&flipped)),
                item(pk2, &format!("{sig2}00")),
                item(pk2, sig2),
            ],
        },
    ));
    cases.push(case("ed25519_batch_all_valid", Input::Ed25519Batch { items: vec![item(pk2, sig2), item(pk2, sig2)] }));
    cases.push(case("ed25519_batch_empty", Input::Ed25519Batch { items: vec![] }));
    // Merkle leaves that are not 32 bytes; a proof of a leaf that does not exist.
    let leaf = |i: usize| h(&format!("leaf {i}"));
    cases.push(case(
        "merkle_one_leaf_of_31_bytes",
        Input::Merkle { leaves: vec![leaf(0)[..62].to_string()], generated_leaves: None, proof_indices: vec![] },
    ));
    cases.push(case(
        "merkle_second_leaf_of_33_bytes",
        Input::Merkle {
            leaves: vec![leaf(0), format!("{}00", leaf(1)), leaf(2)],
            generated_leaves: None,
            proof_indices: vec![],
        },
    ));
    cases.push(case(
        "merkle_empty_leaf",
        Input::Merkle { leaves: vec![leaf(0), String::new()], generated_leaves: None, proof_indices: vec![] },
    ));
    cases.push(case(
        "merkle_proof_index_out_of_range",
        Input::Merkle { leaves: vec![leaf(0), leaf(1), leaf(2)], generated_leaves: None, proof_indices: vec![0, 3] },
    ));
    // Addresses of keys of the wrong length.
    cases.push(case("address_of_31_byte_key", Input::Address { public_key: "00".repeat(31) }));
    // Consensus messages with an invalid chain id or vote type.
    let vote = |name: &str, chain: &str, vt: &str| {
        case(
            name,
            Input::Vote {
                chain_id: chain.into(),
                secret_seed: seed_hex("validator-1"),
                height: 1,
                round: 0,
                vote_type: vt.into(),
                block_hash: Some(h("block 1")),
            },
        )
    };
    cases.push(vote("vote_chain_id_65_bytes", &"a".repeat(65), "precommit"));
    cases.push(vote("vote_unknown_type", NETWORK_A, "commit"));
    cases
}

/// Every golden file: (file name relative to `golden/`, contents).
pub fn generate_all() -> Result<Vec<(&'static str, GoldenFile)>, InputError> {
    Ok(vec![
        ("sha256.json", file("SHA-256 of byte strings (input_hex repeated `repeat` times)", sha256_cases())?),
        ("merkle.json", file("v4 Merkle roots (odd node promoted) and inclusion proofs", merkle_cases())?),
        (
            "headers.json",
            file("v4 block headers: MessagePack encoding and block hash; PoA extra_data layout", header_cases())?,
        ),
        (
            "transactions.json",
            file(
                "v4 transactions: chain-tagged data, signing message, ed25519 signature, encoding, hash",
                transaction_cases(),
            )?,
        ),
        ("ed25519.json", file("ed25519 verification (strict): valid and invalid signatures", ed25519_cases())?),
        ("addresses.json", file("v4 derived address: SHA-256 of the public key", address_cases())?),
        (
            "subset_sum.json",
            file("subset-sum verification with tier rules; problem and solution encodings", subset_sum_cases())?,
        ),
        (
            "commit_reveal.json",
            file("v4 commit-reveal: epoch salt, miner salt (HMAC), commitment", commit_reveal_cases())?,
        ),
        (
            "consensus.json",
            file("consensus messages (our encoding): votes and commit certificates", consensus_cases())?,
        ),
        (
            "blocks.json",
            file("blocks (our format): {header, transactions} and the transaction-count limit", block_cases())?,
        ),
        (
            "evidence.json",
            file(
                "evidence of equivocation (our encoding): kind 1 duplicate votes, kind 2 duplicate proposals",
                evidence_cases(),
            )?,
        ),
        (
            "snapshot.json",
            file(
                "state-sync snapshot attestations (our encoding): signing bytes, signature and wire encoding",
                snapshot_cases(),
            )?,
        ),
        (
            "malformed.json",
            file(
                "refusals: malformed input every implementation refuses, with the field and the code",
                malformed_cases(),
            )?,
        ),
    ])
}

/// Serialises a golden file exactly as committed: pretty JSON and a final newline.
pub fn render(file: &GoldenFile) -> String {
    let mut s = serde_json::to_string_pretty(file).unwrap_or_default();
    s.push('\n');
    s
}
