//! An incremental JSON parser: text goes in piece by piece, the parse state is kept between
//! pieces (each byte is looked at once, nothing is re-parsed), and after any piece the value so
//! far is available as a snapshot or, for JS, as a list of patches against the previous one.
//!
//! Snapshot rules: an unfinished string shows its prefix (escapes decoded; a `\u` escape or a
//! surrogate pair shows nothing until whole); a number, `true`, `false` or `null` appears only
//! once complete (a number when a delimiter follows it, or at the end of input); a key appears
//! once its string is complete and its value has begun to show (a string opened, a container
//! opened, a scalar complete); array items and object members keep their order.
//!
//! Patches (`take_patches`), comma-separated JSON arrays, applied in order:
//! - `[0,path,value]`: set the value at `path` (`[]`: the root; a key or an index, where an
//!   index one past the end pushes an item);
//! - `[1,path,"text"]`: append text to the string at `path`;
//! - `[2,position,"reason"]`: the text is not JSON (nothing follows).
//!
//! A container that opens after one `take_patches` is sent whole by the next, as one `[0,..]`
//! with its value so far, rather than as the patches that built it: most of a large value
//! crosses as plain JSON that `JSON.parse` builds at once, and only the open path crosses as
//! patches.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A JSON value that keeps its members in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<JsonValue>),
    Object(Vec<(String, JsonValue)>),
}

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonValue::Null => s.serialize_unit(),
            JsonValue::Bool(b) => s.serialize_bool(*b),
            JsonValue::Number(n) => n.serialize(s),
            JsonValue::String(text) => s.serialize_str(text),
            JsonValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            JsonValue::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl JsonValue {
    /// As a `serde_json::Value` (a later duplicate key wins, as in `serde_json`).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            JsonValue::Null => Value::Null,
            JsonValue::Bool(b) => Value::Bool(*b),
            JsonValue::Number(n) => Value::Number(n.clone()),
            JsonValue::String(text) => Value::String(text.clone()),
            JsonValue::Array(items) => Value::Array(items.iter().map(Self::to_serde).collect()),
            JsonValue::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_serde()))
                    .collect(),
            ),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("JSON values always serialize")
    }
}

/// Why the text is not JSON: the byte offset (over all pieces) and a short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub position: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.position)
    }
}

enum Frame {
    Array(Vec<JsonValue>),
    /// The members so far and the key whose value is being read.
    Object(Vec<(String, JsonValue)>, Option<String>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    /// After `[`: a value or `]`.
    ValueOrClose,
    /// After `{`: a key or `}`.
    KeyOrClose,
    Key,
    Colon,
    CommaOrClose,
    /// The root value is complete: only whitespace may follow.
    Done,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    /// Inside `\uXXXX`: the digits so far.
    Hex {
        value: u32,
        digits: u8,
    },
    /// A high surrogate was read: `\` must follow.
    AfterHigh {
        high: u32,
    },
    /// `\` after a high surrogate: `u` must follow.
    AfterHighBackslash {
        high: u32,
    },
    LowHex {
        high: u32,
        value: u32,
        digits: u8,
    },
}

enum Token {
    None,
    Str {
        text: String,
        key: bool,
        escape: Escape,
    },
    Number {
        text: String,
        start: usize,
    },
    Literal {
        word: &'static [u8],
        matched: usize,
    },
}

pub struct PartialJson {
    frames: Vec<Frame>,
    root: Option<JsonValue>,
    expect: Expect,
    token: Token,
    position: usize,
    error: Option<JsonError>,
    /// Whether patches are recorded; `synced`: the recorded patches describe everything so far.
    record: bool,
    synced: bool,
    error_sent: bool,
    patches: String,
    /// Text appended to the open string value since its last patch.
    pending: String,
    /// The depth (index in `frames`) of the outermost container opened since the last
    /// `take_patches` while recording: what is inside it goes out whole with it.
    fresh: Option<usize>,
}

impl Default for PartialJson {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialJson {
    pub fn new() -> Self {
        PartialJson {
            frames: Vec::new(),
            root: None,
            expect: Expect::Value,
            token: Token::None,
            position: 0,
            error: None,
            record: false,
            synced: true,
            error_sent: false,
            patches: String::new(),
            pending: String::new(),
            fresh: None,
        }
    }

