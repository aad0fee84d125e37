//! Bounded verification of subset-sum proofs of useful work (v4 rules).
//!
//! Checks, in this order (the first failure is the reason reported; golden/README.md §6.3). From
//! check 3 on this is upstream's order (`verify_subset_sum` of the v4 core, with the empty check of
//! its `quick_validate_solution` first):
//! 1. at most 32 elements, and the element count within the problem's tier bounds;
//! 2. the solution is not empty (we reject the empty solution even when the target is 0:
//!    it proves no work; upstream is inconsistent here, see golden/README.md);
//! 3. no more indices than elements;
//! 4. no index occurs twice in the whole list (before any range check, so `[9, 9]` on 8
//!    elements is `DUPLICATE_INDEX`);
//! 5. each index, in the order given: in range, then adding its element to the running i64 sum
//!    does not overflow;
//! 6. the sum equals the target.
//!
//! Work is O(n²) with n ≤ 32 (at most 496 comparisons), whatever the input.

use coinjecture_primitives::limits::MAX_SUBSET_SUM_ELEMENTS;
use coinjecture_primitives::{SubsetSumProblem, SubsetSumSolution, Tier};

/// Why a subset-sum proof is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubsetSumRejection {
    #[error("problem has {count} elements, more than the maximum 32")]
    TooManyElements { count: usize },
    #[error("problem has {count} elements, outside the {tier:?} tier's {min}..={max}")]
    ElementCountOutsideTier { tier: Tier, count: usize, min: usize, max: usize },
    #[error("solution is empty")]
    EmptySolution,
    #[error("solution has {indices} indices for {elements} elements")]
    TooManyIndices { indices: usize, elements: usize },
    #[error("index {index} is out of range for {elements} elements")]
    IndexOutOfRange { index: u32, elements: usize },
    #[error("index {index} appears more than once")]
    DuplicateIndex { index: u32 },
    #[error("sum overflows i64")]
    Overflow,
    #[error("sum {sum} differs from target {target}")]
    WrongSum { sum: i64, target: i64 },
}

impl SubsetSumRejection {
    /// A stable machine-readable name (used in golden vectors and over gRPC).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyElements { .. } => "TOO_MANY_ELEMENTS",
            Self::ElementCountOutsideTier { .. } => "ELEMENT_COUNT_OUTSIDE_TIER",
            Self::EmptySolution => "EMPTY_SOLUTION",
            Self::TooManyIndices { .. } => "TOO_MANY_INDICES",
            Self::IndexOutOfRange { .. } => "INDEX_OUT_OF_RANGE",
            Self::DuplicateIndex { .. } => "DUPLICATE_INDEX",
            Self::Overflow => "OVERFLOW",
            Self::WrongSum { .. } => "SUM_MISMATCH",
        }
    }
}

