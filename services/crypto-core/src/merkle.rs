//! The Merkle rule of the v4 core (fixed by its vectors), and inclusion proofs.
//!
//! - Leaves are the 32-byte transaction hashes as they are: no leaf hashing, no prefixes.
//! - No leaves: 32 zero bytes. One leaf: that leaf.
//! - A parent is SHA-256(left ‖ right).
//! - An odd node at the end of a level is **promoted unchanged** to the next level. It is not
//!   paired with a copy of itself as in Bitcoin, so the CVE-2012-2459 duplicate-leaf
//!   malleability does not arise: two different leaf lists never share a root unless one of
//!   them contains an inner node as a leaf, and a transaction hash cannot be an inner node
//!   (it would need a 64-byte transaction encoding; the shortest is over 200 bytes).

use coinjecture_primitives::{Hash32, sha256_concat};

/// One step of an inclusion proof: the sibling at this level and which side the path is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofStep {
    pub sibling: Hash32,
    /// True when the node being proven is the right child (the sibling is on the left).
    pub current_is_right: bool,
}

/// Errors of proof construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("index {index} is out of range for {leaves} leaves")]
    IndexOutOfRange { index: usize, leaves: usize },
}

fn parent(left: &Hash32, right: &Hash32) -> Hash32 {
    sha256_concat(&[&left.0, &right.0])
}

/// The Merkle root of `leaves`.
pub fn merkle_root(leaves: &[Hash32]) -> Hash32 {
    match leaves {
        [] => Hash32::ZERO,
        [one] => *one,
        _ => {
            let mut level: Vec<Hash32> = next_level(leaves);
            while level.len() > 1 {
                // Reduce in place: node i of the next level overwrites slot i.
                let n = level.len();
                for i in 0..n / 2 {
                    level[i] = parent(&level[2 * i], &level[2 * i + 1]);
                }
                if n % 2 == 1 {
                    level[n / 2] = level[n - 1];
                }
                level.truncate(n.div_ceil(2));
            }
            level[0]
        }
    }
}

fn next_level(nodes: &[Hash32]) -> Vec<Hash32> {
    let mut out = Vec::with_capacity(nodes.len().div_ceil(2));
    for pair in nodes.chunks(2) {
        match pair {
            [l, r] => out.push(parent(l, r)),
            [odd] => out.push(*odd),
            _ => {}
        }
    }
    out
}

/// The inclusion proof of leaf `index`, from the leaf level up.
pub fn merkle_proof(leaves: &[Hash32], index: usize) -> Result<Vec<ProofStep>, MerkleError> {
    if index >= leaves.len() {
        return Err(MerkleError::IndexOutOfRange { index, leaves: leaves.len() });
    }
    let mut proof = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sibling = if i % 2 == 1 { Some(i - 1) } else { (i + 1 < level.len()).then_some(i + 1) };
        // A promoted odd node has no sibling and adds no step.
        if let Some(s) = sibling {
            proof.push(ProofStep { sibling: level[s], current_is_right: i % 2 == 1 });
        }
        level = next_level(&level);
        i /= 2;
    }
    Ok(proof)
}

/// Recomputes the root from `leaf` and `proof`.
pub fn root_from_proof(leaf: &Hash32, proof: &[ProofStep]) -> Hash32 {
    proof.iter().fold(*leaf, |node, step| {
        if step.current_is_right { parent(&step.sibling, &node) } else { parent(&node, &step.sibling) }
    })
}

/// True if `proof` proves `leaf` under `root`.
pub fn verify_merkle_proof(leaf: &Hash32, proof: &[ProofStep], root: &Hash32) -> bool {
    root_from_proof(leaf, proof) == *root
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::sha256;

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n).map(|i| sha256(format!("leaf {i}").as_bytes())).collect()
    }

    #[test]
    fn small_trees_follow_the_promotion_rule() {
        assert_eq!(merkle_root(&[]), Hash32::ZERO);
        let l = leaves(3);
        assert_eq!(merkle_root(&l[..1]), l[0]);
        assert_eq!(merkle_root(&l[..2]), parent(&l[0], &l[1]));
        // three leaves: the third is promoted, not duplicated
        assert_eq!(merkle_root(&l), parent(&parent(&l[0], &l[1]), &l[2]));
        assert_ne!(merkle_root(&l), parent(&parent(&l[0], &l[1]), &parent(&l[2], &l[2])));
    }

    #[test]
    fn in_place_reduction_matches_the_level_by_level_definition() {
        for n in 0..70 {
            let l = leaves(n);
            let mut level = l.clone();
            while level.len() > 1 {
                level = next_level(&level);
            }
            let expected = level.first().copied().unwrap_or(Hash32::ZERO);
            assert_eq!(merkle_root(&l), expected, "{n} leaves");
        }
    }

    #[test]
    fn every_proof_verifies_and_a_wrong_leaf_or_root_does_not() {
        for n in 1..40 {
            let l = leaves(n);
            let root = merkle_root(&l);
            for (i, leaf) in l.iter().enumerate() {
                let proof = merkle_proof(&l, i).unwrap();
                assert!(verify_merkle_proof(leaf, &proof, &root), "n={n} i={i}");
                assert!(!verify_merkle_proof(&sha256(b"other"), &proof, &root));
                assert!(!verify_merkle_proof(leaf, &proof, &sha256(b"root")));
            }
        }
        assert_eq!(merkle_proof(&leaves(3), 3), Err(MerkleError::IndexOutOfRange { index: 3, leaves: 3 }));
    }

    #[test]
    fn promoted_leaf_of_five_has_a_one_step_proof() {
        // levels: 5 -> 3 -> 2 -> 1; leaf 4 is promoted twice, then paired once
        let l = leaves(5);
        let proof = merkle_proof(&l, 4).unwrap();
        assert_eq!(proof.len(), 1);
        assert!(proof[0].current_is_right);
    }
}
