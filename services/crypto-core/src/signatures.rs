//! ed25519: signing, single verification and batch verification.
//!
//! A signature is valid when `ed25519-dalek`'s `verify_strict` accepts it: RFC 8032 checks, a
//! canonical `s`, and rejection of small-order public keys and small-order `R`.
//!
//! [`verify`] gives exactly `verify_strict`'s answer at about two thirds of its cost (see
//! [`verify`]; a differential test checks the two against each other on valid, mutated and
//! crafted inputs, and `golden/ed25519.json` holds the crafted cases the references check).
//!
//! Batch verification answers **per item exactly as single verification does**, by running the
//! strict single check on every item, spread over the machine's cores. We do not use
//! `ed25519_dalek::verify_batch`: its random-linear-combination equation accepts signatures
//! that the strict check rejects (an `R` of small order always; an `R` with a torsion component
//! about half the time, depending on the rest of the batch). In a blockchain that would let a
//! crafted signature split the nodes that batch from those that do not (the Go and Python
//! references, or our own fallback path). `golden/ed25519.json` holds both crafted cases.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use coinjecture_primitives::{PublicKey, SealedTransaction, Signature};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha512};

/// One item of a batch verification.
#[derive(Debug, Clone, Copy)]
pub struct VerifyItem<'a> {
    pub public_key: &'a PublicKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// Verifies one signature: `ed25519-dalek`'s `verify_strict`, computed with one field inversion
/// instead of three (and, in a batch, one for every [`CHUNK`] signatures).
///
/// `verify_strict(A, R‖s, M)` decompresses `A` (an inversion), refuses it if it has small
/// order, requires `s < ℓ`, decompresses `R` (an inversion) and refuses it if it has small
/// order, then accepts iff `compress([s]B − [H(R‖A‖M)]A)` (an inversion) equals the bytes `R`.
/// Here:
/// - `−A` (or "no valid key") comes from a bounded per-process cache, so an account's key is
///   decompressed once, not once per transaction ([`minus_a`]);
/// - `R` is not decompressed. The last step compares bytes, so it can only accept an `R` that is
///   the canonical encoding of a point (a compression's output); such bytes always decompress,
///   to that point, so the decompression could not refuse them, and that point has small order
///   iff the bytes are one of the 8 canonical encodings of the small-order points
///   ([`small_order_encodings`]), which are refused first. An `R` that is not a canonical
///   point encoding (not on the curve, `y ≥ p`, a negative zero) never equals a compression and
///   is refused by the comparison, as `verify_strict` refuses it one way or the other.
pub fn verify(public_key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
    finish(&[prepare(public_key, message, signature)])[0]
}

/// A strict verification up to its last step, the compression ([`finish`] does that for many
/// at once, with one field inversion for all of them).
#[derive(Clone, Copy)]
enum Prepared {
    /// Answered already: refused early, or verified before.
    Known(bool),
    /// Valid iff `point` compresses to `r`.
    Compare { point: EdwardsPoint, r: [u8; 32] },
}

/// Every check of [`verify`] but the last comparison.
fn prepare(public_key: &PublicKey, message: &[u8], signature: &Signature) -> Prepared {
    let Some(minus_a) = minus_a(public_key) else {
        return Prepared::Known(false);
    };
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature.0[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature.0[32..]);
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
        return Prepared::Known(false);
    };
    if small_order_encodings().contains(&r) {
        return Prepared::Known(false);
    }
    let mut h = Sha512::new();
    h.update(r);
    h.update(public_key.0);
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Prepared::Compare { point: EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &minus_a, &s), r }
}

/// The verdicts of prepared verifications, in order: the points are compressed together
/// (`compress_batch_alloc`: one inversion for the batch, where one compression alone costs one).
fn finish(prepared: &[Prepared]) -> Vec<bool> {
    let points: Vec<EdwardsPoint> = prepared
        .iter()
        .filter_map(|p| match p {
            Prepared::Compare { point, .. } => Some(*point),
            Prepared::Known(_) => None,
        })
        .collect();
    let mut compressed =
        if points.is_empty() { Vec::new() } else { EdwardsPoint::compress_batch_alloc(&points) }.into_iter();
    prepared
        .iter()
        .map(|p| match p {
            Prepared::Known(valid) => *valid,
            Prepared::Compare { r, .. } => compressed.next().is_some_and(|c| c.0 == *r),
        })
        .collect()
}

