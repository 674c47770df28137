//! Throughput of the SSE framer alone (no HTTP, no JSON), in GB/s (1 GB = 1e9 bytes).
//!
//! Run with `cargo bench --bench sse_framing`. Set `SSE_BENCH_FILE` to a recorded stream to
//! measure that instead of the built-in one; either way the stream is fed in 16 KiB pieces, as
//! network reads would hand it over, so pieces split events and now and then characters.
//!
//! Plain `main` with no harness: the crate must not grow dependencies just for a benchmark.

use std::hint::black_box;
use std::time::{Duration, Instant};
use streamdelta::sse::{SseEvent, SseParser};

const PIECE: usize = 16 * 1024;
const REPS: usize = 20;
/// Matches the recorded 100k-chunk stream, so both inputs give comparable numbers.
const GENERATED_CHUNKS: usize = 100_000;

fn main() {
    let (source, input, known_events) =
        match std::env::var_os("SSE_BENCH_FILE").filter(|p| !p.is_empty()) {
            Some(path) => {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.to_string_lossy()));
                (path.to_string_lossy().into_owned(), bytes, None)
            }
            None => {
                let (bytes, events) = generate(GENERATED_CHUNKS);
                ("generated".to_string(), bytes, Some(events))
            }
        };
    // Counted by a naive line splitter that shares no code with the parser, so a framer bug
    // that drops or invents events cannot also fix up the expected number.
    let expected = count_events(&input);
    if let Some(known) = known_events {
        assert_eq!(
            expected, known,
            "the generator and the naive counter disagree"
        );
    }
    println!(
        "input: {source}, {} bytes, {expected} events, {} KiB pieces, median of {REPS} runs",
        input.len(),
        PIECE / 1024
    );

    let with = measure(&input, run_feed_with);
    let vec = measure(&input, run_feed_vec);
    assert_eq!(with.events, expected, "feed_with event count");
    assert_eq!(vec.events, expected, "feed event count");
    assert_eq!(
        with.data_bytes, vec.data_bytes,
        "the two APIs disagree on data"
    );

    report("feed_with (borrowed events)", input.len(), &with);
    report("feed (owned events in a Vec)", input.len(), &vec);
}

struct Measured {
    events: usize,
    data_bytes: usize,
    times: Vec<Duration>,
}

/// Counts events and data bytes: using every event's data keeps the work from being optimised
/// away, and lets the two APIs be checked against each other.
fn run_feed_with(input: &[u8]) -> (usize, usize) {
    let mut parser = SseParser::new();
    let (mut events, mut data_bytes) = (0, 0);
    for piece in input.chunks(PIECE) {
        parser
            .feed_with(black_box(piece), |event| {
                events += 1;
                data_bytes += event.data.len();
            })
            .expect("feed_with failed");
    }
    parser.finish(&mut Vec::new()).expect("finish failed");
    (events, data_bytes)
}

/// The owned API as its callers use it: one reused `Vec`, drained after every piece.
fn run_feed_vec(input: &[u8]) -> (usize, usize) {
    let mut parser = SseParser::new();
    let mut out: Vec<SseEvent> = Vec::new();
    let (mut events, mut data_bytes) = (0, 0);
    for piece in input.chunks(PIECE) {
        parser
            .feed(black_box(piece), &mut out)
            .expect("feed failed");
        events += out.len();
        data_bytes += out.iter().map(|e| e.data.len()).sum::<usize>();
        out.clear();
    }
    parser.finish(&mut out).expect("finish failed");
    (events, data_bytes)
}

fn measure(input: &[u8], run: fn(&[u8]) -> (usize, usize)) -> Measured {
    // One untimed pass first: page faults and allocator warm-up are not framing.
    let (events, data_bytes) = run(input);
    let times = (0..REPS)
        .map(|_| {
            let start = Instant::now();
            let result = black_box(run(black_box(input)));
            let elapsed = start.elapsed();
            assert_eq!(result, (events, data_bytes), "runs disagree");
            elapsed
        })
        .collect();
    Measured {
        events,
        data_bytes,
        times,
    }
}