    /// A parser that records patches from the start.
    pub fn recording() -> Self {
        let mut parser = Self::new();
        parser.record = true;
        parser
    }

    pub fn error(&self) -> Option<&JsonError> {
        self.error.as_ref()
    }

    /// Turns patch recording on or off. Turned on after text went by unrecorded, the first
    /// patch sets the whole snapshot so far.
    pub fn set_record(&mut self, on: bool) {
        if on == self.record {
            return;
        }
        self.record = on;
        self.pending.clear();
        self.fresh = None;
        if !on {
            self.synced = false;
        } else if !self.synced {
            self.synced = true;
            if let Some(value) = self.snapshot() {
                self.patch_start(0);
                self.patches.push_str("[],");
                self.patches.push_str(&value.to_json());
                self.patches.push(']');
            }
            self.record_error();
        }
    }

    /// The patches recorded since the last call, comma-separated (see the module doc).
    pub fn take_patches(&mut self, out: &mut String) {
        self.send_fresh();
        self.flush_pending();
        if self.patches.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&self.patches);
        self.patches.clear();
    }

    /// Parses one more piece. After an error the rest is ignored.
    pub fn feed(&mut self, piece: &str) {
        if self.error.is_some() {
            return;
        }
        let bytes = piece.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match self.step(piece, i) {
                Ok(next) => i = next,
                Err(reason) => {
                    self.fail(self.position + i, reason);
                    return;
                }
            }
        }
        self.position += bytes.len();
    }

