//! WHATWG event-stream framing over bytes (no I/O, no HTTP, no JSON).
//!
//! Implements "interpreting an event stream" from the HTML standard
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>)
//! incrementally: bytes arrive in arbitrary pieces and each line is interpreted as soon as its
//! terminator arrives.
//!
//! Two ways to receive events. [`SseParser::feed_with`] hands each event to a callback as an
//! [`SseEventRef`] that borrows its text; [`SseParser::feed`] builds on it and appends owned
//! [`SseEvent`]s to a caller-owned `Vec`.
//!
//! Why borrowing pays: nearly every event of an LLM stream is one `data:` line plus the blank
//! line dispatching it, both inside the same network read. Such an event's data is handed out
//! as a `&str` pointing straight into the fed bytes, so the common case neither allocates nor
//! copies; the parser's own buffers are only used for what a single feed cannot hold (lines
//! split across feeds, events whose blank line comes in a later feed, several data lines).
//!
//! Lines are decoded one at a time, lossily (invalid UTF-8 becomes U+FFFD). That equals
//! decoding the whole stream first: CR, LF and `:` are ASCII bytes, which never occur inside a
//! multi-byte sequence, so splitting bytes on them never splits a character (an incomplete
//! sequence before them becomes U+FFFD either way).

use memchr::{memchr, memchr2};
use std::borrow::Cow;
use std::fmt;

/// Default for [`SseParser::new`]: the most bytes one event may accumulate.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 128 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A split line or multi-line event longer than this releases its buffer afterwards instead of
/// keeping it: one huge event should not pin that much memory for the rest of the stream.
const KEEP_LINE_CAPACITY: usize = 64 * 1024;

/// One dispatched event, owning its text.
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
    /// A borrowed view, as [`SseParser::feed_with`] hands events out.
    pub fn as_event_ref(&self) -> SseEventRef<'_> {
        SseEventRef {
            event: self.event.as_deref(),
            data: &self.data,
            id: &self.id,
            retry: self.retry,
        }
    }

    /// The event type: the `event:` field, or `message`.
    pub fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// One dispatched event as [`SseParser::feed_with`] hands it over: the same fields as
/// [`SseEvent`], borrowed from the fed bytes or the parser, so it lives only for the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The `event:` field; `None` means the default type `message`.
    pub event: Option<&'a str>,
    /// The data lines joined with `\n`.
    pub data: &'a str,
    /// The last event ID, as the spec keeps it (persists across events).
    pub id: &'a str,
    /// The reconnection time from a valid `retry:` field in this event's block.
    pub retry: Option<u64>,
}

impl<'a> SseEventRef<'a> {
    /// The event type: the `event:` field, or `message`.
    pub fn event_type(&self) -> &'a str {
        self.event.unwrap_or("message")
    }

    /// An owned copy, for keeping the event past the callback.
    pub fn to_owned(&self) -> SseEvent {
        // One spare byte keeps the allocation `feed` has always made (the value plus its '\n',
        // pinned by a test); allocators round sizes up anyway, so it costs nothing.
        let mut data = String::with_capacity(self.data.len() + 1);
        data.push_str(self.data);
        SseEvent {
            event: self.event.map(str::to_string),
            data,
            id: self.id.to_string(),
            retry: self.retry,
        }
    }
}

