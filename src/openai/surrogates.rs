//! Text fields split inside a UTF-16 surrogate pair (issue 13).
//!
//! A proxy written in JS that slices UTF-16 strings may end one chunk's value with `"\ud83d"`
//! and start the same field's next value with `"\ude80"`. serde_json rejects such a lone
//! surrogate escape when it reads a `str`. The deltas must instead join as JS string
//! concatenation would: the whole character goes into the value that completes it, nothing into
//! the value that ends with the lone high half, and a surrogate that is never completed becomes
//! U+FFFD (which is what a lone surrogate turns into once the JS string is encoded as UTF-8).
//!
//! Two parts:
//!
//! * Reading. The wire shapes hold their text fields as [`Text`], and payloads (in the
//!   Responses API, the raw values of its text fields) are parsed with [`from_str`]. A payload without any surrogate escape (`\u` followed by `d`/`D` and one of
//!   `8`-`f`), found by one memchr scan, is parsed exactly as before: a `Text` is the borrowed
//!   `str` serde_json gives. Only a payload with such an escape is read leniently: each `Text`
//!   is first taken as a raw JSON value (serde_json's strict string grammar still applies, control
//!   characters included), then decoded as bytes, which serde_json allows to hold lone
//!   surrogates (as WTF-8). Nothing in the payload is rewritten, so no marker can ever be
//!   confused with real text; an escaped backslash (`\\ud83d`, the text `\ud83d`) is only a
//!   false alarm of the scan and decodes to its literal text.
//! * Joining. [`Held`] is a wire parser's small state of lone high surrogates at the end of a
//!   field's value, keyed by the field (each format names its fields: choice, delta kind, tool
//!   index or output index), until the field's next value says whether its low half follows.

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{Error as _, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// What a surrogate that never finds its other half becomes.
pub(crate) const REPLACEMENT: &str = "\u{FFFD}";

thread_local! {
    /// Set while [`from_str`] parses a payload that has surrogate escapes: how a [`Text`] reads.
    static LENIENT: Cell<bool> = const { Cell::new(false) };
}

/// `serde_json::from_str`, except that the [`Text`] fields of `T` accept lone surrogates.
pub(crate) fn from_str<'a, T: Deserialize<'a>>(json: &'a str) -> serde_json::Result<T> {
    if !has_surrogate_escape(json) {
        return serde_json::from_str(json);
    }
    /// Restores the mode on the way out, errors and panics included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            LENIENT.set(self.0);
        }
    }
    let _restore = Restore(LENIENT.replace(true));
    serde_json::from_str(json)
}

/// Whether `json` may hold a surrogate escape (`\uD800`..`\uDFFF`, any case). An escaped
/// backslash before `u` (`\\ud83d`) also answers yes: the lenient path reads it right anyway.
pub(crate) fn has_surrogate_escape(json: &str) -> bool {
    let bytes = json.as_bytes();
    memchr::memchr_iter(b'\\', bytes).any(|at| {
        bytes.get(at + 1) == Some(&b'u')
            && matches!(bytes.get(at + 2), Some(b'd' | b'D'))
            && matches!(
                bytes.get(at + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    })
}

/// A JSON string value of a text field: valid UTF-8 (borrowed from the payload when it has no
/// escapes), or WTF-8 holding at least one lone surrogate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text<'a> {
    Str(Cow<'a, str>),
    Wtf8(Vec<u8>),
}

impl Text<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Text::Str(s) => s.is_empty(),
            Text::Wtf8(bytes) => bytes.is_empty(),
        }
    }
}

/// A string borrowed from the payload when it has no escapes (serde's `Cow` only borrows so).
#[derive(Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !LENIENT.get() {
            return Borrowed::deserialize(deserializer).map(|s| Text::Str(s.0));
        }
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        lenient(raw.get()).map_err(D::Error::custom)
    }
}

/// A JSON string value read as bytes: serde_json then keeps lone surrogates (as WTF-8) and
/// still joins paired escapes into their character.
fn lenient(json: &str) -> serde_json::Result<Text<'_>> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let bytes = deserializer.deserialize_bytes(BytesVisitor)?;
    deserializer.end()?;
    Ok(match bytes {
        Cow::Borrowed(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Text::Str(Cow::Borrowed(text)),
            Err(_) => Text::Wtf8(bytes.to_vec()),
        },
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Text::Str(Cow::Owned(text)),
            Err(e) => Text::Wtf8(e.into_bytes()),
        },
    })
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Cow<'de, [u8]>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// One piece of a WTF-8 text: valid UTF-8, or one surrogate code unit.
enum Unit<'a> {
    Str(&'a str),
    Surrogate(u16),
    /// Bytes that are not WTF-8 as serde_json writes it (cannot happen; read as U+FFFD).
    Invalid,
}

