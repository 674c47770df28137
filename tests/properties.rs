//! Property tests: whatever bytes arrive, split however the network splits them, the SSE parser
//! and the chat decoder never panic and give the same output as when the bytes come whole.
//!
//! Two families of input:
//! - byte soups biased toward SSE tokens (field names, colons, every line terminator, a BOM,
//!   invalid UTF-8, NUL), straight into `SseParser::feed`;
//! - plausible chat streams (random `chat.completion.chunk` JSON with awkward strings, tool call
//!   fragments, finish reasons, usage, provider errors, `[DONE]`) mixed with garbage lines and
//!   random line terminators, through `Decoder` + `ChatParser`.
//!
//! Case counts keep the whole file at about ten seconds in a debug build (`PROPTEST_CASES=n`
//! runs longer).

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

use streamdelta::decode::{Batch, Decoder};
use streamdelta::openai::chat::ChatParser;
use streamdelta::sse::{SseError, SseEvent, SseParser};

/// Bytes that print as an escaped byte string when a case fails (not a list of numbers).
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self
            .0
            .iter()
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from)
            .collect();
        write!(f, "b\"{text}\"")
    }
}

/// `cases` per property; `PROPTEST_CASES=n` in the environment overrides it for a longer run.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        // A failure prints its minimal input; no regression files are written into the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- splitting ------------------------------------------------------------------------------

/// Cuts `bytes` at the given points (taken modulo `len + 1`, sorted; repeats give empty pieces).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::with_capacity(at.len() + 1);
    let mut from = 0;
    for to in at {
        out.push(&bytes[from..to]);
        from = to;
    }
    out.push(&bytes[from..]);
    out
}

fn whole(bytes: &[u8]) -> Vec<&[u8]> {
    vec![bytes]
}

fn bytewise(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.chunks(1).collect()
}

// ---- (a) the SSE parser ---------------------------------------------------------------------

/// Everything one run of the parser produced. `bytes_seen` is not compared: after an error the
/// piece that failed may hold more or fewer bytes depending on the split.
#[derive(Debug, PartialEq)]
struct SseOutcome {
    events: Vec<SseEvent>,
    error: Option<SseError>,
    saw_any_line: bool,
}

fn run_sse(feeds: &[&[u8]], limit: Option<usize>) -> SseOutcome {
    let mut parser = match limit {
        Some(limit) => SseParser::with_max_event_bytes(limit),
        None => SseParser::new(),
    };
    let mut events = Vec::new();
    let mut error = None;
    for piece in feeds {
        if let Err(e) = parser.feed(piece, &mut events) {
            error = Some(e);
            break;
        }
    }
    if error.is_none() {
        let total: usize = feeds.iter().map(|p| p.len()).sum();
        assert_eq!(
            parser.bytes_seen(),
            total as u64,
            "bytes_seen counts every byte"
        );
        error = parser.finish(&mut events).err();
    }
    SseOutcome {
        events,
        error,
        saw_any_line: parser.saw_any_line(),
    }
}

/// SSE-ish tokens: what a stream is made of, plus the bytes that break naive parsers.
const SSE_TOKENS: &[&[u8]] = &[
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
    b": ping",
    b" ",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"\r\n\r\n",
    b"\xEF\xBB\xBF",     // BOM
    b"\xEF\xBB",         // a BOM cut short
    b"\xFF",             // never valid in UTF-8
    b"\xC3",             // a lead byte without its continuation
    b"\xE2\x82",         // a truncated 3-byte sequence
    b"\xF0\x9F\x98\x80", // a 4-byte character
    b"\xC3\xA9",         // a 2-byte character
    b"\0",
    b"x",
    b"{}",
    b"[DONE]",
    b"123",
    b"message",
    b"error",
];

fn sse_token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(SSE_TOKENS).prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ]
}

fn sse_soup() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(sse_token(), 0..80).prop_map(|tokens| Bytes(tokens.concat()))
}

