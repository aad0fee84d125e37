//! The chain's positions and clock as types: [`Height`], [`Round`] and [`UnixMillis`].
//!
//! Each wraps the integer of its encodings (`u64`, `u32`, `i64`) with no invariant beyond it, so
//! the field is public and a literal is `Height(5)`. What the types buy is that a height cannot be
//! passed as a round, a count or seconds, and the arithmetic a chain needs is named (`next`,
//! `checked_sub`, `saturating_add`). The raw integers appear only at the edges: canonical
//! encodings (`to_be_bytes`, unchanged widths), protobuf, SQLite (checked `TryFrom<i64>`) and JSON
//! (`serde(transparent)`, so a height is still a number).

use std::fmt;
use std::num::TryFromIntError;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A block height (`block_index` in the v4 header); genesis is [`Height::GENESIS`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
pub struct Height(pub u64);

impl Height {
    /// The genesis block's height, 0.
    pub const GENESIS: Self = Self(0);
    /// The largest height.
    pub const MAX: Self = Self(u64::MAX);

    /// The height as an integer.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The height after this one. Saturates at [`Height::MAX`], a height no chain reaches, so
    /// that a hostile message carrying it cannot overflow a node.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// The height before this one; `None` at genesis.
    pub const fn prev(self) -> Option<Self> {
        match self.0.checked_sub(1) {
            Some(h) => Some(Self(h)),
            None => None,
        }
    }

    /// `self + blocks`, or `None` past [`Height::MAX`].
    pub const fn checked_add(self, blocks: u64) -> Option<Self> {
        match self.0.checked_add(blocks) {
            Some(h) => Some(Self(h)),
            None => None,
        }
    }

    /// `self + blocks`, at most [`Height::MAX`].
    #[must_use]
    pub const fn saturating_add(self, blocks: u64) -> Self {
        Self(self.0.saturating_add(blocks))
    }

    /// `self - blocks`, or `None` below genesis.
    pub const fn checked_sub(self, blocks: u64) -> Option<Self> {
        match self.0.checked_sub(blocks) {
            Some(h) => Some(Self(h)),
            None => None,
        }
    }

    /// `self - blocks`, at least genesis.
    #[must_use]
    pub const fn saturating_sub(self, blocks: u64) -> Self {
        Self(self.0.saturating_sub(blocks))
    }

    /// Blocks from `earlier` up to `self` (0 if `earlier` is not below `self`).
    pub const fn blocks_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The 8-byte big-endian form of the consensus encodings.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Reads the 8-byte big-endian form.
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Self {
        Self(u64::from_be_bytes(bytes))
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Height {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

impl From<u64> for Height {
    fn from(h: u64) -> Self {
        Self(h)
    }
}

impl From<Height> for u64 {
    fn from(h: Height) -> Self {
        h.0
    }
}

impl From<Height> for u128 {
    fn from(h: Height) -> Self {
        u128::from(h.0)
    }
}

/// SQLite stores heights as `INTEGER` (i64): a negative value is not a height.
impl TryFrom<i64> for Height {
    type Error = TryFromIntError;
    fn try_from(h: i64) -> Result<Self, Self::Error> {
        u64::try_from(h).map(Self)
    }
}

/// SQLite stores heights as `INTEGER` (i64): heights above `i64::MAX` do not fit.
impl TryFrom<Height> for i64 {
    type Error = TryFromIntError;
    fn try_from(h: Height) -> Result<Self, Self::Error> {
        i64::try_from(h.0)
    }
}

/// A consensus round within one height; every height starts at [`Round::ZERO`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
pub struct Round(pub u32);

impl Round {
    /// The first round of every height.
    pub const ZERO: Self = Self(0);
    /// The largest round.
    pub const MAX: Self = Self(u32::MAX);

    /// The round as an integer.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The round after this one. Saturates at [`Round::MAX`] (a peer's message cannot overflow
    /// a node).
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// `self + rounds`, at most [`Round::MAX`].
    #[must_use]
    pub const fn saturating_add(self, rounds: u32) -> Self {
        Self(self.0.saturating_add(rounds))
    }

    /// `self - rounds`, at least round 0.
    #[must_use]
    pub const fn saturating_sub(self, rounds: u32) -> Self {
        Self(self.0.saturating_sub(rounds))
    }

    /// `self - rounds`, or `None` below round 0.
    pub const fn checked_sub(self, rounds: u32) -> Option<Self> {
        match self.0.checked_sub(rounds) {
            Some(r) => Some(Self(r)),
            None => None,
        }
    }

    /// The 4-byte big-endian form of the consensus encodings and `PoaExtra`.
    pub const fn to_be_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// Reads the 4-byte big-endian form.
    pub const fn from_be_bytes(bytes: [u8; 4]) -> Self {
        Self(u32::from_be_bytes(bytes))
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for Round {
    fn from(r: u32) -> Self {
        Self(r)
    }
}

impl From<Round> for u32 {
    fn from(r: Round) -> Self {
        r.0
    }
}

impl From<Round> for u64 {
    fn from(r: Round) -> Self {
        u64::from(r.0)
    }
}

impl From<Round> for u128 {
    fn from(r: Round) -> Self {
        u128::from(r.0)
    }
}

/// A point in time: milliseconds since the Unix epoch (UTC, leap seconds ignored), signed like
/// the v4 header's seconds. The name says both the epoch and the unit; the header's own
/// `timestamp` stays seconds (`i64`, a v4 field), and [`crate::BlockHeader::timestamp_ms`] joins it
/// with the PoA milliseconds into one of these.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);

    /// The milliseconds as an integer.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `time` as milliseconds since the epoch (negative before it; saturating far outside).
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            Err(before) => Self(i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms)),
        }
    }

    /// Whole seconds since the epoch, rounded down (the v4 header's `timestamp`).
    pub const fn whole_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Whole seconds and the millisecond remainder (0..=999), the split of a PoA header.
    pub const fn secs_and_millis(self) -> (i64, u16) {
        (self.0.div_euclid(1000), self.0.rem_euclid(1000) as u16)
    }

    /// `self + d`, saturating.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(d)))
    }

    /// `self - d`, saturating.
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(d)))
    }

    /// `self + ms` milliseconds, saturating.
    #[must_use]
    pub const fn saturating_add_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, negative if `earlier` is later (saturating).
    pub const fn millis_since(self, earlier: Self) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(u64::try_from(self.millis_since(earlier)).unwrap_or(0))
    }

    /// The 8-byte big-endian form of the consensus encodings.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Reads the 8-byte big-endian form.
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Self {
        Self(i64::from_be_bytes(bytes))
    }
}

fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Display for UnixMillis {
    /// The integer milliseconds, as logs and metrics show them (`coinjecture-api` renders RFC 3339).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<i64> for UnixMillis {
    fn from(ms: i64) -> Self {
        Self(ms)
    }
}

impl From<UnixMillis> for i64 {
    fn from(t: UnixMillis) -> Self {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_step_and_saturate_without_overflowing() {
        assert_eq!(Height::GENESIS.next(), Height(1));
        assert_eq!(Height::MAX.next(), Height::MAX);
        assert_eq!(Height::GENESIS.prev(), None);
        assert_eq!(Height(5).prev(), Some(Height(4)));
        assert_eq!(Height(5).checked_sub(6), None);
        assert_eq!(Height(5).saturating_sub(6), Height::GENESIS);
        assert_eq!(Height(5).blocks_since(Height(2)), 3);
        assert_eq!(Height(2).blocks_since(Height(5)), 0);
        assert_eq!(Height(7).to_string(), "7");
        assert_eq!("7".parse::<Height>(), Ok(Height(7)));
        assert_eq!(Height::from_be_bytes(Height(0x0102).to_be_bytes()), Height(0x0102));
    }

    #[test]
    fn sqlite_integers_convert_only_when_they_fit() {
        assert_eq!(Height::try_from(9_i64), Ok(Height(9)));
        assert!(Height::try_from(-1_i64).is_err());
        assert!(i64::try_from(Height(u64::MAX)).is_err());
        assert_eq!(i64::try_from(Height(9)), Ok(9));
    }

    #[test]
    fn rounds_step_and_saturate() {
        assert_eq!(Round::ZERO.next(), Round(1));
        assert_eq!(Round::MAX.next(), Round::MAX);
        assert_eq!(Round(3).checked_sub(4), None);
        assert_eq!(Round(3).to_string(), "3");
    }

    #[test]
    fn unix_millis_split_and_measure() {
        assert_eq!(UnixMillis(10_250).secs_and_millis(), (10, 250));
        assert_eq!(UnixMillis(-1).secs_and_millis(), (-1, 999));
        assert_eq!(UnixMillis(1_000).saturating_add(Duration::from_millis(500)), UnixMillis(1_500));
        assert_eq!(UnixMillis(1_500).duration_since(UnixMillis(1_000)), Duration::from_millis(500));
        assert_eq!(UnixMillis(1_000).duration_since(UnixMillis(1_500)), Duration::ZERO);
        assert_eq!(UnixMillis(1_000).millis_since(UnixMillis(1_500)), -500);
        let t = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        assert_eq!(UnixMillis::from_system_time(t), UnixMillis(1_767_225_600_123));
        assert_eq!(UnixMillis::from_system_time(UNIX_EPOCH - Duration::from_millis(5)), UnixMillis(-5));
    }
}
