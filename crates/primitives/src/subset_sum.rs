//! Subset-sum proof-of-useful-work values (v4): the problem, the solution, the tiers, and their
//! MessagePack encodings (hashed by the commit–reveal scheme). Verification lives in crypto-core.

use crate::chain::limits;
use crate::error::DecodeError;
use crate::hash::{Hash32, sha256};
use crate::msgpack::{Reader, Writer};

/// Hardware tiers: each admits a range of element counts (inclusive; neighbours share a bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Mobile,
    Desktop,
    Workstation,
    Server,
    Cluster,
}

impl Tier {
    /// All tiers, smallest first.
    pub const ALL: [Tier; 5] = [Tier::Mobile, Tier::Desktop, Tier::Workstation, Tier::Server, Tier::Cluster];

    /// The variant name used in the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mobile => "Mobile",
            Self::Desktop => "Desktop",
            Self::Workstation => "Workstation",
            Self::Server => "Server",
            Self::Cluster => "Cluster",
        }
    }

    /// Inverse of [`Self::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Inclusive bounds on the number of elements.
    pub fn element_bounds(self) -> (usize, usize) {
        match self {
            Self::Mobile => (8, 12),
            Self::Desktop => (12, 16),
            Self::Workstation => (16, 20),
            Self::Server => (20, 24),
            Self::Cluster => (24, 32),
        }
    }

    /// 1 for Mobile … 5 for Cluster (the numbering of our protobuf enum).
    pub fn number(self) -> u8 {
        match self {
            Self::Mobile => 1,
            Self::Desktop => 2,
            Self::Workstation => 3,
            Self::Server => 4,
            Self::Cluster => 5,
        }
    }

    /// Inverse of [`Self::number`].
    pub fn from_number(n: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.number() == n)
    }
}

/// A subset-sum problem: find distinct indices whose elements sum to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetSumProblem {
    pub tier: Tier,
    /// At most 32, and within the tier's bounds to be valid; negative values allowed.
    pub elements: Vec<i64>,
    pub target: i64,
    pub timestamp: i64,
}

/// A claimed solution: indices into the problem's elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetSumSolution {
    pub indices: Vec<u32>,
    pub timestamp: i64,
}

impl SubsetSumProblem {
    /// MessagePack `{problem_type: "SubsetSum", tier, elements, target, timestamp}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(80 + 9 * self.elements.len());
        w.map_header(5);
        w.key("problem_type");
        w.str("SubsetSum");
        w.key("tier");
        w.str(self.tier.name());
        w.key("elements");
        w.array_header(self.elements.len());
        for &e in &self.elements {
            w.int(e);
        }
        w.key("target");
        w.int(self.target);
        w.key("timestamp");
        w.int(self.timestamp);
        w.into_bytes()
    }

    /// Strict inverse of [`Self::encode`] (at most 32 elements).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.map_header(5)?;
        r.key("problem_type")?;
        let kind = r.str()?;
        if kind != "SubsetSum" {
            return Err(DecodeError::UnknownVariant { field: "problem_type", value: kind.chars().take(64).collect() });
        }
        r.key("tier")?;
        let name = r.str()?;
        let tier = Tier::from_name(name)
            .ok_or_else(|| DecodeError::UnknownVariant { field: "tier", value: name.chars().take(64).collect() })?;
        r.key("elements")?;
        let n = r.array_header(limits::MAX_SUBSET_SUM_ELEMENTS, "elements")?;
        let mut elements = Vec::with_capacity(n);
        for _ in 0..n {
            elements.push(r.int("elements")?);
        }
        r.key("target")?;
        let target = r.int("target")?;
        r.key("timestamp")?;
        let timestamp = r.int("timestamp")?;
        r.finish()?;
        Ok(Self { tier, elements, target, timestamp })
    }

    /// `problem_hash` of the commit–reveal scheme: SHA-256 of the encoding.
    pub fn hash(&self) -> Hash32 {
        sha256(&self.encode())
    }
}

impl SubsetSumSolution {
    /// MessagePack `{indices, timestamp}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(32 + 5 * self.indices.len());
        w.map_header(2);
        w.key("indices");
        w.array_header(self.indices.len());
        for &i in &self.indices {
            w.uint(i.into());
        }
        w.key("timestamp");
        w.int(self.timestamp);
        w.into_bytes()
    }

    /// Strict inverse of [`Self::encode`] (at most 32 indices).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.map_header(2)?;
        r.key("indices")?;
        let n = r.array_header(limits::MAX_SUBSET_SUM_ELEMENTS, "indices")?;
        let mut indices = Vec::with_capacity(n);
        for _ in 0..n {
            indices.push(r.uint(u32::MAX.into(), "indices")? as u32);
        }
        r.key("timestamp")?;
        let timestamp = r.int("timestamp")?;
        r.finish()?;
        Ok(Self { indices, timestamp })
    }

    /// `solution_hash` of the commit–reveal scheme: SHA-256 of the encoding.
    pub fn hash(&self) -> Hash32 {
        sha256(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_and_solution_round_trip() {
        let p = SubsetSumProblem { tier: Tier::Mobile, elements: (1..=8).collect(), target: 15, timestamp: 1 };
        assert_eq!(SubsetSumProblem::decode(&p.encode()).unwrap(), p);
        let s = SubsetSumSolution { indices: vec![0, 1, 3, 6], timestamp: 2 };
        assert_eq!(SubsetSumSolution::decode(&s.encode()).unwrap(), s);
        let neg = SubsetSumProblem { elements: vec![-5, i64::MIN, i64::MAX], ..p };
        assert_eq!(SubsetSumProblem::decode(&neg.encode()).unwrap(), neg);
    }

    #[test]
    fn tiers_by_name_and_number() {
        for t in Tier::ALL {
            assert_eq!(Tier::from_name(t.name()), Some(t));
            assert_eq!(Tier::from_number(t.number()), Some(t));
        }
        assert_eq!(Tier::from_number(0), None);
    }
}