/// The canonical encodings of the 8 points of small order (the torsion subgroup).
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static ENCODINGS: OnceLock<[[u8; 32]; 8]> = OnceLock::new();
    ENCODINGS.get_or_init(|| curve25519_dalek::constants::EIGHT_TORSION.map(|p| p.compress().0))
}

/// Shards of the key cache (by the key's first byte), so the verification threads rarely wait
/// on each other.
const KEY_SHARDS: usize = 16;

/// Keys one shard holds before it is emptied: 16 × 4,096 = 65,536 keys, ~10 MiB. A flood of
/// distinct keys costs what it cost before the cache (one decompression each), no more.
const KEYS_PER_SHARD: usize = 4096;

type KeyShard = Mutex<HashMap<[u8; 32], Option<EdwardsPoint>>>;

/// `−A` for a public key that decompresses to a point not of small order; `None` for any other
/// 32 bytes (`verify_strict` refuses every signature by such a key). Cached per process.
fn minus_a(public_key: &PublicKey) -> Option<EdwardsPoint> {
    static SHARDS: OnceLock<Vec<KeyShard>> = OnceLock::new();
    let shards = SHARDS.get_or_init(|| (0..KEY_SHARDS).map(|_| Mutex::new(HashMap::new())).collect());
    let shard = &shards[usize::from(public_key.0[0]) % KEY_SHARDS];
    // A poisoned shard only means a panic elsewhere while holding it; its entries are whole.
    if let Some(known) = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&public_key.0) {
        return *known;
    }
    let point = CompressedEdwardsY(public_key.0).decompress().filter(|a| !a.is_small_order()).map(|a| -a);
    let mut map = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= KEYS_PER_SHARD {
        map.clear();
    }
    map.insert(public_key.0, point);
    point
}

/// Batches smaller than this are verified on the calling thread.
const PARALLEL_THRESHOLD: usize = 64;

/// Items one pool task verifies at a time (and compresses with one inversion).
const CHUNK: usize = 32;

/// Verifies many signatures; returns one verdict per item, in order, each equal to
/// [`verify`]'s answer for that item.
pub fn verify_batch(items: &[VerifyItem<'_>]) -> Vec<bool> {
    spread(items, |i| prepare(i.public_key, i.message, i.signature))
}

/// Verifies each transaction's signature by `from` over its signing message (built on the
/// verifying thread); one verdict per transaction, in order, each equal to [`verify`]'s.
///
/// A transaction that carries a verdict already
/// ([`SealedTransaction::signature_verdict`]: verified before in this process) is not verified
/// again; the others are, and get their verdict recorded, so each sealed transaction is
/// verified at most once however many checks it passes.
pub fn verify_transactions(txs: &[SealedTransaction]) -> Vec<bool> {
    let verdicts = spread(txs, |t| match t.signature_verdict() {
        Some(known) => Prepared::Known(known),
        None => {
            #[cfg(feature = "counters")]
            coinjecture_primitives::transaction::counters::count_verification();
            prepare(&t.from, &t.signing_message(), &t.signature)
        }
    });
    // The first verdict recorded stays: recording one already known changes nothing.
    for (t, valid) in txs.iter().zip(&verdicts) {
        t.record_signature_verdict(*valid);
    }
    verdicts
}

/// Niceness of the intake pool's threads ([`on_intake_pool`]): 10, as `nice` gives by default.
pub const INTAKE_NICENESS: i32 = 10;

/// Runs `work` on the **intake pool**: the pool that verifies what clients submit and peers
/// gossip (transactions not yet in a proposal), apart from rayon's global pool, which verifies
/// what consensus waits for (a proposal's transactions, certificates).
///
/// Its threads (one per core) run at niceness [`INTAKE_NICENESS`] where the OS allows it, so
/// when the cores are saturated the scheduler gives them to consensus first (this node's and
/// any other process's at normal priority): intake slows down, the mempool's high-water mark
/// refuses the excess, and blocks keep their time. Parallel iterators inside `work` run on the
/// intake pool too. A failure to lower the priority (an OS that refuses) leaves the pool at
/// normal priority, still separate from consensus's queue.
pub fn on_intake_pool(work: impl FnOnce() + Send + 'static) {
    static INTAKE: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = INTAKE.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("intake-verify-{i}"))
            .start_handler(|_| lower_this_threads_priority())
            // A panic in one job is that job's failure (its caller's channel closes), not the
            // process's: without a handler rayon aborts.
            .panic_handler(|_| {})
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.spawn(work),
        // No thread could be started for it: the global pool, as before there was an intake pool.
        None => rayon::spawn(work),
    }
}

