//! A feed's SSE events packed for the trip into JS (`binding::NativeSseParser`): at most two
//! strings per feed instead of an N-API object per event, which would cost more than the
//! framing itself. JS builds the event objects by slicing (`eventsFrom` in `index.js`).
//!
//! Layout. ASCII data (most events: API payloads are JSON) goes into the narrow string, a
//! one-byte string V8 copies as it is; other data into the wide string as UTF-16, which V8 also
//! copies as it is (a UTF-8 string from N-API would go through V8's slow UTF-8 decoder). The
//! wide string then carries a trailer of 16-bit units: for each event where its data ends in
//! its string (low, high; the top bit set when it is in the wide one), the event count (low,
//! high) and a flags unit.

use crate::sse::SseEventRef;

/// Flags unit: `extras` has types, ids or retries for these events.
pub const EXTRAS: u16 = 1;
/// Flags unit: the narrow string holds some events' data.
pub const NARROW: u16 = 2;
/// Top bit of an end: the event's data is in the wide string.
pub const IN_WIDE: u32 = 1 << 31;

/// Reused from feed to feed, so a steady stream allocates nothing here.
#[derive(Default)]
pub struct EventPacker {
    pub count: u32,
    pub narrow: Vec<u8>,
    pub wide: Vec<u16>,
    ends: Vec<u32>,
    /// CR-separated (CR never occurs inside a field: it ends a line); started only once an
    /// event names a type, with `message` filled in for the events before it.
    pub types: Option<String>,
    /// The first event's id; `ids` starts only once an event's id differs from it.
    pub id: String,
    pub ids: Option<String>,
    /// `index:ms` pairs, comma-separated, for the events that carried a valid `retry`.
    pub retries: String,
}

impl EventPacker {
    pub fn clear(&mut self) {
        self.count = 0;
        self.narrow.clear();
        self.wide.clear();
        self.ends.clear();
        self.types = None;
        self.id.clear();
        self.ids = None;
        self.retries.clear();
    }

    pub fn add(&mut self, event: &SseEventRef<'_>) {
        let index = self.count as usize;
        if event.data.is_ascii() {
            self.narrow.extend_from_slice(event.data.as_bytes());
            self.ends.push(self.narrow.len() as u32);
        } else {
            push_utf16(&mut self.wide, event.data);
            self.ends.push(self.wide.len() as u32 | IN_WIDE);
        }
        if event.event.is_some() && self.types.is_none() {
            self.types = Some(vec!["message"; index].join("\r"));
        }
        if let Some(types) = &mut self.types {
            if index > 0 {
                types.push('\r');
            }
            types.push_str(event.event_type());
        }
        if index == 0 {
            self.id.push_str(event.id);
        } else if self.ids.is_none() && !same_id(event.id, &self.id) {
            self.ids = Some(vec![self.id.as_str(); index].join("\r"));
        }
        if let Some(ids) = &mut self.ids {
            if index > 0 {
                ids.push('\r');
            }
            ids.push_str(event.id);
        }
        if let Some(ms) = event.retry {
            if !self.retries.is_empty() {
                self.retries.push(',');
            }
            self.retries.push_str(&format!("{index}:{ms}"));
        }
        self.count += 1;
    }

    /// Appends the trailer; returns the wide string's units.
    pub fn finish(&mut self) -> &[u16] {
        let mut flags = 0;
        if self.types.is_some()
            || self.ids.is_some()
            || !self.retries.is_empty()
            || !self.id.is_empty()
        {
            flags |= EXTRAS;
        }
        if !self.narrow.is_empty() {
            flags |= NARROW;
        }
        for &word in self.ends.iter().chain(std::iter::once(&self.count)) {
            self.wide
                .extend_from_slice(&[word as u16, (word >> 16) as u16]);
        }
        self.wide.push(flags);
        &self.wide
    }
}

/// `a == b`, without calling `memcmp` for two empty ids (most streams carry none). glibc's
/// AVX-512 `memcmp` makes a masked load even for length 0, and from the dangling pointer of an
/// empty `&str` that load costs a fault-suppression assist on AMD EPYC: 30% of a feed's time
/// went there (perf).
fn same_id(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// Appends non-ASCII `text` as UTF-16: runs of eight ASCII bytes (the JSON around the text)
/// are widened a word at a time, the rest character by character.
fn push_utf16(out: &mut Vec<u16>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            if u64::from_le_bytes(word.try_into().unwrap_or_default()) & 0x8080_8080_8080_8080 == 0
            {
                out.extend(word.iter().map(|&b| u16::from(b)));
                at += 8;
                continue;
            }
        }
        let b = bytes[at];
        if b.is_ascii() {
            out.push(u16::from(b));
            at += 1;
        } else {
            // `at` is on a character boundary: every step above moved over whole characters.
            let ch = text[at..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut units = [0u16; 2];
            out.extend_from_slice(ch.encode_utf16(&mut units));
            at += ch.len_utf8();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(data: &'a str, id: &'a str) -> SseEventRef<'a> {
        SseEventRef {
            event: None,
            data,
            id,
            retry: None,
        }
    }

    /// Reads a packed feed back the way `index.js` does.
    fn unpack(packer: &mut EventPacker) -> Vec<String> {
        let narrow = String::from_utf8(packer.narrow.clone()).unwrap();
        let wide = packer.finish().to_vec();
        let word = |at: usize| u32::from(wide[at]) | (u32::from(wide[at + 1]) << 16);
        let count = word(wide.len() - 3) as usize;
        let ends_at = wide.len() - 3 - 2 * count;
        let (mut narrow_start, mut wide_start) = (0, 0);
        (0..count)
            .map(|i| {
                let end = word(ends_at + 2 * i);
                if end & IN_WIDE != 0 {
                    let end = (end & !IN_WIDE) as usize;
                    let text = String::from_utf16(&wide[wide_start..end]).unwrap();
                    wide_start = end;
                    text
                } else {
                    let end = end as usize;
                    let text = narrow[narrow_start..end].to_string();
                    narrow_start = end;
                    text
                }
            })
            .collect()
    }

    #[test]
    fn data_comes_back_in_order_from_both_strings() {
        let datas = [
            "{\"a\":1}",
            "héllo 日本 🙂 x",
            "",
            "plain",
            "🚀",
            "a long ascii run then ü",
        ];
        let mut packer = EventPacker::default();
        for data in datas {
            packer.add(&event(data, ""));
        }
        assert_eq!(unpack(&mut packer), datas);
    }

    #[test]
    fn types_and_ids_start_only_when_they_vary() {
        let mut packer = EventPacker::default();
        packer.add(&event("a", "1"));
        packer.add(&event("b", "1"));
        assert_eq!((packer.types.clone(), packer.ids.clone()), (None, None));
        packer.add(&SseEventRef {
            event: Some("x"),
            retry: Some(5),
            ..event("c", "2")
        });
        assert_eq!(packer.types.as_deref(), Some("message\rmessage\rx"));
        assert_eq!(packer.ids.as_deref(), Some("1\r1\r2"));
        assert_eq!(packer.retries, "2:5");
        packer.clear();
        packer.add(&event("d", ""));
        assert_eq!(unpack(&mut packer), ["d"]);
        assert_eq!(*packer.wide.last().unwrap(), NARROW);
    }
}
