//! The journal of transactions this node's API accepted (`<database>.tx_journal`): what a
//! client was told "accepted" survives a crash of every validator at once.
//!
//! The driver admits a submission to the mempool, then hands the admitted transactions to the
//! journal's own thread with the reply for the client. The thread appends everything queued
//! while its previous fsync ran and syncs once for the whole batch (group commit), then answers
//! every client in the batch; the API's 202 therefore always follows the fsync, and consensus
//! never waits for the disk. At start, the driver re-admits the journal's transactions (those
//! already final or now invalid are refused by the ledger's check and dropped) and the journal
//! is compacted to the ones that are still pending; it is compacted again whenever it has grown
//! well beyond what is still pending, keeping only the transactions still in the mempool.
//!
//! File format (big-endian): the header `"CJTJ"` ‖ version `1`, then records
//! `length u32 ‖ first 4 bytes of SHA-256(payload) ‖ payload`, where the payload is the
//! transaction's canonical encoding (so the checksum is the start of its hash). A record cut
//! short or failing its checksum ends the replay: after a crash only the tail can be torn, and
//! nothing in the tail was acknowledged.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use coinjecture_primitives::{Hash32, SealedTransaction, Transaction, sha256};

const MAGIC: &[u8; 4] = b"CJTJ";
const VERSION: u8 = 1;
const HEADER_LEN: u64 = 5;
const RECORD_HEADER_LEN: usize = 8;
/// The journal is compacted once it holds more than this …
const MIN_COMPACT_BYTES: u64 = 8 * 1024 * 1024;
/// … and more than this many times what was live after the last compaction.
const COMPACT_FACTOR: u64 = 4;
/// Most requests in one group commit.
const MAX_BATCH_REQUESTS: usize = 4096;

/// What the caller is told when its batch is (or is not) durable.
pub type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

enum Request {
    Append { txs: Vec<SealedTransaction>, done: Done },
    Compact { keep: HashSet<Hash32> },
}

/// Counters of the journal's work (for metrics and the benchmark).
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Transactions made durable.
    pub transactions: AtomicU64,
    /// Group commits (one fsync each).
    pub syncs: AtomicU64,
    /// Microseconds spent writing and syncing.
    pub sync_micros: AtomicU64,
    /// Current file size.
    pub file_bytes: AtomicU64,
    /// Size above which the driver should ask for a compaction.
    pub compact_at: AtomicU64,
    /// Appends that failed (the client got UNAVAILABLE).
    pub failures: AtomicU64,
}

/// What the journal held at start.
#[derive(Debug, Default)]
pub struct Replay {
    pub transactions: Vec<Transaction>,
    /// Bytes after the last good record, discarded (a torn tail, or damage).
    pub discarded_bytes: u64,
    /// Records whose checksum held but that did not decode as a transaction.
    pub undecodable: usize,
}

/// A handle to the journal thread.
#[derive(Debug)]
pub struct TxJournal {
    requests: std::sync::mpsc::Sender<Request>,
    stats: Arc<JournalStats>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Append { txs, .. } => write!(f, "Append({})", txs.len()),
            Self::Compact { keep } => write!(f, "Compact({})", keep.len()),
        }
    }
}

