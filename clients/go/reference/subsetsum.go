package reference

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/coinjecture/coinjecture/clients/go/reference/msgpack"
)

// Tier is a subset-sum difficulty tier (§6.2). Its numeric value is the SubsetSumTier number of
// the protobuf API (1–5; 0 is unspecified); encodings use the name.
type Tier uint8

// The tiers, numbered as in the protobuf API.
const (
	TierMobile      Tier = 1
	TierDesktop     Tier = 2
	TierWorkstation Tier = 3
	TierServer      Tier = 4
	TierCluster     Tier = 5
)

var tiers = map[Tier]struct {
	name     string
	min, max int
}{
	TierMobile:      {"Mobile", 8, 12},
	TierDesktop:     {"Desktop", 12, 16},
	TierWorkstation: {"Workstation", 16, 20},
	TierServer:      {"Server", 20, 24},
	TierCluster:     {"Cluster", 24, 32},
}

// String returns the tier's name as used in encodings ("Mobile" ... "Cluster"), or "Tier(n)".
func (t Tier) String() string {
	if x, ok := tiers[t]; ok {
		return x.name
	}
	return fmt.Sprintf("Tier(%d)", uint8(t))
}

// Bounds returns the inclusive element-count bounds of the tier; ok is false for an unknown tier.
func (t Tier) Bounds() (lo, hi int, ok bool) {
	x, ok := tiers[t]
	return x.min, x.max, ok
}

