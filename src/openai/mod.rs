//! Wire formats of OpenAI-compatible streaming endpoints: one `data:` payload in, `Delta`s out.
//! Knows nothing of HTTP or napi: the `stream` module drives a `WireParser` with SSE events.

pub mod chat;
pub mod completions;
pub mod responses;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::sse::SseEventRef;

/// The one Rust representation of a delta. Serialises to the JS `Delta` union of API.md
/// (`{"type":"text","choice":0,"text":"..."}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Delta {
    Text {
        choice: u32,
        text: String,
    },
    Refusal {
        choice: u32,
        text: String,
    },
    Reasoning {
        choice: u32,
        text: String,
    },
    ToolCall {
        choice: u32,
        index: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        arguments: String,
    },
    Finish {
        choice: u32,
        reason: String,
    },
    /// The provider's usage object, passed through as it came.
    Usage {
        usage: RawJson,
    },
}

/// A JSON value kept as its original text: serialised verbatim, compared by text.
#[derive(Debug, Clone)]
pub struct RawJson(pub Box<RawValue>);

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// What one event meant for the stream as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A provider object (a chunk or event) that `chunks()` consumers should see; keep reading.
    Chunk,
    /// Nothing for `chunks()` (a keep-alive, an unknown event type); keep reading.
    Ignored,
    /// The terminal marker (`[DONE]`, or a terminal event of the format): stop reading.
    Done,
}

/// Why a payload could not be turned into deltas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The payload is not the JSON this format expects. `line` holds its first 200 bytes.
    Parse { message: String, line: String },
    /// The provider reported an error inside the stream (`{"error": ...}` or `event: error`).
    Provider {
        message: String,
        kind: Option<String>,
        code: Option<String>,
        param: Option<String>,
    },
}

/// One streaming wire format (chat completions, responses, legacy completions).
pub trait WireParser: Send {
    /// Turns one SSE event into deltas appended to `out` and updates the accumulation.
    fn on_event(
        &mut self,
        event: &SseEventRef<'_>,
        out: &mut Vec<Delta>,
    ) -> Result<Step, WireError>;

    /// True when the stream may end without a terminal marker and still count as whole
    /// (every choice seen has a finish reason).
    fn is_complete(&self) -> bool;

    /// The accumulated result so far, shaped like the non-streaming API object, as JSON.
    fn final_json(&self) -> String;

    /// For formats whose events carry a `sequence_number` (the Responses API): the highest one
    /// seen, so that a broken background stream can resume after it. Events at or below it that
    /// arrive again after a resume must be ignored by the parser itself.
    fn resume_after(&self) -> Option<u64> {
        None
    }
}

// Shared by every wire format: how a bad payload and a provider's error object are reported.

/// How much of an offending payload a parse error quotes.
pub(crate) const QUOTE_BYTES: usize = 200;
/// The message of a provider error object that carries none.
pub(crate) const NO_MESSAGE: &str = "the provider reported an error without a message";

pub(crate) fn parse_error(message: String, data: &str) -> WireError {
    let mut end = data.len().min(QUOTE_BYTES);
    while !data.is_char_boundary(end) {
        end -= 1;
    }
    WireError::Parse {
        message,
        line: data[..end].to_owned(),
    }
}

/// An OpenAI error object (`message`, `type`, `code` string or number, `param`) or a string.
pub(crate) fn provider_error(error: &Value) -> WireError {
    let field = |key: &str| match error.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let message = match error {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => field("message"),
    };
    WireError::Provider {
        message: message.unwrap_or_else(|| NO_MESSAGE.to_owned()),
        kind: field("type"),
        code: field("code"),
        param: field("param"),
    }
}
