//! ed25519: signing, single verification and batch verification.
//!
//! A signature is valid when `ed25519-dalek`'s `verify_strict` accepts it: RFC 8032 checks, a
//! canonical `s`, and rejection of small-order public keys and small-order `R`.
//!
//! Batch verification answers **per item exactly as single verification does**, by running the
//! strict single check on every item, spread over the machine's cores. We do not use
//! `ed25519_dalek::verify_batch`: its random-linear-combination equation accepts signatures
//! that the strict check rejects (an `R` of small order always; an `R` with a torsion component
//! about half the time, depending on the rest of the batch). In a blockchain that would let a
//! crafted signature split the nodes that batch from those that do not (the Go and Python
//! references, or our own fallback path). `golden/ed25519.json` holds both crafted cases.

use coinjecture_primitives::{PublicKey, SealedTransaction, Signature};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// One item of a batch verification.
#[derive(Debug, Clone, Copy)]
pub struct VerifyItem<'a> {
    pub public_key: &'a PublicKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// Verifies one signature.
pub fn verify(public_key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&public_key.0) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
    key.verify_strict(message, &sig).is_ok()
}

/// Batches smaller than this are verified on the calling thread.
const PARALLEL_THRESHOLD: usize = 64;

/// Items one pool task verifies at a time.
const CHUNK: usize = 32;

/// Verifies many signatures; returns one verdict per item, in order, each equal to
/// [`verify`]'s answer for that item.
pub fn verify_batch(items: &[VerifyItem<'_>]) -> Vec<bool> {
    spread(items, |i| verify(i.public_key, i.message, i.signature))
}

/// Verifies each transaction's signature by `from` over its signing message (built on the
/// verifying thread); one verdict per transaction, in order, each equal to [`verify`]'s.
///
/// A transaction that carries a verdict already
/// ([`SealedTransaction::signature_verdict`]: verified before in this process) is not verified
/// again; the others are, and get their verdict recorded, so each sealed transaction is
/// verified at most once however many checks it passes.
pub fn verify_transactions(txs: &[SealedTransaction]) -> Vec<bool> {
    spread(txs, |t| match t.signature_verdict() {
        Some(known) => known,
        None => {
            #[cfg(feature = "counters")]
            coinjecture_primitives::transaction::counters::count_verification();
            let valid = verify(&t.from, &t.signing_message(), &t.signature);
            t.record_signature_verdict(valid);
            valid
        }
    })
}

/// [`verify_transactions`] on the verification pool, calling `done` with the verdicts there:
/// for async callers that must not block their thread (a caller awaits a channel `done` sends
/// on).
pub fn verify_transactions_then(txs: Vec<SealedTransaction>, done: impl FnOnce(Vec<bool>) + Send + 'static) {
    rayon::spawn(move || done(verify_transactions(&txs)))
}

/// `check` of every item, in order. Large batches are spread over rayon's global pool (one
/// worker thread per core, started once; the calling thread takes part), so a call spawns no
/// thread and concurrent callers share the cores instead of each starting its own workers.
fn spread<T: Sync>(items: &[T], check: impl Fn(&T) -> bool + Sync) -> Vec<bool> {
    use rayon::prelude::*;
    if items.len() < PARALLEL_THRESHOLD || rayon::current_num_threads() == 1 {
        return items.iter().map(check).collect();
    }
    let check = &check;
    items.par_iter().with_min_len(CHUNK).map(check).collect()
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
