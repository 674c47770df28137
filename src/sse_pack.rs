//! A feed's SSE events packed for the trip into JS (`binding::NativeSseParser`): at most two
//! strings per feed instead of an N-API object per event, which would cost more than the
//! framing itself. JS builds the event objects by slicing (`eventsFrom` in `lib/sse-parser.js`).
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
        if all_ascii(event.data.as_bytes()) {
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

/// `bytes` are all ASCII. Unlike `<[u8]>::is_ascii` (which went byte by byte on these short
/// slices, perf) the OR over every byte, with no early exit, compiles to SIMD.
#[inline(always)]
fn all_ascii(bytes: &[u8]) -> bool {
    bytes.iter().fold(0, |acc, &byte| acc | byte) < 0x80
}

/// Bytes checked and widened at once by [`widen_ascii_block`]: one SSE2 register.
const ASCII_BLOCK: usize = 16;

/// Writes `block` widened to UTF-16 into `units` when all of it is ASCII; otherwise leaves
/// `units` alone and returns false.
#[inline(always)]
fn widen_ascii_block(block: &[u8; ASCII_BLOCK], units: &mut [u16; ASCII_BLOCK]) -> bool {
    // Written with SSE2 (always there on x86_64): the portable loop below compiled to sixteen
    // byte loads and ORs for the check alone, and the packer was a quarter of a feed (perf).
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_setzero_si128, _mm_storeu_si128,
            _mm_unpackhi_epi8, _mm_unpacklo_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly the 16 bytes of
        // `block` and the two stores write exactly the 16 units of `units` (unaligned forms).
        unsafe {
            let bytes = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            if _mm_movemask_epi8(bytes) != 0 {
                return false; // some byte has its top bit set: not ASCII
            }
            let zero = _mm_setzero_si128();
            let out = units.as_mut_ptr().cast::<__m128i>();
            _mm_storeu_si128(out, _mm_unpacklo_epi8(bytes, zero));
            _mm_storeu_si128(out.add(1), _mm_unpackhi_epi8(bytes, zero));
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        if !all_ascii(block) {
            return false;
        }
        for (unit, &byte) in units.iter_mut().zip(block) {
            *unit = u16::from(byte);
        }
        true
    }
}

/// Appends non-ASCII `text` as UTF-16. Runs of sixteen ASCII bytes (the JSON around the text)
/// are widened a block at a time by [`widen_ascii_block`], straight into a slice sized up
/// front; the rest goes character by character.
fn push_utf16(out: &mut Vec<u16>, text: &str) {
    let bytes = text.as_bytes();
    let start = out.len();
    // UTF-16 never takes more units than UTF-8 takes bytes (1→1, 2→1, 3→1, 4→2), so the
    // write position never passes the read position and every write below fits.
    out.resize(start + bytes.len(), 0);
    let dst = &mut out[start..];
    let (mut read, mut written) = (0, 0);
    while read < bytes.len() {
        let block = bytes[read..].first_chunk::<ASCII_BLOCK>();
        let units = dst[written..].first_chunk_mut::<ASCII_BLOCK>();
        if let (Some(block), Some(units)) = (block, units) {
            if widen_ascii_block(block, units) {
                read += ASCII_BLOCK;
                written += ASCII_BLOCK;
                continue;
            }
        }
        let byte = bytes[read];
        if byte.is_ascii() {
            dst[written] = u16::from(byte);
            read += 1;
            written += 1;
        } else {
            // `read` is on a character boundary: every step above moved over whole characters.
            let ch = text[read..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            written += ch.encode_utf16(&mut dst[written..]).len();
            read += ch.len_utf8();
        }
    }
    out.truncate(start + written);
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

    /// Reads a packed feed back the way `lib/sse-parser.js` does.
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
    fn utf16_matches_std_for_every_mix_of_ascii_runs_and_characters() {
        // Every character width (and a run of them), at every offset around the 16-byte
        // blocks, after earlier output (the packer appends to what the feed holds already).
        for ch in ["é", "日", "🙂", "é日🙂ü日日"] {
            for before in 0..40 {
                for after in [0, 1, 15, 16, 17, 33] {
                    let text = format!("{}{ch}{}", "a".repeat(before), "b".repeat(after));
                    let mut out = vec![7u16];
                    push_utf16(&mut out, &text);
                    let want: Vec<u16> = std::iter::once(7).chain(text.encode_utf16()).collect();
                    assert_eq!(out, want, "{text:?}");
                }
            }
        }
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