/// The pieces of WTF-8 as serde_json writes it (a surrogate is `ED A0..BF 80..BF`), in order.
fn for_each_unit(mut bytes: &[u8], mut f: impl FnMut(Unit<'_>)) {
    while !bytes.is_empty() {
        let error = match std::str::from_utf8(bytes) {
            Ok(text) => return f(Unit::Str(text)),
            Err(error) => error,
        };
        let (valid, rest) = bytes.split_at(error.valid_up_to());
        if let Ok(text) = std::str::from_utf8(valid) {
            if !text.is_empty() {
                f(Unit::Str(text));
            }
        }
        bytes = match rest {
            [0xED, b1 @ 0xA0..=0xBF, b2 @ 0x80..=0xBF, rest @ ..] => {
                f(Unit::Surrogate(
                    0xD000 | (u16::from(b1 & 0x3F) << 6) | u16::from(b2 & 0x3F),
                ));
                rest
            }
            _ => {
                f(Unit::Invalid);
                &rest[error.error_len().unwrap_or(rest.len())..]
            }
        };
    }
}

fn is_high(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

/// The character of a high and a low surrogate.
fn pair(high: u16, low: u16) -> char {
    let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
    char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Lone high surrogates at the end of a field's value, held until the field's next value: a
/// wire parser's state, keyed by whatever names a field in its format (`K`). Almost always
/// empty, so a value without surrogates costs one `is_empty` check.
#[derive(Debug)]
pub(crate) struct Held<K> {
    highs: Vec<(K, u16)>,
}

impl<K> Default for Held<K> {
    fn default() -> Self {
        Held { highs: Vec::new() }
    }
}

impl<K: Copy + PartialEq> Held<K> {
    /// The text one value of `field` adds, as JS would join it to the field's earlier values: a
    /// held high surrogate and a low one starting this value make one character; a lone high
    /// surrogate ending this value is held back (nothing for it yet); every other surrogate,
    /// and a held one this value does not complete, is U+FFFD. An empty value changes nothing.
    pub(crate) fn join<'a>(&mut self, field: K, text: Text<'a>) -> Cow<'a, str> {
        let held = match self.highs.iter().position(|(f, _)| *f == field) {
            Some(at) => Some(self.highs.remove(at).1),
            None => None,
        };
        let bytes = match text {
            Text::Str(text) => {
                return match held {
                    None => text,
                    Some(high) if text.is_empty() => {
                        self.highs.push((field, high));
                        text
                    }
                    Some(_) => Cow::Owned(format!("{REPLACEMENT}{text}")),
                };
            }
            Text::Wtf8(bytes) => bytes,
        };
        let mut joined = String::with_capacity(bytes.len() + 1);
        // A high surrogate just before the current unit: the held one, then any in the value.
        let mut high = held;
        for_each_unit(&bytes, |unit| match unit {
            Unit::Str(text) => {
                if high.take().is_some() {
                    joined.push_str(REPLACEMENT);
                }
                joined.push_str(text);
            }
            Unit::Surrogate(unit) if is_high(unit) => {
                if high.replace(unit).is_some() {
                    joined.push_str(REPLACEMENT);
                }
            }
            Unit::Surrogate(low) => match high.take() {
                Some(high) => joined.push(pair(high, low)),
                None => joined.push_str(REPLACEMENT),
            },
            Unit::Invalid => {
                if high.take().is_some() {
                    joined.push_str(REPLACEMENT);
                }
                joined.push_str(REPLACEMENT);
            }
        });
        if let Some(high) = high {
            self.highs.push((field, high));
        }
        Cow::Owned(joined)
    }

    /// The fields whose held high surrogate will never be completed (their stream, or choice,
    /// ended): each owes one U+FFFD. They are held no longer.
    pub(crate) fn take_all(&mut self) -> Vec<K> {
        self.highs.drain(..).map(|(field, _)| field).collect()
    }
}

#[cfg(test)]
mod tests;
