//! Strict CBOR reading and deterministic writing (RFC 8949 §4.2.1).
//!
//! Reading: one well-formed item, within a byte and depth limit, no trailing bytes. Typed
//! parsers then read integer-keyed maps through [`IntMap`], which rejects duplicate keys,
//! unsorted keys and unknown keys. Canonical form is finally proved by re-encoding the parsed
//! value and comparing it byte for byte with the input (see `record.rs`).

use ciborium::Value;

use crate::error::DecodeError;
use crate::limits::MAX_CBOR_DEPTH;

/// Decodes exactly one CBOR item from `bytes`, which must not exceed `max_len`.
pub(crate) fn decode_one(bytes: &[u8], max_len: usize) -> Result<Value, DecodeError> {
    if bytes.len() > max_len {
        return Err(DecodeError::TooLarge {
            limit: max_len,
            actual: bytes.len(),
        });
    }
    check_depth(bytes)?;
    let mut reader = bytes;
    let value: Value =
        ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_CBOR_DEPTH + 2).map_err(
            |e| match e {
                ciborium::de::Error::RecursionLimitExceeded => DecodeError::TooDeep,
                _ => DecodeError::Malformed,
            },
        )?;
    if !reader.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(value)
}

/// A cheap pre-scan for nesting depth so hostile input is refused before any allocation.
/// It walks the CBOR heads only; malformed input is left for the real decoder to report.
fn check_depth(bytes: &[u8]) -> Result<(), DecodeError> {
    // Stack of remaining child counts for open arrays/maps/tags.
    let mut stack: Vec<u64> = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let head = bytes[pos];
        pos += 1;
        let major = head >> 5;
        let info = head & 0x1f;
        let arg: u64 = match info {
            0..=23 => info as u64,
            24..=27 => {
                let n = 1usize << (info - 24);
                let Some(slice) = bytes.get(pos..pos + n) else {
                    return Ok(());
                };
                pos += n;
                slice.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64)
            }
            // Indefinite lengths and reserved values: the real decoder decides.
            _ => return Ok(()),
        };
        let children = match major {
            2 | 3 => {
                pos = pos.saturating_add(usize::try_from(arg).unwrap_or(usize::MAX));
                0
            }
            4 => arg,
            5 => arg.saturating_mul(2),
            6 => 1,
            _ => 0,
        };
        if children > 0 {
            stack.push(children);
            if stack.len() > MAX_CBOR_DEPTH {
                return Err(DecodeError::TooDeep);
            }
        } else {
            // A leaf finished: close every container whose last child this was.
            while let Some(top) = stack.last_mut() {
                *top -= 1;
                if *top == 0 {
                    stack.pop();
                } else {
                    break;
                }
            }
            if stack.is_empty() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Encodes a value; ciborium always writes definite lengths and shortest-form integers.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and our values hold no floats or non-string keys.
    if ciborium::ser::into_writer(value, &mut out).is_err() {
        unreachable!("CBOR encoding into a Vec");
    }
    out
}

/// An integer-keyed CBOR map being read field by field.
pub(crate) struct IntMap {
    context: &'static str,
    entries: Vec<(u64, Value)>,
}