impl From<SseEventRef<'_>> for SseEvent {
    fn from(event: SseEventRef<'_>) -> Self {
        event.to_owned()
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
    /// feed are interpreted straight from the caller's bytes and never copied here.
    line: Vec<u8>,
    /// The previous feed ended with CR, so an LF opening the next one completes that CRLF.
    pending_cr: bool,
    /// `Some(n)`: still at the start of the stream with the first `n` BOM bytes held back.
    bom: Option<usize>,
    /// Decoded data lines of the open event, each followed by '\n' (the spec's own buffer).
    /// Between feeds it holds all of the open event's data; during a feed, the first data line
    /// may instead be borrowed from the fed bytes (see [`Feed::data`]).
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

/// State of one `feed_with` call that may borrow from its bytes.
struct Feed<'a> {
    /// The open event's only data line so far, valid UTF-8 borrowed from the fed bytes and
    /// standing for `value + '\n'` in [`SseParser::data`] (which is then empty). Kept as a
    /// borrow rather than copied so a single-line event dispatched within the same feed never
    /// touches the owned buffer; moved there when a second data line arrives or the feed ends.
    data: Option<&'a str>,
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
    ///
    /// Each event costs one allocation for its data (plus any for `event` and `id`); callers
    /// that only look at events can use [`SseParser::feed_with`] and skip those.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.feed_with(bytes, |event| out.push(event.to_owned()))
    }

    /// Feeds the next bytes of the stream; calls `on_event` for every event completed by them,
    /// in order. An event's text may borrow `bytes` or the parser, hence only for the call.
    ///
    /// On error, the events dispatched before the offending line have been delivered and the
    /// parser is left as [`SseParser::feed`] would leave it.
    pub fn feed_with(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(SseEventRef<'_>),
    ) -> Result<(), SseError> {
        let mut feed = Feed { data: None };
        let result = self.feed_lines(bytes, &mut feed, &mut on_event);
        // The borrow ends with this call: whatever the outcome, the parser must own the data.
        if let Some(text) = feed.data {
            self.push_data(text);
        }
        result
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

    fn feed_lines<'a, F: FnMut(SseEventRef<'_>)>(
        &mut self,
        bytes: &'a [u8],
        feed: &mut Feed<'a>,
        on_event: &mut F,
    ) -> Result<(), SseError> {
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
        let mut pos = 0;
        if !self.line.is_empty() {
            // The line begun by earlier feeds must be completed in the owned buffer.
            let Some(end) = self.find_line_end(rest) else {
                return self.hold_partial_line(rest, feed);
            };
            self.ensure_fits(feed, end)?;
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&rest[..end]);
            self.process_owned_line(&line, feed);
            if line.capacity() <= KEEP_LINE_CAPACITY {
                line.clear();
                self.line = line;
            }
            pos = self.skip_line_end(rest, end);
        }
        // From here on every line starts inside `rest`, so its text can be borrowed.
        while let Some(&first) = rest.get(pos) {
            self.count_scanned(1);
            if first == b'\n' || first == b'\r' {
                // An empty line, found without a search call: in a typical stream it is the
                // byte right after each data line, i.e. every second line.
                self.ensure_fits(feed, 0)?;
                self.saw_line = true;
                self.dispatch(feed, on_event);
                pos = self.skip_line_end(rest, pos);
                continue;
            }
            // `first` is known not to end the line, so the search starts after it.
            let Some(len) = self.find_line_end(&rest[pos + 1..]).map(|i| i + 1) else {
                return self.hold_partial_line(&rest[pos..], feed);
            };
            let end = pos + len;
            self.ensure_fits(feed, len)?;
            self.process_line(&rest[pos..end], feed);
            pos = self.skip_line_end(rest, end);
        }
        // The feed ended on a line end: the held partial line is empty, but see `ensure_fits`.
        self.ensure_fits(feed, 0)
    }

    /// Keeps the unterminated end of a feed for the next one.
    fn hold_partial_line(&mut self, tail: &[u8], feed: &Feed<'_>) -> Result<(), SseError> {
        // Checked before copying, so an endless line never buffers much past the limit.
        self.ensure_fits(feed, tail.len())?;
        self.line.extend_from_slice(tail);
        Ok(())
    }

    // The per-line helpers below are forced inline: they run twice per event in the hot loop,
    // and inlining measured about 2% fewer instructions than leaving it to the compiler.

    /// The index after the terminator at `bytes[end]` (CR, LF or CRLF).
    #[inline(always)]
    fn skip_line_end(&mut self, bytes: &[u8], end: usize) -> usize {
        if bytes[end] == b'\n' {
            return end + 1;
        }
        match bytes.get(end + 1) {
            Some(b'\n') => end + 2,
            Some(_) => end + 1,
            None => {
                self.pending_cr = true;
                end + 1
            }
        }
    }

    fn find_line_end(&mut self, hay: &[u8]) -> Option<usize> {
        let found = memchr2(b'\n', b'\r', hay);
        self.count_scanned(found.map_or(hay.len(), |i| i + 1));
        found
    }

    /// Test-only accounting; compiles to nothing otherwise.
    #[inline(always)]
    fn count_scanned(&mut self, _bytes: usize) {
        #[cfg(test)]
        {
            self.scanned += _bytes as u64;
        }
    }

    /// Fails if the current event would exceed the limit with `extra` more line bytes.
    ///
    /// Lossy decoding can make data outgrow the raw bytes checked for it (one invalid byte
    /// becomes three), so even a check with no `extra` bytes can fail; it is made at every
    /// empty line and at the end of every feed, exactly as the owned-only parser did.
    #[inline(always)]
    fn ensure_fits(&self, feed: &Feed<'_>, extra: usize) -> Result<(), SseError> {
        let borrowed = feed.data.map_or(0, |text| text.len() + 1);
        if self.data.len() + borrowed + self.line.len() + extra > self.limit {
            return Err(SseError { limit: self.limit });
        }
        Ok(())
    }

    /// Interprets one complete, non-empty line lying inside the current feed.
    #[inline(always)]
    fn process_line<'a>(&mut self, line: &'a [u8], feed: &mut Feed<'a>) {
        // The hot case, tested first: no other line reaching the `data` field has a colon.
        let Some(value) = line.strip_prefix(b"data:") else {
            return self.process_owned_line(line, feed);
        };
        self.saw_line = true;
        let value = value.strip_prefix(b" ").unwrap_or(value);
        match decode_utf8(value) {
            Cow::Borrowed(text) if feed.data.is_none() && self.data.is_empty() => {
                feed.data = Some(text);
            }
            text => self.push_data_line(&text, feed),
        }
    }

    /// Interprets one complete, non-empty line without borrowing from it.
    fn process_owned_line(&mut self, line: &[u8], feed: &mut Feed<'_>) {
        self.saw_line = true;
        let (name, value) = match memchr(b':', line) {
            Some(0) => return, // comment
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => self.push_data_line(&decode_utf8(value), feed),
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

    /// Appends a data line to the owned buffer, moving a borrowed first line there before it:
    /// joining lines needs one contiguous string.
    fn push_data_line(&mut self, text: &str, feed: &mut Feed<'_>) {
        if let Some(first) = feed.data.take() {
            self.push_data(first);
        }
        self.push_data(text);
    }

    fn push_data(&mut self, text: &str) {
        // Reserving the '\n' with the text: one allocation (of exactly that size) for the first
        // line of an event, amortised growth after it.
        self.data.reserve(text.len() + 1);
        self.data.push_str(text);
        self.data.push('\n');
    }

    /// The empty line: hands over the open event, if it has data, and starts the next one.
    #[inline(always)]
    fn dispatch<F: FnMut(SseEventRef<'_>)>(&mut self, feed: &mut Feed<'_>, on_event: &mut F) {
        let retry = self.retry.take();
        let data = match feed.data.take() {
            Some(text) => text,
            None if self.data.is_empty() => {
                self.event_type.clear();
                return;
            }
            None => {
                self.data.pop(); // every data line ended with '\n'; the spec drops the last one
                self.data.as_str()
            }
        };
        on_event(SseEventRef {
            event: Some(self.event_type.as_str()).filter(|t| !t.is_empty()),
            data,
            id: &self.last_id,
            retry,
        });
        self.event_type.clear();
        if self.data.capacity() <= KEEP_LINE_CAPACITY {
            self.data.clear();
        } else {
            self.data = String::new();
        }
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

/// UTF-8 with invalid sequences as U+FFFD. Valid text (nearly always) takes simdutf8's SIMD
/// validation; only broken bytes pay for the lossy, byte-at-a-time decoder.
fn decode_utf8(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Events built by hand, for the payload parsers' tests (`openai::*`).
#[cfg(test)]
pub mod test_events {
    use super::SseEventRef;

    /// A `message` event carrying only `data`.
    pub fn data_event(data: &str) -> SseEventRef<'_> {
        SseEventRef {
            event: None,
            data,
            id: "",
            retry: None,
        }
    }

    /// An event with an `event:` type.
    pub fn typed<'a>(event: &'a str, data: &'a str) -> SseEventRef<'a> {
        SseEventRef {
            event: Some(event),
            ..data_event(data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift64 PRNG for piece sizes and fuzz inputs.
    #[derive(Clone)]
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

    /// The two ways of feeding, which must behave identically.
    #[derive(Debug, Clone, Copy)]
    enum Api {
        Feed,
        FeedWith,
    }

    /// Feeds `input` in pieces of `next_len()` bytes (zero allowed), then finishes. Also returns
    /// the parser's state after the last feed (or the failed one), before `finish` resets it.
    fn run_with(
        input: &[u8],
        limit: usize,
        api: Api,
        mut next_len: impl FnMut() -> usize,
    ) -> (Outcome, String) {
        let mut p = SseParser::with_max_event_bytes(limit);
        let mut events = Vec::new();
        let mut rest = input;
        let (error, state) = loop {
            let (piece, tail) = rest.split_at(next_len().min(rest.len()));
            let fed = match api {
                Api::Feed => p.feed(piece, &mut events),
                Api::FeedWith => p.feed_with(piece, |e| events.push(e.to_owned())),
            };
            if let Err(e) = fed {
                break (Some(e), format!("{p:?}"));
            }
            rest = tail;
            if rest.is_empty() {
                let state = format!("{p:?}");
                break (p.finish(&mut events).err(), state);
            }
        };
        if error.is_none() {
            assert_eq!(p.bytes_seen(), input.len() as u64);
        }
        let outcome = Outcome {
            events,
            error,
            saw_any_line: p.saw_any_line(),
        };
        (outcome, state)
    }

    /// Runs `input` through both APIs with the same pieces; outcomes and the parser state left
    /// behind (owned data, partial line, ...) must be identical.
    fn run_both(input: &[u8], limit: usize, next_len: impl FnMut() -> usize + Clone) -> Outcome {
        let (owned, owned_state) = run_with(input, limit, Api::Feed, next_len.clone());
        let (borrowed, borrowed_state) = run_with(input, limit, Api::FeedWith, next_len);
        assert_eq!(owned, borrowed, "feed and feed_with differ for {input:?}");
        assert_eq!(owned_state, borrowed_state, "states differ for {input:?}");
        owned
    }

    /// Runs `input` whole, byte by byte and in random pieces, through both APIs; all must agree.
    fn run_all(input: &[u8], limit: usize) -> Outcome {
        let whole = run_both(input, limit, || usize::MAX);
        let bytewise = run_both(input, limit, || 1);
        assert_eq!(whole, bytewise, "byte by byte differs for {input:?}");
        for seed in 1..=16u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let max = if seed % 2 == 0 { 8 } else { 100 };
            let random = run_both(input, limit, move || rng.below(max));
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
    fn invalid_utf8_in_lines_longer_than_a_simd_block() {
        // The SIMD validator works in 64-byte blocks: broken bytes early in a block, at a
        // block's end, and in the short tail after the last whole block must all be caught.
        let long = "é".repeat(40); // 80 bytes of valid two-byte sequences
        for at in [0, 1, 63, 64, 79] {
            let mut line = b"data: ".to_vec();
            let mut bytes = long.clone().into_bytes();
            bytes[at] = 0xFF;
            line.extend_from_slice(&bytes);
            line.extend_from_slice(b"\n\n");
            let want = String::from_utf8_lossy(&bytes).into_owned();
            assert!(want.contains('\u{FFFD}'));
            assert_eq!(datas(&line), [want], "broken byte at {at}");
        }
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

    /// Feeds `pieces` through `feed_with`; returns each event, owned, with whether its data
    /// pointed into the piece that completed it.
    fn feed_with_pieces(p: &mut SseParser, pieces: &[&[u8]]) -> Vec<(SseEvent, bool)> {
        let mut out = Vec::new();
        for piece in pieces {
            let range = piece.as_ptr_range();
            p.feed_with(piece, |e| {
                let inside = range.contains(&e.data.as_ptr())
                    && e.data.as_ptr() as usize + e.data.len() <= range.end as usize;
                out.push((e.to_owned(), inside));
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn single_line_event_in_one_feed_is_borrowed_from_the_input() {
        let input =
            b"data: {\"a\":1}\n\nevent: e\r\nid: 7\r\ndata: \xC3\xA9\r\n\r\n: c\rdata:x\r\r";
        let mut p = SseParser::new();
        let events = feed_with_pieces(&mut p, &[input]);
        let want = [
            msg("{\"a\":1}"),
            SseEvent {
                event: Some("e".into()),
                id: "7".into(),
                ..msg("é")
            },
            SseEvent {
                id: "7".into(),
                ..msg("x")
            },
        ];
        assert_eq!(events, want.map(|e| (e, true)));
        // Nothing was copied into (or even allocated for) the owned data buffer.
        assert_eq!(p.data.capacity(), 0);
    }

    #[test]
    fn events_the_feed_cannot_hold_are_owned() {
        let mut p = SseParser::new();
        let events = feed_with_pieces(
            &mut p,
            &[
                b"data: a\ndata: b\n\n", // two data lines: joined in the owned buffer
                b"data: c\n",            // blank line in the next feed
                b"\ndata: d",            // line split across feeds
                b"\n\ndata: \xFFe\n\n",  // invalid UTF-8 must be replaced
                b"data: f\n\n",          // and the reused buffer does not leak into this
            ],
        );
        let want = [("a\nb", false), ("c", false), ("d", false)];
        let want = want
            .into_iter()
            .map(|(d, inside)| (msg(d), inside))
            .chain([(msg("\u{FFFD}e"), false), (msg("f"), true)]);
        assert_eq!(events, want.collect::<Vec<_>>());
    }

    #[test]
    fn owned_data_buffer_is_reused_but_not_hoarded() {
        let mut p = SseParser::new();
        let mut seen = Vec::new();
        p.feed_with(b"data: a\ndata: b\n\n", |e| seen.push(e.data.len()))
            .unwrap();
        let kept = p.data.capacity();
        assert!(kept >= 4);
        p.feed_with(b"data: c\ndata: d\n\n", |e| seen.push(e.data.len()))
            .unwrap();
        assert_eq!(p.data.capacity(), kept);
        let big = format!("data: {}\ndata: b\n\n", "x".repeat(KEEP_LINE_CAPACITY));
        p.feed_with(big.as_bytes(), |e| seen.push(e.data.len()))
            .unwrap();
        assert_eq!(p.data.capacity(), 0);
        assert_eq!(seen, [3, 3, KEEP_LINE_CAPACITY + 2]);
    }

    #[test]
    fn limit_error_keeps_the_borrowed_data_line() {
        // The data line is still borrowed when the next line breaks the limit; the parser must
        // own it afterwards exactly as `feed` would have.
        let input = b"data: ab\nevent: too long\n\n";
        for api in [Api::Feed, Api::FeedWith] {
            let (outcome, _) = run_with(input, 12, api, || usize::MAX);
            assert_eq!(outcome.error, Some(SseError { limit: 12 }), "{api:?}");
        }
        let mut p = SseParser::with_max_event_bytes(12);
        let err = p.feed_with(input, |_| panic!("nothing to dispatch"));
        assert_eq!(err, Err(SseError { limit: 12 }));
        assert_eq!(p.data, "ab\n");
    }

    #[test]
    fn event_ref_accessors() {
        let e = SseEventRef {
            event: None,
            data: "d",
            id: "1",
            retry: Some(5),
        };
        assert_eq!(e.event_type(), "message");
        let owned = SseEvent {
            id: "1".into(),
            retry: Some(5),
            ..msg("d")
        };
        assert_eq!(e.to_owned(), owned);
        assert_eq!(SseEvent::from(e), owned);
        let typed = SseEventRef {
            event: Some("add"),
            ..e
        };
        assert_eq!(typed.event_type(), "add");
        assert_eq!(typed.to_owned().event.as_deref(), Some("add"));
    }

    #[test]
    fn lossy_expansion_counts_against_the_limit() {
        // The 8 raw bytes of the line fit a limit of 8, but they decode to 10 data bytes (three
        // U+FFFD and the '\n'): the feed completing the line fails at its end.
        let input = b"data:\xFF\xFF\xFF\n";
        assert_eq!(run_all(input, 8).error, Some(SseError { limit: 8 }));
        assert_eq!(run_all(input, 10).error, None);
        let err = run_all(b"data:\xFF\xFF\xFF\n\n", 9);
        assert_eq!(
            (err.events.len(), err.error),
            (0, Some(SseError { limit: 9 }))
        );
    }

    // `cargo clippy --all-targets -- -D warnings` and `cargo fmt --check` are clean for this
    // file; they were run when it was written (a test cannot invoke them itself).
}
