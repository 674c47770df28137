//! Wire formats of OpenAI-compatible streaming endpoints: one `data:` payload in, `Delta`s out.
//! Knows nothing of HTTP or napi: the `stream` module drives a `WireParser` with SSE events.

pub mod chat;
pub mod completions;
pub(crate) mod errors;
mod fields;
pub mod partial_json;
pub mod responses;
mod surrogates;
#[cfg(test)]
mod test_deltas;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::sse::SseEventRef;
use partial_json::JsonValue;

/// What a request asked for that changes what its wire parser builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireOptions {
    /// The request asked for JSON output (chat `response_format` json_schema / json_object,
    /// responses `text.format`): `final()` gets `message.parsed` / `output_parsed`.
    pub json: bool,
    /// `partialJson: true`: every `ToolCallDelta` carries `partial`.
    pub partial_json: bool,
}

/// The one Rust representation of a delta. Serialises to the JS `Delta` union of `index.d.ts`
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
    /// A fragment of a tool call: `arguments` is the fragment; `id` and `name` come when the
    /// provider sends them (usually on the first fragment).
    ToolCallDelta {
        choice: u32,
        index: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        arguments: String,
        kind: ToolKind,
        /// The call's arguments parsed so far (request option `partialJson: true`), under the
        /// snapshot rules of `partial_json`; absent while nothing shows yet.
        #[serde(skip_serializing_if = "Option::is_none")]
        partial: Option<JsonValue>,
    },
    /// A whole tool call, once its arguments are complete. The wire parser is the one place
    /// that decides when that is (chat: `ChoiceState::complete_calls`; responses: the call's
    /// `output_item.done`); `WireParser::close` sends the rest when the stream ends.
    ToolCall {
        choice: u32,
        index: u32,
        id: String,
        name: String,
        arguments: String,
        kind: ToolKind,
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

/// What kind of tool a call is for (`kind` in the Delta union of `index.d.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// A function the caller declared (chat tool calls, responses function calls).
    Function,
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

    /// The input ended (or failed): whatever the format still holds back goes out now. A lone
    /// UTF-16 high surrogate ending a field's last value becomes U+FFFD (see `surrogates`).
    fn flush(&mut self, _out: &mut Vec<Delta>) {}

    /// True when the stream may end without a terminal marker and still count as whole
    /// (every choice seen has a finish reason).
    fn is_complete(&self) -> bool;

    /// End of a stream that ended normally: the deltas still owed (whole tool calls that no
    /// later event completed).
    fn close(&mut self, _out: &mut Vec<Delta>) {}

    /// The accumulated result so far, shaped like the non-streaming API object, as JSON.
    fn final_json(&self) -> String;

    /// Choice 0's content parser, when this parser keeps one for `final()` (the request asked
    /// for JSON): a recording `PartialJson` that the decoder reads `objects()` patches from,
    /// so that the same text is not parsed twice. `None` until the first content arrives.
    fn content_json(&mut self) -> Option<&mut partial_json::PartialJson> {
        None
    }

    /// For formats whose events carry a `sequence_number` (the Responses API): the highest one
    /// seen, so that a broken background stream can resume after it. Events at or below it that
    /// arrive again after a resume must be ignored by the parser itself.
    fn resume_after(&self) -> Option<u64> {
        None
    }
}