impl IntMap {
    /// Takes a map value with unsigned-integer keys in strictly ascending order.
    pub(crate) fn new(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        let Value::Map(pairs) = value else {
            return Err(DecodeError::invalid(context, 0, "expected a map"));
        };
        let mut entries: Vec<(u64, Value)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let key = match key {
                Value::Integer(i) => u64::try_from(i128::from(i)).map_err(|_| {
                    DecodeError::invalid(context, 0, "map key is not an unsigned integer")
                })?,
                _ => {
                    return Err(DecodeError::invalid(
                        context,
                        0,
                        "map key is not an unsigned integer",
                    ))
                }
            };
            if let Some((last, _)) = entries.last() {
                if key == *last || entries.iter().any(|(k, _)| *k == key) {
                    return Err(DecodeError::DuplicateKey);
                }
                if key < *last {
                    return Err(DecodeError::NonCanonical);
                }
            }
            entries.push((key, value));
        }
        Ok(IntMap { context, entries })
    }

    fn take(&mut self, key: u64) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| *k == key)?;
        Some(self.entries.remove(index).1)
    }

    fn require(&mut self, key: u64) -> Result<Value, DecodeError> {
        self.take(key)
            .ok_or_else(|| DecodeError::invalid(self.context, key, "missing"))
    }

    /// A required unsigned integer.
    pub(crate) fn uint(&mut self, key: u64) -> Result<u64, DecodeError> {
        let value = self.require(key)?;
        as_uint(value)
            .ok_or_else(|| DecodeError::invalid(self.context, key, "expected an unsigned integer"))
    }

    /// An optional unsigned integer.
    pub(crate) fn opt_uint(&mut self, key: u64) -> Result<Option<u64>, DecodeError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => as_uint(v).map(Some).ok_or_else(|| {
                DecodeError::invalid(self.context, key, "expected an unsigned integer")
            }),
        }
    }

    /// A required text string of at most `max` bytes.
    pub(crate) fn text(&mut self, key: u64, max: usize) -> Result<String, DecodeError> {
        let value = self.require(key)?;
        self.check_text(key, value, max)
    }

    /// An optional text string of at most `max` bytes.
    pub(crate) fn opt_text(&mut self, key: u64, max: usize) -> Result<Option<String>, DecodeError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => self.check_text(key, v, max).map(Some),
        }
    }

    fn check_text(&self, key: u64, value: Value, max: usize) -> Result<String, DecodeError> {
        match value {
            Value::Text(t) if t.len() <= max => match crate::text::first_forbidden(&t) {
                None => Ok(t),
                Some(c) => Err(DecodeError::BadText {
                    context: self.context,
                    key,
                    character: u32::from(c),
                }),
            },
            Value::Text(_) => Err(DecodeError::invalid(self.context, key, "text too long")),
            _ => Err(DecodeError::invalid(
                self.context,
                key,
                "expected a text string",
            )),
        }
    }

    /// A required byte string of exactly `N` bytes.
    pub(crate) fn bytes_n<const N: usize>(&mut self, key: u64) -> Result<[u8; N], DecodeError> {
        let value = self.require(key)?;
        self.check_bytes_n(key, value)
    }

    /// An optional byte string of exactly `N` bytes.
    pub(crate) fn opt_bytes_n<const N: usize>(
        &mut self,
        key: u64,
    ) -> Result<Option<[u8; N]>, DecodeError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => self.check_bytes_n(key, v).map(Some),
        }
    }

    fn check_bytes_n<const N: usize>(
        &self,
        key: u64,
        value: Value,
    ) -> Result<[u8; N], DecodeError> {
        match value {
            Value::Bytes(b) => b
                .try_into()
                .map_err(|_| DecodeError::invalid(self.context, key, "wrong byte string length")),
            _ => Err(DecodeError::invalid(
                self.context,
                key,
                "expected a byte string",
            )),
        }
    }

    /// A required byte string of at most `max` bytes.
    pub(crate) fn bytes(&mut self, key: u64, max: usize) -> Result<Vec<u8>, DecodeError> {
        match self.require(key)? {
            Value::Bytes(b) if b.len() <= max => Ok(b),
            Value::Bytes(_) => Err(DecodeError::invalid(
                self.context,
                key,
                "byte string too long",
            )),
            _ => Err(DecodeError::invalid(
                self.context,
                key,
                "expected a byte string",
            )),
        }
    }

    /// An optional byte string of at most `max` bytes.
    pub(crate) fn opt_bytes(
        &mut self,
        key: u64,
        max: usize,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        if self.entries.iter().any(|(k, _)| *k == key) {
            self.bytes(key, max).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A required array of at most `max` elements.
    pub(crate) fn array(&mut self, key: u64, max: usize) -> Result<Vec<Value>, DecodeError> {
        match self.require(key)? {
            Value::Array(a) if a.len() <= max => Ok(a),
            Value::Array(_) => Err(DecodeError::invalid(self.context, key, "too many elements")),
            _ => Err(DecodeError::invalid(self.context, key, "expected an array")),
        }
    }

    /// An optional array of at most `max` elements.
    pub(crate) fn opt_array(
        &mut self,
        key: u64,
        max: usize,
    ) -> Result<Option<Vec<Value>>, DecodeError> {
        if self.entries.iter().any(|(k, _)| *k == key) {
            self.array(key, max).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails if any key was not consumed (unknown fields are rejected, never ignored).
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.entries.first() {
            None => Ok(()),
            Some((key, _)) => Err(DecodeError::invalid(self.context, *key, "unknown field")),
        }
    }
}

fn as_uint(value: Value) -> Option<u64> {
    match value {
        Value::Integer(i) => u64::try_from(i128::from(i)).ok(),
        _ => None,
    }
}

/// Builds an integer-keyed map from fields given in ascending key order; `None` fields are left out.
pub(crate) fn int_map(fields: Vec<(u64, Option<Value>)>) -> Value {
    debug_assert!(
        fields.windows(2).all(|w| w[0].0 < w[1].0),
        "keys must ascend"
    );
    Value::Map(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (Value::Integer(k.into()), v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_trailing_bytes_and_oversize_and_depth() {
        assert_eq!(
            decode_one(&[0x01, 0x02], 10),
            Err(DecodeError::TrailingBytes)
        );
        assert!(matches!(
            decode_one(&[0; 11], 10),
            Err(DecodeError::TooLarge { .. })
        ));
        let deep = [vec![0x81u8; 50], vec![0x00]].concat();
        assert_eq!(decode_one(&deep, 1000), Err(DecodeError::TooDeep));
        let ok = [vec![0x81u8; MAX_CBOR_DEPTH], vec![0x00]].concat();
        assert!(decode_one(&ok, 1000).is_ok());
        assert_eq!(
            decode_one(&[0x5a, 0xff, 0xff, 0xff, 0xff], 100),
            Err(DecodeError::Malformed)
        );
        assert_eq!(decode_one(&[], 100), Err(DecodeError::Malformed));
    }

    #[test]
    fn int_map_rejects_duplicates_and_disorder() {
        let dup = decode_one(&[0xa2, 0x01, 0x00, 0x01, 0x00], 100).expect("well-formed");
        assert_eq!(IntMap::new(dup, "t").err(), Some(DecodeError::DuplicateKey));
        let unsorted = decode_one(&[0xa2, 0x02, 0x00, 0x01, 0x00], 100).expect("well-formed");
        assert_eq!(
            IntMap::new(unsorted, "t").err(),
            Some(DecodeError::NonCanonical)
        );
        let unknown = decode_one(&[0xa1, 0x05, 0x00], 100).expect("well-formed");
        let map = IntMap::new(unknown, "t").expect("map");
        assert!(matches!(
            map.finish(),
            Err(DecodeError::InvalidField { key: 5, .. })
        ));
    }
}
