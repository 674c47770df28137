//! Tests of the decoder (`decode.rs`).

use super::*;
use crate::openai::chat::ChatParser;

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ai-sdk/");

/// Everything a decoder produced, joined, so that different splits can be compared.
#[derive(Debug, PartialEq, Default)]
struct Output {
    deltas: String,
    text: String,
    raw: String,
    end: String,
}

fn collect(output: &mut Output, batch: Batch) {
    let deltas = batch.deltas_array();
    for (to, from) in [
        (&mut output.deltas, deltas[1..deltas.len() - 1].to_string()),
        (&mut output.raw, batch.raw_json),
    ] {
        if !from.is_empty() {
            if !to.is_empty() {
                to.push(',');
            }
            to.push_str(&from);
        }
    }
    output.text.push_str(&batch.text);
    if let Some(end) = batch.end {
        output.end = end.to_json();
    }
}

/// Feeds `bytes` in the given piece sizes (cycled), then ends the input.
fn decode(bytes: &[u8], pieces: &mut dyn FnMut() -> usize) -> Output {
    let mut decoder = Decoder::new(Box::new(ChatParser::new()), None);
    let mut output = Output::default();
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + pieces().max(1)).min(bytes.len());
        decoder.push(&bytes[at..end]);
        collect(&mut output, decoder.take_batch());
        at = end;
    }
    decoder.finish();
    collect(&mut output, decoder.take_batch());
    output
}

#[test]
fn delta_json_is_the_same_whether_built_as_decoded_or_on_demand() {
    let payloads: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    r#"{{"id":"c","object":"chat.completion.chunk","choices":[{{"index":{},"delta":{{"content":"t{i} ☃"}},"finish_reason":null}}]}}"#,
                    i % 2
                )
            })
            .collect();
    let refs: Vec<&str> = payloads.iter().map(String::as_str).collect();
    let bytes = sse_of(&refs);
    let run = |switch_at: &dyn Fn(usize) -> bool| {
        let decoder = Decoder::new(Box::new(ChatParser::new()), None);
        let switch = decoder.delta_json_switch();
        let mut decoder = decoder;
        let mut all = Vec::new();
        for (i, piece) in bytes.chunks(97).enumerate() {
            switch.store(switch_at(i), Ordering::Relaxed);
            decoder.push(piece);
            // Batches of several pushes, so that a switch can flip inside one.
            if i % 3 == 2 {
                all.push(decoder.take_batch().deltas_array());
            }
        }
        all.push(decoder.take_batch().deltas_array());
        all
    };
    let eager = run(&|_| true);
    assert!(eager.iter().any(|json| json.len() > 2));
    assert_eq!(run(&|_| false), eager, "never built while decoding");
    assert_eq!(run(&|i| i % 2 == 0), eager, "switched on and off");
    assert_eq!(run(&|i| i > 10), eager, "switched on mid-stream");
}

/// The same bytes whole, byte by byte and in random pieces must decode identically.
fn assert_split_invariant(bytes: &[u8]) -> Output {
    let whole = decode(bytes, &mut || usize::MAX);
    assert_eq!(decode(bytes, &mut || 1), whole, "byte by byte");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ bytes.len() as u64;
    for _ in 0..8 {
        let mut random = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 97) as usize + 1
        };
        assert_eq!(decode(bytes, &mut random), whole, "random pieces");
    }
    whole
}

fn sse_of(payloads: &[&str]) -> Vec<u8> {
    payloads
        .iter()
        .map(|p| format!("data: {p}\n\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn every_chat_fixture_decodes_the_same_for_any_split() {
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURE_DIR).expect("tests/fixtures/ai-sdk in the repository") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        if !first.contains("chat.completion.chunk") {
            continue;
        }
        let bytes = if path.extension().is_some_and(|e| e == "sse") {
            text.into_bytes()
        } else {
            let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            lines.push("[DONE]");
            sse_of(&lines)
        };
        let output = assert_split_invariant(&bytes);
        assert!(
            output.end.starts_with("{\"final\":"),
            "{path:?}: {}",
            output.end
        );
        let deltas: serde_json::Value =
            serde_json::from_str(&format!("[{}]", output.deltas)).unwrap();
        assert!(
            !deltas.as_array().unwrap().is_empty(),
            "{path:?} gave no deltas"
        );
        seen += 1;
    }
    assert!(seen >= 10, "expected the chat fixtures, found {seen}");
}

