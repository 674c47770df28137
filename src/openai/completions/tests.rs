//! Tests of the legacy completions parser (`completions.rs`).

use super::*;
use crate::openai::test_deltas::usage;
use serde_json::json;

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ai-sdk/");

use crate::sse::test_events::{data_event, typed};

/// Feeds payloads to a fresh parser; every one must be accepted.
fn run(payloads: &[&str]) -> (Vec<Delta>, Value, CompletionsParser) {
    let mut parser = CompletionsParser::new();
    let mut out = Vec::new();
    for payload in payloads {
        let step = parser.on_event(&data_event(payload), &mut out);
        assert!(step.is_ok(), "{payload}: {step:?}");
    }
    let fin = final_value(&parser);
    (out, fin, parser)
}

fn final_value(parser: &CompletionsParser) -> Value {
    serde_json::from_str(&parser.final_json()).expect("final_json is JSON")
}

fn one(event: SseEventRef<'_>) -> Result<Step, WireError> {
    CompletionsParser::new().on_event(&event, &mut Vec::new())
}

fn text(choice: u32, text: &str) -> Delta {
    Delta::Text {
        choice,
        text: text.to_owned(),
    }
}

fn finish(choice: u32, reason: &str) -> Delta {
    Delta::Finish {
        choice,
        reason: reason.to_owned(),
    }
}

fn provider(message: &str, kind: Option<&str>, code: Option<&str>) -> WireError {
    WireError::Provider {
        message: message.to_owned(),
        kind: kind.map(str::to_owned),
        code: code.map(str::to_owned),
        param: None,
    }
}

/// A chunk of choice `index` as OpenAI sends it.
fn chunk(index: u32, text: &str, finish_reason: Option<&str>) -> String {
    json!({"id": "cmpl-1", "object": "text_completion", "created": 1770934485,
               "model": "gpt-3.5-turbo-instruct",
               "choices": [{"text": text, "index": index, "logprobs": null, "finish_reason": finish_reason}],
               "usage": null})
        .to_string()
}

// Markers and event types.

#[test]
fn done_marker_and_empty_data() {
    for data in ["[DONE]", " [DONE]\n"] {
        assert_eq!(one(data_event(data)), Ok(Step::Done), "{data:?}");
    }
    for data in ["", " ", "\r\n"] {
        assert_eq!(one(data_event(data)), Ok(Step::Ignored), "{data:?}");
    }
}

#[test]
fn other_event_types_count_only_when_they_look_like_chunks() {
    assert_eq!(one(typed("ping", "{}")), Ok(Step::Ignored));
    assert_eq!(one(typed("ping", "not json")), Ok(Step::Ignored));
    assert_eq!(one(typed("message", &chunk(0, "a", None))), Ok(Step::Chunk));
    let mut parser = CompletionsParser::new();
    let mut out = Vec::new();
    assert_eq!(
        parser.on_event(&typed("completion", &chunk(0, "a", None)), &mut out),
        Ok(Step::Chunk)
    );
    assert_eq!(out, [text(0, "a")]);
}

// Chunks.

#[test]
fn text_finish_and_usage() {
    let raw_usage = r#"{"prompt_tokens":14,"completion_tokens":2,"total_tokens":16}"#;
    let usage_chunk = format!(
        r#"{{"id":"cmpl-1","object":"text_completion","created":1770934485,"model":"gpt-3.5-turbo-instruct","usage":{raw_usage},"choices":[]}}"#
    );
    let (deltas, fin, parser) = run(&[
        &chunk(0, "The", None),
        &chunk(0, " end", Some("length")),
        &usage_chunk,
        "[DONE]",
    ]);
    assert_eq!(
        deltas,
        [
            text(0, "The"),
            text(0, " end"),
            finish(0, "length"),
            usage(raw_usage)
        ]
    );
    assert!(parser.is_complete());
    assert_eq!(
        fin,
        json!({"id": "cmpl-1", "object": "text_completion", "created": 1770934485,
                   "model": "gpt-3.5-turbo-instruct",
                   "choices": [{"index": 0, "text": "The end", "finish_reason": "length", "logprobs": null}],
                   "usage": serde_json::from_str::<Value>(raw_usage).unwrap()})
    );
}

#[test]
fn empty_or_null_text_makes_no_delta() {
    let (deltas, fin, parser) = run(&[
        r#"{"choices":[{"text":"","index":0,"finish_reason":null}]}"#,
        r#"{"choices":[{"text":null,"index":0,"finish_reason":""}]}"#,
        r#"{"choices":[{"index":0}]}"#,
    ]);
    assert_eq!(deltas, []);
    assert!(!parser.is_complete());
    assert_eq!(fin["choices"][0]["text"], "");
    assert_eq!(fin["choices"][0]["finish_reason"], Value::Null);
}

