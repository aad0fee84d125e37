//! The subset of MessagePack that the v4 wire format uses, written and read canonically.
//!
//! The public COINjecture v4 core hashes values as MessagePack "named" maps (serde's struct
//! encoding via `rmp-serde`): a map with string keys in field order, every integer in its
//! smallest form, fixed-size byte arrays as `bin 8`, variable byte strings as arrays of
//! integers. [`Writer`] produces exactly that; [`Reader`] accepts exactly that and nothing else:
//! a longer-than-needed integer, a `map 16` where a `fixmap` fits, a wrong key, a missing field
//! or trailing bytes are all errors, so every value has one encoding and one hash.

use crate::error::DecodeError;

/// Appends canonical MessagePack to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer with room for `capacity` bytes before it reallocates.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { buf: Vec::with_capacity(capacity) }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Map header for `len` entries (`fixmap`, `map 16` or `map 32`).
    pub fn map_header(&mut self, len: usize) {
        self.container_header(len, 0x80, 0xde, 0xdf);
    }

    /// Array header for `len` elements (`fixarray`, `array 16` or `array 32`).
    pub fn array_header(&mut self, len: usize) {
        self.container_header(len, 0x90, 0xdc, 0xdd);
    }

    fn container_header(&mut self, len: usize, fix: u8, m16: u8, m32: u8) {
        if len < 16 {
            self.buf.push(fix | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.buf.push(m16);
            self.buf.extend_from_slice(&len.to_be_bytes());
        } else {
            // Callers bound every length far below 2^32 (see `limits`).
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            self.buf.push(m32);
            self.buf.extend_from_slice(&len.to_be_bytes());
        }
    }

    /// A UTF-8 string (`fixstr`, `str 8`, `str 16`, `str 32`).
    pub fn str(&mut self, s: &str) {
        let len = s.len();
        if len < 32 {
            self.buf.push(0xa0 | len as u8);
        } else if let Ok(len) = u8::try_from(len) {
            self.buf.push(0xd9);
            self.buf.push(len);
        } else if let Ok(len) = u16::try_from(len) {
            self.buf.push(0xda);
            self.buf.extend_from_slice(&len.to_be_bytes());
        } else {
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            self.buf.push(0xdb);
            self.buf.extend_from_slice(&len.to_be_bytes());
        }
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// An unsigned integer in its smallest form.
    pub fn uint(&mut self, v: u64) {
        if v < 0x80 {
            self.buf.push(v as u8);
        } else if let Ok(v) = u8::try_from(v) {
            self.buf.extend_from_slice(&[0xcc, v]);
        } else if let Ok(v) = u16::try_from(v) {
            self.buf.push(0xcd);
            self.buf.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = u32::try_from(v) {
            self.buf.push(0xce);
            self.buf.extend_from_slice(&v.to_be_bytes());
        } else {
            self.buf.push(0xcf);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A signed integer in its smallest form: non-negative values take the unsigned forms
    /// (as `rmp::encode::write_sint` does), negative values the smallest signed one.
    pub fn int(&mut self, v: i64) {
        if v >= 0 {
            self.uint(v as u64);
        } else if v >= -32 {
            self.buf.push(v as i8 as u8);
        } else if let Ok(v) = i8::try_from(v) {
            self.buf.extend_from_slice(&[0xd0, v as u8]);
        } else if let Ok(v) = i16::try_from(v) {
            self.buf.push(0xd1);
            self.buf.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = i32::try_from(v) {
            self.buf.push(0xd2);
            self.buf.extend_from_slice(&v.to_be_bytes());
        } else {
            self.buf.push(0xd3);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A fixed-size byte array (hash, key, signature) as `bin 8`.
    pub fn bin_fixed<const N: usize>(&mut self, bytes: &[u8; N]) {
        const { assert!(N <= 255, "bin 8 holds at most 255 bytes") };
        self.buf.push(0xc4);
        self.buf.push(N as u8);
        self.buf.extend_from_slice(bytes);
    }

    /// A variable byte string as an array of integers (serde's encoding of `Vec<u8>`).
    pub fn byte_array(&mut self, bytes: &[u8]) {
        self.array_header(bytes.len());
        for &b in bytes {
            self.uint(u64::from(b));
        }
    }

    /// A string key followed by nothing: the caller writes the value next.
    pub fn key(&mut self, key: &str) {
        self.str(key);
    }

    /// Raw, already-canonical bytes (a nested value encoded elsewhere).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Reads canonical MessagePack; every method fails on anything but the canonical form.
#[derive(Debug)]
pub struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `input`, positioned at its first byte.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    /// Byte offset of the next byte to read (used in error messages).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { count: self.input.len() - self.pos })
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.input.get(self.pos).ok_or(DecodeError::UnexpectedEnd { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.input.len());
        let end = end.ok_or(DecodeError::UnexpectedEnd { offset: self.pos })?;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn non_canonical(&self, offset: usize, what: &'static str) -> DecodeError {
        DecodeError::NonCanonical { offset, what }
    }

    fn container_header(&mut self, fix: u8, m16: u8, m32: u8, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let marker = self.byte()?;
        let len = if marker & 0xf0 == fix {
            usize::from(marker & 0x0f)
        } else if marker == m16 {
            let len = usize::from(u16::from_be_bytes(self.take_array()?));
            if len < 16 {
                return Err(self.non_canonical(offset, what));
            }
            len
        } else if marker == m32 {
            let len = u32::from_be_bytes(self.take_array()?) as usize;
            if len <= usize::from(u16::MAX) {
                return Err(self.non_canonical(offset, what));
            }
            len
        } else {
            return Err(DecodeError::UnexpectedMarker { offset, marker, expected: what });
        };
        Ok(len)
    }

    /// A map header that must announce exactly `expected` entries.
    pub fn map_header(&mut self, expected: usize) -> Result<(), DecodeError> {
        let offset = self.pos;
        let len = self.container_header(0x80, 0xde, 0xdf, "map")?;
        if len != expected {
            return Err(DecodeError::WrongFieldCount { offset, expected, found: len });
        }
        Ok(())
    }

    /// An array header of at most `max` elements; returns the element count.
    pub fn array_header(&mut self, max: usize, field: &'static str) -> Result<usize, DecodeError> {
        let len = self.container_header(0x90, 0xdc, 0xdd, "array")?;
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        // Every element takes at least one byte: refuse lengths the input cannot hold before
        // anyone allocates for them.
        if len > self.input.len() - self.pos {
            return Err(DecodeError::UnexpectedEnd { offset: self.input.len() });
        }
        Ok(len)
    }

    /// A string (canonical length form).
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let offset = self.pos;
        let marker = self.byte()?;
        let len = match marker {
            0xa0..=0xbf => usize::from(marker & 0x1f),
            0xd9 => {
                let len = usize::from(self.byte()?);
                if len < 32 {
                    return Err(self.non_canonical(offset, "str 8"));
                }
                len
            }
            0xda => {
                let len = usize::from(u16::from_be_bytes(self.take_array()?));
                if len <= 0xff {
                    return Err(self.non_canonical(offset, "str 16"));
                }
                len
            }
            0xdb => {
                let len = u32::from_be_bytes(self.take_array()?) as usize;
                if len <= 0xffff {
                    return Err(self.non_canonical(offset, "str 32"));
                }
                len
            }
            _ => return Err(DecodeError::UnexpectedMarker { offset, marker, expected: "string" }),
        };
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { offset })
    }

    /// The key `expected`, exactly.
    pub fn key(&mut self, expected: &'static str) -> Result<(), DecodeError> {
        let offset = self.pos;
        let found = self.str()?;
        if found != expected {
            return Err(DecodeError::UnexpectedKey { offset, expected, found: found.chars().take(64).collect() });
        }
        Ok(())
    }

    /// Any integer, canonical, as i128 (wide enough for both u64 and i64).
    fn integer(&mut self) -> Result<i128, DecodeError> {
        let offset = self.pos;
        let marker = self.byte()?;
        let value: i128 = match marker {
            0x00..=0x7f => i128::from(marker),
            0xe0..=0xff => i128::from(marker as i8),
            0xcc => i128::from(self.byte()?),
            0xcd => i128::from(u16::from_be_bytes(self.take_array()?)),
            0xce => i128::from(u32::from_be_bytes(self.take_array()?)),
            0xcf => i128::from(u64::from_be_bytes(self.take_array()?)),
            0xd0 => i128::from(i8::from_be_bytes(self.take_array()?)),
            0xd1 => i128::from(i16::from_be_bytes(self.take_array()?)),
            0xd2 => i128::from(i32::from_be_bytes(self.take_array()?)),
            0xd3 => i128::from(i64::from_be_bytes(self.take_array()?)),
            _ => return Err(DecodeError::UnexpectedMarker { offset, marker, expected: "integer" }),
        };
        if canonical_int_marker(value) != Some(marker) && !(marker <= 0x7f || marker >= 0xe0) {
            return Err(self.non_canonical(offset, "integer not in its smallest form"));
        }
        Ok(value)
    }

    /// An unsigned integer no larger than `max`.
    pub fn uint(&mut self, max: u64, field: &'static str) -> Result<u64, DecodeError> {
        let offset = self.pos;
        let v = self.integer()?;
        u64::try_from(v).ok().filter(|&v| v <= max).ok_or(DecodeError::OutOfRange {
            offset,
            field,
            value: v.to_string(),
        })
    }

    /// A signed 64-bit integer.
    pub fn int(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        let offset = self.pos;
        let v = self.integer()?;
        i64::try_from(v).map_err(|_| DecodeError::OutOfRange { offset, field, value: v.to_string() })
    }

    /// A fixed-size byte array encoded as `bin 8` of exactly `N` bytes.
    pub fn bin_fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let offset = self.pos;
        let marker = self.byte()?;
        if marker != 0xc4 {
            return Err(DecodeError::UnexpectedMarker { offset, marker, expected: "bin 8" });
        }
        let len = usize::from(self.byte()?);
        if len != N {
            return Err(DecodeError::WrongLength { field, expected: N, found: len });
        }
        self.take_array()
    }

    /// A variable byte string encoded as an array of integers 0..=255, at most `max` long.
    pub fn byte_array(&mut self, max: usize, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        let len = self.array_header(max, field)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            let offset = self.pos;
            let marker = self.byte()?;
            let b = match marker {
                0x00..=0x7f => marker,
                0xcc => {
                    let b = self.byte()?;
                    if b < 0x80 {
                        return Err(self.non_canonical(offset, "integer not in its smallest form"));
                    }
                    b
                }
                _ => {
                    return Err(DecodeError::OutOfRange { offset, field, value: format!("marker 0x{marker:02x}") });
                }
            };
            out.push(b);
        }
        Ok(out)
    }
}

/// The marker byte `Writer::int`/`Writer::uint` chooses for `value` when it is not a fixint
/// (`None` for fixints, which are their own marker).
fn canonical_int_marker(value: i128) -> Option<u8> {
    if (-32..0x80).contains(&value) {
        None
    } else if value >= 0 {
        Some(if value <= 0xff {
            0xcc
        } else if value <= 0xffff {
            0xcd
        } else if value <= 0xffff_ffff {
            0xce
        } else {
            0xcf
        })
    } else {
        Some(if value >= i128::from(i8::MIN) {
            0xd0
        } else if value >= i128::from(i16::MIN) {
            0xd1
        } else if value >= i128::from(i32::MIN) {
            0xd2
        } else {
            0xd3
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_int(v: i64) -> Vec<u8> {
        let mut w = Writer::default();
        w.int(v);
        w.into_bytes()
    }

    #[test]
    fn integers_take_their_smallest_form_at_every_width_boundary() {
        let cases: &[(i64, &str)] = &[
            (0, "00"),
            (127, "7f"),
            (128, "cc80"),
            (255, "ccff"),
            (256, "cd0100"),
            (65535, "cdffff"),
            (65536, "ce00010000"),
            (4_294_967_295, "ceffffffff"),
            (4_294_967_296, "cf0000000100000000"),
            (-1, "ff"),
            (-2, "fe"),
            (-32, "e0"),
            (-33, "d0df"),
            (-128, "d080"),
            (-129, "d1ff7f"),
            (-32768, "d18000"),
            (-32769, "d2ffff7fff"),
            (i64::from(i32::MIN), "d280000000"),
            (i64::from(i32::MIN) - 1, "d3ffffffff7fffffff"),
            (1_609_459_200, "ce5fee6600"),
        ];
        for &(v, hex_expected) in cases {
            let bytes = enc_int(v);
            assert_eq!(hex::encode(&bytes), hex_expected, "encoding of {v}");
            let mut r = Reader::new(&bytes);
            assert_eq!(r.int("v").unwrap(), v);
            r.finish().unwrap();
        }
    }

    #[test]
    fn reader_rejects_integers_wider_than_needed() {
        for bad in ["cc05", "cd0080", "ce0000ffff", "cf00000000ffffffff", "d0ff", "d1ff80", "d3ffffffffffffffff"] {
            let bytes = hex::decode(bad).unwrap();
            let err = Reader::new(&bytes).int("v").unwrap_err();
            assert!(matches!(err, DecodeError::NonCanonical { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn reader_rejects_u64_above_i64_for_signed_fields() {
        let bytes = hex::decode("cfffffffffffffffff").unwrap();
        assert!(matches!(Reader::new(&bytes).int("t"), Err(DecodeError::OutOfRange { .. })));
        assert_eq!(Reader::new(&bytes).uint(u64::MAX, "n").unwrap(), u64::MAX);
    }

    #[test]
    fn byte_arrays_encode_high_bytes_as_uint8() {
        let mut w = Writer::default();
        w.byte_array(&[0x00, 0x7f, 0x80, 0xff]);
        let bytes = w.into_bytes();
        assert_eq!(hex::encode(&bytes), "94007fcc80ccff");
        assert_eq!(Reader::new(&bytes).byte_array(4, "d").unwrap(), vec![0, 0x7f, 0x80, 0xff]);
        assert!(Reader::new(&bytes).byte_array(3, "d").is_err());
    }

    #[test]
    fn containers_use_the_short_header_when_it_fits() {
        let mut w = Writer::default();
        w.array_header(15);
        w.array_header(16);
        w.array_header(65536);
        assert_eq!(hex::encode(w.into_bytes()), "9fdc0010dd00010000");
        let non_canonical = hex::decode("dc000f").unwrap();
        assert!(matches!(Reader::new(&non_canonical).array_header(100, "a"), Err(DecodeError::NonCanonical { .. })));
    }

    #[test]
    fn oversize_array_lengths_are_refused_before_allocating() {
        let huge = hex::decode("ddffffffff00").unwrap();
        assert!(Reader::new(&huge).byte_array(usize::MAX, "d").is_err());
    }
}
