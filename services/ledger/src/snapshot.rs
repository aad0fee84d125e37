//! State-sync snapshots: the account state after a block, cut into chunks, with a root that
//! validators attest.
//!
//! # Format
//! - **Accounts** sorted by address ascending, each `address (32) ‖ balance u64 BE ‖ nonce u64 BE`
//!   (48 bytes, the entry layout of the state commitment).
//! - **Chunk**: `count u32 BE ‖ count accounts`, at most [`CHUNK_ACCOUNTS`] accounts (1 MiB); every
//!   chunk but the last holds exactly that many.
//! - **Chunk hash**: `SHA-256("coinjecture/v1/snapshot-chunk\0" ‖ chunk bytes)`.
//! - **Root**: the chain's Merkle root (the v4 rule, `coinjecture_crypto_core::merkle`) over the
//!   chunk hashes in order.
//! - **Attestation**: [`SnapshotAttestation`], a validator's signature over
//!   `"coinjecture/v1/snapshot\0" ‖ chain id ‖ height ‖ root`.
//! - **Manifest** ([`SnapshotManifest`]): height, root, account count, chunk hashes, header and
//!   commit certificate of that height, and the attestations the server holds.
//!
//! # Trust
//! The state commitment in a header chains per-block deltas, so a snapshot cannot be checked
//! against it without replaying history. A snapshot is trusted instead when validators holding a
//! commit quorum of the validator set at its height attest its root (the same trust as a commit
//! certificate: at least one honest validator computed it from its own state), and the header
//! of that height carries a valid commit certificate. The header's state commitment then
//! continues the chain: the next block's commitment is computed from it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use coinjecture_primitives::consensus::BinReader;
use coinjecture_primitives::validators::ValidatorSchedule;
use coinjecture_primitives::{
    BlockHeader, ChainId, CommitCertificate, DecodeError, Hash32, Height, PublicKey, SnapshotAttestation, sha256_concat,
};

use crate::state::{AccountState, STATE_ENTRY_LEN};

/// Domain tag of a chunk hash.
pub const SNAPSHOT_CHUNK_DOMAIN: &[u8] = b"coinjecture/v1/snapshot-chunk\0";

/// Accounts per chunk: 1 MiB of account entries.
pub const CHUNK_ACCOUNTS: usize = (1 << 20) / STATE_ENTRY_LEN;

/// Largest chunk encoding.
pub const MAX_CHUNK_BYTES: usize = 4 + CHUNK_ACCOUNTS * STATE_ENTRY_LEN;

/// Most chunks a manifest may list (about 2.2 billion accounts).
pub const MAX_CHUNKS: usize = 100_000;

/// Most attestations a manifest may carry.
pub const MAX_ATTESTATIONS: usize = coinjecture_primitives::limits::MAX_VALIDATORS;

/// Version byte of a manifest encoding.
pub const MANIFEST_VERSION: u8 = 1;

/// Why a snapshot (manifest, attestation or chunk) is refused. Each names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot manifest: {0}")]
    Decode(String),
    #[error("snapshot chunk {index}: {reason}")]
    BadChunk { index: usize, reason: String },
    #[error("snapshot chunk {index} is tampered with: it hashes to {found}, the manifest says {expected}")]
    TamperedChunk { index: usize, expected: Hash32, found: Hash32 },
    #[error("snapshot {height}: the manifest's {chunks} chunk hashes give the root {computed}, not its root {root}")]
    WrongRoot { height: Height, chunks: usize, root: Hash32, computed: Hash32 },
    #[error(
        "snapshot {height} (root {root}): {found} distinct validators of the set at that height attest it, a quorum is \
         {quorum}"
    )]
    TooFewAttestations { height: Height, root: Hash32, found: usize, quorum: usize },
    #[error("snapshot {height}: an attestation by {validator} is for another snapshot ({what})")]
    AttestationMismatch { height: Height, validator: PublicKey, what: String },
    #[error("snapshot {height}: the attestation by {validator} has an invalid signature (forged)")]
    ForgedAttestation { height: Height, validator: PublicKey },
    #[error("snapshot {height}: header: {reason}")]
    BadHeader { height: Height, reason: String },
    #[error("snapshot {height}: the commit certificate of header {height} does not verify: {reason}")]
    BadCertificate { height: Height, reason: String },
    #[error("snapshot {height}: {reason}")]
    Install { height: Height, reason: String },
}

/// The attestations' signing bytes (one message) and their (validator, signature) pairs.
pub type AttestationBatch = (Vec<u8>, Vec<(PublicKey, coinjecture_primitives::Signature)>);