fn report(label: &str, bytes: usize, m: &Measured) {
    let mut times = m.times.clone();
    times.sort();
    let gbps = |t: Duration| bytes as f64 / t.as_secs_f64() / 1e9;
    println!(
        "{label:30} median {:.2} GB/s  (best {:.2}, worst {:.2})",
        gbps(times[times.len() / 2]),
        gbps(times[0]),
        gbps(times[times.len() - 1]),
    );
}

/// Events in a stream by a direct, slow reading of the spec: a terminated blank line ends an
/// event, which counts if it had a `data` field. Handles CR, LF and CRLF and a leading BOM.
fn count_events(input: &[u8]) -> usize {
    let mut rest = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let (mut events, mut has_data) = (0, false);
    while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        let line = &rest[..end];
        let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
        rest = &rest[end + if crlf { 2 } else { 1 }..];
        if line.is_empty() {
            events += usize::from(has_data);
            has_data = false;
        } else if line == b"data" || line.starts_with(b"data:") {
            has_data = true;
        }
    }
    events
}

/// xorshift64: reproducible variety for token choice and padding.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A deterministic stream shaped like a recorded OpenAI chat completion: a role chunk, `n`
/// content chunks (about 320 bytes each, some with 2-, 3- and 4-byte UTF-8 and JSON escapes),
/// a finish chunk, a usage chunk and `[DONE]`. Returns the bytes and the number of events.
fn generate(n: usize) -> (Vec<u8>, usize) {
    const TOKENS: &[&str] = &[
        " the",
        " of",
        " and",
        " to",
        " a",
        " in",
        " model",
        " stream",
        " token",
        " response",
        " because",
        " however",
        " Rust",
        " Node",
        ".js",
        "ing",
        ".",
        ",",
        " 42",
        "17",
        " naïve",
        " café",
        " héllo",
        " 日本",
        " 東京",
        "語",
        " 🙂",
        "🦀",
        r"\n\n",
        r" tab\t",
        r#" \"quoted\""#,
        r" back\\slash",
    ];
    let delta = |d: &str, finish: &str| {
        format!(r#"[{{"index":0,"delta":{d},"logprobs":null,"finish_reason":{finish}}}]"#)
    };
    let mut rng = Rng(0x5EED_CAFE_F00D);
    let mut out = String::with_capacity(n * 330);
    let role = r#"{"role":"assistant","content":"","refusal":null}"#;
    push_chunk(&mut out, &mut rng, &delta(role, "null"), "");
    for _ in 0..n {
        let token = TOKENS[rng.below(TOKENS.len())];
        let content = format!(r#"{{"content":"{token}"}}"#);
        push_chunk(&mut out, &mut rng, &delta(&content, "null"), "");
    }
    push_chunk(&mut out, &mut rng, &delta("{}", r#""stop""#), "");
    let usage = format!(
        r#","usage":{{"prompt_tokens":21,"completion_tokens":{n},"total_tokens":{}}}"#,
        n + 21
    );
    push_chunk(&mut out, &mut rng, "[]", &usage);
    out.push_str("data: [DONE]\n\n");
    (out.into_bytes(), n + 4)
}

/// One `chat.completion.chunk` event with the given `choices` array and extra fields.
fn push_chunk(out: &mut String, rng: &mut Rng, choices: &str, extra: &str) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    out.push_str(concat!(
        r#"data: {"id":"chatcmpl-Bench0Stream1Generated2Here3","#,
        r#""object":"chat.completion.chunk","created":1767225600,"#,
        r#""model":"gpt-4o-mini-2024-07-18","service_tier":"default","#,
        r#""system_fingerprint":"fp_benchmark0","choices":"#
    ));
    out.push_str(choices);
    out.push_str(extra);
    // Real streams pad each chunk to a random length (against traffic analysis), which also
    // keeps events from lining up with the piece size.
    out.push_str(r#","obfuscation":""#);
    for _ in 0..2 + rng.below(13) {
        out.push(char::from(ALPHABET[rng.below(ALPHABET.len())]));
    }
    out.push_str("\"}\n\n");
}
