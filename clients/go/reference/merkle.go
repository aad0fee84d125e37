package reference

// MerkleStep is one level of an inclusion proof (§5.2), from the leaf upwards.
type MerkleStep struct {
	Sibling Hash
	// CurrentIsRight is true when the proven node is the right child: parent =
	// SHA-256(sibling ‖ node); false when parent = SHA-256(node ‖ sibling).
	CurrentIsRight bool
}

func hashPair(left, right Hash) Hash {
	var buf [64]byte
	copy(buf[:32], left[:])
	copy(buf[32:], right[:])
	return Sha256(buf[:])
}

// nextLevel pairs the nodes from the left; an odd last node is promoted unchanged.
func nextLevel(level []Hash) []Hash {
	out := make([]Hash, 0, (len(level)+1)/2)
	for i := 0; i+1 < len(level); i += 2 {
		out = append(out, hashPair(level[i], level[i+1]))
	}
	if len(level)%2 == 1 {
		out = append(out, level[len(level)-1])
	}
	return out
}

// MerkleRoot returns the Merkle root of the leaves by the v4 rule (§5.1): leaves used as they
// are (no leaf hashing), pairs hashed as SHA-256(left ‖ right), an odd last node promoted
// unchanged. No leaves give 32 zero bytes; one leaf is its own root.
func MerkleRoot(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return Hash{}
	}
	level := leaves
	for len(level) > 1 {
		level = nextLevel(level)
	}
	return level[0]
}

// MerkleProof returns the inclusion proof of leaves[index] (§5.2), leaf level first, and the
// root. A level at which the node is the promoted odd last node adds no step; a one-leaf tree
// has an empty proof.
//
// An index that is not a leaf's is an OUT_OF_RANGE *Refusal of "index". (Leaves are typed 32-byte
// hashes here; Fixed32 refuses a leaf of another length when converting bytes.)
func MerkleProof(leaves []Hash, index int) ([]MerkleStep, Hash, error) {
	if index < 0 || index >= len(leaves) {
		return nil, Hash{}, refuse("index", RefusedOutOfRange, "%d is out of range for %d leaves", index, len(leaves))
	}
	var steps []MerkleStep
	level, i := leaves, index
	for len(level) > 1 {
		switch {
		case i%2 == 1:
			steps = append(steps, MerkleStep{Sibling: level[i-1], CurrentIsRight: true})
		case i+1 < len(level):
			steps = append(steps, MerkleStep{Sibling: level[i+1], CurrentIsRight: false})
		}
		level, i = nextLevel(level), i/2
	}
	return steps, level[0], nil
}

// RootFromProof folds the proof steps over leaf and returns the resulting root.
func RootFromProof(leaf Hash, steps []MerkleStep) Hash {
	node := leaf
	for _, s := range steps {
		if s.CurrentIsRight {
			node = hashPair(s.Sibling, node)
		} else {
			node = hashPair(node, s.Sibling)
		}
	}
	return node
}

// VerifyMerkleProof reports whether the steps lead from leaf to root.
func VerifyMerkleProof(leaf Hash, steps []MerkleStep, root Hash) bool {
	return RootFromProof(leaf, steps) == root
}