/// No limit most of the time; sometimes a small one so that the limit error path is split too.
fn limit() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![3 => Just(None), 1 => (0usize..64).prop_map(Some)]
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..24)
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn sse_parser_output_does_not_depend_on_the_split(
        bytes in sse_soup(),
        limit in limit(),
        cuts in cuts(),
    ) {
        let bytes = bytes.0;
        let expected = run_sse(&whole(&bytes), limit);
        prop_assert_eq!(&run_sse(&pieces(&bytes, &cuts), limit), &expected, "random split");
        prop_assert_eq!(&run_sse(&bytewise(&bytes), limit), &expected, "byte by byte");
        // CR and LF only ever end lines: no CR survives anywhere, and LF only joins data lines.
        for event in &expected.events {
            prop_assert!(!event.data.contains('\r'));
            prop_assert!(!event.id.contains(['\r', '\n', '\0']));
            prop_assert!(!event.event_type().contains(['\r', '\n']));
        }
    }

    #[test]
    fn sse_parser_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512).prop_map(Bytes),
        limit in limit(),
        cuts in cuts(),
    ) {
        let bytes = bytes.0;
        let expected = run_sse(&whole(&bytes), limit);
        prop_assert_eq!(&run_sse(&pieces(&bytes, &cuts), limit), &expected);
    }
}

// ---- (b) the chat decoder -------------------------------------------------------------------

/// Everything a decoder produced, joined across batches, so that different splits compare.
#[derive(Debug, PartialEq, Default)]
struct Output {
    deltas: String,
    delta_count: usize,
    text: String,
    raw: String,
    chunk_count: usize,
    end: String,
    batches_after_end: usize,
}

impl Output {
    fn take(&mut self, batch: Batch) {
        if !self.end.is_empty() && !batch.is_empty() {
            self.batches_after_end += 1;
        }
        // The deltas as JS gets them (a lone text delta has no JSON of its own until asked).
        let deltas = batch.deltas_array();
        let deltas = deltas[1..deltas.len() - 1].to_string();
        for (to, from) in [(&mut self.deltas, deltas), (&mut self.raw, batch.raw_json)] {
            if !from.is_empty() {
                if !to.is_empty() {
                    to.push(',');
                }
                to.push_str(&from);
            }
        }
        self.delta_count += batch.delta_count;
        self.chunk_count += batch.chunk_count;
        self.text.push_str(&batch.text);
        if let Some(end) = batch.end {
            self.end = end.to_json();
        }
    }
}

fn decode(feeds: &[&[u8]], limit: Option<usize>) -> Output {
    let mut decoder = Decoder::new(Box::new(ChatParser::new()), limit);
    let mut output = Output::default();
    for piece in feeds {
        decoder.push(piece);
        output.take(decoder.take_batch());
    }
    decoder.finish();
    output.take(decoder.take_batch());
    // A second finish (the HTTP side may call it after a failure) changes nothing.
    decoder.finish();
    output.take(decoder.take_batch());
    output
}

/// Awkward characters for content, arguments and ids: quotes, backslashes, line breaks (which a
/// naive splitter would take for line ends), NUL, control characters, non-BMP and bidi text.
fn awkward_string() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        4 => prop::char::range('a', 'z'),
        1 => prop::sample::select(vec![
            ' ', '"', '\\', '\n', '\r', '\t', '\0', '\u{1}', '\u{1F}', '\u{7F}', ':', '{', '}',
            'é', '€', '中', '😀', '\u{2028}', '\u{FEFF}', '\u{FFFD}', '\u{202E}',
        ]),
        1 => any::<char>(),
    ];
    prop::collection::vec(chars, 0..12).prop_map(|cs| cs.into_iter().collect())
}

fn maybe<T: Clone + std::fmt::Debug + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![Just(None), value.prop_map(Some)]
}

fn finish_reason() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => Just(Value::Null),
        1 => prop::sample::select(vec!["stop", "length", "tool_calls", "content_filter", "function_call", ""])
            .prop_map(|r| json!(r)),
    ]
}

fn tool_call() -> impl Strategy<Value = Value> {
    (
        maybe(0u32..3),
        maybe(awkward_string()),
        maybe(awkward_string()),
        maybe(awkward_string()),
    )
        .prop_map(|(index, id, name, arguments)| {
            let mut call = json!({ "type": "function", "function": {} });
            if let Some(index) = index {
                call["index"] = json!(index);
            }
            if let Some(id) = id {
                call["id"] = json!(id);
            }
            if let Some(name) = name {
                call["function"]["name"] = json!(name);
            }
            if let Some(arguments) = arguments {
                call["function"]["arguments"] = json!(arguments);
            }
            call
        })
}