// ParseTier returns the Tier of a tier name.
func ParseTier(name string) (Tier, error) {
	for t, x := range tiers {
		if x.name == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tier %q", name)
}

// SubsetSumProblem is a subset-sum problem (§6.1).
type SubsetSumProblem struct {
	Tier      Tier
	Elements  []int64 // at most 32 for an encodable problem
	Target    int64
	Timestamp int64
}

// Encode returns the canonical encoding (§6.1): a fixmap of 5, problem_type "SubsetSum", tier
// name, elements, target, timestamp. Problems with an unknown tier or more than 32 elements have
// no encoding.
func (p *SubsetSumProblem) Encode() ([]byte, error) {
	if _, _, ok := p.Tier.Bounds(); !ok {
		return nil, fmt.Errorf("unknown tier %d", p.Tier)
	}
	if len(p.Elements) > MaxSubsetSum {
		return nil, fmt.Errorf("problem has %d elements: at most %d have an encoding", len(p.Elements), MaxSubsetSum)
	}
	b := msgpack.AppendMapHeader(nil, 5)
	b = msgpack.AppendStr(b, "problem_type")
	b = msgpack.AppendStr(b, "SubsetSum")
	b = msgpack.AppendStr(b, "tier")
	b = msgpack.AppendStr(b, p.Tier.String())
	b = msgpack.AppendStr(b, "elements")
	b = msgpack.AppendArrayHeader(b, len(p.Elements))
	for _, e := range p.Elements {
		b = msgpack.AppendInt(b, e)
	}
	b = msgpack.AppendStr(b, "target")
	b = msgpack.AppendInt(b, p.Target)
	b = msgpack.AppendStr(b, "timestamp")
	return msgpack.AppendInt(b, p.Timestamp), nil
}

// Hash returns problem_hash = SHA-256 of the encoding.
func (p *SubsetSumProblem) Hash() (Hash, error) {
	enc, err := p.Encode()
	if err != nil {
		return Hash{}, err
	}
	return Sha256(enc), nil
}

// SubsetSumSolution is a claimed solution (§6.1): indices into the problem's elements.
type SubsetSumSolution struct {
	Indices   []uint32 // at most 32 for an encodable solution
	Timestamp int64
}

// Encode returns the canonical encoding (§6.1): a fixmap of 2, indices then timestamp.
// Solutions with more than 32 indices have no encoding.
func (s *SubsetSumSolution) Encode() ([]byte, error) {
	if len(s.Indices) > MaxSubsetSum {
		return nil, fmt.Errorf("solution has %d indices: at most %d have an encoding", len(s.Indices), MaxSubsetSum)
	}
	b := msgpack.AppendMapHeader(nil, 2)
	b = msgpack.AppendStr(b, "indices")
	b = msgpack.AppendArrayHeader(b, len(s.Indices))
	for _, i := range s.Indices {
		b = msgpack.AppendUint(b, uint64(i))
	}
	b = msgpack.AppendStr(b, "timestamp")
	return msgpack.AppendInt(b, s.Timestamp), nil
}

// Hash returns solution_hash = SHA-256 of the encoding.
func (s *SubsetSumSolution) Hash() (Hash, error) {
	enc, err := s.Encode()
	if err != nil {
		return Hash{}, err
	}
	return Sha256(enc), nil
}

// SubsetSumReason is the reason code of the first failed subset-sum check (§6.3); "" means
// valid. Over gRPC, code X is SUBSET_SUM_REJECT_REASON_X.
type SubsetSumReason string

// The reason codes of §6.3, in check order, plus InvalidTier (gRPC only: JSON vectors name tiers).
const (
	SubsetSumValid            SubsetSumReason = ""
	ReasonInvalidTier         SubsetSumReason = "INVALID_TIER"
	ReasonTooManyElements     SubsetSumReason = "TOO_MANY_ELEMENTS"
	ReasonElementCountOutside SubsetSumReason = "ELEMENT_COUNT_OUTSIDE_TIER"
	ReasonEmptySolution       SubsetSumReason = "EMPTY_SOLUTION"
	ReasonTooManyIndices      SubsetSumReason = "TOO_MANY_INDICES"
	ReasonDuplicateIndex      SubsetSumReason = "DUPLICATE_INDEX"
	ReasonIndexOutOfRange     SubsetSumReason = "INDEX_OUT_OF_RANGE"
	ReasonOverflow            SubsetSumReason = "OVERFLOW"
	ReasonSumMismatch         SubsetSumReason = "SUM_MISMATCH"
)

// VerifySubsetSum checks a solution against a problem by §6.3 and returns SubsetSumValid or the
// reason of the first failed check. An unknown tier is ReasonInvalidTier, checked first (as
// crypto-core does). Repetition is checked over the whole index list first; then each index in
// the order given is range-checked and added to the running i64 sum, whose overflow is judged
// in that order (upstream's order). O(n²), n ≤ 32.
func VerifySubsetSum(p *SubsetSumProblem, s *SubsetSumSolution) SubsetSumReason {
	lo, hi, ok := p.Tier.Bounds()
	if !ok {
		return ReasonInvalidTier
	}
	n := len(p.Elements)
	switch {
	case n > MaxSubsetSum:
		return ReasonTooManyElements
	case n < lo || n > hi:
		return ReasonElementCountOutside
	case len(s.Indices) == 0:
		return ReasonEmptySolution
	case len(s.Indices) > n:
		return ReasonTooManyIndices
	}
	// Repetition over the whole list first, before any range check (upstream's order); at most
	// 32 indices here, so the quadratic scan is bounded.
	for pos, i := range s.Indices {
		if slices.Contains(s.Indices[:pos], i) {
			return ReasonDuplicateIndex
		}
	}
	var sum int64
	for _, i := range s.Indices {
		if uint64(i) >= uint64(n) {
			return ReasonIndexOutOfRange
		}
		next, overflow := addInt64(sum, p.Elements[i])
		if overflow {
			return ReasonOverflow
		}
		sum = next
	}
	if sum != p.Target {
		return ReasonSumMismatch
	}
	return SubsetSumValid
}

// addInt64 returns a+b and whether it left the int64 range.
func addInt64(a, b int64) (int64, bool) {
	s, _ := bits.Add64(uint64(a), uint64(b), 0)
	r := int64(s)
	// Overflow iff a and b have the same sign and the result's sign differs.
	return r, (a >= 0) == (b >= 0) && (r >= 0) != (a >= 0)
}