/// Errors opening the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file exists but cannot be read.
    #[error("the transaction journal {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a journal this node reads (`reason` says how).
    #[error("the transaction journal {path}: {reason}")]
    Contents { path: PathBuf, reason: String },
    /// The journal's writer thread could not be started.
    #[error("the transaction journal {path}: starting its thread: {source}")]
    Thread {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the journal is kept for a signing state at `sign_state_path`: the same name with the
/// extension `tx_journal` (e.g. `data/validator-1.tx_journal`).
pub fn journal_path(sign_state_path: &Path) -> PathBuf {
    sign_state_path.with_extension("tx_journal")
}

impl TxJournal {
    /// Reads what the journal at `path` holds (cutting a torn tail off) and starts its thread.
    /// A journal that cannot be read at all is an error naming it; one that cannot be written
    /// is not: appends fail (and the API answers UNAVAILABLE) until the disk takes writes.
    pub fn open(path: PathBuf) -> Result<(Self, Replay), JournalError> {
        let (replay, good_len) = match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|reason| JournalError::Contents { path: path.clone(), reason })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Replay::default(), 0),
            Err(source) => return Err(JournalError::Read { path, source }),
        };
        let stats = Arc::new(JournalStats::default());
        stats.file_bytes.store(good_len, Ordering::Relaxed);
        stats.compact_at.store(MIN_COMPACT_BYTES, Ordering::Relaxed);
        let (requests, rx) = std::sync::mpsc::channel();
        let thread_error = |source| JournalError::Thread { path: path.clone(), source };
        let mut writer = Writer { path: path.clone(), file: None, good_len, stats: stats.clone() };
        // Opened now, so a directory that later stops taking new files (read-only, out of
        // inodes) does not stop the journal; the torn tail is cut, so new records follow the
        // last good one.
        let opened = writer.file().map(|_| ());
        if let Err(e) = opened.and_then(|()| writer.file.as_ref().map_or(Ok(()), |f| f.set_len(writer.good_len))) {
            tracing::warn!(path = %writer.path.display(), error = %e, "cannot open the transaction journal yet; submissions are refused until it can be written");
            writer.file = None;
        }
        std::thread::Builder::new().name("tx-journal".into()).spawn(move || writer.run(&rx)).map_err(thread_error)?;
        Ok((Self { requests, stats }, replay))
    }

    /// Appends these transactions (their sealed bytes: no encoding or hashing here); `done` is
    /// called once they are durable (or could not be made so).
    pub fn append(&self, txs: Vec<SealedTransaction>, done: Done) {
        if let Err(std::sync::mpsc::SendError(Request::Append { done, .. })) =
            self.requests.send(Request::Append { txs, done })
        {
            done(Err("the journal thread stopped".into()));
        }
    }

    /// Rewrites the journal with only the transactions in `keep` (the ones still pending).
    pub fn compact(&self, keep: HashSet<Hash32>) {
        let _ = self.requests.send(Request::Compact { keep });
        // The next trigger is decided by the thread once it has compacted.
        self.stats.compact_at.store(u64::MAX, Ordering::Relaxed);
    }

    /// Whether the journal has grown enough to be worth compacting.
    pub fn wants_compaction(&self) -> bool {
        self.stats.file_bytes.load(Ordering::Relaxed) > self.stats.compact_at.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> &Arc<JournalStats> {
        &self.stats
    }
}

/// What the journal at `path` holds, without opening it for writing (tools and tests).
pub fn read(path: &Path) -> Result<Replay, JournalError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes)
            .map(|(replay, _)| replay)
            .map_err(|reason| JournalError::Contents { path: path.to_path_buf(), reason }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Replay::default()),
        Err(source) => Err(JournalError::Read { path: path.to_path_buf(), source }),
    }
}

/// The records of a journal file and the length up to the last good one.
fn parse(bytes: &[u8]) -> Result<(Replay, u64), String> {
    let mut replay = Replay::default();
    if bytes.is_empty() {
        return Ok((replay, 0));
    }
    if bytes.len() < HEADER_LEN as usize {
        // Cut during the very first write.
        replay.discarded_bytes = bytes.len() as u64;
        return Ok((replay, 0));
    }
    if &bytes[..4] != MAGIC {
        return Err("not a transaction journal (move it away; it holds no chain data)".into());
    }
    if bytes[4] != VERSION {
        return Err(format!("journal version {} is not supported (this node writes {VERSION})", bytes[4]));
    }
    let mut at = HEADER_LEN as usize;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + RECORD_HEADER_LEN) else { break };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let Some(payload) = bytes.get(at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len) else { break };
        if sha256(payload).0[..4] != header[4..8] {
            break;
        }
        match Transaction::decode(payload) {
            Ok(tx) => replay.transactions.push(tx),
            Err(_) => replay.undecodable += 1,
        }
        at += RECORD_HEADER_LEN + len;
    }
    replay.discarded_bytes = (bytes.len() - at) as u64;
    Ok((replay, at as u64))
}

