package client

import (
	coinjecturev1 "github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1"
	"github.com/coinjecture/coinjecture/clients/go/reference"
)

// Header returns the protobuf form of a reference header.
func Header(h *reference.BlockHeader) *coinjecturev1.BlockHeader {
	return &coinjecturev1.BlockHeader{
		CodecVersion:     uint32(h.CodecVersion),
		BlockIndex:       h.BlockIndex,
		Timestamp:        h.Timestamp,
		ParentHash:       clone(h.ParentHash[:]),
		MerkleRoot:       clone(h.MerkleRoot[:]),
		MinerAddress:     clone(h.MinerAddress[:]),
		Commitment:       clone(h.Commitment[:]),
		DifficultyTarget: h.DifficultyTarget,
		Nonce:            h.Nonce,
		ExtraData:        clone(h.ExtraData),
	}
}

// Transaction returns the protobuf form of a reference transaction. The TxType numbers are the
// same in both (1 Transfer, 2 ProblemSubmission, 3 BountyPayment).
func Transaction(tx *reference.Transaction) *coinjecturev1.Transaction {
	return &coinjecturev1.Transaction{
		CodecVersion: uint32(tx.CodecVersion),
		TxType:       coinjecturev1.TxType(tx.TxType),
		From:         clone(tx.From[:]),
		To:           clone(tx.To[:]),
		Amount:       tx.Amount,
		Nonce:        tx.Nonce,
		GasLimit:     tx.GasLimit,
		GasPrice:     tx.GasPrice,
		Signature:    clone(tx.Signature[:]),
		Data:         clone(tx.Data),
		Timestamp:    tx.Timestamp,
	}
}

// Problem returns the protobuf form of a subset-sum problem. The tier numbers are the same in
// both (1 Mobile … 5 Cluster).
func Problem(p *reference.SubsetSumProblem) *coinjecturev1.SubsetSumProblem {
	return &coinjecturev1.SubsetSumProblem{
		Tier:      coinjecturev1.SubsetSumTier(p.Tier),
		Elements:  append([]int64(nil), p.Elements...),
		Target:    p.Target,
		Timestamp: p.Timestamp,
	}
}

// Solution returns the protobuf form of a subset-sum solution.
func Solution(s *reference.SubsetSumSolution) *coinjecturev1.SubsetSumSolution {
	return &coinjecturev1.SubsetSumSolution{Indices: append([]uint32(nil), s.Indices...), Timestamp: s.Timestamp}
}

// RejectReason returns the gRPC enum of a reference subset-sum reason code
// (code X is SUBSET_SUM_REJECT_REASON_X; valid is UNSPECIFIED), and false for an unknown code.
func RejectReason(r reference.SubsetSumReason) (coinjecturev1.SubsetSumRejectReason, bool) {
	if r == reference.SubsetSumValid {
		return coinjecturev1.SubsetSumRejectReason_SUBSET_SUM_REJECT_REASON_UNSPECIFIED, true
	}
	v, ok := coinjecturev1.SubsetSumRejectReason_value["SUBSET_SUM_REJECT_REASON_"+string(r)]
	return coinjecturev1.SubsetSumRejectReason(v), ok
}

func clone(b []byte) []byte { return append([]byte{}, b...) }
