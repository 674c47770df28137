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
        /// The provider runs this call itself (see `ToolCall::hosted`). Not serialised.
        #[serde(skip)]
        hosted: bool,
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
        /// An MCP call's `server_label`.
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        /// A hosted call's result as the provider sent it (an MCP call's `output`, a code
        /// interpreter call's `outputs`).
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<RawJson>,
        /// A hosted call's error as the provider sent it (an MCP call's `error`).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<RawJson>,
        /// The provider runs this call itself (MCP, code interpreter, a container shell): the
        /// caller has nothing to execute. Not serialised; the `ai-sdk` relay marks such calls
        /// `providerExecuted`.
        #[serde(skip)]
        hosted: bool,
    },
    /// A hosted tool's progress (`response.web_search_call.searching`, ...): `tool` is the
    /// item type less `_call`, `status` the last word of the event type.
    ToolStatus {
        choice: u32,
        id: String,
        tool: String,
        status: String,
    },
    /// An annotation of the output text (`response.output_text.annotation.added`). Boxed:
    /// its many optional fields would make every `Delta` as large.
    Citation(Box<Citation>),
    /// An image from image generation: each `partial_image` (`partial: true`, `index` its
    /// `partial_image_index`), then the item's `result` (`partial: false`, with `mediaType`
    /// from its `output_format`).
    #[serde(rename_all = "camelCase")]
    Image {
        choice: u32,
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        b64: String,
        partial: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// An MCP server asks the caller to approve a call (`mcp_approval_request` item): answer
    /// with an `mcp_approval_response` input item naming `id`.
    Approval {
        choice: u32,
        id: String,
        server: String,
        name: String,
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

/// An annotation of the output text: `kind` is its type less `_citation` (`url`, `file`,
/// `container_file`, `file_path`, ...). Serialises inside `Delta::Citation` with its fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    pub choice: u32,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// A file citation's position in the text (`index`: it has no range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// What kind of tool a call is for (`kind` in the Delta union of `index.d.ts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// A function the caller declared (chat tool calls, responses function calls).
    #[default]
    Function,
    /// A free-form (custom) tool the caller declared: `arguments` is its raw input text.
    Custom,
    /// A call to a remote MCP server, run by the provider.
    Mcp,
    /// Code interpreter, run by the provider: `arguments` is the code.
    CodeInterpreter,
    /// The shell tool: `arguments` is its commands, one per line.
    Shell,
    /// The local shell tool (run by the caller): `arguments` is the item's `action` JSON.
    LocalShell,
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