/// The manifest of a snapshot at one height.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotManifest {
    pub height: Height,
    pub root: Hash32,
    /// Accounts in all chunks.
    pub accounts: u64,
    pub chunk_hashes: Vec<Hash32>,
    /// The header of block `height` (its state commitment continues the chain).
    pub header: BlockHeader,
    pub certificate: CommitCertificate,
    /// Attestations of `root` the server holds (sorted by validator, one each).
    pub attestations: Vec<SnapshotAttestation>,
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

impl SnapshotManifest {
    /// `version ‖ height u64 ‖ root ‖ accounts u64 ‖ u32 n ‖ n chunk hashes ‖ u32 len ‖ header
    /// (v4 encoding) ‖ u32 len ‖ certificate ‖ u32 n ‖ (u32 len ‖ attestation)*`, big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let header = self.header.encode();
        let certificate = self.certificate.encode();
        let mut out = Vec::with_capacity(64 + 32 * self.chunk_hashes.len() + header.len() + certificate.len());
        out.push(MANIFEST_VERSION);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.root.0);
        out.extend_from_slice(&self.accounts.to_be_bytes());
        put_len(&mut out, self.chunk_hashes.len());
        for h in &self.chunk_hashes {
            out.extend_from_slice(&h.0);
        }
        put_len(&mut out, header.len());
        out.extend_from_slice(&header);
        put_len(&mut out, certificate.len());
        out.extend_from_slice(&certificate);
        put_len(&mut out, self.attestations.len());
        for a in &self.attestations {
            let bytes = a.encode();
            put_len(&mut out, bytes.len());
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Strict inverse of [`Self::encode`], with every count bounded before allocation.
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let e = |e: DecodeError| SnapshotError::Decode(e.to_string());
        let mut r = BinReader::new(bytes);
        let version = r.u8().map_err(e)?;
        if version != MANIFEST_VERSION {
            return Err(SnapshotError::Decode(format!("unknown version {version}")));
        }
        let height = Height(r.u64().map_err(e)?);
        let root = Hash32(r.array().map_err(e)?);
        let accounts = r.u64().map_err(e)?;
        let chunks = r.u32().map_err(e)? as usize;
        if chunks > MAX_CHUNKS {
            return Err(SnapshotError::Decode(format!("{chunks} chunks exceed {MAX_CHUNKS}")));
        }
        let mut chunk_hashes = Vec::with_capacity(chunks);
        for _ in 0..chunks {
            chunk_hashes.push(Hash32(r.array().map_err(e)?));
        }
        let len = r.u32().map_err(e)? as usize;
        let header = BlockHeader::decode(r.take(len).map_err(e)?).map_err(e)?;
        let len = r.u32().map_err(e)? as usize;
        let certificate = CommitCertificate::decode(r.take(len).map_err(e)?).map_err(e)?;
        let count = r.u32().map_err(e)? as usize;
        if count > MAX_ATTESTATIONS {
            return Err(SnapshotError::Decode(format!("{count} attestations exceed {MAX_ATTESTATIONS}")));
        }
        let mut attestations = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.u32().map_err(e)? as usize;
            attestations.push(SnapshotAttestation::decode(r.take(len).map_err(e)?).map_err(e)?);
        }
        r.finish().map_err(e)?;
        Ok(Self { height, root, accounts, chunk_hashes, header, certificate, attestations })
    }

    /// Everything that needs no signature check: the chunk hashes give the root, the header is
    /// of this height and the certificate names it, and the attestations are for this snapshot
    /// by distinct members of the validator set at `height` reaching its quorum. Returns the
    /// attestation signatures to verify (one message, one batch).
    pub fn check(&self, chain: &ChainId, validators: &ValidatorSchedule) -> Result<AttestationBatch, SnapshotError> {
        let height = self.height;
        if height == Height(0) {
            return Err(SnapshotError::BadHeader { height, reason: "a snapshot of genesis is never served".into() });
        }
        let computed = snapshot_root(&self.chunk_hashes);
        if computed != self.root {
            return Err(SnapshotError::WrongRoot {
                height,
                chunks: self.chunk_hashes.len(),
                root: self.root,
                computed,
            });
        }
        let max_accounts = (self.chunk_hashes.len() as u64).saturating_mul(CHUNK_ACCOUNTS as u64);
        if self.accounts > max_accounts {
            return Err(SnapshotError::Decode(format!(
                "{} accounts cannot fit in {} chunks",
                self.accounts,
                self.chunk_hashes.len()
            )));
        }
        if self.header.block_index != height {
            return Err(SnapshotError::BadHeader {
                height,
                reason: format!("the header is of height {}", self.header.block_index),
            });
        }
        coinjecture_primitives::PoaExtra::decode_at(&self.header.extra_data, height)
            .map_err(|e| SnapshotError::BadHeader { height, reason: format!("extra_data: {e}") })?;
        let set = validators.at(height);
        let mut signers: HashMap<PublicKey, coinjecture_primitives::Signature> = HashMap::new();
        for a in &self.attestations {
            if a.chain_id != *chain || a.height != height || a.root != self.root {
                return Err(SnapshotError::AttestationMismatch {
                    height,
                    validator: a.validator,
                    what: format!("chain {}, height {}, root {}", a.chain_id.as_str(), a.height, a.root),
                });
            }
            if set.contains(&a.validator) {
                signers.insert(a.validator, a.signature);
            }
        }
        if signers.len() < set.quorum() {
            return Err(SnapshotError::TooFewAttestations {
                height,
                root: self.root,
                found: signers.len(),
                quorum: set.quorum(),
            });
        }
        let mut signatures: Vec<_> = signers.into_iter().collect();
        signatures.sort_by_key(|(v, _)| *v);
        Ok((
            coinjecture_primitives::consensus::snapshot_attestation_signing_bytes(chain, height, &self.root),
            signatures,
        ))
    }
}

