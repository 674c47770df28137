//! Tests of the Responses API parser (`responses.rs`).

use super::*;
use crate::openai::errors::NO_MESSAGE;
use crate::openai::test_deltas::{provider, tool, usage, whole};
use crate::sse::{SseEvent, SseParser};
use serde_json::json;

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ai-sdk/");

use crate::sse::test_events::{data_event, typed};

/// The JSON `type` of a payload, when it is JSON and has one.
fn type_of(data: &str) -> Option<String> {
    let value: Value = serde_json::from_str(data).ok()?;
    value["type"].as_str().map(str::to_owned)
}

/// The event as a server with `event:` lines sends it: named after its JSON `type`.
fn named(data: &str) -> SseEventRef<'_> {
    SseEventRef {
        // Leaked so the test event can borrow it like a parser's would; a few bytes per test.
        event: type_of(data).map(|t| &*Box::leak(t.into_boxed_str())),
        ..data_event(data)
    }
}

/// Feeds events; every one must be accepted.
fn feed(parser: &mut ResponsesParser, events: &[SseEventRef<'_>]) -> Vec<Delta> {
    let mut out = Vec::new();
    for event in events {
        let step = parser.on_event(event, &mut out);
        assert!(step.is_ok(), "{event:?}: {step:?}");
    }
    out
}

/// Feeds payloads (no `event:` lines) to a fresh parser: the deltas, `final_json`, the parser.
fn run<S: AsRef<str>>(payloads: &[S]) -> (Vec<Delta>, Value, ResponsesParser) {
    let events: Vec<_> = payloads.iter().map(|p| data_event(p.as_ref())).collect();
    let mut parser = ResponsesParser::new();
    let deltas = feed(&mut parser, &events);
    (deltas, final_value(&parser), parser)
}

fn final_value(parser: &ResponsesParser) -> Value {
    serde_json::from_str(&parser.final_json()).expect("final_json is JSON")
}

/// One event's outcome on a fresh parser.
fn one(event: SseEventRef<'_>) -> Result<Step, WireError> {
    ResponsesParser::new().on_event(&event, &mut Vec::new())
}

/// One payload's outcome and deltas on a fresh parser.
fn one_with_deltas(event: SseEventRef<'_>) -> (Result<Step, WireError>, Vec<Delta>) {
    let mut out = Vec::new();
    let step = ResponsesParser::new().on_event(&event, &mut out);
    (step, out)
}

fn text(text: &str) -> Delta {
    Delta::Text {
        choice: 0,
        text: text.to_owned(),
    }
}

fn refusal(text: &str) -> Delta {
    Delta::Refusal {
        choice: 0,
        text: text.to_owned(),
    }
}

fn reasoning(text: &str) -> Delta {
    Delta::Reasoning {
        choice: 0,
        text: text.to_owned(),
    }
}

fn finish(reason: &str) -> Delta {
    Delta::Finish {
        choice: 0,
        reason: reason.to_owned(),
    }
}

// Synthetic events.

fn head(status: &str) -> Value {
    json!({"id": "resp_1", "object": "response", "created_at": 1700000000, "status": status,
               "model": "gpt-x", "output": [], "usage": null})
}

fn text_delta(output_index: u64, delta: &str) -> String {
    json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": output_index,
               "content_index": 0, "delta": delta})
    .to_string()
}

fn call_added(item_id: &str, output_index: u64, call_id: &str, name: &str) -> String {
    json!({"type": "response.output_item.added", "output_index": output_index,
               "item": {"id": item_id, "type": "function_call", "status": "in_progress",
                        "call_id": call_id, "name": name, "arguments": ""}})
    .to_string()
}

fn args_delta(item_id: &str, output_index: u64, delta: &str) -> String {
    json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
               "output_index": output_index, "delta": delta})
    .to_string()
}

fn args_done(item_id: &str, output_index: u64, arguments: &str) -> String {
    json!({"type": "response.function_call_arguments.done", "item_id": item_id,
               "output_index": output_index, "arguments": arguments})
    .to_string()
}

fn call_done(item_id: &str, output_index: u64, call_id: &str, name: &str, args: &str) -> String {
    json!({"type": "response.output_item.done", "output_index": output_index,
               "item": {"id": item_id, "type": "function_call", "status": "completed",
                        "call_id": call_id, "name": name, "arguments": args}})
    .to_string()
}

const SAMPLE_USAGE: &str = r#"{"input_tokens":5,"output_tokens":7,"total_tokens":12}"#;

/// A small stream as OpenAI sends it: a reasoning summary, text, one function call,
/// `response.completed`; with `sequence_number`s 0.. or without.
fn sample(sequenced: bool) -> Vec<String> {
    let mut completed = head("completed");
    completed["output"] = json!([
        {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking."}]},
        {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Hello world!", "annotations": []}]},
        {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "weather",
         "arguments": "{\"city\":\"Paris\"}", "status": "completed"}
    ]);
    completed["usage"] = serde_json::from_str(SAMPLE_USAGE).unwrap();
    let mut events = vec![
        json!({"type": "response.created", "response": head("in_progress")}),
        json!({"type": "response.in_progress", "response": head("in_progress")}),
        json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "rs_1", "type": "reasoning", "summary": []}}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1",
                   "output_index": 0, "summary_index": 0, "delta": "Think"}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1",
                   "output_index": 0, "summary_index": 0, "delta": "ing."}),
        json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 1,
                   "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
    ];
    for piece in ["Hel", "lo", " wor", "ld", "!"] {
        events.push(serde_json::from_str(&text_delta(1, piece)).unwrap());
    }
    let tail = [
        json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 1,
                   "content_index": 0, "text": "Hello world!"})
        .to_string(),
        call_added("fc_1", 2, "call_1", "weather"),
        args_delta("fc_1", 2, "{\"city\""),
        args_delta("fc_1", 2, ":\"Pa"),
        args_delta("fc_1", 2, "ris\"}"),
        args_done("fc_1", 2, "{\"city\":\"Paris\"}"),
        call_done("fc_1", 2, "call_1", "weather", "{\"city\":\"Paris\"}"),
        json!({"type": "response.completed", "response": completed}).to_string(),
    ];
    events.extend(
        tail.iter()
            .map(|e| serde_json::from_str::<Value>(e).unwrap()),
    );
    if sequenced {
        for (n, event) in events.iter_mut().enumerate() {
            event["sequence_number"] = json!(n);
        }
    }
    events.iter().map(Value::to_string).collect()
}

fn sample_deltas() -> Vec<Delta> {
    vec![
        reasoning("Think"),
        reasoning("ing."),
        text("Hel"),
        text("lo"),
        text(" wor"),
        text("ld"),
        text("!"),
        tool(0, Some("call_1"), Some("weather"), "{\"city\""),
        tool(0, None, None, ":\"Pa"),
        tool(0, None, None, "ris\"}"),
        // At the call's `output_item.done`.
        whole(0, "call_1", "weather", "{\"city\":\"Paris\"}"),
        finish("tool_calls"),
        usage(SAMPLE_USAGE),
    ]
}

// The whole stream.

#[test]
fn sample_stream() {
    let events = sample(true);
    let mut parser = ResponsesParser::new();
    let mut deltas = Vec::new();
    for (n, event) in events.iter().enumerate() {
        assert!(
            !parser.is_complete(),
            "not complete before the terminal event"
        );
        let step = parser.on_event(&named(event), &mut deltas);
        let want = if n == events.len() - 1 {
            Step::Done
        } else {
            Step::Chunk
        };
        assert_eq!(step, Ok(want), "{event}");
    }
    assert_eq!(deltas, sample_deltas());
    assert!(parser.is_complete());
    assert_eq!(parser.resume_after(), Some(events.len() as u64 - 1));

    let fin = final_value(&parser);
    let completed: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    let mut want = completed["response"].clone();
    want["output_text"] = json!("Hello world!");
    assert_eq!(fin, want);
}

#[test]
fn with_and_without_event_lines() {
    for sequenced in [true, false] {
        let events = sample(sequenced);
        let with: Vec<_> = events.iter().map(|e| named(e)).collect();
        let without: Vec<_> = events.iter().map(|e| data_event(e)).collect();
        let generic: Vec<_> = events.iter().map(|e| typed("message", e)).collect();
        let runs = [&with, &without, &generic].map(|events| {
            let mut parser = ResponsesParser::new();
            (feed(&mut parser, events), parser.final_json())
        });
        assert_eq!(runs[0].0, sample_deltas());
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[0], runs[2]);
    }
}

#[test]
fn json_type_wins_over_event_name() {
    let (step, deltas) = one_with_deltas(typed(
        "response.refusal.delta",
        &text_delta(0, "text, not a refusal"),
    ));
    assert_eq!(step, Ok(Step::Chunk));
    assert_eq!(deltas, [text("text, not a refusal")]);

    let completed = json!({"type": "response.completed", "response": head("completed")});
    let (step, deltas) =
        one_with_deltas(typed("response.output_text.delta", &completed.to_string()));
    assert_eq!(step, Ok(Step::Done));
    assert_eq!(deltas, [finish("stop")]);
}