/// Sets the calling thread's niceness to [`INTAKE_NICENESS`] (Linux: per thread). Best effort.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), INTAKE_NICENESS);
    }
}

/// [`verify_transactions`] on the [intake pool](on_intake_pool), calling `done` with the
/// verdicts there: for async callers that must not block their thread (a caller awaits a
/// channel `done` sends on).
pub fn verify_intake_then(txs: Vec<SealedTransaction>, done: impl FnOnce(Vec<bool>) + Send + 'static) {
    on_intake_pool(move || done(verify_transactions(&txs)));
}

/// The verdict of every item, in order, [`CHUNK`] items at a time ([`prepare`]d one by one,
/// [`finish`]ed together). Large batches are spread over the rayon pool the caller runs in
/// (the global pool, or the intake pool for work sent there; one worker thread per core,
/// started once; the calling thread takes part), so a call spawns no thread and concurrent
/// callers share the cores instead of each starting its own workers.
fn spread<T: Sync>(items: &[T], prepare: impl Fn(&T) -> Prepared + Sync) -> Vec<bool> {
    use rayon::prelude::*;
    let chunk = |c: &[T]| finish(&c.iter().map(&prepare).collect::<Vec<_>>());
    if items.len() < PARALLEL_THRESHOLD || rayon::current_num_threads() == 1 {
        return items.chunks(CHUNK).flat_map(chunk).collect();
    }
    items.par_chunks(CHUNK).map(chunk).collect::<Vec<_>>().concat()
}