    /// End of input: a number ending the text completes. The whole value, or why there is none.
    pub fn finish(&mut self) -> Result<JsonValue, JsonError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if let Token::Number { .. } = self.token {
            if let Err(reason) = self.end_number() {
                let start = match self.token {
                    Token::Number { start, .. } => start,
                    _ => self.position,
                };
                self.fail(start, reason);
                return Err(self.error.clone().expect("just failed"));
            }
        }
        match (&self.root, self.expect) {
            (Some(value), Expect::Done) => Ok(value.clone()),
            _ => {
                let reason = if self.root.is_none() && self.frames.is_empty() && !self.in_token() {
                    "no JSON value (the text is empty)"
                } else {
                    "unexpected end of input (the JSON value is not complete)"
                };
                self.fail(self.position, reason);
                Err(self.error.clone().expect("just failed"))
            }
        }
    }

    /// The whole value if the text so far is one (a number at the end counts), without ending
    /// the parse.
    pub fn complete_value(&self) -> Option<JsonValue> {
        if self.error.is_some() {
            return None;
        }
        if let Some(value) = &self.root {
            return (self.expect == Expect::Done).then(|| value.clone());
        }
        match &self.token {
            Token::Number { text, .. } if self.frames.is_empty() => number(text).ok(),
            _ => None,
        }
    }

    /// The value so far under the snapshot rules (`None`: nothing to show yet).
    pub fn snapshot(&self) -> Option<JsonValue> {
        if let Some(value) = &self.root {
            return Some(value.clone());
        }
        self.open_snapshot(0)
    }

    /// The snapshot of the open container `frames[depth]` (with what is open inside it).
    fn open_snapshot(&self, depth: usize) -> Option<JsonValue> {
        let mut child = match &self.token {
            Token::Str {
                text, key: false, ..
            } => Some(JsonValue::String(text.clone())),
            _ => None,
        };
        for frame in self.frames[depth..].iter().rev() {
            child = Some(match frame {
                Frame::Array(items) => {
                    let mut items = items.clone();
                    items.extend(child);
                    JsonValue::Array(items)
                }
                Frame::Object(members, key) => {
                    let mut members = members.clone();
                    if let (Some(key), Some(value)) = (key, child) {
                        members.push((key.clone(), value));
                    }
                    JsonValue::Object(members)
                }
            });
        }
        child
    }

    fn in_token(&self) -> bool {
        !matches!(self.token, Token::None)
    }

    fn fail(&mut self, position: usize, reason: &'static str) {
        // What was read before the error still goes out, then the error.
        self.send_fresh();
        self.pending.clear();
        self.error = Some(JsonError { position, reason });
        self.record_error();
    }

    fn record_error(&mut self) {
        let Some(error) = &self.error else { return };
        if !self.record || self.error_sent {
            return;
        }
        self.error_sent = true;
        let reason = serde_json::to_string(error.reason).expect("strings serialize");
        let text = format!("[2,{},{}]", error.position, reason);
        if !self.patches.is_empty() {
            self.patches.push(',');
        }
        self.patches.push_str(&text);
    }

    /// One step at byte `i` of `piece`; returns where the next step starts.
    fn step(&mut self, piece: &str, i: usize) -> Result<usize, &'static str> {
        let bytes = piece.as_bytes();
        match &mut self.token {
            Token::Str { .. } => return self.string_step(piece, i),
            Token::Number { text, .. } => {
                let b = bytes[i];
                if matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    text.push(b as char);
                    return Ok(i + 1);
                }
                self.end_number()?;
                // The delimiter is read again as structure.
                return Ok(i);
            }
            Token::Literal { word, matched } => {
                if bytes[i] != word[*matched] {
                    return Err("invalid literal (expected true, false or null)");
                }
                *matched += 1;
                if *matched == word.len() {
                    let value = match word[0] {
                        b't' => JsonValue::Bool(true),
                        b'f' => JsonValue::Bool(false),
                        _ => JsonValue::Null,
                    };
                    self.token = Token::None;
                    self.complete(value, false);
                }
                return Ok(i + 1);
            }
            Token::None => {}
        }
        let b = bytes[i];
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return Ok(i + 1);
        }
        let at = self.position + i;
        match self.expect {
            Expect::Value | Expect::ValueOrClose => match b {
                b'{' => {
                    self.open_here();
                    self.frames.push(Frame::Object(Vec::new(), None));
                    self.expect = Expect::KeyOrClose;
                }
                b'[' => {
                    self.open_here();
                    self.frames.push(Frame::Array(Vec::new()));
                    self.expect = Expect::ValueOrClose;
                }
                b'"' => {
                    self.set_here(|out| out.push_str("\"\""));
                    self.token = Token::Str {
                        text: String::new(),
                        key: false,
                        escape: Escape::None,
                    };
                }
                b'-' | b'0'..=b'9' => {
                    self.token = Token::Number {
                        text: (b as char).to_string(),
                        start: at,
                    }
                }
                b't' | b'f' | b'n' => {
                    let word: &'static [u8] = match b {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    self.token = Token::Literal { word, matched: 1 };
                }
                b']' if self.expect == Expect::ValueOrClose => self.close()?,
                _ => return Err("expected a JSON value"),
            },
            Expect::KeyOrClose | Expect::Key => match b {
                b'"' => {
                    self.token = Token::Str {
                        text: String::new(),
                        key: true,
                        escape: Escape::None,
                    }
                }
                b'}' if self.expect == Expect::KeyOrClose => self.close()?,
                _ => return Err("expected a string key"),
            },
            Expect::Colon => match b {
                b':' => self.expect = Expect::Value,
                _ => return Err("expected ':' after a key"),
            },
            Expect::CommaOrClose => match (b, self.frames.last()) {
                (b',', Some(Frame::Array(_))) => self.expect = Expect::Value,
                (b',', Some(Frame::Object(..))) => self.expect = Expect::Key,
                (b']', Some(Frame::Array(_))) | (b'}', Some(Frame::Object(..))) => self.close()?,
                (_, Some(Frame::Array(_))) => return Err("expected ',' or ']'"),
                _ => return Err("expected ',' or '}'"),
            },
            Expect::Done => return Err("unexpected text after the JSON value"),
        }
        Ok(i + 1)
    }

    /// Inside a string: copies a run of plain bytes at once, or reads one escape byte.
    fn string_step(&mut self, piece: &str, i: usize) -> Result<usize, &'static str> {
        let bytes = piece.as_bytes();
        let record = self.record;
        let Token::Str { text, key, escape } = &mut self.token else {
            unreachable!("called inside a string")
        };
        let key = *key;
        let b = bytes[i];
        let mut decoded: Option<char> = None;
        match *escape {
            Escape::None => {
                if b == b'"' {
                    let text = std::mem::take(text);
                    self.token = Token::None;
                    self.end_string(text, key);
                    return Ok(i + 1);
                }
                if b == b'\\' {
                    *escape = Escape::Backslash;
                    return Ok(i + 1);
                }
                if b < 0x20 {
                    return Err("control character in a string");
                }
                let mut end = i + 1;
                while end < bytes.len() && !matches!(bytes[end], b'"' | b'\\' | 0..=0x1f) {
                    end += 1;
                }
                // `piece` is a str and the run stops at ASCII bytes: it is whole characters.
                let run = &piece[i..end];
                text.push_str(run);
                if !key && record && self.fresh.is_none() {
                    self.pending.push_str(run);
                }
                return Ok(end);
            }
            Escape::Backslash => {
                let c = match b {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        *escape = Escape::Hex {
                            value: 0,
                            digits: 0,
                        };
                        return Ok(i + 1);
                    }
                    _ => return Err("invalid escape in a string"),
                };
                *escape = Escape::None;
                decoded = Some(c);
            }
            Escape::Hex { value, digits } => {
                let value = value * 16 + hex(b)?;
                if digits < 3 {
                    *escape = Escape::Hex {
                        value,
                        digits: digits + 1,
                    };
                } else if (0xD800..0xDC00).contains(&value) {
                    *escape = Escape::AfterHigh { high: value };
                } else if (0xDC00..0xE000).contains(&value) {
                    return Err("lone low surrogate in a \\u escape");
                } else {
                    *escape = Escape::None;
                    decoded = char::from_u32(value);
                }
            }
            Escape::AfterHigh { high } => {
                if b != b'\\' {
                    return Err("lone high surrogate in a \\u escape");
                }
                *escape = Escape::AfterHighBackslash { high };
            }
            Escape::AfterHighBackslash { high } => {
                if b != b'u' {
                    return Err("lone high surrogate in a \\u escape");
                }
                *escape = Escape::LowHex {
                    high,
                    value: 0,
                    digits: 0,
                };
            }
            Escape::LowHex {
                high,
                value,
                digits,
            } => {
                let value = value * 16 + hex(b)?;
                if digits < 3 {
                    *escape = Escape::LowHex {
                        high,
                        value,
                        digits: digits + 1,
                    };
                } else if (0xDC00..0xE000).contains(&value) {
                    *escape = Escape::None;
                    decoded = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00));
                } else {
                    return Err("lone high surrogate in a \\u escape");
                }
            }
        }
        if let Some(c) = decoded {
            text.push(c);
            if !key && record && self.fresh.is_none() {
                self.pending.push(c);
            }
        }
        Ok(i + 1)
    }

    fn end_string(&mut self, text: String, key: bool) {
        if key {
            if let Some(Frame::Object(_, slot)) = self.frames.last_mut() {
                *slot = Some(text);
            }
            self.expect = Expect::Colon;
        } else {
            self.flush_pending();
            self.complete(JsonValue::String(text), true);
        }
    }

    fn end_number(&mut self) -> Result<(), &'static str> {
        let Token::Number { text, .. } = std::mem::replace(&mut self.token, Token::None) else {
            return Ok(());
        };
        let value = number(&text)?;
        self.complete(value, false);
        Ok(())
    }

    /// A value is whole: it goes into its container (or becomes the root). `shown`: patches
    /// already put it in place.
    fn complete(&mut self, value: JsonValue, shown: bool) {
        if !shown {
            self.set_here(|out| out.push_str(&value.to_json()));
        }
        match self.frames.last_mut() {
            None => {
                self.root = Some(value);
                self.expect = Expect::Done;
            }
            Some(Frame::Array(items)) => {
                items.push(value);
                self.expect = Expect::CommaOrClose;
            }
            Some(Frame::Object(members, key)) => {
                let key = key.take().unwrap_or_default();
                members.push((key, value));
                self.expect = Expect::CommaOrClose;
            }
        }
    }

    fn close(&mut self) -> Result<(), &'static str> {
        let value = match self.frames.pop() {
            Some(Frame::Array(items)) => JsonValue::Array(items),
            Some(Frame::Object(members, _)) => JsonValue::Object(members),
            None => return Err("unbalanced bracket"),
        };
        // The container opened since the last take closes: it goes out whole, once.
        let whole = self.fresh == Some(self.frames.len());
        if whole {
            self.fresh = None;
        }
        self.complete(value, !whole);
        Ok(())
    }

    fn patch_start(&mut self, op: u8) {
        if !self.patches.is_empty() {
            self.patches.push(',');
        }
        self.patches.push('[');
        self.patches.push((b'0' + op) as char);
        self.patches.push(',');
    }

    /// A container opens at the current position: the first since the last take becomes
    /// `fresh` (it goes out whole later); one inside a fresh container is part of it.
    fn open_here(&mut self) {
        if self.record && self.fresh.is_none() {
            self.fresh = Some(self.frames.len());
        }
    }

    /// The fresh container, as it is now, in one `[0,path,value]`.
    fn send_fresh(&mut self) {
        let Some(depth) = self.fresh.take() else {
            return;
        };
        // Its open string's text is in the value: no append follows for it.
        self.pending.clear();
        if !self.record {
            return;
        }
        let value = self.open_snapshot(depth).expect("an open container shows");
        self.patch_start(0);
        self.write_path(depth);
        self.patches.push(',');
        let _ = serde_json::to_writer(unsafe_vec(&mut self.patches), &value);
        self.patches.push(']');
    }

    /// `[0,path,value]` for the value starting at the current position (inside a fresh
    /// container: nothing, the container carries it).
    fn set_here(&mut self, value: impl FnOnce(&mut String)) {
        if !self.record || self.fresh.is_some() {
            return;
        }
        self.patch_start(0);
        self.write_path(self.frames.len());
        self.patches.push(',');
        value(&mut self.patches);
        self.patches.push(']');
    }

    fn flush_pending(&mut self) {
        if self.pending.is_empty() || !self.record {
            return;
        }
        let text = std::mem::take(&mut self.pending);
        self.patch_start(1);
        self.write_path(self.frames.len());
        self.patches.push(',');
        let _ = serde_json::to_writer(unsafe_vec(&mut self.patches), &text);
        self.patches.push(']');
        self.pending = text;
        self.pending.clear();
    }

    /// The path of the position inside `frames[..depth]`: one key or index per container
    /// (`frames.len()`: the current position).
    fn write_path(&mut self, depth: usize) {
        let mut path = std::mem::take(&mut self.patches);
        path.push('[');
        for (n, frame) in self.frames[..depth].iter().enumerate() {
            if n > 0 {
                path.push(',');
            }
            match frame {
                Frame::Array(items) => path.push_str(&items.len().to_string()),
                Frame::Object(_, key) => {
                    let key = key.as_deref().unwrap_or_default();
                    let _ = serde_json::to_writer(unsafe_vec(&mut path), key);
                }
            }
        }
        path.push(']');
        self.patches = path;
    }
}

fn hex(b: u8) -> Result<u32, &'static str> {
    (b as char)
        .to_digit(16)
        .ok_or("invalid hex digit in a \\u escape")
}

fn number(text: &str) -> Result<JsonValue, &'static str> {
    // serde_json checks the grammar (no leading zeros, digits after `.` and `e`).
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Number(n)) => Ok(JsonValue::Number(n)),
        _ => Err("invalid number"),
    }
}

/// Lets serde_json write straight into a String. Safe because serde_json only ever writes
/// valid UTF-8.
fn unsafe_vec(s: &mut String) -> &mut Vec<u8> {
    // SAFETY: serde_json's serializer emits UTF-8 only, so the String stays valid.
    unsafe { s.as_mut_vec() }
}

#[cfg(test)]
mod tests;