#[test]
fn event_name_stands_in_for_a_missing_type() {
    for data in [
        r#"{"delta":"hi","output_index":0}"#,
        r#"{"type":"","delta":"hi"}"#,
        r#"{"type":null,"delta":"hi"}"#,
        r#"{"type":7,"delta":"hi"}"#,
    ] {
        let (step, deltas) = one_with_deltas(typed("response.output_text.delta", data));
        assert_eq!(step, Ok(Step::Chunk), "{data}");
        assert_eq!(deltas, [text("hi")], "{data}");
    }
    // Neither a type nor a name: nothing to go by, but not an error.
    let (step, deltas) = one_with_deltas(data_event(r#"{"delta":"hi"}"#));
    assert_eq!((step, deltas), (Ok(Step::Chunk), vec![]));
}

#[test]
fn keys_in_any_order_and_python_spacing() {
    let (deltas, _, _) = run(&[
            r#"{ "delta" : "a" , "output_index" : 0 , "type" : "response.output_text.delta" }"#,
            "{\n  \"sequence_number\": 3,\n  \"type\": \"response.output_text.delta\",\n  \"delta\": \"b\"\n}",
        ]);
    assert_eq!(deltas, [text("a"), text("b")]);
}

// Sequence numbers and resuming.

#[test]
fn without_sequence_numbers() {
    let (deltas, fin, parser) = run(&sample(false));
    assert_eq!(deltas, sample_deltas());
    assert!(parser.is_complete());
    assert_eq!(parser.resume_after(), None);
    assert_eq!(fin["output_text"], "Hello world!");
}

#[test]
fn resume_after_is_the_highest_sequence_number() {
    let mut parser = ResponsesParser::new();
    assert_eq!(parser.resume_after(), None);
    let events = sample(true);
    for (n, event) in events.iter().enumerate() {
        parser
            .on_event(&data_event(event), &mut Vec::new())
            .unwrap();
        assert_eq!(parser.resume_after(), Some(n as u64));
    }
    // Events without a number, or with one that is not a count, leave it alone.
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    for data in [
        r#"{"type":"response.output_text.delta","sequence_number":4,"delta":"a"}"#,
        r#"{"type":"response.output_text.delta","delta":"b"}"#,
        r#"{"type":"response.output_text.delta","sequence_number":"5","delta":"c"}"#,
        r#"{"type":"response.output_text.delta","sequence_number":-1,"delta":"d"}"#,
        r#"{"type":"response.output_text.delta","sequence_number":null,"delta":"e"}"#,
    ] {
        assert_eq!(
            parser.on_event(&data_event(data), &mut out),
            Ok(Step::Chunk)
        );
    }
    assert_eq!(parser.resume_after(), Some(4));
    assert_eq!(out, ["a", "b", "c", "d", "e"].map(text));
}

/// Events 0..n, then a resumed stream replaying from `n - 3`: the same deltas, the same
/// result as one uninterrupted run.
fn replay(events: &[String], n: usize) -> (Vec<Delta>, String, Vec<Step>) {
    let mut parser = ResponsesParser::new();
    let mut deltas = Vec::new();
    let mut steps = Vec::new();
    for event in events[..n].iter().chain(&events[n.saturating_sub(3)..]) {
        let step = parser.on_event(&named(event), &mut deltas).unwrap();
        steps.push(step);
        if step == Step::Done {
            break;
        }
    }
    (deltas, parser.final_json(), steps)
}

#[test]
fn duplicates_after_resume_are_ignored() {
    let events = sample(true);
    let (whole, whole_final, _) = replay(&events, events.len());
    assert_eq!(whole, sample_deltas());
    for n in 1..events.len() {
        let (deltas, fin, steps) = replay(&events, n);
        assert_eq!(deltas, whole, "resumed after event {n}");
        assert_eq!(fin, whole_final, "resumed after event {n}");
        let replayed = &steps[n..n + n.min(3)];
        assert!(
            replayed.iter().all(|s| *s == Step::Ignored),
            "{n}: {replayed:?}"
        );
    }
}

#[test]
fn duplicates_after_resume_in_a_recorded_stream() {
    let events = &fixture_streams("xai--responses--xai-text-streaming.1.chunks.txt")[0];
    let events: Vec<String> = events.iter().map(|(_, line)| line.clone()).collect();
    let (whole, whole_final, _) = replay(&events, events.len());
    assert!(whole.len() > 600);
    for n in [
        1,
        2,
        3,
        4,
        100,
        events.len() / 2,
        events.len() - 2,
        events.len() - 1,
    ] {
        let (deltas, fin, _) = replay(&events, n);
        assert_eq!(deltas, whole, "resumed after event {n}");
        assert_eq!(fin, whole_final, "resumed after event {n}");
    }
}

#[test]
fn duplicate_terminal_and_error_events_are_ignored() {
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    let error = r#"{"type":"error","sequence_number":2,"message":"boom"}"#;
    let delta = r#"{"type":"response.output_text.delta","sequence_number":5,"delta":"x"}"#;
    assert_eq!(
        parser.on_event(&data_event(delta), &mut out),
        Ok(Step::Chunk)
    );
    assert_eq!(
        parser.on_event(&data_event(error), &mut out),
        Ok(Step::Ignored)
    );
    assert_eq!(
        parser.on_event(&data_event(delta), &mut out),
        Ok(Step::Ignored)
    );
    assert_eq!(out, [text("x")]);
}

// Keep-alives, markers, empty events.

#[test]
fn keepalive_events_are_ignored() {
    assert_eq!(
        one(data_event(r#"{"type":"keepalive"}"#)),
        Ok(Step::Ignored)
    );
    assert_eq!(
        one(data_event(r#"{"type":"keepalive","sequence_number":3}"#)),
        Ok(Step::Ignored)
    );
    assert_eq!(
        one(typed("keepalive", r#"{"type":"keepalive"}"#)),
        Ok(Step::Ignored)
    );
    assert_eq!(one(typed("keepalive", "")), Ok(Step::Ignored));
    assert_eq!(one(typed("keepalive", "ping")), Ok(Step::Ignored));
    assert_eq!(one(typed("ping", "ping")), Ok(Step::Ignored));

    // Interleaved anywhere, they change nothing.
    let payloads = sample(false);
    let mut events = Vec::new();
    for event in &payloads {
        events.push(data_event(r#"{"type":"keepalive"}"#));
        events.push(named(event));
    }
    let mut parser = ResponsesParser::new();
    assert_eq!(feed(&mut parser, &events), sample_deltas());
}

#[test]
fn empty_data_is_ignored() {
    for data in ["", "  ", "\n", "\r\n"] {
        assert_eq!(one(data_event(data)), Ok(Step::Ignored), "{data:?}");
        assert_eq!(
            one(typed("response.output_text.delta", data)),
            Ok(Step::Ignored)
        );
    }
}

#[test]
fn stray_done_marker() {
    for data in ["[DONE]", " [DONE]\n"] {
        assert_eq!(one(data_event(data)), Ok(Step::Done), "{data:?}");
        assert_eq!(one(typed("done", data)), Ok(Step::Done), "{data:?}");
    }
    // Instead of a terminal event: the stream ends, but not whole.
    let events = sample(false);
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    for event in &events[..events.len() - 1] {
        parser.on_event(&data_event(event), &mut out).unwrap();
    }
    let done = parser.on_event(&data_event("[DONE]"), &mut out);
    assert_eq!(done, Ok(Step::Done));
    assert!(!parser.is_complete());
    assert!(!out.iter().any(|d| matches!(d, Delta::Finish { .. })));
    assert_eq!(final_value(&parser)["status"], "in_progress");

    // After a whole response: nothing more.
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    for event in &events {
        parser.on_event(&data_event(event), &mut out).unwrap();
    }
    let done = parser.on_event(&data_event("[DONE]"), &mut out);
    assert_eq!(done, Ok(Step::Done));
    assert!(parser.is_complete());
    assert_eq!(out, sample_deltas());
}

// Terminal events.

fn incomplete(details: Value) -> String {
    let mut response = head("incomplete");
    response["incomplete_details"] = details;
    response["usage"] = serde_json::from_str(SAMPLE_USAGE).unwrap();
    json!({"type": "response.incomplete", "response": response}).to_string()
}

#[test]
fn incomplete_with_max_output_tokens_is_length() {
    let event = incomplete(json!({"reason": "max_output_tokens"}));
    let (deltas, fin, parser) = run(&[text_delta(0, "Hel").as_str(), event.as_str()]);
    assert_eq!(deltas, [text("Hel"), finish("length"), usage(SAMPLE_USAGE)]);
    assert!(parser.is_complete());
    assert_eq!(fin["status"], "incomplete");
    assert_eq!(fin["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(
        fin["output_text"], "Hel",
        "the streamed text when output is empty"
    );

    let (step, _) = one_with_deltas(data_event(&event));
    assert_eq!(step, Ok(Step::Done));
}

#[test]
fn incomplete_reasons() {
    for (details, reason) in [
        (json!({"reason": "content_filter"}), "content_filter"),
        (json!({"reason": "max_output_tokens"}), "length"),
        (json!({"reason": "something_new"}), "something_new"),
        (json!({"reason": ""}), "incomplete"),
        (json!({}), "incomplete"),
        (json!(null), "incomplete"),
        (json!("max_output_tokens"), "incomplete"),
    ] {
        let (deltas, _, parser) = run(&[incomplete(details.clone())]);
        assert_eq!(deltas[0], finish(reason), "{details}");
        assert!(parser.is_complete());
    }
}

#[test]
fn completed_finish_reasons() {
    let completed =
        json!({"type": "response.completed", "response": head("completed")}).to_string();
    let (deltas, _, parser) = run(&[text_delta(0, "a"), completed.clone()]);
    assert_eq!(
        deltas,
        [text("a"), finish("stop")],
        "usage null: no usage delta"
    );
    assert!(parser.is_complete());

    let (deltas, _, _) = run(&[call_added("fc", 0, "call", "f"), completed]);
    assert_eq!(
        deltas,
        [finish("tool_calls")],
        "a call seen, even without arguments"
    );
}

#[test]
fn terminal_without_a_response_object() {
    for data in [
        r#"{"type":"response.completed"}"#,
        r#"{"type":"response.completed","response":null}"#,
        r#"{"type":"response.completed","response":"done"}"#,
        r#"{"type":"response.completed","response":[1]}"#,
    ] {
        let mut parser = ResponsesParser::new();
        let mut out = Vec::new();
        parser
            .on_event(&data_event(&text_delta(0, "hi")), &mut out)
            .unwrap();
        assert_eq!(parser.on_event(&data_event(data), &mut out), Ok(Step::Done));
        assert_eq!(out, [text("hi"), finish("stop")], "{data}");
        assert!(parser.is_complete());
        let fin = final_value(&parser);
        assert_eq!(fin["status"], "completed", "{data}");
        assert_eq!(fin["output_text"], "hi");
    }
}

#[test]
fn terminal_usage_only_when_an_object() {
    for (usage_value, deltas) in [
        (json!(null), vec![finish("stop")]),
        (json!(5), vec![finish("stop")]),
        (
            json!({"total_tokens": 1}),
            vec![finish("stop"), usage(r#"{"total_tokens":1}"#)],
        ),
    ] {
        let mut response = head("completed");
        response["usage"] = usage_value;
        let event = json!({"type": "response.completed", "response": response});
        assert_eq!(run(&[event.to_string()]).0, deltas);
    }
}

// Errors.

#[test]
fn response_failed_is_a_provider_error() {
    let mut response = head("failed");
    response["error"] = json!({"code": "server_error", "message": "The model failed."});
    let failed = json!({"type": "response.failed", "response": response}).to_string();
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    parser
        .on_event(&data_event(&text_delta(0, "part")), &mut out)
        .unwrap();
    assert_eq!(
        parser.on_event(&named(&failed), &mut out),
        Err(provider(
            "The model failed.",
            None,
            Some("server_error"),
            None
        ))
    );
    assert_eq!(out, [text("part")]);
    assert!(!parser.is_complete());
    let fin = final_value(&parser);
    assert_eq!(fin["status"], "failed");
    assert_eq!(fin["id"], "resp_1");
    assert_eq!(
        fin["output_text"], "part",
        "the partial result keeps the text"
    );

    for data in [
        r#"{"type":"response.failed"}"#,
        r#"{"type":"response.failed","response":{"status":"failed","error":null}}"#,
    ] {
        assert_eq!(
            one(data_event(data)),
            Err(provider(FAILED_WITHOUT_ERROR, None, None, None))
        );
    }
}

#[test]
fn error_event_with_top_level_fields() {
    let data = r#"{"type":"error","code":"ERR_SOMETHING","message":"Something went wrong","param":null,"sequence_number":1}"#;
    let want = provider("Something went wrong", None, Some("ERR_SOMETHING"), None);
    assert_eq!(one(data_event(data)), Err(want.clone()));
    assert_eq!(one(named(data)), Err(want));
    assert_eq!(
        one(data_event(
            r#"{"type":"error","code":429,"message":"slow down","param":"model"}"#
        )),
        Err(provider("slow down", None, Some("429"), Some("model")))
    );
    assert_eq!(
        one(data_event(r#"{"type":"error"}"#)),
        Err(provider(NO_MESSAGE, None, None, None))
    );
}

#[test]
fn error_event_nested_under_error() {
    let data = r#"{"type":"error","sequence_number":2,"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"quota","param":null}}"#;
    assert_eq!(
        one(data_event(data)),
        Err(provider(
            "quota",
            Some("insufficient_quota"),
            Some("insufficient_quota"),
            None
        ))
    );
    assert_eq!(
        one(data_event(r#"{"type":"error","error":"plain words"}"#)),
        Err(provider("plain words", None, None, None))
    );
    assert_eq!(
        one(data_event(r#"{"type":"error","error":{"code":500}}"#)),
        Err(provider(NO_MESSAGE, None, Some("500"), None))
    );
}

#[test]
fn error_named_event_without_json() {
    assert_eq!(
        one(typed("error", "upstream exploded")),
        Err(provider("upstream exploded", None, None, None))
    );
    assert_eq!(
        one(typed("error", r#""quoted""#)),
        Err(provider("quoted", None, None, None))
    );
    assert_eq!(
        one(typed("error", r#"{"message":"m","code":"c"}"#)),
        Err(provider("m", None, Some("c"), None))
    );
}

#[test]
fn untyped_error_object_from_a_proxy() {
    assert_eq!(
        one(data_event(
            r#"{"error":{"message":"bad key","type":"invalid_request_error","code":401}}"#
        )),
        Err(provider(
            "bad key",
            Some("invalid_request_error"),
            Some("401"),
            None
        ))
    );
    // A `null` error is no error.
    assert_eq!(one(data_event(r#"{"error":null}"#)), Ok(Step::Chunk));
}

#[test]
fn non_json_payload_is_a_parse_error() {
    for data in [
        "not json",
        "{\"type\":\"response.output_text.delta\",",
        "{oops}",
        "<html>",
    ] {
        match one(data_event(data)) {
            Err(WireError::Parse { message, line }) => {
                assert!(message.contains("not valid JSON"), "{message}");
                assert_eq!(line, data);
            }
            other => panic!("{data}: {other:?}"),
        }
    }
    // The quote is the first 200 bytes, cut back to a character boundary.
    let data = format!("{{{}é{}", "x".repeat(198), "y".repeat(300));
    match one(named(&data)) {
        Err(WireError::Parse { line, .. }) => {
            assert_eq!(line, format!("{{{}", "x".repeat(198)))
        }
        other => panic!("{other:?}"),
    }
    let long = "z".repeat(500);
    match one(data_event(&long)) {
        Err(WireError::Parse { line, .. }) => assert_eq!(line.len(), 200),
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_that_is_not_an_object_is_a_parse_error() {
    for data in ["[1,2]", "\"text\"", "42", "null", "true"] {
        match one(data_event(data)) {
            Err(WireError::Parse { message, line }) => {
                assert!(
                    message.contains("not a Responses event object"),
                    "{message}"
                );
                assert_eq!(line, data);
            }
            other => panic!("{data}: {other:?}"),
        }
    }
}

#[test]
fn a_parse_error_leaves_the_parser_usable() {
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    parser
        .on_event(&data_event(&text_delta(0, "a")), &mut out)
        .unwrap();
    assert!(parser.on_event(&data_event("{broken"), &mut out).is_err());
    parser
        .on_event(&data_event(&text_delta(0, "b")), &mut out)
        .unwrap();
    assert_eq!(out, [text("a"), text("b")]);
    assert_eq!(final_value(&parser)["output_text"], "ab");
}

// Forward compatibility.

#[test]
fn unknown_event_types_are_chunks() {
    for data in [
        r#"{"type":"response.output_text.annotation.added","annotation":"not an object"}"#,
        r#"{"type":"response.web_search_call.searching_harder","item_id":"ws"}"#,
        r#"{"type":"response.content_part.added","part":{"type":"output_text","text":""}}"#,
        r#"{"type":"response.output_text.done","text":"whole"}"#,
        r#"{"type":"response.audio.delta","delta":{"bytes":[1,2]}}"#,
        r#"{"type":"response.something_new","delta":"x","item":5,"response":"odd","output_index":"one"}"#,
        r#"{"type":"vendor.thing","delta":"x"}"#,
        r#"{"type":"response.output_item.added","item":{"type":"web_search_call","id":"ws"}}"#,
        r#"{"type":"response.output_item.added","item":"not an item"}"#,
        r#"{"type":"response.created","response":"not an object"}"#,
        r#"{}"#,
    ] {
        assert_eq!(
            one_with_deltas(data_event(data)),
            (Ok(Step::Chunk), vec![]),
            "{data}"
        );
        assert_eq!(
            one_with_deltas(named(data)),
            (Ok(Step::Chunk), vec![]),
            "{data}"
        );
    }
    // An odd `delta` on a known type is skipped, not an error.
    for data in [
        r#"{"type":"response.output_text.delta","delta":5}"#,
        r#"{"type":"response.output_text.delta","delta":null}"#,
        r#"{"type":"response.output_text.delta","delta":""}"#,
        r#"{"type":"response.output_text.delta"}"#,
    ] {
        assert_eq!(
            one_with_deltas(data_event(data)),
            (Ok(Step::Chunk), vec![]),
            "{data}"
        );
    }
}

#[test]
fn unknown_events_between_known_ones_change_nothing() {
    let mut payloads = Vec::new();
    for event in sample(true) {
        payloads.push(event);
        let odd =
            json!({"type": "response.vendor_progress", "delta": {"x": 1}, "output_index": 99});
        payloads.push(odd.to_string());
    }
    let events: Vec<_> = payloads.iter().map(|p| named(p)).collect();
    let mut parser = ResponsesParser::new();
    assert_eq!(feed(&mut parser, &events), sample_deltas());
    let fin = final_value(&parser);
    assert_eq!(fin["output_text"], "Hello world!");
}

// Text, refusal, reasoning.

#[test]
fn refusal_and_reasoning_deltas() {
    let (deltas, fin, _) = run(&[
        r#"{"type":"response.reasoning_text.delta","output_index":0,"content_index":0,"delta":"raw thought"}"#,
        r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":0,"delta":"Sum"}"#,
        r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":1,"delta":"Two"}"#,
        r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":0,"delta":"mary"}"#,
        r#"{"type":"response.refusal.delta","output_index":1,"content_index":0,"delta":"I can't"}"#,
        r#"{"type":"response.refusal.delta","output_index":1,"content_index":0,"delta":" help."}"#,
    ]);
    assert_eq!(
        deltas,
        [
            reasoning("raw thought"),
            reasoning("Sum"),
            reasoning("Two"),
            reasoning("mary"),
            refusal("I can't"),
            refusal(" help."),
        ]
    );
    assert_eq!(
        fin["output"],
        json!([
            {"type": "reasoning",
             "summary": [{"type": "summary_text", "text": "Summary"}, {"type": "summary_text", "text": "Two"}],
             "content": [{"type": "reasoning_text", "text": "raw thought"}]},
            {"type": "message", "role": "assistant",
             "content": [{"type": "refusal", "refusal": "I can't help."}]}
        ])
    );
    assert_eq!(fin["output_text"], "");
}

#[test]
fn escaped_and_unicode_text() {
    let (deltas, fin, _) = run(&[
        r#"{"type":"response.output_text.delta","delta":"a\"b\\c\nd\u00e9🧡"}"#,
        r#"{"type":"response.output_text.delta","delta":"plain"}"#,
    ]);
    assert_eq!(deltas, [text("a\"b\\c\ndé🧡"), text("plain")]);
    assert_eq!(fin["output_text"], "a\"b\\c\ndé🧡plain");
}

// Function calls.

#[test]
fn tool_call_id_and_name_only_on_the_first_delta() {
    let (deltas, fin, _) = run(&[
        call_added("fc_1", 0, "call_1", "weather"),
        args_delta("fc_1", 0, "{\"a\""),
        args_delta("fc_1", 0, ""),
        args_delta("fc_1", 0, ":1}"),
        args_done("fc_1", 0, "{\"a\":1}"),
        call_done("fc_1", 0, "call_1", "weather", "{\"a\":1}"),
    ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("weather"), "{\"a\""),
            tool(0, None, None, ":1}"),
            whole(0, "call_1", "weather", "{\"a\":1}"),
        ]
    );
    assert_eq!(
        fin["output"],
        json!([{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "weather", "arguments": "{\"a\":1}"}])
    );
}

#[test]
fn whole_call_on_arguments_done() {
    let (deltas, fin, _) = run(&[
        call_added("fc_1", 0, "call_1", "f"),
        args_done("fc_1", 0, "{\"x\":true}"),
        call_done("fc_1", 0, "call_1", "f", "{\"x\":true}"),
    ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("f"), "{\"x\":true}"),
            whole(0, "call_1", "f", "{\"x\":true}"),
        ]
    );
    assert_eq!(fin["output"][0]["arguments"], "{\"x\":true}");
}

#[test]
fn whole_call_on_output_item_done() {
    let (deltas, _, _) = run(&[
        call_added("fc_1", 0, "call_1", "f"),
        call_done("fc_1", 0, "call_1", "f", "{}"),
    ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("f"), "{}"),
            whole(0, "call_1", "f", "{}")
        ]
    );

    // Not even an `added` before it.
    let (deltas, fin, _) = run(&[call_done("fc_9", 4, "call_9", "g", "{\"k\":1}")]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_9"), Some("g"), "{\"k\":1}"),
            whole(0, "call_9", "g", "{\"k\":1}")
        ]
    );
    assert_eq!(fin["output"][0]["call_id"], "call_9");

    // A call without arguments at all still tells who was called.
    let (deltas, _, _) = run(&[
            call_added("fc_1", 0, "call_1", "f"),
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1"}}"#.to_owned(),
        ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("f"), ""),
            whole(0, "call_1", "f", "")
        ]
    );
}

#[test]
fn call_whole_in_output_item_added() {
    let added = r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}}"#;
    // Announced once it is done...
    let (deltas, fin, _) = run(&[added.to_owned(), call_done("fc_1", 0, "call_1", "f", "")]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("f"), "{\"a\":1}"),
            whole(0, "call_1", "f", "{\"a\":1}")
        ]
    );
    assert_eq!(fin["output"][0]["arguments"], "{\"a\":1}");
    // ...kept in the partial result before that...
    let (deltas, fin, _) = run(&[added]);
    assert_eq!(deltas, []);
    assert_eq!(fin["output"][0]["arguments"], "{\"a\":1}");
    // ...and replaced by deltas that restate it.
    let (deltas, fin, _) = run(&[
        added.to_owned(),
        args_delta("fc_1", 0, "{\"a\""),
        args_delta("fc_1", 0, ":1}"),
    ]);
    assert_eq!(deltas.len(), 2);
    assert_eq!(fin["output"][0]["arguments"], "{\"a\":1}");
}

#[test]
fn calls_are_numbered_in_order_of_appearance() {
    let (deltas, fin, _) = run(&[
        text_delta(0, "Calling."),
        call_added("fc_a", 3, "call_a", "first"),
        call_added("fc_b", 5, "call_b", "second"),
        args_delta("fc_b", 5, "{\"b\""),
        args_delta("fc_a", 3, "{\"a\""),
        args_delta("fc_b", 5, ":2}"),
        args_delta("fc_a", 3, ":1}"),
        json!({"type": "response.completed", "response": head("completed")}).to_string(),
    ]);
    assert_eq!(
        deltas,
        [
            text("Calling."),
            tool(1, Some("call_b"), Some("second"), "{\"b\""),
            tool(0, Some("call_a"), Some("first"), "{\"a\""),
            tool(1, None, None, ":2}"),
            tool(0, None, None, ":1}"),
            // No `output_item.done` came: the terminal event completes both, in order.
            whole(0, "call_a", "first", "{\"a\":1}"),
            whole(1, "call_b", "second", "{\"b\":2}"),
            finish("tool_calls"),
        ]
    );
    // Completed without an output: the final object is the server's, with our text.
    assert_eq!(fin["output"], json!([]));
    assert_eq!(fin["output_text"], "Calling.");
}

#[test]
fn rotating_item_ids_fall_back_to_output_index() {
    // GitHub Copilot's proxy gives every event a fresh `item_id`.
    let (deltas, fin, _) = run(&[
        call_added("capture-id-3", 1, "call_1", "count"),
        args_delta("capture-id-4", 1, "{\"n\""),
        args_delta("capture-id-5", 1, ":3}"),
        args_done("capture-id-6", 1, "{\"n\":3}"),
        call_done("capture-id-7", 1, "call_1", "count", "{\"n\":3}"),
    ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("count"), "{\"n\""),
            tool(0, None, None, ":3}"),
            // The `.done` with yet another item_id still completes the same call.
            whole(0, "call_1", "count", "{\"n\":3}"),
        ]
    );
    assert_eq!(fin["output"].as_array().unwrap().len(), 1);
    assert_eq!(fin["output"][0]["arguments"], "{\"n\":3}");
}

#[test]
fn argument_deltas_for_an_unannounced_call() {
    // The `added` event was lost (or came before a resume point): no id or name to give.
    let (deltas, fin, _) = run(&[
        args_delta("fc_1", 0, "{}"),
        call_done("fc_1", 0, "call_1", "late", "{}"),
    ]);
    // The whole call has the id and name the `.done` item brought.
    assert_eq!(
        deltas,
        [tool(0, None, None, "{}"), whole(0, "call_1", "late", "{}")]
    );
    assert_eq!(
        fin["output"],
        json!([{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "late", "arguments": "{}"}])
    );
    // Without ids or indexes, they still land on one call.
    let (deltas, _, _) = run(&[
        r#"{"type":"response.function_call_arguments.delta","delta":"{"}"#,
        r#"{"type":"response.function_call_arguments.delta","delta":"}"}"#,
    ]);
    assert_eq!(deltas, [tool(0, None, None, "{"), tool(0, None, None, "}")]);
}

// Whole calls (`Delta::ToolCall`): when each call becomes complete.

/// Feeds payloads one at a time: the deltas each one produced.
fn deltas_per_event<S: AsRef<str>>(
    parser: &mut ResponsesParser,
    payloads: &[S],
) -> Vec<Vec<Delta>> {
    payloads
        .iter()
        .map(|p| {
            let mut out = Vec::new();
            parser.on_event(&data_event(p.as_ref()), &mut out).unwrap();
            out
        })
        .collect()
}

#[test]
fn a_call_is_whole_at_its_output_item_done() {
    let mut parser = ResponsesParser::new();
    let per_event = deltas_per_event(
        &mut parser,
        &[
            call_added("fc_a", 0, "call_a", "first"),
            args_delta("fc_a", 0, "{\"a\""),
            args_delta("fc_a", 0, ":1}"),
            args_done("fc_a", 0, "{\"a\":1}"),
            call_done("fc_a", 0, "call_a", "first", "{\"a\":1}"),
            call_added("fc_b", 1, "call_b", "second"),
            args_delta("fc_b", 1, "{}"),
            call_done("fc_b", 1, "call_b", "second", "{}"),
            json!({"type": "response.completed", "response": head("completed")}).to_string(),
        ],
    );
    assert_eq!(
        per_event,
        [
            vec![],
            vec![tool(0, Some("call_a"), Some("first"), "{\"a\"")],
            vec![tool(0, None, None, ":1}")],
            // Not at `function_call_arguments.done`: at the item's `done`.
            vec![],
            vec![whole(0, "call_a", "first", "{\"a\":1}")],
            vec![],
            vec![tool(1, Some("call_b"), Some("second"), "{}")],
            vec![whole(1, "call_b", "second", "{}")],
            // The terminal event sends no call again.
            vec![finish("tool_calls")],
        ]
    );
}

#[test]
fn a_call_without_output_item_done_is_whole_before_the_finish() {
    let mut parser = ResponsesParser::new();
    let per_event = deltas_per_event(
        &mut parser,
        &[
            call_added("fc_a", 0, "call_a", "first"),
            args_delta("fc_a", 0, "{}"),
            call_done("fc_a", 0, "call_a", "first", "{}"),
            call_added("fc_b", 1, "call_b", "second"),
            args_delta("fc_b", 1, "{\"b\""),
            args_delta("fc_b", 1, ":2}"),
            // Call b's `output_item.done` never comes.
            json!({"type": "response.completed", "response": head("completed")}).to_string(),
        ],
    );
    assert_eq!(per_event[2], [whole(0, "call_a", "first", "{}")]);
    assert_eq!(
        per_event[6],
        [
            whole(1, "call_b", "second", "{\"b\":2}"),
            finish("tool_calls")
        ]
    );
    // Incomplete responses too.
    let (deltas, _, _) = run(&[
        call_added("fc_a", 0, "call_a", "first"),
        args_delta("fc_a", 0, "{\"cut"),
        json!({"type": "response.incomplete", "response": {"status": "incomplete",
               "incomplete_details": {"reason": "max_output_tokens"}}})
        .to_string(),
    ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_a"), Some("first"), "{\"cut"),
            whole(0, "call_a", "first", "{\"cut"),
            finish("length"),
        ]
    );
}

#[test]
fn close_completes_the_calls_a_stream_left_open() {
    // A stray `[DONE]` instead of a terminal event: a normal end, so `close` runs.
    let (mut deltas, _, mut parser) = run(&[
        call_added("fc_a", 0, "call_a", "first"),
        args_delta("fc_a", 0, "{}"),
        call_done("fc_a", 0, "call_a", "first", "{}"),
        call_added("fc_b", 1, "call_b", "second"),
        args_delta("fc_b", 1, "{\"b\":2}"),
        "[DONE]".to_owned(),
    ]);
    assert_eq!(deltas.len(), 3);
    parser.close(&mut deltas);
    assert_eq!(deltas[3..], [whole(1, "call_b", "second", "{\"b\":2}")]);
    // Once only; and a call that was never announced is never whole.
    let mut again = Vec::new();
    parser.close(&mut again);
    assert_eq!(again, []);
    let (_, _, mut parser) = run(&[call_added("fc_c", 0, "call_c", "silent")]);
    parser.close(&mut again);
    assert_eq!(again, []);
}

#[test]
fn a_failed_response_completes_no_call() {
    let mut parser = ResponsesParser::new();
    let mut out = Vec::new();
    for event in [
        call_added("fc_a", 0, "call_a", "first"),
        args_delta("fc_a", 0, "{\"a\":1}"),
    ] {
        parser.on_event(&data_event(&event), &mut out).unwrap();
    }
    let failed = json!({"type": "response.failed", "response": {"status": "failed",
                        "error": {"code": "server_error", "message": "boom"}}})
    .to_string();
    assert!(parser.on_event(&data_event(&failed), &mut out).is_err());
    assert!(
        !out.iter().any(|d| matches!(d, Delta::ToolCall { .. })),
        "{out:?}"
    );
}

#[test]
fn custom_and_hosted_items_are_calls_of_their_kind() {
    // Issue 19 changed this: custom and MCP calls were chunks only.
    let (deltas, fin, parser) = run(&[
        r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"custom_tool_call","id":"ct","call_id":"c","name":"sql","input":""}}"#,
        r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"mcp_call","id":"mcp","server_label":"db","name":"x","arguments":"{}","output":"42","error":null}}"#,
        r#"{"type":"response.output_item.added","output_index":2,"item":{"type":"message","id":"msg","content":[]}}"#,
    ]);
    let json: Vec<Value> = deltas
        .iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            json!({"type": "toolCallDelta", "choice": 0, "index": 1, "id": "mcp", "name": "x",
                   "arguments": "{}", "kind": "mcp"}),
            json!({"type": "toolCall", "choice": 0, "index": 1, "id": "mcp", "name": "x",
                   "arguments": "{}", "kind": "mcp", "server": "db", "output": "42"}),
        ]
    );
    assert_eq!(parser.calls.len(), 2);
    assert_eq!(parser.calls[0].kind, ToolKind::Custom);
    // While streaming, `final()` has the open custom call and the MCP item as sent.
    assert_eq!(fin["output"][0]["type"], "custom_tool_call");
    assert_eq!(fin["output"][0]["status"], "in_progress");
    assert_eq!(fin["output"][1]["server_label"], "db");
    assert_eq!(fin["output"][1]["error"], Value::Null);
}

#[test]
fn hosted_tool_events_become_typed_deltas() {
    let (deltas, _, _) = run(&[
        r#"{"type":"response.web_search_call.searching","output_index":0,"item_id":"ws_1"}"#,
        r#"{"type":"response.output_text.annotation.added","output_index":1,"annotation":{"type":"url_citation","url":"https://a.example/","title":"A","start_index":3,"end_index":9}}"#,
        r#"{"type":"response.output_text.annotation.added","annotation":{"type":"file_citation","file_id":"file-1","filename":"a.pdf","index":7}}"#,
        r#"{"type":"response.image_generation_call.partial_image","output_index":2,"item_id":"ig_1","partial_image_index":0,"partial_image_b64":"AAA"}"#,
        r#"{"type":"response.output_item.done","output_index":2,"item":{"type":"image_generation_call","id":"ig_1","status":"completed","output_format":"webp","result":"BBB"}}"#,
        r#"{"type":"response.output_item.done","output_index":3,"item":{"type":"mcp_approval_request","id":"mcpr_1","server_label":"zip","name":"shorten","arguments":"{\"url\":\"x\"}"}}"#,
        r#"{"type":"response.custom_tool_call_input.delta","output_index":4,"item_id":"ct_1","delta":"SELECT"}"#,
    ]);
    let json: Vec<Value> = deltas
        .iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            json!({"type": "toolStatus", "choice": 0, "id": "ws_1", "tool": "web_search", "status": "searching"}),
            json!({"type": "citation", "choice": 0, "kind": "url", "url": "https://a.example/", "title": "A", "start": 3, "end": 9}),
            json!({"type": "citation", "choice": 0, "kind": "file", "fileId": "file-1", "filename": "a.pdf", "index": 7}),
            json!({"type": "image", "choice": 0, "id": "ig_1", "index": 0, "b64": "AAA", "partial": true}),
            json!({"type": "image", "choice": 0, "id": "ig_1", "b64": "BBB", "partial": false, "mediaType": "image/webp"}),
            json!({"type": "approval", "choice": 0, "id": "mcpr_1", "server": "zip", "name": "shorten", "arguments": "{\"url\":\"x\"}"}),
            json!({"type": "toolCallDelta", "choice": 0, "index": 0, "arguments": "SELECT", "kind": "custom"}),
        ]
    );
}

#[test]
fn shell_commands_stream_one_per_line() {
    let (deltas, _, _) = run(&[
        r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"shell_call","id":"sh","call_id":"call_sh","action":{"commands":[]},"environment":{"type":"container_auto"}}}"#,
        r#"{"type":"response.shell_call_command.delta","output_index":0,"command_index":0,"delta":"ls"}"#,
        r#"{"type":"response.shell_call_command.delta","output_index":0,"command_index":1,"delta":"pwd"}"#,
        r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"shell_call","id":"sh","call_id":"call_sh","action":{"commands":["ls","pwd"]},"environment":{"type":"container_auto"}}}"#,
        r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"shell_call_output","id":"sho","call_id":"call_sh","output":[]}}"#,
    ]);
    let texts = texts_of(&deltas);
    assert_eq!(texts, ["ls\npwd"]);
    assert!(matches!(&deltas[0], Delta::ToolStatus { status, .. } if status == "in_progress"));
    assert!(matches!(&deltas[2], Delta::ToolCallDelta { arguments, .. } if arguments == "\npwd"));
    assert!(matches!(
        &deltas[3],
        Delta::ToolCall {
            hosted: true,
            kind: ToolKind::Shell,
            ..
        }
    ));
    assert!(
        matches!(&deltas[4], Delta::ToolStatus { id, status, .. } if id == "sh" && status == "completed")
    );
}

// The accumulation.

#[test]
fn final_json_while_in_progress() {
    let events = sample(true);
    let (_, fin, parser) = run(&events[..events.len() - 1]);
    assert!(!parser.is_complete());
    assert_eq!(
        fin,
        json!({
            "id": "resp_1", "object": "response", "created_at": 1700000000,
            "status": "in_progress", "model": "gpt-x",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking."}]},
                {"type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hello world!", "annotations": []}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "weather",
                 "arguments": "{\"city\":\"Paris\"}"}
            ],
            "output_text": "Hello world!",
            "usage": null
        })
    );
}

#[test]
fn final_json_of_nothing() {
    assert_eq!(
        final_value(&ResponsesParser::new()),
        json!({"id": "", "object": "response", "created_at": 0, "status": "in_progress",
                   "model": "", "output": [], "output_text": "", "usage": null})
    );
}

#[test]
fn final_json_metadata() {
    // The first usable values win; odd types are skipped.
    let (_, fin, _) = run(&[
        r#"{"type":"response.created","response":{"id":null,"model":7,"created_at":"soon"}}"#,
        r#"{"type":"response.queued","response":{"id":"resp_q","model":"m1","created_at":0}}"#,
        r#"{"type":"response.in_progress","response":{"id":"resp_x","model":"m2","created_at":42}}"#,
    ]);
    assert_eq!(
        (&fin["id"], &fin["model"], &fin["created_at"]),
        (&json!("resp_q"), &json!("m1"), &json!(42))
    );
}

#[test]
fn final_json_items_in_output_order() {
    let (_, fin, _) = run(&[
        text_delta(2, "second"),
        text_delta(0, "first "),
        r#"{"type":"response.output_text.delta","delta":" again"}"#.to_owned(),
    ]);
    let texts: Vec<_> = fin["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["content"][0]["text"].as_str().unwrap())
        .collect();
    // An event without `output_index` belongs with the latest one.
    assert_eq!(texts, ["first  again", "second"]);
    assert_eq!(fin["output_text"], "first  againsecond");
}

#[test]
fn final_json_output_text_comes_from_the_terminal_output() {
    // A resumed stream saw only the tail of the text; the completed object has all of it.
    let (_, fin, _) = run(&[
            text_delta(0, "tail"),
            json!({"type": "response.completed", "response": {"id": "r", "status": "completed", "output": [
                {"type": "reasoning", "summary": []},
                {"type": "message", "content": [{"type": "output_text", "text": "head and "},
                                                {"type": "refusal", "refusal": "no"},
                                                {"type": "output_text", "text": "tail"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "!"}]}
            ]}})
            .to_string(),
        ]);
    assert_eq!(fin["output_text"], "head and tail!");
    assert_eq!(fin["id"], "r");
}

#[test]
fn final_json_keeps_a_server_output_text() {
    for given in [json!("theirs"), json!(null)] {
        let response = json!({"id": "r", "output_text": given, "output": []});
        let (_, fin, parser) = run(&[
            text_delta(0, "ours"),
            json!({"type": "response.completed", "response": response}).to_string(),
        ]);
        assert_eq!(fin, response);
        assert_eq!(parser.final_json(), response.to_string(), "verbatim");
    }
}

#[test]
fn final_json_is_the_terminal_response_verbatim() {
    let raw = r#"{ "id" : "r",  "nested" : {"a" : [1, 2.50, "é\u00e9"]} , "usage":null }"#;
    let event = format!(r#"{{"type":"response.completed","response":{raw}}}"#);
    let (_, _, parser) = run(&[text_delta(0, "t"), event]);
    assert_eq!(
        parser.final_json(),
        r#"{ "id" : "r",  "nested" : {"a" : [1, 2.50, "é\u00e9"]} , "usage":null,"output_text":"t"}"#
    );

    let (_, _, parser) = run(&[r#"{"type":"response.completed","response":{ }}"#]);
    assert_eq!(parser.final_json(), r#"{"output_text":""}"#);
    let (_, _, parser) = run(&[r#"{"type":"response.completed","response":{}}"#]);
    assert_eq!(parser.final_json(), r#"{"output_text":""}"#);
}

#[test]
fn final_json_of_a_failed_response_is_the_accumulation() {
    // The failed object fills in what no earlier event said.
    let mut parser = ResponsesParser::new();
    let failed = json!({"type": "response.failed",
                            "response": {"id": "resp_f", "model": "m", "error": {"message": "x"}}});
    let step = parser.on_event(&data_event(&failed.to_string()), &mut Vec::new());
    assert_eq!(step, Err(provider("x", None, None, None)));
    let fin = final_value(&parser);
    assert_eq!(
        (&fin["object"], &fin["status"], &fin["id"], &fin["model"]),
        (
            &json!("response"),
            &json!("failed"),
            &json!("resp_f"),
            &json!("m")
        )
    );
    assert!(!parser.is_complete());
}

/// Deltas and `final_json` from SSE bytes fed in the given pieces.
fn run_sse(pieces: &[&[u8]]) -> (Vec<Delta>, String) {
    let mut sse = SseParser::new();
    let mut events = Vec::new();
    for piece in pieces {
        sse.feed(piece, &mut events).unwrap();
    }
    let events: Vec<_> = events.iter().map(SseEvent::as_event_ref).collect();
    let mut parser = ResponsesParser::new();
    let deltas = feed(&mut parser, &events);
    (deltas, parser.final_json())
}

/// Events as SSE text, each with its `event:` line.
fn sse_text<S: AsRef<str>>(events: &[S]) -> String {
    let mut text = String::new();
    for event in events {
        let event = event.as_ref();
        let name = type_of(event).unwrap();
        text.push_str(&format!("event: {name}\ndata: {event}\n\n"));
    }
    text
}

#[test]
fn sse_bytes_split_anywhere() {
    let bytes = sse_text(&sample(true));
    let whole = run_sse(&[bytes.as_bytes()]);
    assert_eq!(whole.0, sample_deltas());
    for split in 0..=bytes.len() {
        let (a, b) = bytes.as_bytes().split_at(split);
        assert_eq!(run_sse(&[a, b]), whole, "split at {split}");
    }
}

#[test]
fn sse_bytes_of_a_recorded_stream_split_in_many_places() {
    let file = "azure--azure-tool-call.1.chunks.txt";
    let events: Vec<String> = fixture_streams(file)[0]
        .iter()
        .map(|e| e.1.clone())
        .collect();
    let bytes = sse_text(&events);
    let whole = run_sse(&[bytes.as_bytes()]);
    // Six fragments, the whole call, finish, usage.
    assert_eq!(whole.0.len(), 9);
    // Every 7th offset (the file is 6 KB of JSON; debug builds parse it slowly).
    for split in (0..=bytes.len()).step_by(7) {
        let (a, b) = bytes.as_bytes().split_at(split);
        assert_eq!(run_sse(&[a, b]), whole, "{file} split at {split}");
    }
    // One byte at a time.
    let bytes_one_by_one: Vec<&[u8]> = bytes.as_bytes().chunks(1).collect();
    assert_eq!(run_sse(&bytes_one_by_one), whole);
}

// Recorded fixtures (ai-sdk): one event per line.

/// A fixture's response streams: (line number, payload) per event. Files that recorded
/// several requests (multi-step tool use) hold one stream per `response.created`.
fn fixture_streams(file: &str) -> Vec<Vec<(usize, String)>> {
    let path = format!("{FIXTURE_DIR}{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut streams: Vec<Vec<(usize, String)>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let starts = type_of(line).as_deref() == Some("response.created");
        if streams.last().is_none_or(|s| starts && !s.is_empty()) {
            streams.push(Vec::new());
        }
        streams.last_mut().unwrap().push((n + 1, line.to_owned()));
    }
    streams
}

#[derive(Debug, Default)]
struct ExpectedCall {
    kind: ToolKind,
    item_id: String,
    output_index: Option<u64>,
    /// The item's `call_id`, else (hosted calls) its `id`.
    call_id: String,
    name: String,
    /// From the input's `.done` event (`function_call_arguments.done`, ...), else from the
    /// `output_item.done` item.
    arguments: Option<String>,
    /// Position of the call's `response.output_item.done`.
    done_at: Option<usize>,
    /// The provider runs it: no `tool_calls` finish for it.
    hosted: bool,
    server: Option<String>,
    /// A hosted call's result and error in its done item (not `null`).
    output: Option<Value>,
    error: Option<Value>,
}

/// The kind of a call item type, the name its calls get, and whether the provider runs it.
fn expected_kind(item: &Value) -> Option<(ToolKind, String, bool)> {
    let name = || item["name"].as_str().unwrap().to_owned();
    Some(match item["type"].as_str()? {
        "function_call" => (ToolKind::Function, name(), false),
        "custom_tool_call" => (ToolKind::Custom, name(), false),
        "mcp_call" => (ToolKind::Mcp, name(), true),
        "code_interpreter_call" => (ToolKind::CodeInterpreter, "code_interpreter".into(), true),
        "shell_call" => {
            let environment = item["environment"]["type"].as_str().unwrap_or_default();
            (
                ToolKind::Shell,
                "shell".into(),
                environment.starts_with("container"),
            )
        }
        "local_shell_call" => (ToolKind::LocalShell, "local_shell".into(), false),
        _ => return None,
    })
}

/// A done call item's whole input, as the deltas should add up.
fn expected_input(kind: ToolKind, item: &Value) -> Option<String> {
    let text = |key: &str| item[key].as_str().map(str::to_owned);
    match kind {
        ToolKind::Function | ToolKind::Mcp => text("arguments"),
        ToolKind::Custom => text("input"),
        ToolKind::CodeInterpreter => text("code"),
        ToolKind::Shell => {
            let commands = item["action"]["commands"].as_array()?;
            let commands: Vec<&str> = commands.iter().filter_map(Value::as_str).collect();
            Some(commands.join("\n"))
        }
        ToolKind::LocalShell => Some(item["action"].to_string()),
    }
}

/// What a stream should produce, computed from `serde_json::Value`s on their own.
#[derive(Debug, Default)]
struct Expected {
    text: String,
    reasoning: String,
    refusal: String,
    calls: Vec<ExpectedCall>,
    /// Position, type and `response` object of `response.completed` / `.incomplete`.
    terminal: Option<(usize, String, Value)>,
    /// Position and error object of the first `error` / `response.failed`.
    error: Option<(usize, Value)>,
    /// Positions of lines that are not JSON.
    bad: Vec<usize>,
    highest_sequence: Option<u64>,
}

fn expected_from(stream: &[(usize, String)]) -> Expected {
    let mut want = Expected::default();
    for (position, (_, line)) in stream.iter().enumerate() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            want.bad.push(position);
            continue;
        };
        if let Some(sequence) = event["sequence_number"].as_u64() {
            want.highest_sequence = want.highest_sequence.max(Some(sequence));
        }
        let delta = event["delta"].as_str().unwrap_or_default();
        match event["type"].as_str().unwrap_or_default() {
            "response.output_text.delta" => want.text.push_str(delta),
            "response.refusal.delta" => want.refusal.push_str(delta),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                want.reasoning.push_str(delta)
            }
            "response.output_item.added" if expected_kind(&event["item"]).is_some() => {
                let item = &event["item"];
                let (kind, name, hosted) = expected_kind(item).unwrap();
                let item_id = item["id"].as_str().unwrap().to_owned();
                want.calls.push(ExpectedCall {
                    kind,
                    call_id: item["call_id"].as_str().unwrap_or(&item_id).to_owned(),
                    item_id,
                    output_index: event["output_index"].as_u64(),
                    name,
                    hosted,
                    server: item["server_label"].as_str().map(str::to_owned),
                    ..ExpectedCall::default()
                });
            }
            "response.output_item.done" if expected_kind(&event["item"]).is_some() => {
                let item = &event["item"];
                if let Some(call) = want
                    .calls
                    .iter_mut()
                    .find(|c| item["id"] == c.item_id.as_str())
                {
                    call.done_at = Some(position);
                    if call.arguments.is_none() {
                        call.arguments = expected_input(call.kind, item);
                    }
                    let result = match call.kind {
                        ToolKind::CodeInterpreter => &item["outputs"],
                        _ => &item["output"],
                    };
                    call.output = Some(result.clone()).filter(|v| !v.is_null());
                    call.error = Some(item["error"].clone()).filter(|v| !v.is_null());
                }
            }
            "response.mcp_call_arguments.done"
            | "response.custom_tool_call_input.done"
            | "response.code_interpreter_call_code.done" => {
                let key = match event["type"].as_str().unwrap() {
                    "response.custom_tool_call_input.done" => "input",
                    "response.code_interpreter_call_code.done" => "code",
                    _ => "arguments",
                };
                let call = want
                    .calls
                    .iter_mut()
                    .find(|c| event["item_id"] == c.item_id.as_str())
                    .expect("done for a known call");
                call.arguments = Some(event[key].as_str().unwrap().to_owned());
            }
            "response.function_call_arguments.done" => {
                let call = want
                    .calls
                    .iter_mut()
                    .find(|c| event["item_id"] == c.item_id.as_str())
                    .expect("done for a known call");
                assert_eq!(call.output_index, event["output_index"].as_u64());
                call.arguments = Some(event["arguments"].as_str().unwrap().to_owned());
            }
            kind @ ("response.completed" | "response.incomplete") => {
                want.terminal = Some((position, kind.to_owned(), event["response"].clone()));
                break;
            }
            "error" => {
                let error = &event["error"];
                let error = if error.is_object() { error } else { &event };
                want.error = Some((position, error.clone()));
                break;
            }
            "response.failed" => {
                want.error = Some((position, event["response"]["error"].clone()));
                break;
            }
            _ => {}
        }
    }
    want
}

/// The typed deltas of hosted tools a stream should give, by event position, computed from
/// `serde_json::Value`s on their own.
fn expected_hosted(stream: &[(usize, String)]) -> Vec<(usize, Value)> {
    const STATUSES: [&str; 6] = [
        "in_progress",
        "searching",
        "interpreting",
        "generating",
        "completed",
        "failed",
    ];
    let mut want = Vec::new();
    // Container shell calls: call_id -> item id.
    let mut shells: Vec<(String, String)> = Vec::new();
    let mut seen = None;
    for (position, (_, line)) in stream.iter().enumerate() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(sequence) = event["sequence_number"].as_u64() {
            if seen.is_some_and(|s| sequence <= s) {
                continue;
            }
            seen = Some(sequence);
        }
        let kind = event["type"].as_str().unwrap_or_default();
        let item = &event["item"];
        let delta = match kind {
            "response.output_text.annotation.added" => {
                let a = &event["annotation"];
                let kind = a["type"].as_str().unwrap();
                let mut d = json!({"type": "citation", "choice": 0,
                                   "kind": kind.strip_suffix("_citation").unwrap_or(kind)});
                for (from, to) in [
                    ("url", "url"),
                    ("title", "title"),
                    ("file_id", "fileId"),
                    ("filename", "filename"),
                    ("container_id", "containerId"),
                    ("start_index", "start"),
                    ("end_index", "end"),
                    ("index", "index"),
                ] {
                    if !a[from].is_null() {
                        d[to] = a[from].clone();
                    }
                }
                Some(d)
            }
            "response.image_generation_call.partial_image" => Some(json!({
                "type": "image", "choice": 0, "id": event["item_id"],
                "index": event["partial_image_index"], "b64": event["partial_image_b64"],
                "partial": true,
            })),
            "response.output_item.done" if item["type"] == "image_generation_call" => {
                item["result"].as_str().map(|b64| json!({
                    "type": "image", "choice": 0, "id": item["id"], "b64": b64, "partial": false,
                    "mediaType": format!("image/{}", item["output_format"].as_str().unwrap_or("png")),
                }))
            }
            "response.output_item.done" if item["type"] == "mcp_approval_request" => Some(json!({
                "type": "approval", "choice": 0, "id": item["id"], "server": item["server_label"],
                "name": item["name"], "arguments": item["arguments"],
            })),
            "response.output_item.added"
                if item["type"] == "shell_call"
                    && item["environment"]["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("container")) =>
            {
                let id = item["id"].as_str().unwrap();
                shells.push((item["call_id"].as_str().unwrap().to_owned(), id.to_owned()));
                Some(json!({"type": "toolStatus", "choice": 0, "id": id, "tool": "shell",
                            "status": "in_progress"}))
            }
            "response.output_item.done" if item["type"] == "shell_call_output" => shells
                .iter()
                .find(|(call_id, _)| item["call_id"] == call_id.as_str())
                .map(|(_, id)| json!({"type": "toolStatus", "choice": 0, "id": id,
                                      "tool": "shell", "status": "completed"})),
            _ => {
                let mut words = kind.split('.');
                match (words.next(), words.next(), words.next(), words.next()) {
                    (Some("response"), Some(tool), Some(status), None)
                        if STATUSES.contains(&status)
                            && (tool.ends_with("_call") || tool == "mcp_list_tools") =>
                    {
                        Some(json!({"type": "toolStatus", "choice": 0, "id": event["item_id"],
                                    "tool": tool.strip_suffix("_call").unwrap_or(tool),
                                    "status": status}))
                    }
                    _ => None,
                }
            }
        };
        want.extend(delta.map(|d| (position, d)));
    }
    want
}

/// openai-node's `output_text` of a response object, or the streamed text without one.
fn expected_output_text(response: &Value, streamed: &str) -> String {
    let mut texts = Vec::new();
    for item in response["output"].as_array().into_iter().flatten() {
        if item["type"] == "message" {
            for part in item["content"].as_array().into_iter().flatten() {
                if part["type"] == "output_text" {
                    texts.push(part["text"].as_str().unwrap());
                }
            }
        }
    }
    if texts.is_empty() {
        streamed.to_owned()
    } else {
        texts.concat()
    }
}

/// The first 200 bytes of a line, cut back to a character boundary.
fn quote(line: &str) -> &str {
    let mut end = line.len().min(200);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// A `ToolCall` delta's id, name and arguments.
type CallPiece<'a> = (Option<&'a str>, Option<&'a str>, &'a str);

struct Run {
    deltas: Vec<Delta>,
    fin: Value,
    failure: Option<WireError>,
}

/// Feeds one stream as a driver would (stopping at `Done` or a provider error, going on
/// past a bad line to see the rest) and checks it against `expected_from`.
fn check_stream(file: &str, stream: &[(usize, String)], with_names: bool) -> Run {
    let want = expected_from(stream);
    let mode = if with_names {
        "with event:"
    } else {
        "data only"
    };
    let mut parser = ResponsesParser::new();
    let mut deltas = Vec::new();
    let mut bad = Vec::new();
    let mut failure = None;
    let mut done_at = None;
    // Per event position: where its deltas start in `deltas`.
    let mut starts = Vec::new();
    for (position, (n, line)) in stream.iter().enumerate() {
        let event = if with_names {
            named(line)
        } else {
            data_event(line)
        };
        starts.push(deltas.len());
        match parser.on_event(&event, &mut deltas) {
            Ok(Step::Done) => {
                done_at = Some(position);
                break;
            }
            Ok(step) => assert_eq!(step, Step::Chunk, "{file}:{n} ({mode})"),
            Err(WireError::Parse { line: quoted, .. }) => {
                assert_eq!(quoted, quote(line), "{file}:{n}");
                bad.push(position);
            }
            Err(error) => {
                failure = Some((position, error));
                break;
            }
        }
    }
    assert_eq!(bad, want.bad, "{file} ({mode}): lines that are not JSON");

    match (&want.error, &failure) {
        (None, None) => {}
        (Some((position, error)), Some((at, WireError::Provider { message, code, .. }))) => {
            assert_eq!(position, at, "{file}: error position");
            assert_eq!(message, error["message"].as_str().unwrap(), "{file}");
            assert_eq!(code.as_deref(), error["code"].as_str(), "{file}");
        }
        (want_error, got) => panic!("{file} ({mode}): want {want_error:?}, got {got:?}"),
    }

    assert_eq!(
        done_at,
        want.terminal.as_ref().map(|t| t.0),
        "{file} ({mode}): Done"
    );
    if let Some(at) = done_at {
        assert_eq!(
            at,
            stream.len() - 1,
            "{file}: the terminal event ends its stream"
        );
    }
    assert_eq!(parser.is_complete(), want.terminal.is_some(), "{file}");
    assert_eq!(parser.resume_after(), want.highest_sequence, "{file}");

    let joined =
        |pick: fn(&Delta) -> Option<&str>| deltas.iter().filter_map(pick).collect::<String>();
    let text = joined(|d| match d {
        Delta::Text { text, .. } => Some(text),
        _ => None,
    });
    let reasoning = joined(|d| match d {
        Delta::Reasoning { text, .. } => Some(text),
        _ => None,
    });
    let refusal = joined(|d| match d {
        Delta::Refusal { text, .. } => Some(text),
        _ => None,
    });
    assert_eq!(text, want.text, "{file} ({mode}): text");
    assert_eq!(reasoning, want.reasoning, "{file} ({mode}): reasoning");
    assert_eq!(refusal, want.refusal, "{file} ({mode}): refusal");
    assert!(deltas.iter().all(|d| match d {
        Delta::Text { choice, .. }
        | Delta::Refusal { choice, .. }
        | Delta::Reasoning { choice, .. }
        | Delta::ToolCallDelta { choice, .. }
        | Delta::ToolCall { choice, .. }
        | Delta::ToolStatus { choice, .. }
        | Delta::Image { choice, .. }
        | Delta::Approval { choice, .. }
        | Delta::Finish { choice, .. } => *choice == 0,
        Delta::Citation(citation) => citation.choice == 0,
        Delta::Usage { .. } => true,
    }));

    // Hosted tools: each progress event, annotation, image and approval request is one delta,
    // made by its own event, with the fields the raw event has.
    let hosted: Vec<(usize, Value)> = deltas
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            matches!(
                d,
                Delta::ToolStatus { .. }
                    | Delta::Citation(_)
                    | Delta::Image { .. }
                    | Delta::Approval { .. }
            )
        })
        .map(|(at, d)| {
            let position = starts.iter().rposition(|&s| s <= at).unwrap();
            (position, serde_json::to_value(d).unwrap())
        })
        .collect();
    let end = failure.as_ref().map_or(stream.len(), |f| f.0);
    assert_eq!(
        hosted,
        expected_hosted(&stream[..end]),
        "{file} ({mode}): hosted-tool deltas"
    );

    // Tool calls: numbered 0.. in order, id and name on the first delta only, the argument
    // deltas adding up to the `.done` text.
    let mut calls: BTreeMap<u32, Vec<CallPiece>> = BTreeMap::new();
    for delta in &deltas {
        if let Delta::ToolCallDelta {
            index,
            id,
            name,
            arguments,
            ..
        } = delta
        {
            calls
                .entry(*index)
                .or_default()
                .push((id.as_deref(), name.as_deref(), arguments));
        }
    }
    let indexes: Vec<u32> = calls.keys().copied().collect();
    let announced = want.calls.iter().filter(|c| c.arguments.is_some()).count();
    assert_eq!(
        indexes,
        (0..announced as u32).collect::<Vec<_>>(),
        "{file}: call indexes"
    );
    for (call, pieces) in want.calls.iter().zip(calls.values()) {
        assert_eq!(
            pieces[0].0,
            Some(call.call_id.as_str()),
            "{file}: first delta has the id"
        );
        assert_eq!(
            pieces[0].1,
            Some(call.name.as_str()),
            "{file}: first delta has the name"
        );
        assert!(
            pieces[1..].iter().all(|p| p.0.is_none() && p.1.is_none()),
            "{file}"
        );
        let arguments: String = pieces.iter().map(|p| p.2).collect();
        if call.kind == ToolKind::LocalShell {
            // The action JSON as sent; the model re-serialised it.
            let got: Value = serde_json::from_str(&arguments).unwrap();
            let want: Option<Value> = call
                .arguments
                .as_ref()
                .map(|a| serde_json::from_str(a).unwrap());
            assert_eq!(Some(got), want, "{file}: arguments");
        } else {
            assert_eq!(
                Some(&arguments),
                call.arguments.as_ref(),
                "{file}: arguments"
            );
        }
    }

    // Whole calls: one per announced call, with the accumulated arguments, sent by the call's
    // `output_item.done`, else by the terminal event (before its finish), else not yet.
    let events_deltas = |position: usize| {
        let end = starts.get(position + 1).copied().unwrap_or(deltas.len());
        starts[position]..end
    };
    let mut wholes: BTreeMap<u32, usize> = BTreeMap::new();
    for (at, delta) in deltas.iter().enumerate() {
        if let Delta::ToolCall { index, .. } = delta {
            assert!(
                wholes.insert(*index, at).is_none(),
                "{file}: call {index} whole twice"
            );
        }
    }
    for ((&index, pieces), call) in calls.iter().zip(&want.calls) {
        let sent_by = call
            .done_at
            .or(want.terminal.as_ref().map(|t| t.0))
            .filter(|&p| failure.as_ref().is_none_or(|f| p < f.0));
        let Some(sent_by) = sent_by else {
            assert_eq!(
                wholes.get(&index),
                None,
                "{file}: call {index} is not whole yet"
            );
            continue;
        };
        let at = *wholes
            .get(&index)
            .unwrap_or_else(|| panic!("{file} ({mode}): call {index} is whole"));
        assert!(
            events_deltas(sent_by).contains(&at),
            "{file} ({mode}): call {index} whole at event {sent_by}"
        );
        let last_piece = deltas
            .iter()
            .rposition(|d| matches!(d, Delta::ToolCallDelta { index: i, .. } if *i == index));
        assert!(last_piece < Some(at), "{file}: whole after its fragments");
        let Delta::ToolCall {
            choice: 0,
            index: got_index,
            id,
            name,
            arguments,
            kind,
            server,
            output,
            error,
            hosted,
        } = &deltas[at]
        else {
            panic!("{file}: whole call {index} is a choice 0 ToolCall");
        };
        assert_eq!(*got_index, index);
        assert_eq!(
            (id, name, kind, server, hosted),
            (
                &call.call_id,
                &call.name,
                &call.kind,
                &call.server,
                &call.hosted
            ),
            "{file}: whole call {index}"
        );
        let pieces: String = pieces.iter().map(|p| p.2).collect();
        assert_eq!(arguments, &pieces, "{file}: whole call {index} arguments");
        let value = |raw: &Option<RawJson>| {
            raw.as_ref()
                .map(|r| serde_json::from_str::<Value>(r.0.get()).unwrap())
        };
        // Done before the terminal event: the item's result; else the call has none.
        let done = call.done_at == Some(sent_by);
        let want_output = call.output.clone().filter(|_| done);
        let want_error = call.error.clone().filter(|_| done);
        assert_eq!(value(output), want_output, "{file}: call {index} output");
        assert_eq!(value(error), want_error, "{file}: call {index} error");
    }
    assert!(
        wholes.keys().all(|i| calls.contains_key(i)),
        "{file}: only announced calls are whole"
    );

    // Finish, then usage, last.
    let finishes: Vec<_> = deltas
        .iter()
        .enumerate()
        .filter_map(|(n, d)| match d {
            Delta::Finish { reason, .. } => Some((n, reason.as_str())),
            _ => None,
        })
        .collect();
    let usages: Vec<Value> = deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Usage { usage } => Some(serde_json::from_str(usage.0.get()).unwrap()),
            _ => None,
        })
        .collect();
    let fin = final_value(&parser);
    match &want.terminal {
        Some((_, kind, response)) => {
            let reason = match kind.as_str() {
                "response.incomplete" => "length",
                _ if want.calls.iter().all(|c| c.hosted) => "stop",
                _ => "tool_calls",
            };
            let [(at, got)] = finishes[..] else {
                panic!("{file}: one finish, got {finishes:?}")
            };
            assert_eq!(got, reason, "{file}: finish reason");
            let usage = &response["usage"];
            let want_usages: Vec<Value> = usage
                .is_object()
                .then(|| usage.clone())
                .into_iter()
                .collect();
            assert_eq!(usages, want_usages, "{file}: usage");
            assert_eq!(
                at + 1 + usages.len(),
                deltas.len(),
                "{file}: finish and usage come last"
            );

            let mut fin = fin.clone();
            let output_text = fin.as_object_mut().unwrap().remove("output_text");
            assert_eq!(&fin, response, "{file}: final is the terminal response");
            assert_eq!(
                output_text,
                Some(json!(expected_output_text(response, &want.text)))
            );
        }
        None => {
            assert_eq!(finishes, [], "{file}: no terminal, no finish");
            assert_eq!(usages, Vec::<Value>::new(), "{file}");
            assert_eq!(fin["object"], "response");
            assert_eq!(fin["output_text"], want.text.as_str());
            // Only `response.failed` says the response failed; an `error` event ends the
            // stream before anything says so.
            let failed = want.error.as_ref().map(|(at, _)| type_of(&stream[*at].1));
            let status = match failed {
                Some(Some(kind)) if kind == "response.failed" => "failed",
                _ => "in_progress",
            };
            assert_eq!(fin["status"], status, "{file}");
            let fin_calls: Vec<_> = fin["output"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["type"] == "function_call")
                .collect();
            assert_eq!(fin_calls.len(), want.calls.len(), "{file}");
            for (item, call) in fin_calls.iter().zip(&want.calls) {
                assert_eq!(item["call_id"], call.call_id.as_str());
                assert_eq!(item["name"], call.name.as_str());
                assert_eq!(item["arguments"].as_str(), call.arguments.as_deref());
            }
        }
    }
    Run {
        deltas,
        fin,
        failure: failure.map(|f| f.1),
    }
}

/// Checks every stream of a fixture, with and without `event:` lines (same outcome).
fn check_fixture(file: &str) -> Vec<Run> {
    let streams = fixture_streams(file);
    assert!(!streams.is_empty(), "{file}: has events");
    let mut runs = Vec::new();
    for stream in &streams {
        let without = check_stream(file, stream, false);
        let with = check_stream(file, stream, true);
        assert_eq!(
            with.deltas, without.deltas,
            "{file}: event lines change nothing"
        );
        assert_eq!(with.fin, without.fin, "{file}");
        assert_eq!(with.failure, without.failure, "{file}");
        assert!(
            !without.deltas.is_empty() || without.failure.is_some(),
            "{file}: says something"
        );
        runs.push(without);
    }
    runs
}

/// One test per responses fixture, plus an optional fixture-specific check.
macro_rules! fixtures {
        ($($test:ident: $file:literal $(=> $extra:expr)?;)*) => {
            const RESPONSES_FIXTURES: &[&str] = &[$($file),*];
            $(
                #[test]
                fn $test() {
                    let _runs = check_fixture($file);
                    $(($extra)(&_runs);)?
                }
            )*
        };
    }

fixtures! {
    fixture_azure_code_interpreter_tool: "azure--azure-code-interpreter-tool.1.chunks.txt";
    fixture_azure_image_generation_tool: "azure--azure-image-generation-tool.1.chunks.txt";
    fixture_azure_reasoning_encrypted_content: "azure--azure-reasoning-encrypted-content.1.chunks.txt"
        => |runs: &[Run]| {
            // Four requests of one multi-step run: three calculator calls, then the answer.
            assert_eq!(runs.len(), 4);
            for run in &runs[..3] {
                assert!(run.deltas.contains(&finish("tool_calls")));
            }
            assert!(runs[0].deltas.contains(&tool(0, Some("call_UdvUeOElp5zdU0DKr6IoyhjE"), Some("calculator"), "{\"")));
            assert!(runs[3].deltas.contains(&finish("stop")));
        };
    fixture_azure_text: "azure--azure-text.1.chunks.txt"
        => |runs: &[Run]| {
            assert_eq!(runs[0].deltas[..2], [text("Hello"), finish("stop")]);
            assert_eq!(runs[0].fin["output_text"], "Hello");
            assert_eq!(runs[0].fin["usage"]["total_tokens"], 22);
        };
    fixture_azure_tool_call: "azure--azure-tool-call.1.chunks.txt"
        => |runs: &[Run]| {
            let deltas = &runs[0].deltas;
            assert_eq!(deltas[0], tool(0, Some("call_H5DxLSFnsGhiROnUiDHmgyc8"), Some("weather"), "{\""));
            assert_eq!(deltas[1], tool(0, None, None, "location"));
            assert_eq!(deltas[6], whole(0, "call_H5DxLSFnsGhiROnUiDHmgyc8", "weather", "{\"location\":\"San Francisco\"}"));
            assert_eq!(deltas[7], finish("tool_calls"));
            assert!(matches!(deltas[8], Delta::Usage { .. }));
            assert_eq!(deltas.len(), 9);
        };
    fixture_azure_web_search_preview_tool: "azure--azure-web-search-preview-tool.1.chunks.txt";
    fixture_azure_openai_file_search_tool_1: "azure--openai-file-search-tool.1.chunks.txt";
    fixture_azure_openai_file_search_tool_2: "azure--openai-file-search-tool.2.chunks.txt";
    fixture_github_copilot_id_rotation: "openai--responses--github-copilot-id-rotation.1.chunks.txt"
        => |runs: &[Run]| {
            let fin = &runs[0].fin;
            assert!(fin["output_text"].as_str().unwrap().starts_with("There are **3** letter"));
            assert_eq!(runs[0].deltas[0], reasoning("**Counting character occurrences**"));
        };
    fixture_openai_apply_patch_tool_delete: "openai--responses--openai-apply-patch-tool-delete.1.chunks.txt";
    fixture_openai_apply_patch_tool: "openai--responses--openai-apply-patch-tool.1.chunks.txt";
    fixture_openai_client_tool_search_1: "openai--responses--openai-client-tool-search.1.chunks.txt";
    fixture_openai_client_tool_search_2: "openai--responses--openai-client-tool-search.2.chunks.txt"
        => |runs: &[Run]| assert_eq!(runs[0].fin["output"][0]["name"], "get_weather");
    fixture_openai_code_interpreter_tool: "openai--responses--openai-code-interpreter-tool.1.chunks.txt";
    fixture_openai_compaction: "openai--responses--openai-compaction.1.chunks.txt";
    fixture_openai_custom_tool: "openai--responses--openai-custom-tool.1.chunks.txt"
        => |runs: &[Run]| {
            // Issue 19 changed this (custom calls were chunks only): three input fragments,
            // the whole call, the `tool_calls` finish, usage.
            let deltas = &runs[0].deltas;
            assert_eq!(deltas.len(), 6);
            assert!(matches!(&deltas[3], Delta::ToolCall { kind: ToolKind::Custom, arguments, .. }
                if arguments == "SELECT * FROM users WHERE age > 25"));
            assert_eq!(deltas[4], finish("tool_calls"));
            assert!(matches!(deltas[5], Delta::Usage { .. }));
        };
    fixture_openai_error: "openai--responses--openai-error.1.chunks.txt"
        => |runs: &[Run]| {
            assert_eq!(runs[0].deltas, []);
            let Some(WireError::Provider { message, kind, code, param }) = &runs[0].failure else {
                panic!("a provider error");
            };
            assert!(message.starts_with("You exceeded your current quota"));
            assert_eq!(kind.as_deref(), Some("insufficient_quota"));
            assert_eq!(code.as_deref(), Some("insufficient_quota"));
            assert_eq!(param, &None);
            // The `response.failed` that follows says the same on its own.
            let failed = fixture_streams("openai--responses--openai-error.1.chunks.txt")[0][3].1.clone();
            let Err(WireError::Provider { code, .. }) = one(data_event(&failed)) else {
                panic!("response.failed is an error");
            };
            assert_eq!(code.as_deref(), Some("insufficient_quota"));
        };
    fixture_openai_file_search_tool_1: "openai--responses--openai-file-search-tool.1.chunks.txt";
    fixture_openai_file_search_tool_2: "openai--responses--openai-file-search-tool.2.chunks.txt";
    fixture_openai_image_generation_tool: "openai--responses--openai-image-generation-tool.1.chunks.txt"
        => |runs: &[Run]| {
            let images: Vec<_> = runs[0].deltas.iter().filter_map(|d| match d {
                Delta::Image { partial, media_type, b64, .. } => Some((*partial, media_type.clone(), b64.len())),
                _ => None,
            }).collect();
            assert_eq!(images.len(), 2);
            assert_eq!((images[0].0, images[1].0), (true, false));
            assert_eq!(images[1].1.as_deref(), Some("image/webp"));
            assert!(images[1].2 > 100);
        };
    fixture_openai_local_shell_tool: "openai--responses--openai-local-shell-tool.1.chunks.txt";
    fixture_openai_mcp_tool_approval_1: "openai--responses--openai-mcp-tool-approval.1.chunks.txt"
        => |runs: &[Run]| {
            let approvals: Vec<_> = runs[0].deltas.iter().filter(|d| matches!(d, Delta::Approval { .. })).collect();
            assert!(matches!(approvals[..], [Delta::Approval { server, name, .. }]
                if server == "zip1" && name == "create_short_url"));
        };
    fixture_openai_mcp_tool_approval_2: "openai--responses--openai-mcp-tool-approval.2.chunks.txt";
    fixture_openai_mcp_tool_approval_3: "openai--responses--openai-mcp-tool-approval.3.chunks.txt";
    fixture_openai_mcp_tool_approval_4: "openai--responses--openai-mcp-tool-approval.4.chunks.txt"
        => |runs: &[Run]| {
            // The approved call runs: its arguments stream, the whole call has its output.
            let call = runs[0].deltas.iter().find(|d| matches!(d, Delta::ToolCall { .. }));
            let Some(Delta::ToolCall { kind: ToolKind::Mcp, server: Some(server), output: Some(output), hosted: true, .. }) = call else {
                panic!("an MCP call: {call:?}");
            };
            assert_eq!(server, "zip1");
            assert!(output.0.get().contains("zip1.io/UDKvlw"));
            assert!(runs[0].deltas.contains(&finish("stop")));
        };
    fixture_openai_mcp_tool: "openai--responses--openai-mcp-tool.1.chunks.txt";
    fixture_openai_phase: "openai--responses--openai-phase.1.chunks.txt"
        => |runs: &[Run]| {
            // The capture kept only some deltas: output_text comes from the final output.
            let fin = &runs[0].fin;
            let streamed: String = runs[0].deltas.iter().filter_map(|d| match d {
                Delta::Text { text, .. } => Some(text.as_str()),
                _ => None,
            }).collect();
            assert_eq!(streamed, "Got itHere are a few **AI");
            assert!(fin["output_text"].as_str().unwrap().starts_with("Got it \u{2014} I\u{2019}ll quickly"));
        };
    fixture_openai_reasoning_encrypted_content: "openai--responses--openai-reasoning-encrypted-content.1.chunks.txt"
        => |runs: &[Run]| assert_eq!(runs.len(), 4);
    fixture_openai_shell_container_multiturn: "openai--responses--openai-shell-container-multiturn.1.chunks.txt";
    fixture_openai_shell_container: "openai--responses--openai-shell-container.1.chunks.txt";
    fixture_openai_shell_local_multiturn: "openai--responses--openai-shell-local-multiturn.1.chunks.txt";
    fixture_openai_shell_skills: "openai--responses--openai-shell-skills.1.chunks.txt";
    fixture_openai_shell_tool: "openai--responses--openai-shell-tool.1.chunks.txt"
        => |runs: &[Run]| assert_eq!(runs.len(), 2);
    fixture_openai_tool_search: "openai--responses--openai-tool-search.1.chunks.txt"
        => |runs: &[Run]| {
            // The only call sits at output_index 2; it is still tool call 0.
            assert_eq!(runs[0].deltas[0], tool(0, Some("call_pddfxhfOx4gY56zn4vIIEbFp"), Some("get_weather"), "{\""));
        };
    fixture_openai_web_search_tool: "openai--responses--openai-web-search-tool.1.chunks.txt"
        => |runs: &[Run]| {
            // Six searches of three steps each, twelve url citations, no calls to make.
            let count = |f: fn(&Delta) -> bool| runs[0].deltas.iter().filter(|d| f(d)).count();
            assert_eq!(count(|d| matches!(d, Delta::ToolStatus { tool, .. } if tool == "web_search")), 18);
            assert_eq!(count(|d| matches!(d, Delta::Citation(c) if c.kind == "url" && c.url.is_some())), 12);
            assert_eq!(runs[0].deltas.last().map(|d| matches!(d, Delta::Usage { .. })), Some(true));
            assert!(runs[0].deltas.contains(&finish("stop")));
        };
    fixture_openai_parallel_tool_call_wrapper: "openai--responses--parallel-tool-call-wrapper.1.chunks.txt"
        => |runs: &[Run]| {
            // Upstream's capture has a brace missing on its first and last lines: both are
            // parse errors (checked above), the call between them streams as usual.
            let run = &runs[0];
            assert_eq!(run.deltas.len(), 2);
            let Delta::ToolCallDelta { id, name, arguments, .. } = &run.deltas[0] else {
                panic!("a tool call");
            };
            assert_eq!((id.as_deref(), name.as_deref()), (Some("call_parallel"), Some("parallel")));
            assert!(arguments.starts_with("{\"tool_uses\":["));
            // Its `output_item.done` came before the broken last line: the call is whole.
            assert_eq!(run.deltas[1], whole(0, "call_parallel", "parallel", arguments));
            assert_eq!(run.fin["output"][0]["type"], "function_call");
        };
    fixture_openai_programmatic_tool_calling_1: "openai--responses--programmatic-tool-calling.1.chunks.txt";
    fixture_openai_programmatic_tool_calling_2: "openai--responses--programmatic-tool-calling.2.chunks.txt";
    fixture_openai_programmatic_tool_calling_3: "openai--responses--programmatic-tool-calling.3.chunks.txt";
    fixture_xai_image_generation_tool: "xai--responses--xai-image-generation-tool.1.chunks.txt";
    fixture_xai_text_streaming: "xai--responses--xai-text-streaming.1.chunks.txt";
    fixture_xai_text_with_reasoning_streaming_store_false: "xai--responses--xai-text-with-reasoning-streaming-store-false.1.chunks.txt";
    fixture_xai_text_with_reasoning_streaming: "xai--responses--xai-text-with-reasoning-streaming.1.chunks.txt"
        => |runs: &[Run]| {
            assert!(runs[0].deltas.iter().any(|d| matches!(d, Delta::Reasoning { .. })));
            assert!(runs[0].fin["output_text"].as_str().unwrap().starts_with("### Overview of Sonoran Cuisine"));
        };
    fixture_xai_web_search_tool: "xai--responses--xai-web-search-tool.1.chunks.txt";
    fixture_xai_x_search_tool: "xai--responses--xai-x-search-tool.chunks.txt";
}

/// Every fixture holding Responses events has a test above. A file is one when its first
/// line is an event whose `type` starts with `response.` (or is `error`); a first line that
/// is not valid JSON counts when it reads like one.
#[test]
fn every_responses_fixture_is_tested() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(FIXTURE_DIR).expect("fixture dir") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let text = std::fs::read_to_string(format!("{FIXTURE_DIR}{name}")).unwrap_or_default();
        let first = text.lines().next().unwrap_or_default().trim();
        let first = first.strip_prefix("data:").unwrap_or(first).trim();
        let is_responses = match serde_json::from_str::<Value>(first) {
            Ok(value) => value["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("response.") || t == "error"),
            Err(_) => first.starts_with("{\"type\":\"response."),
        };
        if is_responses {
            found.push(name);
        }
    }
    found.sort();
    let mut listed: Vec<_> = RESPONSES_FIXTURES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

// UTF-16 surrogate pairs split across deltas (issue 13, `surrogates.rs`).

/// A delta event of `kind` at `output_index` (plus `extra` members) with `delta`, a JSON string
/// as written (so that it may hold lone surrogate escapes).
fn raw_delta(kind: &str, output_index: u64, extra: &str, delta: &str) -> String {
    format!(
        r#"{{"type":"response.{kind}.delta","output_index":{output_index},{extra}"delta":{delta}}}"#
    )
}

fn texts_of(deltas: &[Delta]) -> Vec<&str> {
    deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Text { text, .. }
            | Delta::Refusal { text, .. }
            | Delta::Reasoning { text, .. } => Some(text.as_str()),
            Delta::ToolCall { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_surrogate_pair_split_across_deltas_joins_in_every_text_field() {
    // (event kind, extra members, where the accumulated text sits in `final`)
    let fields = [
        (
            "output_text",
            r#""content_index":0,"#,
            "/output/0/content/0/text",
        ),
        (
            "refusal",
            r#""content_index":0,"#,
            "/output/0/content/0/refusal",
        ),
        (
            "reasoning_text",
            r#""content_index":0,"#,
            "/output/0/content/0/text",
        ),
        (
            "reasoning_summary_text",
            r#""summary_index":0,"#,
            "/output/0/summary/0/text",
        ),
    ];
    for (kind, extra, path) in fields {
        let (deltas, fin, _) = run(&[
            raw_delta(kind, 0, extra, r#""go \ud83d""#),
            raw_delta(kind, 0, extra, r#""\ude80!""#),
            raw_delta(kind, 0, extra, r#""\ud83d""#),
            raw_delta(kind, 0, extra, r#""\ude80""#),
        ]);
        // The high half alone adds nothing; the whole character goes where it is completed.
        assert_eq!(texts_of(&deltas), ["go ", "🚀!", "🚀"], "{kind}");
        assert_eq!(fin.pointer(path), Some(&json!("go 🚀!🚀")), "{kind}");
    }
    let (_, fin, _) = run(&[
        raw_delta("output_text", 0, "", r#""\ud83d""#),
        raw_delta("output_text", 0, "", r#""\ude80""#),
    ]);
    assert_eq!(fin["output_text"], "🚀");
}

#[test]
fn halves_join_only_within_the_same_output_and_summary_index() {
    let summary = |part: u64, delta: &str| {
        raw_delta(
            "reasoning_summary_text",
            0,
            &format!(r#""summary_index":{part},"#),
            delta,
        )
    };
    let (deltas, fin, _) = run(&[
        summary(0, r#""a\ud83d""#),
        summary(1, r#""\ude80b""#),
        summary(0, r#""\ude80""#),
        raw_delta("output_text", 1, "", r#""c\ud83d""#),
        raw_delta("refusal", 1, "", r#""\ude80d""#),
        raw_delta("output_text", 2, "", r#""\ude80e""#),
        raw_delta("output_text", 1, "", r#""\ude80""#),
    ]);
    assert_eq!(
        texts_of(&deltas),
        ["a", "\u{FFFD}b", "🚀", "c", "\u{FFFD}d", "\u{FFFD}e", "🚀"]
    );
    assert_eq!(fin["output"][0]["summary"][0]["text"], "a🚀");
    assert_eq!(fin["output"][0]["summary"][1]["text"], "\u{FFFD}b");
    assert_eq!(fin["output_text"], "c🚀\u{FFFD}e");
}

#[test]
fn function_call_arguments_split_inside_a_pair_still_parse_as_json() {
    let args = |item: &str, index: u64, delta: &str| {
        let extra = format!(r#""item_id":"{item}","#);
        raw_delta("function_call_arguments", index, &extra, delta)
    };
    let (deltas, fin, _) = run(&[
        call_added("fc_1", 0, "call_1", "say"),
        args("fc_1", 0, r#""{\"text\":\"\ud83d""#),
        // Another call in between does not separate fc_1's halves.
        call_added("fc_2", 1, "call_2", "say"),
        args("fc_2", 1, r#""\ude80""#),
        args("fc_1", 0, r#""\ude80\"}""#),
        args_done("fc_1", 0, r#"{"text":"🚀"}"#),
    ]);
    assert_eq!(
        deltas,
        [
            tool(0, Some("call_1"), Some("say"), r#"{"text":""#),
            tool(1, Some("call_2"), Some("say"), "\u{FFFD}"),
            tool(0, None, None, "🚀\"}"),
        ]
    );
    let arguments = fin["output"][0]["arguments"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        json!({"text": "🚀"})
    );
}

#[test]
fn a_high_surrogate_never_completed_is_a_replacement_character() {
    // At `response.completed`: before the finish.
    let completed = json!({"type": "response.completed", "response": head("completed")});
    let (deltas, _, _) = run(&[
        raw_delta("output_text", 0, "", r#""end \ud83d""#),
        completed.to_string(),
    ]);
    assert_eq!(deltas, [text("end "), text("\u{FFFD}"), finish("stop")]);

    // When the input just ends (the decoder calls `flush`), for text and arguments alike.
    let (mut deltas, _, mut parser) = run(&[
        raw_delta("output_text", 0, "", r#""\ud83d""#),
        call_added("fc_1", 1, "call_1", "f"),
        raw_delta(
            "function_call_arguments",
            1,
            r#""item_id":"fc_1","#,
            r#""\ud83d""#,
        ),
    ]);
    assert_eq!(deltas, []);
    parser.flush(&mut deltas);
    assert_eq!(
        deltas,
        [
            text("\u{FFFD}"),
            tool(0, Some("call_1"), Some("f"), "\u{FFFD}")
        ]
    );
    let fin = final_value(&parser);
    assert_eq!(fin["output_text"], "\u{FFFD}");
    assert_eq!(fin["output"][1]["arguments"], "\u{FFFD}");

    // Followed by a delta that does not start with a low half.
    let (deltas, _, _) = run(&[
        raw_delta("output_text", 0, "", r#""a\ud83d""#),
        raw_delta("output_text", 0, "", r#""b""#),
    ]);
    assert_eq!(deltas, [text("a"), text("\u{FFFD}b")]);
}

#[test]
fn a_lone_low_surrogate_or_one_inside_a_delta_is_a_replacement_character() {
    let (deltas, fin, _) = run(&[
        raw_delta("output_text", 0, "", r#""\ude80a""#),
        raw_delta("output_text", 0, "", r#""b\ud83dc\udE80d""#),
    ]);
    assert_eq!(deltas, [text("\u{FFFD}a"), text("b\u{FFFD}c\u{FFFD}d")]);
    assert_eq!(fin["output_text"], "\u{FFFD}ab\u{FFFD}c\u{FFFD}d");
}

#[test]
fn paired_escapes_and_escaped_backslashes_read_as_before() {
    let (deltas, fin, _) = run(&[
        raw_delta("output_text", 0, "", r#""\ud83d\ude80 \uD83D\uDE80""#),
        raw_delta("output_text", 0, "", r#"" \\ud83d""#),
        raw_delta("output_text", 0, "", r#"" \\ud83d \ud83d""#),
        raw_delta("output_text", 0, "", r#""\ude80""#),
    ]);
    assert_eq!(
        deltas,
        [
            text("🚀 🚀"),
            text(r" \ud83d"),
            text(r" \ud83d "),
            text("🚀")
        ]
    );
    assert_eq!(fin["output_text"], r"🚀 🚀 \ud83d \ud83d 🚀");
}
