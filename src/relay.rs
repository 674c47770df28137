//! Re-encodes a batch for clients: the relay formats of `pipeTo` (`RelayFormat` in
//! `index.d.ts`; `lib/relay.js` writes them out). Every data line is JSON or split per line,
//! so no payload text can inject SSE fields or break a line-delimited format.

use crate::decode::Batch;
use crate::openai::Delta;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayFormat {
    /// `data: {chunk}` SSE, the provider's chunks relayed as they came.
    OpenAi,
    /// Named SSE events for browser `EventSource`.
    Events,
    /// Plain content text (choice 0).
    Text,
    /// One Delta JSON per line.
    Ndjson,
}

impl RelayFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "openai" => Some(RelayFormat::OpenAi),
            "events" => Some(RelayFormat::Events),
            "text" => Some(RelayFormat::Text),
            "ndjson" => Some(RelayFormat::Ndjson),
            _ => None,
        }
    }
}

/// The bytes a client receives for `batch` in `format` (the end of the stream is written by
/// the caller, which knows how it ended).
pub fn render(batch: &Batch, format: RelayFormat) -> String {
    let mut out = String::new();
    match format {
        RelayFormat::OpenAi => {
            for &(start, end) in &batch.raw_spans {
                push_data_lines(&mut out, &batch.raw_json[start..end]);
                out.push('\n');
            }
        }
        RelayFormat::Events => {
            for delta in &batch.deltas {
                push_event(&mut out, delta);
            }
        }
        RelayFormat::Text => out.push_str(&batch.text),
        RelayFormat::Ndjson => {
            for delta in &batch.deltas {
                push_one_line(&mut out, &to_json(delta));
                out.push('\n');
            }
        }
    }
    out
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serialising plain data into a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// `event: name` then the data. Text of choice 0 travels as a JSON string (what a browser
/// wants); other choices carry the whole delta so the choice index is not lost.
fn push_event(out: &mut String, delta: &Delta) {
    let (name, data) = match delta {
        Delta::Text { choice, text }
        | Delta::Refusal { choice, text }
        | Delta::Reasoning { choice, text } => {
            let name = match delta {
                Delta::Text { .. } => "text",
                Delta::Refusal { .. } => "refusal",
                _ => "reasoning",
            };
            let data = if *choice == 0 {
                to_json(text.as_str())
            } else {
                to_json(delta)
            };
            (name, data)
        }
        Delta::ToolCallDelta { .. } => ("toolCallDelta", to_json(delta)),
        Delta::ToolCall { .. } => ("toolCall", to_json(delta)),
        Delta::Finish { choice, reason } => (
            "finish",
            to_json(&serde_json::json!({ "reason": reason, "choice": choice })),
        ),
        Delta::Usage { usage } => ("usage", usage.0.get().to_string()),
    };
    out.push_str("event: ");
    out.push_str(name);
    out.push('\n');
    push_data_lines(out, &data);
    out.push('\n');
}

/// One `data:` line per line of `json`. Serialised JSON has no raw line breaks, but raw
/// provider JSON may (whitespace between tokens, from multi-line `data:` fields).
fn push_data_lines(out: &mut String, json: &str) {
    for line in json.split(['\n', '\r']) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
}

/// JSON on one line: raw line breaks can only be whitespace between tokens, so a space is
/// equivalent.
fn push_one_line(out: &mut String, json: &str) {
    if json.contains(['\n', '\r']) {
        out.push_str(&json.replace(['\n', '\r'], " "));
    } else {
        out.push_str(json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Decoder;
    use crate::openai::chat::ChatParser;

    fn batch_of(sse: &str) -> Batch {
        let mut decoder = Decoder::new(Box::new(ChatParser::new()), None);
        decoder.push(sse.as_bytes());
        decoder.take_batch()
    }

    const HOSTILE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\n\\ndata: x\\r\\nevent: y\"}}]}\n\n";

    #[test]
    fn openai_format_relays_chunks_verbatim() {
        let batch = batch_of(HOSTILE);
        let out = render(&batch, RelayFormat::OpenAi);
        assert_eq!(out, HOSTILE);
    }

    #[test]
    fn multi_line_provider_json_stays_one_event() {
        let batch = batch_of("data: {\"choices\":[],\ndata: \"usage\":{\"total_tokens\":3}}\n\n");
        let out = render(&batch, RelayFormat::OpenAi);
        assert_eq!(
            out,
            "data: {\"choices\":[],\ndata: \"usage\":{\"total_tokens\":3}}\n\n"
        );
        let events = render(&batch, RelayFormat::Events);
        assert!(
            events.starts_with("event: usage\ndata: {\"total_tokens\":3}\n\n"),
            "{events}"
        );
    }

    #[test]
    fn events_format_cannot_be_injected_by_payload_text() {
        let out = render(&batch_of(HOSTILE), RelayFormat::Events);
        assert_eq!(
            out,
            "event: text\ndata: \"a\\n\\ndata: x\\r\\nevent: y\"\n\n"
        );
    }

    #[test]
    fn ndjson_is_one_delta_per_line() {
        let out = render(&batch_of(HOSTILE), RelayFormat::Ndjson);
        assert_eq!(out.lines().count(), 1);
        let delta: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(delta["text"], "a\n\ndata: x\r\nevent: y");
    }

    #[test]
    fn text_format_is_choice_zero_content() {
        let out = render(&batch_of(HOSTILE), RelayFormat::Text);
        assert_eq!(out, "a\n\ndata: x\r\nevent: y");
    }

    /// A batch that went to the end of its stream (so `close` ran).
    fn finished_batch_of(sse: &str) -> Batch {
        let mut decoder = Decoder::new(Box::new(ChatParser::new()), None);
        decoder.push(sse.as_bytes());
        decoder.finish();
        decoder.take_batch()
    }

    const TOOL_CALL_SSE: &str = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn events_name_tool_call_fragments_and_whole_calls_apart() {
        let out = render(&finished_batch_of(TOOL_CALL_SSE), RelayFormat::Events);
        assert_eq!(
            out,
            concat!(
                "event: toolCallDelta\n",
                "data: {\"type\":\"toolCallDelta\",\"choice\":0,\"index\":0,\"id\":\"call_1\",\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\",\"kind\":\"function\"}\n\n",
                "event: toolCallDelta\n",
                "data: {\"type\":\"toolCallDelta\",\"choice\":0,\"index\":0,\"arguments\":\"\\\"Paris\\\"}\",\"kind\":\"function\"}\n\n",
                "event: toolCall\n",
                "data: {\"type\":\"toolCall\",\"choice\":0,\"index\":0,\"id\":\"call_1\",\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\",\"kind\":\"function\"}\n\n",
                "event: finish\n",
                "data: {\"choice\":0,\"reason\":\"tool_calls\"}\n\n",
            )
        );
    }

    #[test]
    fn ndjson_carries_fragments_and_whole_calls() {
        let out = render(&finished_batch_of(TOOL_CALL_SSE), RelayFormat::Ndjson);
        let types: Vec<String> = out
            .lines()
            .map(|line| {
                let delta: serde_json::Value = serde_json::from_str(line).unwrap();
                delta["type"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            types,
            ["toolCallDelta", "toolCallDelta", "toolCall", "finish"]
        );
        let whole: serde_json::Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
        assert_eq!(whole["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(whole["id"], "call_1");
        assert_eq!(whole["kind"], "function");
    }

    #[test]
    fn events_of_other_choices_keep_their_index() {
        let out = render(
            &batch_of("data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\n"),
            RelayFormat::Events,
        );
        assert_eq!(
            out,
            "event: text\ndata: {\"type\":\"text\",\"choice\":1,\"text\":\"b\"}\n\nevent: finish\ndata: {\"choice\":1,\"reason\":\"stop\"}\n\n"
        );
    }
}