fn delta() -> impl Strategy<Value = Value> {
    (
        maybe(prop_oneof![
            4 => awkward_string().prop_map(Value::from),
            1 => Just(Value::Null),
            // Mistral's typed parts.
            1 => (awkward_string(), awkward_string()).prop_map(|(t, th)| json!([
                { "type": "text", "text": t },
                { "type": "thinking", "thinking": [{ "type": "text", "text": th }] },
            ])),
        ]),
        maybe(awkward_string()),
        maybe(awkward_string()),
        maybe(awkward_string()),
        maybe(prop::collection::vec(tool_call(), 0..3)),
        maybe((maybe(awkward_string()), maybe(awkward_string()))),
    )
        .prop_map(
            |(content, refusal, reasoning_content, reasoning, tool_calls, function_call)| {
                let mut delta = json!({});
                if let Some(content) = content {
                    delta["content"] = content;
                }
                if let Some(refusal) = refusal {
                    delta["refusal"] = json!(refusal);
                }
                if let Some(text) = reasoning_content {
                    delta["reasoning_content"] = json!(text);
                }
                if let Some(text) = reasoning {
                    delta["reasoning"] = json!(text);
                }
                if let Some(calls) = tool_calls {
                    delta["tool_calls"] = json!(calls);
                }
                if let Some((name, arguments)) = function_call {
                    delta["function_call"] = json!({ "name": name, "arguments": arguments });
                }
                delta
            },
        )
}

fn choice() -> impl Strategy<Value = Value> {
    (maybe(0u32..3), maybe(delta()), finish_reason()).prop_map(|(index, delta, finish)| {
        let mut choice = json!({ "finish_reason": finish });
        if let Some(index) = index {
            choice["index"] = json!(index);
        }
        if let Some(delta) = delta {
            choice["delta"] = delta;
        }
        choice
    })
}

fn chat_chunk() -> impl Strategy<Value = Value> {
    (
        maybe(awkward_string()),
        prop::collection::vec(choice(), 0..3),
        prop_oneof![4 => Just(None), 1 => Just(Some(json!({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}))), 1 => Just(Some(Value::Null))],
    )
        .prop_map(|(id, choices, usage)| {
            let mut chunk = json!({
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "m",
                "choices": choices,
            });
            if let Some(id) = id {
                chunk["id"] = json!(id);
            }
            if let Some(usage) = usage {
                chunk["usage"] = usage;
            }
            chunk
        })
}