#[test]
fn text_holds_choice_zero_content_only() {
    let bytes = sse_of(&[
        r#"{"choices":[{"index":1,"delta":{"content":"B"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"A"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let output = assert_split_invariant(&bytes);
    assert_eq!(output.text, "A");
    assert!(output
        .deltas
        .contains(r#"{"type":"text","choice":1,"text":"B"}"#));
}

#[test]
fn closing_without_done_after_every_choice_finished_is_a_normal_end() {
    let bytes =
        sse_of(&[r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#]);
    let output = assert_split_invariant(&bytes);
    assert!(output.end.starts_with("{\"final\":"), "{}", output.end);
}

#[test]
fn closing_before_a_choice_finished_is_incomplete_with_partial() {
    let bytes = sse_of(&[r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#]);
    let output = assert_split_invariant(&bytes);
    assert!(
        output.end.contains(r#""kind":"incomplete""#),
        "{}",
        output.end
    );
    assert!(output.end.contains(r#""content":"Hi""#), "{}", output.end);
}

#[test]
fn an_empty_body_is_incomplete_without_partial() {
    let output = decode(b"", &mut || 1);
    assert!(
        output.end.contains(r#""kind":"incomplete""#),
        "{}",
        output.end
    );
    assert!(output.end.ends_with(r#""partial":null}"#), "{}", output.end);
}

#[test]
fn a_body_without_sse_lines_is_a_parse_error() {
    let output = assert_split_invariant(b"<html>not an event stream");
    assert!(output.end.contains(r#""kind":"parse""#), "{}", output.end);
}

#[test]
fn provider_error_mid_stream_keeps_the_text_before_it() {
    let bytes = sse_of(&[
        r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
        r#"{"error":{"message":"overloaded","type":"server_error","code":503}}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
    ]);
    let output = assert_split_invariant(&bytes);
    assert_eq!(output.text, "Hel");
    assert!(output.end.contains(r#""kind":"stream""#), "{}", output.end);
    assert!(output.end.contains(r#""apiCode":"503""#), "{}", output.end);
    assert!(output.end.contains(r#""content":"Hel""#), "{}", output.end);
}

#[test]
fn bytes_after_done_are_ignored() {
    let mut bytes = sse_of(&[
        r#"{"choices":[{"index":0,"delta":{"content":"A"}}]}"#,
        "[DONE]",
    ]);
    bytes.extend_from_slice(b"data: {not json}\n\n");
    let output = assert_split_invariant(&bytes);
    assert_eq!(output.text, "A");
    assert!(output.end.starts_with("{\"final\":"), "{}", output.end);
}

#[test]
fn an_event_over_the_limit_is_a_parse_error_naming_the_limit() {
    let mut decoder = Decoder::new(Box::new(ChatParser::new()), Some(64));
    decoder.push(format!("data: {}\n\n", "x".repeat(100)).as_bytes());
    let end = decoder.take_batch().end.expect("failed").to_json();
    assert!(end.contains("64-byte limit"), "{end}");
}

#[test]
fn failures_never_carry_the_secret() {
    let mut decoder = Decoder::new(Box::new(ChatParser::new()), None)
        .with_secrets(Secrets::of(["sk-very-secret"]));
    decoder.push(b"data: {\"error\":{\"message\":\"bad key sk-very-secret\"}}\n\n");
    let end = decoder.take_batch().end.expect("failed").to_json();
    assert!(!end.contains("sk-very-secret"), "{end}");
}

#[test]
fn a_surrogate_pair_split_across_events_joins_for_any_split_of_the_bytes() {
    let bytes = sse_of(&[
        r#"{"choices":[{"index":0,"delta":{"content":"go \ud83d"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"\ude80!"},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let output = assert_split_invariant(&bytes);
    assert_eq!(output.text, "go 🚀!");
    assert!(
        output.end.contains(r#""content":"go 🚀!""#),
        "{}",
        output.end
    );
}

#[test]
fn a_high_surrogate_held_when_the_input_ends_is_a_replacement_in_deltas_and_partial() {
    let bytes = sse_of(&[r#"{"choices":[{"index":0,"delta":{"content":"Hi\ud83d"}}]}"#]);
    let output = assert_split_invariant(&bytes);
    assert_eq!(output.text, "Hi\u{FFFD}");
    assert!(
        output.end.contains(r#""kind":"incomplete""#),
        "{}",
        output.end
    );
    assert!(
        output.end.contains("\"content\":\"Hi\u{FFFD}\""),
        "{}",
        output.end
    );
}

const CALL_FRAGMENTS: [&str; 2] = [
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#,
];

const WHOLE_CALL_JSON: &str = r#"{"type":"toolCall","choice":0,"index":0,"id":"call_a","name":"f","arguments":"{\"a\":1}","kind":"function"}"#;

#[test]
fn the_end_of_a_stream_completes_its_open_tool_calls() {
    // `[DONE]` but no `finish_reason`: a normal end, so the parser's `close` sends the call,
    // in the last batch, before the end.
    let bytes = sse_of(&[CALL_FRAGMENTS[0], CALL_FRAGMENTS[1], "[DONE]"]);
    let output = assert_split_invariant(&bytes);
    assert!(
        output.deltas.ends_with(&format!(",{WHOLE_CALL_JSON}")),
        "{}",
        output.deltas
    );
    assert_eq!(output.deltas.matches(r#""type":"toolCall""#).count(), 1);
    assert_eq!(
        output.deltas.matches(r#""type":"toolCallDelta""#).count(),
        2
    );
    assert!(output.end.starts_with("{\"final\":"), "{}", output.end);

    let mut decoder = Decoder::new(Box::new(ChatParser::new()), None);
    decoder.push(&bytes);
    let before = decoder.take_batch();
    assert!(!before
        .deltas
        .iter()
        .any(|d| matches!(d, Delta::ToolCall { .. })));
    decoder.finish();
    let last = decoder.take_batch();
    assert!(
        matches!(last.deltas[..], [Delta::ToolCall { .. }]),
        "{:?}",
        last.deltas
    );
    assert!(matches!(last.end, Some(End::Finished { .. })));
}

#[test]
fn an_incomplete_stream_completes_no_tool_call() {
    // No `[DONE]`, no finish: the stream failed, so its calls are not known to be whole.
    let output = assert_split_invariant(&sse_of(&CALL_FRAGMENTS));
    assert!(
        output.end.contains(r#""kind":"incomplete""#),
        "{}",
        output.end
    );
    assert!(
        !output.deltas.contains(r#""type":"toolCall""#),
        "{}",
        output.deltas
    );
    // The partial result still has the call as far as it came.
    assert!(
        output.end.contains(r#""arguments":"{\"a\":1}""#),
        "{}",
        output.end
    );
}

#[test]
fn a_finished_choice_completes_its_tool_calls_once() {
    let finish = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#;
    let output = assert_split_invariant(&sse_of(&[
        CALL_FRAGMENTS[0],
        CALL_FRAGMENTS[1],
        finish,
        "[DONE]",
    ]));
    // Before the finish; the end (close) sends nothing again.
    assert!(
        output.deltas.ends_with(&format!(
            r#",{WHOLE_CALL_JSON},{{"type":"finish","choice":0,"reason":"tool_calls"}}"#
        )),
        "{}",
        output.deltas
    );
    assert_eq!(output.deltas.matches(r#""type":"toolCall""#).count(), 1);
}

#[test]
fn a_batch_of_one_text_delta_is_its_text_and_builds_json_only_when_a_second_delta_comes() {
    let chunk = |content: &str| {
        format!(
            r#"{{"id":"c","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{{"content":"{content}"}},"finish_reason":null}}]}}"#
        )
    };
    let mut decoder = Decoder::new(Box::new(ChatParser::new()), None);
    decoder.push(&sse_of(&[&chunk("Hel")]));
    let lone = decoder.take_batch();
    assert_eq!(lone.lone_text(), Some("Hel"));
    assert!(
        lone.deltas_json.is_empty(),
        "a lone text delta's JSON was built"
    );
    assert_eq!(
        lone.deltas_array(),
        r#"[{"type":"text","choice":0,"text":"Hel"}]"#
    );

    decoder.push(&sse_of(&[&chunk("lo"), &chunk(" you")]));
    let two = decoder.take_batch();
    assert_eq!(two.lone_text(), None);
    assert_eq!(
        two.json_count, 2,
        "the first delta's JSON was not caught up"
    );
    assert_eq!(
        format!("[{}]", two.deltas_json),
        r#"[{"type":"text","choice":0,"text":"lo"},{"type":"text","choice":0,"text":" you"}]"#
    );
}