/// The chunk encoding of `accounts` (sorted, at most [`CHUNK_ACCOUNTS`]).
pub fn encode_chunk(accounts: &[(PublicKey, AccountState)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + accounts.len() * STATE_ENTRY_LEN);
    put_len(&mut out, accounts.len());
    for (address, state) in accounts {
        out.extend_from_slice(&address.0);
        out.extend_from_slice(&state.balance.to_be_bytes());
        out.extend_from_slice(&state.nonce.to_be_bytes());
    }
    out
}

/// Decodes chunk `index`: its length matches its count, at most [`CHUNK_ACCOUNTS`] accounts,
/// addresses strictly ascending, balances within SQLite's i64.
pub fn decode_chunk(index: usize, bytes: &[u8]) -> Result<Vec<(PublicKey, AccountState)>, SnapshotError> {
    let bad = |reason: String| SnapshotError::BadChunk { index, reason };
    let mut r = BinReader::new(bytes);
    let count = r.u32().map_err(|e| bad(e.to_string()))? as usize;
    if count > CHUNK_ACCOUNTS || bytes.len() != 4 + count * STATE_ENTRY_LEN {
        return Err(bad(format!("{} bytes for {count} accounts", bytes.len())));
    }
    let mut out: Vec<(PublicKey, AccountState)> = Vec::with_capacity(count);
    for _ in 0..count {
        let address = PublicKey(r.array().map_err(|e| bad(e.to_string()))?);
        let balance = r.u64().map_err(|e| bad(e.to_string()))?;
        let nonce = r.u64().map_err(|e| bad(e.to_string()))?;
        if out.last().is_some_and(|(prev, _)| *prev >= address) {
            return Err(bad(format!("account {address} is not above the one before it")));
        }
        if i64::try_from(balance).is_err() || i64::try_from(nonce).is_err() {
            return Err(bad(format!("account {address}: balance or nonce exceeds i64::MAX")));
        }
        out.push((address, AccountState { balance, nonce }));
    }
    Ok(out)
}

/// `SHA-256(SNAPSHOT_CHUNK_DOMAIN ‖ chunk)`.
pub fn chunk_hash(chunk: &[u8]) -> Hash32 {
    sha256_concat(&[SNAPSHOT_CHUNK_DOMAIN, chunk])
}

/// The Merkle root of the chunk hashes.
pub fn snapshot_root(chunk_hashes: &[Hash32]) -> Hash32 {
    coinjecture_crypto_core::merkle::merkle_root(chunk_hashes)
}

/// Chunks `accounts` (sorted by address): the chunk encodings and their hashes.
pub fn chunk_accounts(accounts: &[(PublicKey, AccountState)]) -> (Vec<Arc<Vec<u8>>>, Vec<Hash32>) {
    let chunks: Vec<Arc<Vec<u8>>> = accounts.chunks(CHUNK_ACCOUNTS).map(|c| Arc::new(encode_chunk(c))).collect();
    let hashes = chunks.iter().map(|c| chunk_hash(c)).collect();
    (chunks, hashes)
}

/// Checks chunk `index` against the manifest and decodes it.
pub fn verify_chunk(
    manifest: &SnapshotManifest,
    index: usize,
    bytes: &[u8],
) -> Result<Vec<(PublicKey, AccountState)>, SnapshotError> {
    let expected = *manifest
        .chunk_hashes
        .get(index)
        .ok_or_else(|| SnapshotError::BadChunk { index, reason: "the manifest has no such chunk".into() })?;
    let found = chunk_hash(bytes);
    if found != expected {
        return Err(SnapshotError::TamperedChunk { index, expected, found });
    }
    decode_chunk(index, bytes)
}