/// Verifies `solution` against `problem`.
pub fn verify_subset_sum(problem: &SubsetSumProblem, solution: &SubsetSumSolution) -> Result<(), SubsetSumRejection> {
    let n = problem.elements.len();
    if n > MAX_SUBSET_SUM_ELEMENTS {
        return Err(SubsetSumRejection::TooManyElements { count: n });
    }
    let (min, max) = problem.tier.element_bounds();
    if !(min..=max).contains(&n) {
        return Err(SubsetSumRejection::ElementCountOutsideTier { tier: problem.tier, count: n, min, max });
    }
    if solution.indices.is_empty() {
        return Err(SubsetSumRejection::EmptySolution);
    }
    if solution.indices.len() > n {
        return Err(SubsetSumRejection::TooManyIndices { indices: solution.indices.len(), elements: n });
    }
    // At most 32 indices here (check 3), so the quadratic scan is bounded.
    for (pos, &index) in solution.indices.iter().enumerate() {
        if solution.indices[..pos].contains(&index) {
            return Err(SubsetSumRejection::DuplicateIndex { index });
        }
    }
    let mut sum: i64 = 0;
    for &index in &solution.indices {
        let Some(&element) = problem.elements.get(index as usize) else {
            return Err(SubsetSumRejection::IndexOutOfRange { index, elements: n });
        };
        sum = sum.checked_add(element).ok_or(SubsetSumRejection::Overflow)?;
    }
    if sum != problem.target {
        return Err(SubsetSumRejection::WrongSum { sum, target: problem.target });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(elements: Vec<i64>, target: i64) -> SubsetSumProblem {
        SubsetSumProblem { tier: Tier::Mobile, elements, target, timestamp: 0 }
    }
    fn solution(indices: Vec<u32>) -> SubsetSumSolution {
        SubsetSumSolution { indices, timestamp: 0 }
    }

    #[test]
    fn the_upstream_example_sums_to_14_not_15() {
        // Upstream's placeholder file claims elements 1..=8, indices [0, 1, 3, 6] reach 15;
        // they reach 1 + 2 + 4 + 7 = 14.
        let s = solution(vec![0, 1, 3, 6]);
        assert_eq!(verify_subset_sum(&problem((1..=8).collect(), 14), &s), Ok(()));
        assert_eq!(
            verify_subset_sum(&problem((1..=8).collect(), 15), &s),
            Err(SubsetSumRejection::WrongSum { sum: 14, target: 15 })
        );
    }

    #[test]
    fn each_rule_rejects_with_its_reason() {
        let p = problem((1..=8).collect(), 14);
        let r = |idx: Vec<u32>| verify_subset_sum(&p, &solution(idx)).unwrap_err().code();
        assert_eq!(r(vec![]), "EMPTY_SOLUTION");
        assert_eq!(r((0..9).collect()), "TOO_MANY_INDICES");
        assert_eq!(r(vec![8]), "INDEX_OUT_OF_RANGE");
        assert_eq!(r(vec![u32::MAX]), "INDEX_OUT_OF_RANGE");
        assert_eq!(r(vec![0, 0]), "DUPLICATE_INDEX");
        // Upstream's order: repetition over the whole list first, then range and overflow per index.
        assert_eq!(r(vec![9, 9]), "DUPLICATE_INDEX");
        assert_eq!(r(vec![9, 0, 0]), "DUPLICATE_INDEX");
        assert_eq!(r(vec![0, 1]), "SUM_MISMATCH");
        let small = problem((1..=7).collect(), 3);
        assert_eq!(verify_subset_sum(&small, &solution(vec![0, 1])).unwrap_err().code(), "ELEMENT_COUNT_OUTSIDE_TIER");
        let big = SubsetSumProblem { tier: Tier::Cluster, ..problem(vec![1; 33], 1) };
        assert_eq!(verify_subset_sum(&big, &solution(vec![0])).unwrap_err().code(), "TOO_MANY_ELEMENTS");
        let mut els = vec![1; 8];
        els[0] = i64::MAX;
        els[1] = 1;
        assert_eq!(verify_subset_sum(&problem(els.clone(), 0), &solution(vec![0, 1])).unwrap_err().code(), "OVERFLOW");
        // The overflow at the second index is found before the out-of-range third one.
        assert_eq!(
            verify_subset_sum(&problem(els.clone(), 0), &solution(vec![0, 1, 9])).unwrap_err().code(),
            "OVERFLOW"
        );
        assert_eq!(
            verify_subset_sum(&problem(els, 0), &solution(vec![9, 0, 1])).unwrap_err().code(),
            "INDEX_OUT_OF_RANGE"
        );
    }

    #[test]
    fn negative_elements_are_allowed_and_zero_target_needs_a_non_empty_subset() {
        let p = problem(vec![-5, 5, 1, 2, 3, 4, 6, 7], 0);
        assert_eq!(verify_subset_sum(&p, &solution(vec![0, 1])), Ok(()));
        assert_eq!(verify_subset_sum(&p, &solution(vec![])), Err(SubsetSumRejection::EmptySolution));
    }
}