/// An ed25519 key pair from its 32-byte secret seed.
#[derive(Debug)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// From the 32-byte secret seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { signing: SigningKey::from_bytes(seed) }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// The secret seed (to store the key).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// Signs `message` (deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1 (empty message).
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
        let kp = Keypair::from_seed(&seed);
        assert_eq!(kp.public_key().to_hex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = kp.sign(b"");
        assert_eq!(
            sig.to_hex(),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(verify(&kp.public_key(), b"", &sig));
    }

    #[test]
    fn batch_agrees_with_single_verification_and_finds_bad_items() {
        let keys: Vec<Keypair> = (0u8..8).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let messages: Vec<Vec<u8>> = (0u8..8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
        let pks: Vec<PublicKey> = keys.iter().map(Keypair::public_key).collect();
        let items = |sigs: &[Signature]| -> Vec<bool> {
            let items: Vec<VerifyItem<'_>> = (0..8)
                .map(|i| VerifyItem { public_key: &pks[i], message: &messages[i], signature: &sigs[i] })
                .collect();
            verify_batch(&items)
        };
        assert_eq!(items(&sigs), vec![true; 8]);
        sigs[3].0[0] ^= 1;
        sigs[6] = keys[0].sign(&messages[6]);
        let verdicts = items(&sigs);
        assert_eq!(verdicts, vec![true, true, true, false, true, true, false, true]);
        for (i, v) in verdicts.iter().enumerate() {
            assert_eq!(*v, verify(&pks[i], &messages[i], &sigs[i]));
        }
    }

    /// The reference: `ed25519-dalek`'s strict verification, as [`verify`] was before it computed
    /// the same answer itself.
    fn verify_strict_reference(public_key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public_key.0) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0)).is_ok()
    }

    /// 32-byte strings a crafted key or `R` may be: the canonical and non-canonical encodings
    /// of the small-order points (negative zeros, `y + p`), other `y ≥ p` encodings, and bytes
    /// that are not points at all.
    fn crafted_encodings() -> Vec<[u8; 32]> {
        let mut out: Vec<[u8; 32]> = small_order_encodings().to_vec();
        for e in small_order_encodings() {
            let mut neg = *e;
            neg[31] ^= 0x80;
            out.push(neg);
        }
        // y = p + δ (2^255 − 19 + δ < 2^255) for δ < 19, with either sign bit.
        for delta in 0u8..19 {
            let mut y = [0xffu8; 32];
            y[0] = 0xed + delta;
            y[31] = 0x7f;
            out.push(y);
            let mut neg = y;
            neg[31] |= 0x80;
            out.push(neg);
        }
        out.push([0xff; 32]);
        out.push([0; 32]);
        out
    }

    #[test]
    fn verify_gives_verify_strict_answer_on_crafted_keys_r_and_s() {
        let kp = Keypair::from_seed(&[7; 32]);
        let message = b"a transfer";
        let good = kp.sign(message);
        assert!(verify(&kp.public_key(), message, &good));
        let l_plus_s = {
            // s + ℓ: the same scalar, not canonical (refused by both).
            // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian
            let l: [u8; 32] = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                .unwrap()
                .try_into()
                .unwrap();
            let mut out = [0u8; 32];
            let mut carry = 0u16;
            for i in 0..32 {
                let sum = u16::from(good.0[32 + i]) + u16::from(l[i]) + carry;
                out[i] = sum as u8;
                carry = sum >> 8;
            }
            out
        };
        let mut cases: Vec<(PublicKey, Signature)> = Vec::new();
        let mut non_canonical_s = good;
        non_canonical_s.0[32..].copy_from_slice(&l_plus_s);
        cases.push((kp.public_key(), non_canonical_s));
        for enc in crafted_encodings() {
            // crafted key, with the good signature and with an all-crafted one
            cases.push((PublicKey(enc), good));
            let mut sig = Signature([0; 64]);
            sig.0[..32].copy_from_slice(&enc);
            cases.push((PublicKey(enc), sig));
            // crafted R with the good key and s, and with s = 0
            let mut r = good;
            r.0[..32].copy_from_slice(&enc);
            cases.push((kp.public_key(), r));
            let mut r0 = Signature([0; 64]);
            r0.0[..32].copy_from_slice(&enc);
            cases.push((kp.public_key(), r0));
        }
        // R with a torsion component added, and a key with one added: refused by both.
        let r_point = CompressedEdwardsY(good.0[..32].try_into().unwrap()).decompress().unwrap();
        let a_point = CompressedEdwardsY(kp.public_key().0).decompress().unwrap();
        for t in curve25519_dalek::constants::EIGHT_TORSION.iter().skip(1) {
            let mut sig = good;
            sig.0[..32].copy_from_slice(&(r_point + t).compress().0);
            cases.push((kp.public_key(), sig));
            cases.push((PublicKey((a_point + t).compress().0), good));
        }
        // R = the identity and s = k·a: the cofactorless equation [s]B − [k]A = R holds, so
        // only the refusal of a small-order R refuses it.
        let identity = curve25519_dalek::constants::EIGHT_TORSION[0].compress().0;
        let k = {
            let mut h = Sha512::new();
            h.update(identity);
            h.update(kp.public_key().0);
            h.update(message);
            Scalar::from_bytes_mod_order_wide(&h.finalize().into())
        };
        let mut forged = Signature([0; 64]);
        forged.0[..32].copy_from_slice(&identity);
        forged.0[32..].copy_from_slice(&(k * kp.signing.to_scalar()).to_bytes());
        assert!(!verify_strict_reference(&kp.public_key(), message, &forged));
        cases.push((kp.public_key(), forged));
        for (i, (pk, sig)) in cases.iter().enumerate() {
            assert_eq!(
                verify(pk, message, sig),
                verify_strict_reference(pk, message, sig),
                "case {i}: key {}, signature {}",
                pk.to_hex(),
                sig.to_hex()
            );
        }
        // The same cases as one batch (chunks compressed together, spread over the pool), good
        // ones mixed in: each item gets its own answer.
        let mut mixed = cases.clone();
        for (i, (pk, sig)) in cases.iter().enumerate().step_by(3) {
            mixed.insert(i, (kp.public_key(), good));
            mixed.push((*pk, *sig));
        }
        let items: Vec<VerifyItem<'_>> =
            mixed.iter().map(|(pk, sig)| VerifyItem { public_key: pk, message, signature: sig }).collect();
        assert!(items.len() > PARALLEL_THRESHOLD);
        let expected: Vec<bool> = mixed.iter().map(|(pk, sig)| verify_strict_reference(pk, message, sig)).collect();
        assert!(expected.iter().filter(|v| **v).count() > mixed.len() / 8);
        assert_eq!(verify_batch(&items), expected);
    }

    proptest::proptest! {
        /// Valid signatures, and the same with one bit of the key, the message or the signature
        /// flipped: [`verify`] and `verify_strict` agree on every one.
        #[test]
        fn verify_gives_verify_strict_answer_on_valid_and_mutated_signatures(
            seed in proptest::prelude::any::<[u8; 32]>(),
            message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            target in 0u8..4,
            bit in 0usize..(64 * 8),
        ) {
            let kp = Keypair::from_seed(&seed);
            let mut pk = kp.public_key();
            let mut sig = kp.sign(&message);
            let mut message = message;
            proptest::prop_assert!(verify(&pk, &message, &sig));
            proptest::prop_assert!(verify_strict_reference(&pk, &message, &sig));
            match target {
                0 => pk.0[(bit / 8) % 32] ^= 1 << (bit % 8),
                1 => sig.0[bit / 8] ^= 1 << (bit % 8),
                2 if !message.is_empty() => {
                    let at = (bit / 8) % message.len();
                    message[at] ^= 1 << (bit % 8);
                }
                _ => message.push(0),
            }
            proptest::prop_assert_eq!(verify(&pk, &message, &sig), verify_strict_reference(&pk, &message, &sig));
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn intake_work_runs_on_its_own_threads_below_normal_priority() {
        let (done, result) = std::sync::mpsc::channel();
        on_intake_pool(move || {
            let me = rustix::thread::gettid();
            let name = std::thread::current().name().map(str::to_owned);
            let _ = done.send((rustix::process::getpriority_process(Some(me)), name));
        });
        let (priority, name) = result.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(name.is_some_and(|n| n.starts_with("intake-verify-")));
        // Lowering one's own priority is always allowed; the test process runs at 0 or above.
        assert!(priority.unwrap() >= INTAKE_NICENESS);
        // The global pool (consensus's) is not lowered.
        let (done, result) = std::sync::mpsc::channel();
        rayon::spawn(move || {
            let _ = done.send(rustix::process::getpriority_process(Some(rustix::thread::gettid())));
        });
        assert!(result.recv_timeout(std::time::Duration::from_secs(10)).unwrap().unwrap() < INTAKE_NICENESS);
        // Transactions verified there get their verdicts.
        let kp = Keypair::from_seed(&[3; 32]);
        let (done, result) = std::sync::mpsc::channel();
        let mut unsigned = coinjecture_primitives::Transaction {
            codec_version: coinjecture_primitives::CODEC_VERSION,
            tx_type: coinjecture_primitives::TxType::Transfer,
            from: kp.public_key(),
            to: PublicKey([9; 32]),
            amount: 5,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature::ZERO,
            data: Vec::new(),
            timestamp: 1_767_225_600,
        };
        unsigned.signature = kp.sign(&unsigned.signing_message());
        let tx = SealedTransaction::seal(unsigned);
        verify_intake_then(vec![tx.clone()], move |v| {
            let _ = done.send(v);
        });
        assert_eq!(result.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), vec![true]);
        assert_eq!(tx.signature_verdict(), Some(true));
    }

    #[test]
    fn weak_and_invalid_keys_are_rejected() {
        let identity = PublicKey({
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        });
        assert!(!verify(&identity, b"m", &Signature([0; 64])));
        let not_a_point = PublicKey([0xff; 32]);
        assert!(!verify(&not_a_point, b"m", &Signature([0; 64])));
        let item = VerifyItem { public_key: &identity, message: b"m", signature: &Signature([0; 64]) };
        assert_eq!(verify_batch(&[item]), vec![false]);
    }
}
