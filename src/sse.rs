//! WHATWG event-stream framing over bytes (no I/O, no HTTP, no JSON).
//!
//! Implements "interpreting an event stream" from the HTML standard
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>)
//! incrementally: bytes arrive in arbitrary pieces, each line is interpreted as soon as its
//! terminator arrives, and dispatched events are appended to a caller-owned `Vec`.
//!
//! Lines are decoded one at a time with `String::from_utf8_lossy`. That equals decoding the
//! whole stream first: CR, LF and `:` are ASCII bytes, which never occur inside a multi-byte
//! sequence, so splitting bytes on them never splits a character (an incomplete sequence before
//! them becomes U+FFFD either way).

use memchr::{memchr, memchr2};
use std::fmt;

/// Default for [`SseParser::new`]: the most bytes one event may accumulate.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 128 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Split lines longer than this release their buffer afterwards instead of keeping it.
const KEEP_LINE_CAPACITY: usize = 64 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type `message`.
    pub event: Option<String>,
    /// The data lines joined with `\n`.
    pub data: String,
    /// The last event ID, as the spec keeps it (persists across events).
    pub id: String,
    /// The reconnection time from a valid `retry:` field in this event's block.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// The event type: the `event:` field, or `message`.
    pub fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// A single event (its pending line plus its data so far) grew past the configured limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseError {
    /// The configured limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an SSE event exceeded the {}-byte limit (maxEventBytes)",
            self.limit
        )
    }
}

impl std::error::Error for SseError {}

/// Incremental event-stream parser; one per stream.
#[derive(Debug)]
pub struct SseParser {
    limit: usize,
    /// Start of a line whose terminator has not arrived yet. Lines that lie wholly inside one
    /// `feed` are interpreted straight from the caller's bytes and never copied here.
    line: Vec<u8>,
    /// The previous feed ended with CR, so an LF opening the next one completes that CRLF.
    pending_cr: bool,
    /// `Some(n)`: still at the start of the stream with the first `n` BOM bytes held back.
    bom: Option<usize>,
    data: String,
    event_type: String,
    last_id: String,
    retry: Option<u64>,
    bytes_seen: u64,
    saw_line: bool,
    /// Bytes examined looking for line ends; lets tests prove nothing is rescanned.
    #[cfg(test)]
    scanned: u64,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the [`DEFAULT_MAX_EVENT_BYTES`] limit.
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser failing once an event (its pending line plus its data) exceeds `limit` bytes.
    pub fn with_max_event_bytes(limit: usize) -> Self {
        SseParser {
            limit,
            line: Vec::new(),
            pending_cr: false,
            bom: Some(0),
            data: String::new(),
            event_type: String::new(),
            last_id: String::new(),
            retry: None,
            bytes_seen: 0,
            saw_line: false,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// Feeds the next bytes of the stream; appends every event completed by them to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.bytes_seen += bytes.len() as u64;
        let mut rest = bytes;
        if let Some(held) = self.bom {
            let n = held + common_prefix_len(&BOM[held..], rest);
            rest = &rest[n - held..];
            if n == BOM.len() {
                self.bom = None;
            } else if rest.is_empty() {
                // Everything so far may still be a BOM split across feeds: wait for more.
                self.bom = Some(n);
                return Ok(());
            } else {
                // Not a BOM after all: the held bytes start the first line (they hold no CR/LF).
                self.bom = None;
                self.line.extend_from_slice(&BOM[..n]);
            }
        }
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(i) = self.find_line_end(rest) {
            self.ensure_fits(i)?;
            let next = match (rest[i], rest.get(i + 1)) {
                (b'\r', Some(b'\n')) => i + 2,
                (b'\r', None) => {
                    self.pending_cr = true;
                    i + 1
                }
                _ => i + 1,
            };
            if self.line.is_empty() {
                self.process_line(&rest[..i], out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..i]);
                self.process_line(&line, out);
                if line.capacity() <= KEEP_LINE_CAPACITY {
                    line.clear();
                    self.line = line;
                }
            }
            rest = &rest[next..];
        }
        // Checked before copying, so an endless line never buffers much past the limit.
        self.ensure_fits(rest.len())?;
        self.line.extend_from_slice(rest);
        Ok(())
    }