/// One element of a generated stream.
#[derive(Debug, Clone)]
enum Item {
    /// A chunk on one `data:` line, or pretty-printed over several (`pretty`); `data:` with or
    /// without the space after the colon (`space`).
    Chunk {
        chunk: Value,
        pretty: bool,
        space: bool,
    },
    Done,
    Comment,
    BlankLine,
    /// `data: {"error": ...}`
    ErrorPayload(String),
    /// `event: error` with a JSON or plain-text payload.
    ErrorEvent(String, bool),
    /// An event of another type (ignored unless it looks like a chunk).
    OtherEvent(String),
    /// `id:` / `retry:` / unknown fields between events.
    Field(&'static str),
    /// A line of SSE-ish bytes, probably not valid: may become a parse error.
    Garbage(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        60 => (chat_chunk(), prop::bool::weighted(0.15), any::<bool>())
            .prop_map(|(chunk, pretty, space)| Item::Chunk { chunk, pretty, space }),
        1 => Just(Item::Done),
        3 => Just(Item::Comment),
        2 => Just(Item::BlankLine),
        1 => awkward_string().prop_map(Item::ErrorPayload),
        1 => (awkward_string(), any::<bool>()).prop_map(|(m, j)| Item::ErrorEvent(m, j)),
        2 => awkward_string().prop_map(Item::OtherEvent),
        2 => prop::sample::select(vec!["id: 7", "id", "retry: 100", "retry: x", "foo: bar", "event: message"])
            .prop_map(Item::Field),
        1 => prop::collection::vec(sse_token(), 0..8).prop_map(|t| Item::Garbage(t.concat())),
    ]
}

/// The bytes of a stream: each line ends with a terminator chosen per line (LF, CRLF or CR).
fn render(items: &[Item], terminators: &[u8], bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let mut n = 0usize;
    let mut line = |out: &mut Vec<u8>, text: &[u8]| {
        out.extend_from_slice(text);
        let eol: &[u8] = match terminators
            .get(n % terminators.len().max(1))
            .copied()
            .unwrap_or(0)
            % 3
        {
            0 => b"\n",
            1 => b"\r\n",
            _ => b"\r",
        };
        n += 1;
        out.extend_from_slice(eol);
    };
    for item in items {
        match item {
            Item::Chunk {
                chunk,
                pretty,
                space,
            } => {
                let prefix: &[u8] = if *space { b"data: " } else { b"data:" };
                if *pretty {
                    for part in serde_json::to_string_pretty(chunk).unwrap().lines() {
                        line(&mut out, &[prefix, part.as_bytes()].concat());
                    }
                } else {
                    line(&mut out, &[prefix, chunk.to_string().as_bytes()].concat());
                }
                line(&mut out, b"");
            }
            Item::Done => {
                line(&mut out, b"data: [DONE]");
                line(&mut out, b"");
            }
            Item::Comment => line(&mut out, b": ping - 2024-01-01 00:00:00.000000"),
            Item::BlankLine => line(&mut out, b""),
            Item::ErrorPayload(message) => {
                let payload =
                    json!({ "error": { "message": message, "type": "server_error", "code": 503 } });
                line(&mut out, format!("data: {payload}").as_bytes());
                line(&mut out, b"");
            }
            Item::ErrorEvent(message, as_json) => {
                line(&mut out, b"event: error");
                let data = if *as_json {
                    json!({ "error": { "message": message } }).to_string()
                } else {
                    // Plain text: keep it on one line.
                    message.replace(['\r', '\n'], " ")
                };
                line(&mut out, format!("data: {data}").as_bytes());
                line(&mut out, b"");
            }
            Item::OtherEvent(text) => {
                line(&mut out, b"event: ping");
                line(
                    &mut out,
                    format!("data: {}", json!({ "note": text })).as_bytes(),
                );
                line(&mut out, b"");
            }
            Item::Field(text) => line(&mut out, text.as_bytes()),
            Item::Garbage(bytes) => {
                line(&mut out, bytes);
                line(&mut out, b"");
            }
        }
    }
    out
}

/// How a generated stream ends.
#[derive(Debug, Clone)]
enum Tail {
    Done,
    /// The connection closes after the last item (fine if every choice finished).
    Close,
    /// The connection drops at an arbitrary byte (often mid-line).
    Cut(usize),
}

fn chat_stream() -> impl Strategy<Value = Bytes> {
    (
        prop::collection::vec(item(), 0..24),
        // One line terminator for the whole stream, or (less often) one per line. Mixed, a
        // line ending in CR followed by an empty line ending in LF reads as one CRLF: two
        // events merge, which the parsers must also agree on.
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 1..2),
            1 => prop::collection::vec(any::<u8>(), 2..8),
        ],
        prop::bool::weighted(0.1),
        prop_oneof![5 => Just(Tail::Done), 3 => Just(Tail::Close), 2 => any::<usize>().prop_map(Tail::Cut)],
    )
        .prop_map(|(mut items, terminators, bom, tail)| {
            if let Tail::Done = tail {
                items.push(Item::Done);
            }
            let mut bytes = render(&items, &terminators, bom);
            if let Tail::Cut(at) = tail {
                bytes.truncate(at % (bytes.len() + 1));
            }
            Bytes(bytes)
        })
}

fn event_limit() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![5 => Just(None), 1 => (16usize..600).prop_map(Some)]
}

