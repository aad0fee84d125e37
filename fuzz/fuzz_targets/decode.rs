//! Feeds arbitrary bytes to every canonical decoder. Invariants: no panic, and whatever decodes
//! re-encodes to exactly the input (one value, one encoding).
#![no_main]

use coinjecture_primitives::consensus::{CommitCertificate, Evidence, Proposal, Vote};
use coinjecture_primitives::{Block, BlockHeader, SubsetSumProblem, SubsetSumSolution, Transaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = BlockHeader::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = Transaction::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = Block::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = SubsetSumProblem::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = SubsetSumSolution::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = Vote::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = Proposal::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = CommitCertificate::decode(data) {
        assert_eq!(v.encode(), data);
    }
    if let Ok(v) = Evidence::decode(data) {
        assert_eq!(v.encode(), data);
    }
});