#[test]
fn several_choices_in_any_order() {
    let (deltas, fin, parser) = run(&[
        &chunk(1, "B1", None),
        &chunk(0, "A1", None),
        r#"{"choices":[{"text":"A2","index":0},{"text":"B2","index":1,"finish_reason":"stop"}]}"#,
    ]);
    assert_eq!(
        deltas,
        [
            text(1, "B1"),
            text(0, "A1"),
            text(0, "A2"),
            text(1, "B2"),
            finish(1, "stop")
        ]
    );
    assert!(!parser.is_complete(), "choice 0 has not finished");
    assert_eq!(fin["choices"][0]["text"], "A1A2");
    assert_eq!(fin["choices"][1]["text"], "B1B2");
    assert_eq!(fin["choices"][1]["index"], 1);

    let mut parser = parser;
    let mut out = Vec::new();
    parser
        .on_event(&data_event(&chunk(0, "", Some("length"))), &mut out)
        .unwrap();
    assert_eq!(out, [finish(0, "length")]);
    assert!(parser.is_complete());
}

#[test]
fn repeated_finish_reason_counts_once() {
    let (deltas, _, _) = run(&[
        &chunk(0, "x", Some("stop")),
        r#"{"choices":[{"text":"","index":0,"finish_reason":"stop"}],"usage":{"total_tokens":1}}"#,
    ]);
    assert_eq!(
        deltas,
        [
            text(0, "x"),
            finish(0, "stop"),
            usage(r#"{"total_tokens":1}"#)
        ]
    );
}

#[test]
fn missing_index_is_zero_and_extra_fields_are_skipped() {
    let (deltas, fin, _) = run(&[
        r#"{"choices":[{"text":"hi","logprobs":{"tokens":["hi"],"token_logprobs":[-0.1],"top_logprobs":null,"text_offset":[0]},"finish_reason":"stop","matched_stop":true}],"timings":{"n":1},"cost":0.1}"#,
    ]);
    assert_eq!(deltas, [text(0, "hi"), finish(0, "stop")]);
    assert_eq!(fin["choices"][0]["logprobs"], Value::Null);
}

#[test]
fn usage_only_when_an_object() {
    let (deltas, fin, _) = run(&[
        r#"{"choices":[],"usage":null}"#,
        r#"{"choices":[],"usage":7}"#,
        r#"{"usage":{"total_tokens":3}}"#,
    ]);
    assert_eq!(deltas, [usage(r#"{"total_tokens":3}"#)]);
    assert_eq!(fin["usage"], json!({"total_tokens": 3}));
}

#[test]
fn metadata_first_usable_values_win() {
    let (_, fin, _) = run(&[
        r#"{"id":"","model":null,"created":0,"choices":[]}"#,
        r#"{"id":7,"model":["m"],"created":"soon","choices":[]}"#,
        r#"{"id":"cmpl-a","model":"m1","created":5,"system_fingerprint":"fp","choices":[]}"#,
        r#"{"id":"cmpl-b","model":"m2","created":6,"system_fingerprint":"fp2","choices":[]}"#,
    ]);
    assert_eq!(
        (
            &fin["id"],
            &fin["model"],
            &fin["created"],
            &fin["system_fingerprint"]
        ),
        (&json!("cmpl-a"), &json!("m1"), &json!(5), &json!("fp"))
    );
}

#[test]
fn final_json_of_nothing() {
    let parser = CompletionsParser::new();
    assert!(!parser.is_complete());
    assert_eq!(
        final_value(&parser),
        json!({"id": "", "object": "text_completion", "created": 0, "model": "", "choices": [], "usage": null})
    );
}

// Errors.

#[test]
fn error_objects_in_the_stream() {
    assert_eq!(
        one(data_event(
            r#"{"error":{"message":"Rate limit","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#
        )),
        Err(provider(
            "Rate limit",
            Some("rate_limit_error"),
            Some("rate_limit_exceeded")
        ))
    );
    assert_eq!(
        one(data_event(r#"{"error":{"message":"Internal","code":500}}"#)),
        Err(provider("Internal", None, Some("500")))
    );
    assert_eq!(
        one(data_event(r#"{"error":"model overloaded"}"#)),
        Err(provider("model overloaded", None, None))
    );
    // An error beside fields of the wrong shape is still the error.
    assert_eq!(
        one(data_event(
            r#"{"choices":"nope","error":{"message":"bad"}}"#
        )),
        Err(provider("bad", None, None))
    );
    assert_eq!(
        one(data_event(r#"{"error":null,"choices":[]}"#)),
        Ok(Step::Chunk)
    );
}

#[test]
fn error_event_type() {
    assert_eq!(
        one(typed("error", r#"{"error":{"message":"m","code":"c"}}"#)),
        Err(provider("m", None, Some("c")))
    );
    assert_eq!(
        one(typed("error", "plain text")),
        Err(provider("plain text", None, None))
    );
}

#[test]
fn bad_json_is_a_parse_error() {
    for data in ["not json", "{\"choices\":[", "<html>"] {
        match one(data_event(data)) {
            Err(WireError::Parse { message, line }) => {
                assert!(message.contains("not valid JSON"), "{message}");
                assert_eq!(line, data);
            }
            other => panic!("{data}: {other:?}"),
        }
    }
    let data = format!("{}ü{}", "x".repeat(199), "y".repeat(100));
    match one(data_event(&data)) {
        Err(WireError::Parse { line, .. }) => assert_eq!(line, "x".repeat(199)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_of_another_shape_is_a_parse_error() {
    for data in [
        "[1]",
        "42",
        r#"{"choices":[{"text":5}]}"#,
        r#"{"choices":{}}"#,
    ] {
        match one(data_event(data)) {
            Err(WireError::Parse { message, line }) => {
                assert!(message.contains("not a text completion chunk"), "{message}");
                assert_eq!(line, data);
            }
            other => panic!("{data}: {other:?}"),
        }
    }
}

// The recorded fixture.

const COMPLETION_FIXTURES: &[&str] = &["openai--completion--openai-completion-text.chunks.txt"];

#[test]
fn fixture_openai_completion_text() {
    let file = COMPLETION_FIXTURES[0];
    let body = std::fs::read_to_string(format!("{FIXTURE_DIR}{file}")).unwrap();
    let mut payloads: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    payloads.push("[DONE]");

    // Independently, from `serde_json::Value`s.
    let mut want_text = String::new();
    let mut want_reason = None;
    let mut want_usage = Value::Null;
    for payload in &payloads[..payloads.len() - 1] {
        let value: Value = serde_json::from_str(payload).unwrap();
        for choice in value["choices"].as_array().unwrap() {
            assert_eq!(choice["index"], 0);
            want_text.push_str(choice["text"].as_str().unwrap());
            if let Some(reason) = choice["finish_reason"].as_str() {
                want_reason = Some(reason.to_owned());
            }
        }
        if value["usage"].is_object() {
            want_usage = value["usage"].clone();
        }
    }

    let mut parser = CompletionsParser::new();
    let mut deltas = Vec::new();
    for (n, payload) in payloads.iter().enumerate() {
        let want = if n == payloads.len() - 1 {
            Step::Done
        } else {
            Step::Chunk
        };
        assert_eq!(
            parser.on_event(&data_event(payload), &mut deltas),
            Ok(want),
            "{n}"
        );
    }
    assert!(parser.is_complete());

    let streamed: String = deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Text { choice: 0, text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, want_text);
    assert!(streamed.starts_with("The holiday"), "{streamed}");
    assert_eq!(want_reason.as_deref(), Some("length"));
    let n = deltas.len();
    assert_eq!(deltas[n - 2], finish(0, "length"));
    let Delta::Usage { usage } = &deltas[n - 1] else {
        panic!("usage comes last");
    };
    assert_eq!(
        serde_json::from_str::<Value>(usage.0.get()).unwrap(),
        want_usage
    );

    let fin = final_value(&parser);
    assert_eq!(
        fin,
        json!({"id": "cmpl-D8ZFN477TMm6AoQohx2jSTOJMh60M", "object": "text_completion",
                   "created": 1770934485, "model": "gpt-3.5-turbo-instruct:20230824-v2",
                   "choices": [{"index": 0, "text": want_text, "finish_reason": "length", "logprobs": null}],
                   "usage": want_usage})
    );

    // The same with `event: message` lines and without the final `[DONE]`.
    let mut again = CompletionsParser::new();
    let mut deltas_again = Vec::new();
    for payload in &payloads[..payloads.len() - 1] {
        again
            .on_event(&typed("message", payload), &mut deltas_again)
            .unwrap();
    }
    assert_eq!(deltas_again, deltas);
    assert!(
        again.is_complete(),
        "a stream without [DONE] still ends whole"
    );
}

/// Every fixture holding legacy completion chunks is tested above.
#[test]
fn every_completion_fixture_is_tested() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(FIXTURE_DIR).expect("fixture dir") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let text = std::fs::read_to_string(format!("{FIXTURE_DIR}{name}")).unwrap_or_default();
        let is_completion = text
            .lines()
            .filter_map(|l| {
                serde_json::from_str::<Value>(l.trim_start_matches("data:").trim()).ok()
            })
            .any(|v| v["object"] == "text_completion");
        if is_completion {
            found.push(name);
        }
    }
    assert_eq!(found, COMPLETION_FIXTURES);
}

// UTF-16 surrogate pairs split across chunks (issue 13, `surrogates.rs`).

/// A chunk whose choice `choice` has `text`, a JSON string as written (so that it may hold lone
/// surrogate escapes), and `finish_reason` when given.
fn text_chunk(choice: u32, text: &str, finish: Option<&str>) -> String {
    let finish = finish.map_or("null".to_owned(), |f| format!("\"{f}\""));
    format!(r#"{{"choices":[{{"index":{choice},"text":{text},"finish_reason":{finish}}}]}}"#)
}

#[test]
fn a_surrogate_pair_split_across_chunks_joins() {
    let (deltas, fin, _) = run(&[
        &text_chunk(0, r#""go \ud83d""#, None),
        // Another choice in between does not separate choice 0's halves.
        &text_chunk(1, r#""\ude80x""#, None),
        &text_chunk(0, r#""\ude80!""#, None),
        &text_chunk(0, r#""\ud83d""#, None),
        &text_chunk(0, r#""\ude80""#, Some("stop")),
    ]);
    assert_eq!(
        deltas,
        [
            text(0, "go "),
            text(1, "\u{FFFD}x"),
            text(0, "🚀!"),
            text(0, "🚀"),
            finish(0, "stop")
        ]
    );
    assert_eq!(fin["choices"][0]["text"], "go 🚀!🚀");
    assert_eq!(fin["choices"][1]["text"], "\u{FFFD}x");
}

#[test]
fn a_high_surrogate_never_completed_is_a_replacement_character() {
    // When its choice finishes, before the finish reason.
    let (deltas, fin, _) = run(&[&text_chunk(0, r#""end \ud83d""#, Some("length"))]);
    assert_eq!(
        deltas,
        [text(0, "end "), text(0, "\u{FFFD}"), finish(0, "length")]
    );
    assert_eq!(fin["choices"][0]["text"], "end \u{FFFD}");

    // At [DONE], and when the input just ends (the decoder calls `flush`).
    let (mut deltas, _, mut parser) = run(&[&text_chunk(0, r#""\ud83d""#, None)]);
    assert_eq!(deltas, []);
    assert_eq!(
        parser.on_event(&data_event("[DONE]"), &mut deltas),
        Ok(Step::Done)
    );
    parser.flush(&mut deltas);
    assert_eq!(deltas, [text(0, "\u{FFFD}")]);

    let (mut deltas, _, mut parser) = run(&[&text_chunk(0, r#""\ud83d""#, None)]);
    parser.flush(&mut deltas);
    assert_eq!(deltas, [text(0, "\u{FFFD}")]);
    assert_eq!(final_value(&parser)["choices"][0]["text"], "\u{FFFD}");

    // Followed by a value that does not start with a low half.
    let (deltas, _, _) = run(&[
        &text_chunk(0, r#""a\ud83d""#, None),
        &text_chunk(0, r#""b""#, None),
    ]);
    assert_eq!(deltas, [text(0, "a"), text(0, "\u{FFFD}b")]);
}

#[test]
fn a_lone_low_surrogate_or_one_inside_a_value_is_a_replacement_character() {
    let (deltas, fin, _) = run(&[
        &text_chunk(0, r#""\ude80a""#, None),
        &text_chunk(0, r#""b\ud83dc\udE80d""#, None),
    ]);
    assert_eq!(
        deltas,
        [text(0, "\u{FFFD}a"), text(0, "b\u{FFFD}c\u{FFFD}d")]
    );
    assert_eq!(fin["choices"][0]["text"], "\u{FFFD}ab\u{FFFD}c\u{FFFD}d");
}

#[test]
fn paired_escapes_and_escaped_backslashes_read_as_before() {
    let (deltas, fin, _) = run(&[
        &text_chunk(0, r#""\ud83d\ude80 \uD83D\uDE80""#, None),
        &text_chunk(0, r#"" \\ud83d""#, None),
        &text_chunk(0, r#"" \\ud83d \ud83d""#, None),
        &text_chunk(0, r#""\ude80""#, None),
    ]);
    assert_eq!(
        deltas,
        [
            text(0, "🚀 🚀"),
            text(0, r" \ud83d"),
            text(0, r" \ud83d "),
            text(0, "🚀")
        ]
    );
    assert_eq!(fin["choices"][0]["text"], r"🚀 🚀 \ud83d \ud83d 🚀");
}
