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
mod tests;