fn check_decoder(
    bytes: &[u8],
    limit: Option<usize>,
    cuts: &[usize],
) -> Result<Output, TestCaseError> {
    let expected = decode(&whole(bytes), limit);
    prop_assert!(!expected.end.is_empty(), "every stream ends with a verdict");
    prop_assert_eq!(
        expected.batches_after_end,
        0,
        "nothing is handed over after the end"
    );
    let deltas: Value = serde_json::from_str(&format!("[{}]", expected.deltas))
        .map_err(|e| TestCaseError::fail(format!("deltas are not JSON: {e}")))?;
    prop_assert_eq!(deltas.as_array().map(Vec::len), Some(expected.delta_count));
    let raw: Value = serde_json::from_str(&format!("[{}]", expected.raw))
        .map_err(|e| TestCaseError::fail(format!("raw chunks are not JSON: {e}")))?;
    prop_assert_eq!(raw.as_array().map(Vec::len), Some(expected.chunk_count));
    let end: Value = serde_json::from_str(&expected.end)
        .map_err(|e| TestCaseError::fail(format!("end is not JSON: {e}")))?;
    prop_assert!(end.get("final").is_some() || end.get("error").is_some());
    // The text batches hold choice 0's text deltas, in order.
    let text: String = deltas
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["type"] == "text" && d["choice"] == 0)
        .map(|d| d["text"].as_str().unwrap_or_default().to_string())
        .collect();
    prop_assert_eq!(&text, &expected.text);

    prop_assert_eq!(
        &decode(&pieces(bytes, cuts), limit),
        &expected,
        "random split"
    );
    prop_assert_eq!(&decode(&bytewise(bytes), limit), &expected, "byte by byte");
    Ok(expected)
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn chat_decoder_output_does_not_depend_on_the_split(
        bytes in chat_stream(),
        limit in event_limit(),
        cuts in cuts(),
    ) {
        check_decoder(&bytes.0, limit, &cuts)?;
    }

    #[test]
    fn chat_decoder_never_panics_on_sse_soup(
        bytes in sse_soup(),
        limit in event_limit(),
        cuts in cuts(),
    ) {
        check_decoder(&bytes.0, limit, &cuts)?;
    }
}

/// Streams of well-formed chunks only (no garbage, no errors, no limit): these must decode
/// to a verdict whose accumulated content is exactly the concatenated text deltas.
#[test]
fn well_formed_streams_accumulate_exactly_the_text_deltas() {
    let strategy = prop::collection::vec(chat_chunk(), 1..16);
    let mut runner = proptest::test_runner::TestRunner::new(config(256));
    runner
        .run(&(strategy, cuts()), |(chunks, cuts)| {
            let items: Vec<Item> = chunks
                .into_iter()
                .map(|chunk| Item::Chunk {
                    chunk,
                    pretty: false,
                    space: true,
                })
                .chain([Item::Done])
                .collect();
            let bytes = render(&items, &[0], false);
            let output = check_decoder(&bytes, None, &cuts)?;
            let end: Value = serde_json::from_str(&output.end).unwrap();
            prop_assert!(
                end.get("final").is_some(),
                "a well-formed stream ends normally: {}",
                output.end
            );
            let content = end["final"]["choices"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["index"] == 0))
                .and_then(|c| c["message"]["content"].as_str())
                .unwrap_or_default()
                .to_string();
            prop_assert_eq!(content, output.text);
            Ok(())
        })
        .unwrap();
}

/// What the split property found first: an event completed by the same read as an oversized
/// event must still be decoded, exactly as when the bytes arrive one at a time. And a
/// `[DONE]` before the oversized event has already ended the stream normally.
#[test]
fn events_completed_in_the_same_read_as_an_oversized_event_are_kept() {
    let text = br#"data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#;
    let oversized = format!("data: {}\n\n", "x".repeat(200));
    let limit = Some(100);

    let bytes = [&text[..], b"\n\n", oversized.as_bytes()].concat();
    let one_read = decode(&whole(&bytes), limit);
    let by_byte = decode(&bytewise(&bytes), limit);
    assert_eq!(by_byte.text, "Hi");
    assert!(by_byte.end.contains("100-byte limit"), "{}", by_byte.end);
    assert!(by_byte.end.contains(r#""content":"Hi""#), "{}", by_byte.end);
    assert_eq!(
        one_read, by_byte,
        "the text before the oversized event was lost"
    );

    let bytes = [&text[..], b"\n\ndata: [DONE]\n\n", oversized.as_bytes()].concat();
    let one_read = decode(&whole(&bytes), limit);
    assert!(one_read.end.starts_with(r#"{"final":"#), "{}", one_read.end);
    assert_eq!(one_read, decode(&bytewise(&bytes), limit));
}
