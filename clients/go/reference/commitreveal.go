package reference

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// EpochSalt returns SHA-256(parent_hash ‖ block_index u64 LE) (§7, step 1).
func EpochSalt(parentHash Hash, blockIndex uint64) Hash {
	b := append(parentHash[:], binary.LittleEndian.AppendUint64(nil, blockIndex)...)
	return Sha256(b)
}

// MinerSalt returns HMAC-SHA256(key = minerSecret, epoch_salt ‖ parent_hash ‖ block_index u64 LE)
// (§7, step 2). minerSecret is the miner's 32-byte ed25519 seed, used directly as the key.
func MinerSalt(minerSecret [32]byte, parentHash Hash, blockIndex uint64) Hash {
	epoch := EpochSalt(parentHash, blockIndex)
	mac := hmac.New(sha256.New, minerSecret[:])
	mac.Write(epoch[:])
	mac.Write(parentHash[:])
	mac.Write(binary.LittleEndian.AppendUint64(nil, blockIndex))
	var out Hash
	mac.Sum(out[:0])
	return out
}

// CommitmentFromSalts returns SHA-256(epoch_salt ‖ problem_hash ‖ solution_hash ‖ miner_salt)
// (§7, step 4): the header's commitment.
func CommitmentFromSalts(epochSalt, problemHash, solutionHash, minerSalt Hash) Hash {
	b := make([]byte, 0, 128)
	b = append(b, epochSalt[:]...)
	b = append(b, problemHash[:]...)
	b = append(b, solutionHash[:]...)
	b = append(b, minerSalt[:]...)
	return Sha256(b)
}

// CommitReveal holds the four values that bind subset-sum work to a block and a miner, and the
// resulting commitment (§7).
type CommitReveal struct {
	EpochSalt    Hash
	MinerSalt    Hash
	ProblemHash  Hash
	SolutionHash Hash
	Commitment   Hash
}

// Commit computes every commit–reveal value for a miner's work at block blockIndex on top of
// parentHash. It fails only when the problem or solution has no encoding.
func Commit(minerSecret [32]byte, parentHash Hash, blockIndex uint64, p *SubsetSumProblem, s *SubsetSumSolution) (CommitReveal, error) {
	var c CommitReveal
	var err error
	if c.ProblemHash, err = p.Hash(); err != nil {
		return c, err
	}
	if c.SolutionHash, err = s.Hash(); err != nil {
		return c, err
	}
	c.EpochSalt = EpochSalt(parentHash, blockIndex)
	c.MinerSalt = MinerSalt(minerSecret, parentHash, blockIndex)
	c.Commitment = CommitmentFromSalts(c.EpochSalt, c.ProblemHash, c.SolutionHash, c.MinerSalt)
	return c, nil
}
