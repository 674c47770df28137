//! Tests of the SSE framing (`sse.rs`).

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
    let input = b"data: {\"a\":1}\n\nevent: e\r\nid: 7\r\ndata: \xC3\xA9\r\n\r\n: c\rdata:x\r\r";
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