/// One snapshot this node computed, with the attestations it holds for its root.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub manifest: SnapshotManifest,
    pub chunks: Vec<Arc<Vec<u8>>>,
}

/// The snapshots a node keeps (`ledger.snapshots_kept`, newest last) and the attestations of
/// their roots. Served over the p2p snapshot protocol.
#[derive(Debug)]
pub struct Snapshots {
    kept: usize,
    held: Mutex<VecDeque<Snapshot>>,
    made: tokio::sync::broadcast::Sender<(Height, Hash32)>,
}

impl Snapshots {
    /// Keeps the newest `kept` snapshots.
    pub fn new(kept: usize) -> Self {
        Self { kept: kept.max(1), held: Mutex::new(VecDeque::new()), made: tokio::sync::broadcast::channel(16).0 }
    }

    /// Each new snapshot's (height, root), as it is made.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<(Height, Hash32)> {
        self.made.subscribe()
    }

    pub(crate) fn add(&self, snapshot: Snapshot) {
        let key = (snapshot.manifest.height, snapshot.manifest.root);
        if let Ok(mut held) = self.held.lock() {
            held.retain(|s| s.manifest.height != key.0);
            held.push_back(snapshot);
            while held.len() > self.kept {
                held.pop_front();
            }
        }
        let _ = self.made.send(key);
    }

    /// Adds an attestation to the held snapshot it attests (same height and root); false when
    /// none matches or the validator attested it already. The caller checked the signature.
    pub fn add_attestation(&self, attestation: SnapshotAttestation) -> bool {
        let Ok(mut held) = self.held.lock() else { return false };
        let Some(s) =
            held.iter_mut().find(|s| s.manifest.height == attestation.height && s.manifest.root == attestation.root)
        else {
            return false;
        };
        let list = &mut s.manifest.attestations;
        match list.binary_search_by_key(&attestation.validator, |a| a.validator) {
            Ok(_) => false,
            Err(at) => {
                list.insert(at, attestation);
                true
            }
        }
    }

    /// The manifests held, newest first.
    pub fn manifests(&self) -> Vec<SnapshotManifest> {
        self.held.lock().map(|h| h.iter().rev().map(|s| s.manifest.clone()).collect()).unwrap_or_default()
    }

    /// Chunk `index` of the snapshot at `height` with `root`, if held.
    pub fn chunk(&self, height: Height, root: &Hash32, index: usize) -> Option<Arc<Vec<u8>>> {
        let held = self.held.lock().ok()?;
        let s = held.iter().find(|s| s.manifest.height == height && s.manifest.root == *root)?;
        s.chunks.get(index).cloned()
    }

    /// The newest snapshot's height, if any.
    pub fn newest(&self) -> Option<Height> {
        self.held.lock().ok()?.back().map(|s| s.manifest.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(n: usize) -> Vec<(PublicKey, AccountState)> {
        (0..n)
            .map(|i| {
                let mut a = [0u8; 32];
                a[..8].copy_from_slice(&(i as u64).to_be_bytes());
                (PublicKey(a), AccountState { balance: i as u64 * 10, nonce: i as u64 % 3 })
            })
            .collect()
    }

    #[test]
    fn chunks_hold_a_fixed_number_of_accounts_and_round_trip() {
        let all = accounts(CHUNK_ACCOUNTS * 2 + 5);
        let (chunks, hashes) = chunk_accounts(&all);
        assert_eq!(chunks.len(), 3);
        assert!(chunks[0].len() <= MAX_CHUNK_BYTES && chunks[0].len() > (1 << 20) - 64);
        let mut back = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(chunk_hash(c), hashes[i]);
            back.extend(decode_chunk(i, c).unwrap());
        }
        assert_eq!(back, all);
        // The root is the Merkle root of the chunk hashes: any chunk changes it.
        let root = snapshot_root(&hashes);
        let mut other = hashes.clone();
        other[2] = chunk_hash(b"x");
        assert_ne!(snapshot_root(&other), root);
    }

    #[test]
    fn a_chunk_out_of_order_or_of_the_wrong_length_is_refused_naming_it() {
        let mut two = accounts(2);
        two.reverse();
        let err = decode_chunk(4, &encode_chunk(&two)).unwrap_err();
        assert!(err.to_string().contains("snapshot chunk 4") && err.to_string().contains("not above"), "{err}");
        let mut short = encode_chunk(&accounts(2));
        short.pop();
        assert!(decode_chunk(0, &short).unwrap_err().to_string().contains("bytes for 2 accounts"));
        assert!(decode_chunk(0, &[0xff; 3]).is_err());
    }
}