fn record(hash: &Hash32, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&hash.0[..4]);
    out.extend_from_slice(payload);
}

struct Writer {
    path: PathBuf,
    file: Option<File>,
    /// Bytes up to the end of the last durable record.
    good_len: u64,
    stats: Arc<JournalStats>,
}

impl Writer {
    fn run(mut self, rx: &std::sync::mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_REQUESTS
                && let Ok(next) = rx.try_recv()
            {
                batch.push(next);
            }
            let mut buf = Vec::new();
            let mut dones = Vec::new();
            let mut count = 0;
            for request in batch {
                match request {
                    Request::Append { txs, done } => {
                        for tx in &txs {
                            record(&tx.hash(), tx.bytes(), &mut buf);
                        }
                        count += txs.len();
                        dones.push(done);
                    }
                    Request::Compact { keep } => {
                        self.flush(&mut buf, &mut dones, &mut count);
                        self.compact(&keep);
                    }
                }
            }
            self.flush(&mut buf, &mut dones, &mut count);
        }
    }

    fn file(&mut self) -> std::io::Result<&File> {
        if self.file.is_none() {
            let file =
                std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.path)?;
            if self.good_len == 0 {
                file.write_all_at(&[MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION], 0)?;
                file.sync_all()?;
                sync_dir(&self.path)?;
                self.good_len = HEADER_LEN;
            }
            self.file = Some(file);
        }
        self.file.as_ref().ok_or_else(|| std::io::Error::other("journal not open"))
    }

    /// One write and one fsync for everything in `buf`, then every caller is told.
    fn flush(&mut self, buf: &mut Vec<u8>, dones: &mut Vec<Done>, count: &mut usize) {
        if dones.is_empty() {
            return;
        }
        let started = Instant::now();
        let at = self.good_len;
        let result = self.file().and_then(|f| {
            let at = if at == 0 { HEADER_LEN } else { at };
            f.write_all_at(buf, at)?;
            f.sync_data()?;
            Ok(at)
        });
        let result = match result {
            Ok(at) => {
                self.good_len = at + buf.len() as u64;
                self.stats.file_bytes.store(self.good_len, Ordering::Relaxed);
                self.stats.transactions.fetch_add(*count as u64, Ordering::Relaxed);
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.stats.sync_micros.fetch_add(micros, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                let reason = format!("writing the transaction journal {}: {e}", self.path.display());
                tracing::error!(error = %reason, transactions = *count, "transactions not journaled; their submitters are told UNAVAILABLE");
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                // Whatever part was written is cut off (best effort: the next write starts at
                // the last good record anyway); reopen next time.
                if let Some(f) = &self.file {
                    let _ = f.set_len(self.good_len);
                }
                self.file = None;
                Err(reason)
            }
        };
        for done in dones.drain(..) {
            done(result.clone());
        }
        buf.clear();
        *count = 0;
    }

    /// Rewrites the file with the records whose hash is in `keep`: temp file, fsync, rename.
    fn compact(&mut self, keep: &HashSet<Hash32>) {
        let started = Instant::now();
        let result = (|| -> std::io::Result<(u64, usize, usize)> {
            let mut bytes = Vec::new();
            if self.good_len > 0 {
                let mut f = File::open(&self.path)?;
                f.read_to_end(&mut bytes)?;
                bytes.truncate(usize::try_from(self.good_len).unwrap_or(usize::MAX));
            }
            let mut out = Vec::with_capacity(bytes.len() / 2);
            out.extend_from_slice(MAGIC);
            out.push(VERSION);
            let (mut kept, mut dropped) = (0, 0);
            let mut at = HEADER_LEN as usize;
            while let Some(header) = bytes.get(at..at + RECORD_HEADER_LEN) {
                let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
                let Some(payload) = bytes.get(at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len) else { break };
                let hash = sha256(payload);
                if keep.contains(&hash) {
                    record(&hash, payload, &mut out);
                    kept += 1;
                } else {
                    dropped += 1;
                }
                at += RECORD_HEADER_LEN + len;
            }
            let mut tmp = self.path.as_os_str().to_owned();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            {
                let mut f = File::create(&tmp)?;
                f.write_all(&out)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &self.path)?;
            sync_dir(&self.path)?;
            Ok((out.len() as u64, kept, dropped))
        })();
        match result {
            Ok((len, kept, dropped)) => {
                self.file = None;
                self.good_len = len;
                self.stats.file_bytes.store(len, Ordering::Relaxed);
                self.stats.compact_at.store((len * COMPACT_FACTOR).max(MIN_COMPACT_BYTES), Ordering::Relaxed);
                tracing::debug!(kept, dropped, bytes = len, elapsed = ?started.elapsed(), "transaction journal compacted");
            }
            Err(e) => {
                // The old file is intact; try again after more growth.
                let grown = self.good_len.saturating_mul(2).max(MIN_COMPACT_BYTES);
                self.stats.compact_at.store(grown, Ordering::Relaxed);
                tracing::warn!(path = %self.path.display(), error = %e, "compacting the transaction journal failed");
            }
        }
    }
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
    {
        d.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use std::sync::mpsc;

    use coinjecture_primitives::{PublicKey, Signature, TxType};

    use super::*;

    fn tx(nonce: u64) -> Transaction {
        Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 5,
            nonce,
            gas_limit: 21_000,
            gas_price: 1,
            data: Vec::new(),
            timestamp: 1_767_225_600,
            signature: Signature([3; 64]),
        }
    }

    fn append(journal: &TxJournal, txs: &[Transaction]) -> Result<(), String> {
        let (done, rx) = mpsc::channel();
        journal.append(
            txs.iter().cloned().map(SealedTransaction::seal).collect(),
            Box::new(move |r| done.send(r).unwrap()),
        );
        rx.recv().unwrap()
    }

    #[test]
    fn appended_transactions_are_replayed_a_torn_tail_is_cut_and_compaction_keeps_the_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.tx_journal");
        let (journal, replay) = TxJournal::open(path.clone()).unwrap();
        assert!(replay.transactions.is_empty());
        append(&journal, &[tx(0), tx(1)]).unwrap();
        append(&journal, &[tx(2)]).unwrap();
        drop(journal);

        // A crash in the middle of the next record: its half is on disk.
        let mut torn = Vec::new();
        record(&tx(3).hash(), &tx(3).encode(), &mut torn);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(f);

        let (journal, replay) = TxJournal::open(path.clone()).unwrap();
        assert_eq!(replay.transactions, vec![tx(0), tx(1), tx(2)]);
        assert_eq!(replay.discarded_bytes, (torn.len() / 2) as u64);
        // New records follow the last good one.
        append(&journal, &[tx(4)]).unwrap();
        journal.compact([tx(1).hash(), tx(4).hash()].into_iter().collect());
        append(&journal, &[tx(5)]).unwrap();
        drop(journal);
        let (_journal, replay) = TxJournal::open(path).unwrap();
        assert_eq!(replay.transactions, vec![tx(1), tx(4), tx(5)]);
        assert_eq!(replay.discarded_bytes, 0);
    }

    #[test]
    fn a_journal_that_cannot_be_written_fails_the_append_and_recovers_when_the_disk_does() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("data");
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o555)).unwrap();
        let (journal, _) = TxJournal::open(sub.join("v.tx_journal")).unwrap();
        let denied = append(&journal, &[tx(0)]);
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Root ignores the permission bits: then the append simply works.
        if let Err(e) = denied {
            assert!(e.contains("v.tx_journal") && e.contains("ermission"), "{e}");
            assert_eq!(journal.stats().failures.load(Ordering::Relaxed), 1);
        }
        append(&journal, &[tx(1)]).unwrap();
    }

    #[test]
    fn a_foreign_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.tx_journal");
        std::fs::write(&path, b"hello world").unwrap();
        let err = TxJournal::open(path).unwrap_err().to_string();
        assert!(err.contains("v.tx_journal") && err.contains("not a transaction journal"), "{err}");
    }
}