    /// End of input: an unterminated last event (and any partial line) is discarded, as the
    /// spec says. Never dispatches anything; the last event ID and counters are kept.
    pub fn finish(&mut self, _out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.line = Vec::new();
        self.data = String::new();
        self.event_type.clear();
        self.retry = None;
        self.pending_cr = false;
        self.bom = None;
        Ok(())
    }

    /// Bytes received so far (total).
    pub fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    /// True once at least one complete line (of any kind) has been processed.
    pub fn saw_any_line(&self) -> bool {
        self.saw_line
    }

    fn find_line_end(&mut self, hay: &[u8]) -> Option<usize> {
        let found = memchr2(b'\n', b'\r', hay);
        #[cfg(test)]
        {
            self.scanned += found.map_or(hay.len(), |i| i + 1) as u64;
        }
        found
    }

    /// Fails if the current event would exceed the limit with `extra` more line bytes.
    fn ensure_fits(&self, extra: usize) -> Result<(), SseError> {
        if self.data.len() + self.line.len() + extra > self.limit {
            return Err(SseError { limit: self.limit });
        }
        Ok(())
    }

    /// Interprets one complete line (without its terminator).
    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        self.saw_line = true;
        if line.is_empty() {
            return self.dispatch(out);
        }
        let (name, value) = match memchr(b':', line) {
            Some(0) => return, // comment
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                let value = decode_utf8(value);
                // Exact reservation: a single-line event costs one allocation and one copy.
                self.data.reserve(value.len() + 1);
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode_utf8(value));
            }
            // UTF-8 encodes U+0000 only as the byte 0, and lossy decoding never produces it.
            b"id" if memchr(0, value).is_none() => {
                self.last_id.clear();
                self.last_id.push_str(&decode_utf8(value));
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let retry = self.retry.take();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        self.data.pop(); // every data line ended with '\n'; the spec drops the last one
        let event = if self.event_type.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.event_type))
        };
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
            retry,
        });
    }
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A non-empty run of ASCII digits as a `u64`; anything else (or overflow) is `None`.
/// (`str::parse` would also accept a leading `+`.)
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// UTF-8 with invalid sequences as U+FFFD. Valid text (nearly always) takes the fast, vectorised
/// validation path; only broken bytes pay for the lossy, byte-at-a-time decoder.
fn decode_utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift64 PRNG for piece sizes and fuzz inputs.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[derive(Debug, PartialEq)]
    struct Outcome {
        events: Vec<SseEvent>,
        error: Option<SseError>,
        saw_any_line: bool,
    }

    /// Feeds `input` in pieces of `next_len()` bytes (zero allowed), then finishes.
    fn run_with(input: &[u8], limit: usize, mut next_len: impl FnMut() -> usize) -> Outcome {
        let mut p = SseParser::with_max_event_bytes(limit);
        let mut events = Vec::new();
        let mut rest = input;
        let error = loop {
            let (piece, tail) = rest.split_at(next_len().min(rest.len()));
            if let Err(e) = p.feed(piece, &mut events) {
                break Some(e);
            }
            rest = tail;
            if rest.is_empty() {
                break p.finish(&mut events).err();
            }
        };
        if error.is_none() {
            assert_eq!(p.bytes_seen(), input.len() as u64);
        }
        Outcome {
            events,
            error,
            saw_any_line: p.saw_any_line(),
        }
    }

    /// Runs `input` whole, byte by byte and in random pieces; all must agree.
    fn run_all(input: &[u8], limit: usize) -> Outcome {
        let whole = run_with(input, limit, || usize::MAX);
        let bytewise = run_with(input, limit, || 1);
        assert_eq!(whole, bytewise, "byte by byte differs for {input:?}");
        for seed in 1..=16u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let max = if seed % 2 == 0 { 8 } else { 100 };
            let random = run_with(input, limit, || rng.below(max));
            assert_eq!(
                whole, random,
                "random pieces (seed {seed}) differ for {input:?}"
            );
        }
        whole
    }

    /// Events of a stream that must parse without error under the default limit.
    fn parse(input: &[u8]) -> Vec<SseEvent> {
        let outcome = run_all(input, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(outcome.error, None);
        outcome.events
    }

    fn datas(input: &[u8]) -> Vec<String> {
        parse(input).into_iter().map(|e| e.data).collect()
    }

    fn msg(data: &str) -> SseEvent {
        SseEvent {
            data: data.to_string(),
            ..SseEvent::default()
        }
    }

    #[test]
    fn typical_openai_chat_stream() {
        let chunk =
            |c: &str| format!(r#"data: {{"id":"x","choices":[{{"delta":{{"content":"{c}"}}}}]}}"#);
        let input = format!(
            "{}\n\n: ping\n\n{}\n\n{}\n\ndata: [DONE]\n\n",
            chunk("Hi"),
            chunk(" there"),
            chunk("!")
        );
        let want: Vec<SseEvent> = [
            &chunk("Hi")[6..],
            &chunk(" there")[6..],
            &chunk("!")[6..],
            "[DONE]",
        ]
        .into_iter()
        .map(msg)
        .collect();
        assert_eq!(parse(input.as_bytes()), want);
        assert_eq!(parse(input.replace('\n', "\r\n").as_bytes()), want);
        assert_eq!(parse(input.replace('\n', "\r").as_bytes()), want);
        assert!(want.iter().all(|e| e.event_type() == "message"));
    }

    #[test]
    fn data_without_space() {
        assert_eq!(
            datas(b"data:{\"a\":1}\n\ndata:[DONE]\n\n"),
            ["{\"a\":1}", "[DONE]"]
        );
    }

    #[test]
    fn bom_stripped_at_start() {
        assert_eq!(datas(b"\xEF\xBB\xBFdata: a\n\n"), ["a"]);
        assert_eq!(datas(b"\xEF\xBB\xBF\n"), Vec::<String>::new());
    }

    #[test]
    fn bom_split_across_feeds() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for piece in [&b"\xEF"[..], b"", b"\xBB", b"\xBFdata: a\n", b"\n"] {
            p.feed(piece, &mut out).unwrap();
        }
        assert_eq!(out, [msg("a")]);
        // run_all also covers every other split.
        assert_eq!(datas(b"\xEF\xBB\xBFdata: b\n\n"), ["b"]);
    }

    #[test]
    fn only_one_bom_stripped() {
        // The second BOM becomes part of the field name "\u{FEFF}data", which is unknown.
        assert_eq!(
            datas(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bom_only_at_start() {
        assert_eq!(datas(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"), ["a"]);
        assert_eq!(datas(b"data: \xEF\xBB\xBFx\n\n"), ["\u{FEFF}x"]);
    }

    #[test]
    fn partial_bom_is_kept_as_line_bytes() {
        // The held-back bytes are decoded as part of the first line (to U+FFFD).
        assert_eq!(datas(b"\xEF\xBBdata: a\n\ndata: b\n\n"), ["b"]);
        assert_eq!(datas(b"\xEFdata: a\n\ndata: b\n\n"), ["b"]);
        assert_eq!(datas(b"\xEF\xBB\ndata: a\n\n"), ["a"]);
        // A partial BOM that is the whole stream is just an unterminated line.
        assert!(!run_all(b"\xEF\xBB", DEFAULT_MAX_EVENT_BYTES).saw_any_line);
    }

    #[test]
    fn line_endings_lf_crlf_cr() {
        for input in [&b"data: a\n\n"[..], b"data: a\r\n\r\n", b"data: a\r\r"] {
            assert_eq!(datas(input), ["a"], "{input:?}");
        }
    }

    #[test]
    fn crlf_split_across_feeds_is_one_line_end() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for piece in [&b"data: a\r"[..], b"", b"\ndata: b\r", b"\n", b"\r", b"\n"] {
            p.feed(piece, &mut out).unwrap();
        }
        assert_eq!(out, [msg("a\nb")]);
        // CR then CR across feeds is two line ends.
        p.feed(b"data: c\r", &mut out).unwrap();
        p.feed(b"\r", &mut out).unwrap();
        assert_eq!(out, [msg("a\nb"), msg("c")]);
    }

    #[test]
    fn mixed_line_endings() {
        assert_eq!(
            datas(b"data: a\rdata: b\ndata: c\r\n\rdata: d\n\r\n"),
            ["a\nb\nc", "d"]
        );
        // LF CR is two line ends, i.e. an empty line.
        assert_eq!(datas(b"data: a\n\rdata: b\r\n\n"), ["a", "b"]);
    }

    #[test]
    fn empty_line_dispatches() {
        assert_eq!(parse(b"data: a\n\ndata: b\n\n"), [msg("a"), msg("b")]);
    }

    #[test]
    fn empty_line_without_data_dispatches_nothing() {
        assert_eq!(parse(b"\n\n\n\r\n"), []);
        // The event type is reset, but the id is still taken.
        assert_eq!(
            parse(b"event: x\nid: 7\n\ndata: a\n\n"),
            [SseEvent {
                id: "7".into(),
                ..msg("a")
            }]
        );
    }

    #[test]
    fn one_trailing_lf_removed_from_data() {
        assert_eq!(datas(b"data:\n\n"), [""]);
        assert_eq!(datas(b"data:\ndata:\n\n"), ["\n"]);
        assert_eq!(datas(b"data: a\ndata:\n\n"), ["a\n"]);
        assert_eq!(datas(b"data: a\ndata: b\ndata: c\n\n"), ["a\nb\nc"]);
    }

    #[test]
    fn comments_ignored() {
        assert_eq!(
            datas(b": ping\ndata: a\n:\n: ping\ndata: b\n\n: x\n\n"),
            ["a\nb"]
        );
        assert_eq!(datas(b":data: x\n\n"), Vec::<String>::new());
        assert!(run_all(b": hello\n", DEFAULT_MAX_EVENT_BYTES).saw_any_line);
    }

    #[test]
    fn one_leading_space_removed_from_value() {
        assert_eq!(datas(b"data:  a\n\n"), [" a"]);
        assert_eq!(datas(b"data:a \n\n"), ["a "]);
        assert_eq!(datas(b"data:\ta\n\n"), ["\ta"]);
        assert_eq!(datas(b"data: \n\n"), [""]);
    }

    #[test]
    fn field_splits_at_first_colon() {
        assert_eq!(datas(b"data: a:b: c\n\n"), ["a:b: c"]);
        let events = parse(b"event:x:y\ndata\n\n");
        assert_eq!(events[0].event.as_deref(), Some("x:y"));
        // "data " is not "data".
        assert_eq!(datas(b"data : a\n\n"), Vec::<String>::new());
    }

    #[test]
    fn field_without_colon_has_empty_value() {
        assert_eq!(datas(b"data\n\n"), [""]);
        assert_eq!(datas(b"data\ndata\n\n"), ["\n"]);
        assert_eq!(datas(b"data: a\ndata\ndata: b\n\n"), ["a\n\nb"]);
        assert_eq!(parse(b"event\ndata: a\n\n"), [msg("a")]);
    }

    #[test]
    fn event_type_default_and_reset() {
        let events = parse(b"event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n");
        let types: Vec<_> = events
            .iter()
            .map(|e| (e.event.as_deref(), e.event_type()))
            .collect();
        assert_eq!(
            types,
            [(Some("add"), "add"), (None, "message"), (None, "message")]
        );
        let events = parse(b"event: a\nevent: b\ndata: x\n\n");
        assert_eq!(events[0].event_type(), "b");
    }

    #[test]
    fn id_persists_across_events() {
        let events = parse(b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\ndata: d\n\n");
        let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["1", "1", "", "2"]);
        let events = parse(b"id: 5\ndata: a\n\nid:\ndata: b\n\n");
        let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["5", ""]);
    }

    #[test]
    fn id_with_nul_ignored() {
        let events = parse(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\nid: \x00\ndata: c\n\n");
        let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["1", "1", "1"]);
        // NUL elsewhere is ordinary data.
        assert_eq!(datas(b"data: a\x00b\n\n"), ["a\0b"]);
    }

    #[test]
    fn retry_digits_only() {
        let retry = |input: &[u8]| parse(input)[0].retry;
        assert_eq!(retry(b"retry: 1000\ndata: a\n\n"), Some(1000));
        assert_eq!(retry(b"retry:0\ndata: a\n\n"), Some(0));
        for bad in [
            &b"retry: 10a"[..],
            b"retry:",
            b"retry",
            b"retry: -1",
            b"retry: +1",
            b"retry:  1",
            b"retry: 1.5",
            b"retry: 1 ",
            b"retry: \xD9\xA1", // ARABIC-INDIC DIGIT ONE is not an ASCII digit
            b"Retry: 5",
        ] {
            let input = [bad, b"\ndata: a\n\n"].concat();
            assert_eq!(retry(&input), None, "{bad:?}");
        }
        // The last valid value wins; invalid ones leave it alone.
        assert_eq!(retry(b"retry: 1\nretry: 2\nretry: x\ndata: a\n\n"), Some(2));
    }

    #[test]
    fn retry_overflow_ignored() {
        let max = format!("retry: {}\ndata: a\n\n", u64::MAX);
        assert_eq!(parse(max.as_bytes())[0].retry, Some(u64::MAX));
        let over = b"retry: 7\nretry: 18446744073709551616\ndata: a\n\n";
        assert_eq!(parse(over)[0].retry, Some(7));
    }

    #[test]
    fn retry_reported_only_on_its_own_block() {
        let events = parse(b"retry: 5\ndata: a\n\ndata: b\n\nretry: 9\n\ndata: c\n\n");
        let retries: Vec<_> = events.iter().map(|e| e.retry).collect();
        assert_eq!(retries, [Some(5), None, None]);
    }

    #[test]
    fn unknown_fields_ignored_and_names_case_sensitive() {
        assert_eq!(
            parse(b"Data: a\nDATA: b\nfoo: c\nEvent: x\nID: 3\ndata: d\n\n"),
            [msg("d")]
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_char() {
        assert_eq!(datas(b"data: a\xFFb\n\n"), ["a\u{FFFD}b"]);
        // A truncated sequence is one U+FFFD; the line end still ends the line.
        assert_eq!(
            datas(b"data: x\xE2\x82\ndata: \xF0\x9F\r\n\n"),
            ["x\u{FFFD}\n\u{FFFD}"]
        );
        let events = parse(b"event: \xC3\nid: \xC0\xAF\ndata\n\n");
        assert_eq!(events[0].event.as_deref(), Some("\u{FFFD}"));
        assert_eq!(events[0].id, "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn multibyte_utf8_split_across_feeds() {
        let text = "data: é€😀 ünïcödé\n\n";
        let mut p = SseParser::new();
        let mut out = Vec::new();
        // Split inside the 4-byte emoji.
        let bytes = text.as_bytes();
        let cut = text.find('😀').unwrap() + 2;
        p.feed(&bytes[..cut], &mut out).unwrap();
        p.feed(&bytes[cut..], &mut out).unwrap();
        assert_eq!(out, [msg("é€😀 ünïcödé")]);
        assert_eq!(datas(bytes), ["é€😀 ünïcödé"]);
    }

    #[test]
    fn unterminated_last_event_discarded() {
        assert_eq!(datas(b"data: a\n"), Vec::<String>::new());
        assert_eq!(datas(b"data: a"), Vec::<String>::new());
        assert_eq!(datas(b"data: a\n\ndata: b\n"), ["a"]);
        assert_eq!(datas(b"data: a\n\ndata: b"), ["a"]);
        // A final CR is a complete line end, but the event still needs its empty line.
        assert_eq!(datas(b"data: a\r"), Vec::<String>::new());
    }

    #[test]
    fn finish_discards_partial_line_and_event() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(b"id: 9\ndata: a\nevent: e\nretry: 1\ndata: b", &mut out)
            .unwrap();
        p.finish(&mut out).unwrap();
        assert!(out.is_empty());
        assert!(p.line.is_empty() && p.data.is_empty() && p.event_type.is_empty());
        assert_eq!(p.retry, None);
        assert_eq!(p.last_id, "9");
    }

    #[test]
    fn saw_any_line_needs_a_complete_line() {
        let saw = |input: &[u8]| run_all(input, DEFAULT_MAX_EVENT_BYTES).saw_any_line;
        assert!(!saw(b""));
        assert!(!saw(b"<html><body>not an event stream"));
        assert!(saw(b"\n"));
        assert!(saw(b"{\"error\": 1}\n"));
        assert!(saw(b"data: a\r"));
    }

    #[test]
    fn bytes_seen_counts_everything() {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for piece in [&b"\xEF\xBB"[..], b"\xBF", b"data: a\n\n", b"", b"partial"] {
            p.feed(piece, &mut out).unwrap();
        }
        assert_eq!(p.bytes_seen(), 19);
        p.finish(&mut out).unwrap();
        assert_eq!(p.bytes_seen(), 19);
    }

    #[test]
    fn new_and_default_use_default_limit() {
        assert_eq!(SseParser::new().limit, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(SseParser::default().limit, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(SseParser::with_max_event_bytes(5).limit, 5);
    }

    #[test]
    fn limit_exceeded_on_terminated_line() {
        // "data: ab" is 8 bytes: fits a limit of 8, not 7.
        let ok = run_all(b"data: ab\n\n", 8);
        assert_eq!((ok.events, ok.error), (vec![msg("ab")], None));
        let err = run_all(b"data: x\n\ndata: ab\n\n", 7);
        assert_eq!(err.events, [msg("x")]);
        assert_eq!(err.error, Some(SseError { limit: 7 }));
    }

    #[test]
    fn limit_counts_accumulated_data() {
        // Each line is small but the event's data keeps growing by "a\n" per line: the
        // tenth line ("data: a", 7 bytes) arrives on top of 18 data bytes.
        let input = "data: a\n".repeat(10) + "\n";
        assert_eq!(run_all(input.as_bytes(), 25).error, None);
        assert_eq!(
            run_all(input.as_bytes(), 24).error,
            Some(SseError { limit: 24 })
        );
        // Dispatch starts the next event from zero.
        let input = "data: aaaa\n\n".repeat(50);
        assert_eq!(run_all(input.as_bytes(), 10).events.len(), 50);
    }

    #[test]
    fn limit_exceeded_on_unterminated_line() {
        let limit = 64 * 1024;
        let mut p = SseParser::with_max_event_bytes(limit);
        let mut out = Vec::new();
        p.feed(b"data: ", &mut out).unwrap();
        let chunk = [b'x'; 1024];
        let mut fed = 6;
        let err = loop {
            match p.feed(&chunk, &mut out) {
                Ok(()) => fed += chunk.len(),
                Err(e) => break e,
            }
            assert!(p.line.len() <= limit);
            assert!(fed < 10 * limit, "an endless line was never stopped");
        };
        assert_eq!(err, SseError { limit });
        assert!(fed <= limit && fed + chunk.len() > limit);
        assert!(out.is_empty());
        // Same outcome for every split, and with no terminator anywhere.
        let endless = vec![b'x'; 3000];
        assert_eq!(
            run_all(&endless, 1000).error,
            Some(SseError { limit: 1000 })
        );
    }

    #[test]
    fn error_display() {
        let e = SseError {
            limit: DEFAULT_MAX_EVENT_BYTES,
        };
        assert_eq!(
            e.to_string(),
            "an SSE event exceeded the 134217728-byte limit (maxEventBytes)"
        );
        let _: &dyn std::error::Error = &e;
    }

    #[test]
    fn ten_megabyte_line_is_scanned_once() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(b"data: ", &mut out).unwrap();
        let chunk = [b'y'; 1024];
        for _ in 0..10 * 1024 {
            p.feed(&chunk, &mut out).unwrap();
        }
        assert!(out.is_empty());
        p.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data.len(), 10 * 1024 * 1024);
        assert!(out[0].data.bytes().all(|b| b == b'y'));
        // Every byte was examined at most once while looking for line ends.
        assert!(
            p.scanned <= p.bytes_seen(),
            "{} > {}",
            p.scanned,
            p.bytes_seen()
        );
        // The oversized line buffer was released, not kept around.
        assert_eq!(p.line.capacity(), 0);
    }

    #[test]
    fn single_line_data_is_allocated_exactly() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(b"data: {\"a\":1}\n\ndata: {\"b\":2}\n\n", &mut out)
            .unwrap();
        for e in &out {
            // One allocation of value + '\n'; the '\n' was popped at dispatch.
            assert_eq!(e.data.capacity(), e.data.len() + 1);
        }
    }

    /// A direct transcription of the spec over the fully decoded stream, to cross-check.
    fn reference(input: &[u8]) -> Vec<SseEvent> {
        let text = String::from_utf8_lossy(input);
        let mut rest = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
        let (mut data, mut event, mut id, mut retry) =
            (String::new(), String::new(), String::new(), None);
        let mut events = Vec::new();
        // Only terminated lines count: whatever follows the last line end is discarded.
        while let Some(i) = rest.find(['\r', '\n']) {
            let line = &rest[..i];
            rest = &rest[i + if rest[i..].starts_with("\r\n") { 2 } else { 1 }..];
            if line.is_empty() {
                if !data.is_empty() {
                    data.pop();
                    events.push(SseEvent {
                        event: Some(event.clone()).filter(|e| !e.is_empty()),
                        data: std::mem::take(&mut data),
                        id: id.clone(),
                        retry,
                    });
                }
                event.clear();
                retry = None;
                continue;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match name {
                "event" => event = value.to_string(),
                "data" => data += &format!("{value}\n"),
                "id" if !value.contains('\0') => id = value.to_string(),
                "retry" if value.bytes().all(|b| b.is_ascii_digit()) => {
                    retry = value.parse().ok().or(retry);
                }
                _ => {} // includes comments (empty name)
            }
        }
        events
    }

    #[test]
    fn matches_reference_on_random_streams() {
        let tokens: &[&[u8]] = &[
            b"data",
            b"data:",
            b"data: ",
            b"event:",
            b"event: ",
            b"id:",
            b"id: ",
            b"retry:",
            b"retry: ",
            b":",
            b" ",
            b"x",
            b"yz",
            b"12",
            b"0",
            b"\0",
            b"\r",
            b"\n",
            b"\r\n",
            b"\n\n",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB",
            b"\xC3\xA9",
            b"\xFF",
            b"\xE2\x82",
            b"Data",
            b"+1",
        ];
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for _ in 0..3000 {
            let len = rng.below(40);
            let input: Vec<u8> = (0..len)
                .flat_map(|_| tokens[rng.below(tokens.len())].iter().copied())
                .collect();
            let want = reference(&input);
            assert_eq!(parse(&input), want, "{:?}", String::from_utf8_lossy(&input));
            // Under a small limit, every split fails identically and after the same events.
            let limited = run_all(&input, rng.below(24));
            assert!(want.starts_with(&limited.events));
            if limited.error.is_none() {
                assert_eq!(limited.events, want);
            }
        }
    }

    // `cargo clippy --all-targets -- -D warnings` and `cargo fmt --check` are clean for this
    // file; they were run when it was written (a test cannot invoke them itself).
}
