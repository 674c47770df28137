//! Re-encodes a batch for clients: the relay formats of `pipeTo` (`RelayFormat` in
//! `index.d.ts`; `lib/relay.js` writes them out). Every data line is JSON or split per line,
//! so no payload text can inject SSE fields or break a line-delimited format.
//!
//! Every format but `ai-sdk` renders a batch on its own. The AI SDK's UI message stream needs
//! to know what came before (which text or reasoning part is open, which tool calls were
//! started, the finish reason and usage that its `finish` part carries at the end): that state
//! is a [`UiMessageStream`], one per relay (`NativeUiRenderer` in `binding.rs`, made by
//! `lib/relay.js` for each `ai-sdk` relay).

use crate::decode::Batch;
use crate::openai::{Citation, Delta, RawJson, ToolKind};

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
    /// The AI SDK's UI message stream (`data: {part}` SSE), as `useChat` reads it. Rendered
    /// with state across batches: see [`UiMessageStream`].
    AiSdk,
}

impl RelayFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "openai" => Some(RelayFormat::OpenAi),
            "events" => Some(RelayFormat::Events),
            "text" => Some(RelayFormat::Text),
            "ndjson" => Some(RelayFormat::Ndjson),
            "ai-sdk" => Some(RelayFormat::AiSdk),
            _ => None,
        }
    }
}

/// The bytes a client receives for `batch` in `format` (the end of the stream is written by
/// the caller, which knows how it ended). `ai-sdk` renders the batch as if it began a stream
/// (its own `start` and parts); a relay keeps one [`UiMessageStream`] across its batches.
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
        RelayFormat::AiSdk => return UiMessageStream::new().render(batch),
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
        Delta::ToolStatus { .. } => ("toolStatus", to_json(delta)),
        Delta::Citation(_) => ("citation", to_json(delta)),
        Delta::Image { .. } => ("image", to_json(delta)),
        Delta::Approval { .. } => ("approval", to_json(delta)),
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

/// Which part of the UI message is open. A text or reasoning part opens with its first delta
/// and closes at anything else: the other kind, a tool call, the finish, the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum OpenPart {
    #[default]
    None,
    Text(u32),
    Reasoning(u32),
}

/// A tool call of choice 0 as its input streams (keyed by the Delta's `index`).
#[derive(Debug, Default)]
struct ToolInput {
    index: u32,
    id: Option<String>,
    name: Option<String>,
    /// `tool-input-start` went out (it needs both the id and the name).
    started: bool,
    /// Argument fragments that came before the id and name did.
    held: String,
    /// `tool-input-available` (or `-error`) went out.
    done: bool,
    /// The provider runs it: its parts say `providerExecuted`.
    hosted: bool,
}

/// The AI SDK's UI message stream for one stream, rendered batch by batch: `start` and
/// `start-step` first, then text / reasoning parts (`-start`, `-delta`s, `-end`), tool input
/// parts, and at the end (`end`) `finish-step` and `finish` (finish reason, usage as
/// `messageMetadata`) or an `error` part. Only choice 0 is rendered: a UI message is one
/// answer. Every part is one `data:` line of JSON serialised here, so no text a model writes
/// can break the framing. Only fields of the AI SDK's chunk schema are written (its v5 and v6
/// clients reject others).
#[derive(Debug, Default)]
pub struct UiMessageStream {
    /// The `messageId` of `start`: given by the caller, else (when `upstream_id`) the
    /// response's own id, else none (the client keeps the id it made).
    message_id: Option<String>,
    upstream_id: bool,
    started: bool,
    open: OpenPart,
    /// Text of the open part not written yet: consecutive deltas become one `-delta` part.
    pending: String,
    parts: u32,
    tools: Vec<ToolInput>,
    /// Hosted tools known only by their progress (web and file search, image generation):
    /// their item ids, and whether their output went out.
    progress: Vec<(String, bool)>,
    /// `source-url` / `source-document` parts so far (their ids are `source-N`).
    sources: u32,
    finish: Option<&'static str>,
    usage: Option<RawJson>,
    ended: bool,
}

impl UiMessageStream {
    /// `messageId` from the upstream response's id.
    pub fn new() -> Self {
        Self::with_message_id(None, true)
    }

    /// `message_id` for `start`; without one, the upstream response's id when `upstream_id`.
    pub fn with_message_id(message_id: Option<String>, upstream_id: bool) -> Self {
        UiMessageStream {
            message_id,
            upstream_id,
            ..Self::default()
        }
    }

    /// The parts of `batch`.
    pub fn render(&mut self, batch: &Batch) -> String {
        let mut out = String::new();
        if self.ended || (batch.delta_count == 0 && batch.chunk_count == 0) {
            return out;
        }
        self.start(&mut out, Some(batch));
        for delta in &batch.deltas {
            self.push(&mut out, delta);
        }
        self.flush(&mut out);
        out
    }

    /// The last parts: `error` with `error_text` when the stream failed, else `finish-step`
    /// and `finish`. Open text and reasoning parts are closed first (either way the text so far
    /// stays in the client's message). The caller adds `data: [DONE]`. Once only.
    pub fn end(&mut self, error_text: Option<&str>) -> String {
        let mut out = String::new();
        if self.ended {
            return out;
        }
        self.start(&mut out, None);
        self.close(&mut out);
        self.ended = true;
        if let Some(text) = error_text {
            push_part(&mut out, "error", &[("errorText", &to_json(text))]);
            return out;
        }
        out.push_str("data: {\"type\":\"finish-step\"}\n\n");
        let reason = self.finish.map(|r| format!("\"{r}\""));
        let metadata = self.usage.as_ref().map(usage_metadata);
        let fields: Vec<(&str, &str)> = [
            reason.as_deref().map(|r| ("finishReason", r)),
            metadata.as_deref().map(|m| ("messageMetadata", m)),
        ]
        .into_iter()
        .flatten()
        .collect();
        push_part(&mut out, "finish", &fields);
        out
    }

    fn start(&mut self, out: &mut String, batch: Option<&Batch>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = match self.message_id.take() {
            Some(id) => Some(id),
            None if self.upstream_id => batch.and_then(message_id),
            None => None,
        };
        match id {
            Some(id) => push_part(out, "start", &[("messageId", &to_json(&id))]),
            None => out.push_str("data: {\"type\":\"start\"}\n\n"),
        }
        out.push_str("data: {\"type\":\"start-step\"}\n\n");
    }

    fn push(&mut self, out: &mut String, delta: &Delta) {
        match delta {
            // A refusal is the answer's text as far as a chat UI goes.
            Delta::Text { choice: 0, text } | Delta::Refusal { choice: 0, text } => {
                self.stream_text(out, text, false)
            }
            Delta::Reasoning { choice: 0, text } => self.stream_text(out, text, true),
            Delta::ToolCallDelta {
                choice: 0,
                index,
                id,
                name,
                arguments,
                hosted,
                ..
            } => {
                self.close(out);
                let tool = self.tool(*index);
                if tool.done {
                    return;
                }
                tool.hosted |= *hosted;
                if tool.id.is_none() {
                    tool.id.clone_from(id);
                }
                if tool.name.is_none() {
                    tool.name.clone_from(name);
                }
                if !tool.started {
                    if let (Some(id), Some(name)) = (&tool.id, &tool.name) {
                        let (json_id, json_name) = (to_json(id), to_json(name));
                        let mut fields =
                            vec![("toolCallId", json_id.as_str()), ("toolName", &json_name)];
                        if tool.hosted {
                            fields.push(("providerExecuted", "true"));
                        }
                        push_part(out, "tool-input-start", &fields);
                        tool.started = true;
                        let held = std::mem::take(&mut tool.held);
                        push_input_delta(out, id, &held);
                    } else {
                        tool.held.push_str(arguments);
                        return;
                    }
                }
                if let Some(id) = &tool.id {
                    push_input_delta(out, id, arguments);
                }
            }
            Delta::ToolCall {
                choice: 0,
                index,
                id,
                name,
                arguments,
                kind,
                output,
                error,
                hosted,
                ..
            } => {
                self.close(out);
                let tool = self.tool(*index);
                if tool.done {
                    return;
                }
                tool.done = true;
                // The id the client already knows this call by, if its input streamed.
                let call_id = match (&tool.id, tool.started) {
                    (Some(started), true) => started.as_str(),
                    _ => id.as_str(),
                };
                let (call_id, name) = (to_json(call_id), to_json(name));
                let mut fields = vec![("toolCallId", call_id.as_str()), ("toolName", &name)];
                let executed: &[(&str, &str)] = if *hosted {
                    &[("providerExecuted", "true")]
                } else {
                    &[]
                };
                match input_of(*kind, arguments) {
                    Ok(input) => {
                        fields.push(("input", &input));
                        fields.extend_from_slice(executed);
                        push_part(out, "tool-input-available", &fields);
                    }
                    Err(error) => {
                        let input = to_json(arguments.as_str());
                        let text = to_json(&format!(
                            "the tool call's arguments are not valid JSON: {error}"
                        ));
                        fields.extend([("input", input.as_str()), ("errorText", &text)]);
                        fields.extend_from_slice(executed);
                        push_part(out, "tool-input-error", &fields);
                    }
                }
                // A call the provider ran comes with its result (or error).
                let id = ("toolCallId", call_id.as_str());
                if let Some(output) = output.as_ref().filter(|_| *hosted) {
                    let output = ("output", output.0.get());
                    push_part(out, "tool-output-available", &[id, output, executed[0]]);
                } else if let Some(error) = error.as_ref().filter(|_| *hosted) {
                    let text = to_json(&error_text(error));
                    let text = ("errorText", text.as_str());
                    push_part(out, "tool-output-error", &[id, text, executed[0]]);
                }
            }
            Delta::ToolStatus {
                choice: 0,
                id,
                tool,
                status,
            } => self.progress(out, id, tool, status),
            Delta::Citation(citation) if citation.choice == 0 => {
                let Citation {
                    kind,
                    url,
                    title,
                    file_id,
                    filename,
                    ..
                } = citation.as_ref();
                // Sources may come inside the text: what is pending goes first, in order.
                self.flush(out);
                self.sources += 1;
                let source_id = to_json(&format!("source-{}", self.sources));
                let source_id = ("sourceId", source_id.as_str());
                if let (Some(url), "url") = (url, kind.as_str()) {
                    let url = to_json(url.as_str());
                    let title = title.as_deref().map(to_json);
                    let mut fields = vec![source_id, ("url", &url)];
                    fields.extend(title.as_deref().map(|t| ("title", t)));
                    push_part(out, "source-url", &fields);
                } else if let Some(document) = filename.as_ref().or(file_id.as_ref()) {
                    // The API does not say what the file is.
                    let title = to_json(document.as_str());
                    let filename = filename.as_deref().map(to_json);
                    let mut fields = vec![
                        source_id,
                        ("mediaType", "\"application/octet-stream\""),
                        ("title", &title),
                    ];
                    fields.extend(filename.as_deref().map(|f| ("filename", f)));
                    push_part(out, "source-document", &fields);
                } else {
                    self.sources -= 1;
                }
            }
            Delta::Image {
                choice: 0,
                b64,
                partial: false,
                media_type,
                ..
            } => {
                // Partial images are previews: the UI message keeps the finished one.
                self.close(out);
                let media_type = media_type.as_deref().unwrap_or("image/png");
                let url = to_json(&format!("data:{media_type};base64,{b64}"));
                let media_type = to_json(media_type);
                push_part(out, "file", &[("url", &url), ("mediaType", &media_type)]);
            }
            Delta::Finish { choice: 0, reason } => {
                self.close(out);
                self.finish = Some(finish_reason(reason));
            }
            Delta::Usage { usage } => self.usage = Some(usage.clone()),
            // Other choices: a UI message is one answer.
            _ => {}
        }
    }

    fn stream_text(&mut self, out: &mut String, text: &str, reasoning: bool) {
        if text.is_empty() {
            return;
        }
        let same = matches!(
            (self.open, reasoning),
            (OpenPart::Text(_), false) | (OpenPart::Reasoning(_), true)
        );
        if !same {
            self.close(out);
            self.parts += 1;
            let n = self.parts;
            let (open, kind) = if reasoning {
                (OpenPart::Reasoning(n), "reasoning")
            } else {
                (OpenPart::Text(n), "text")
            };
            self.open = open;
            out.push_str("data: {\"type\":\"");
            out.push_str(kind);
            out.push_str("-start\",\"id\":\"");
            out.push_str(kind);
            out.push('-');
            out.push_str(&n.to_string());
            out.push_str("\"}\n\n");
        }
        self.pending.push_str(text);
    }

    /// Writes the open part's pending text as one `-delta` part.
    fn flush(&mut self, out: &mut String) {
        if self.pending.is_empty() {
            return;
        }
        let (kind, n) = match self.open {
            OpenPart::Text(n) => ("text", n),
            OpenPart::Reasoning(n) => ("reasoning", n),
            OpenPart::None => return self.pending.clear(),
        };
        out.push_str("data: {\"type\":\"");
        out.push_str(kind);
        out.push_str("-delta\",\"id\":\"");
        out.push_str(kind);
        out.push('-');
        out.push_str(&n.to_string());
        out.push_str("\",\"delta\":");
        out.push_str(&to_json(self.pending.as_str()));
        out.push_str("}\n\n");
        self.pending.clear();
    }

    /// Ends the open text or reasoning part.
    fn close(&mut self, out: &mut String) {
        self.flush(out);
        let (kind, n) = match std::mem::take(&mut self.open) {
            OpenPart::Text(n) => ("text", n),
            OpenPart::Reasoning(n) => ("reasoning", n),
            OpenPart::None => return,
        };
        out.push_str("data: {\"type\":\"");
        out.push_str(kind);
        out.push_str("-end\",\"id\":\"");
        out.push_str(kind);
        out.push('-');
        out.push_str(&n.to_string());
        out.push_str("\"}\n\n");
    }

    /// A hosted tool known only by its progress events becomes a provider-executed tool part
    /// of its own: started at its first event, its output (the status) at `completed`, an
    /// error at `failed`. Calls that stream an input (MCP, code interpreter, shell) have their
    /// `ToolCall` for that, and an MCP server's tool listing is no call at all.
    fn progress(&mut self, out: &mut String, id: &str, tool: &str, status: &str) {
        if matches!(
            tool,
            "mcp" | "mcp_list_tools" | "code_interpreter" | "shell"
        ) || id.is_empty()
        {
            return;
        }
        let at = match self.progress.iter().position(|(known, _)| known == id) {
            Some(at) => at,
            None => {
                self.close(out);
                let (call_id, name) = (to_json(id), to_json(tool));
                let head = [
                    ("toolCallId", call_id.as_str()),
                    ("toolName", &name),
                    ("providerExecuted", "true"),
                ];
                push_part(out, "tool-input-start", &head);
                let available = [head[0], head[1], ("input", "{}"), head[2]];
                push_part(out, "tool-input-available", &available);
                self.progress.push((id.to_owned(), false));
                self.progress.len() - 1
            }
        };
        if self.progress[at].1 || !matches!(status, "completed" | "failed") {
            return;
        }
        self.progress[at].1 = true;
        self.close(out);
        let call_id = to_json(id);
        let executed = ("providerExecuted", "true");
        if status == "completed" {
            let output = to_json(&serde_json::json!({ "status": status }));
            push_part(
                out,
                "tool-output-available",
                &[("toolCallId", &call_id), ("output", &output), executed],
            );
        } else {
            let text = to_json(&format!("the {tool} call failed"));
            push_part(
                out,
                "tool-output-error",
                &[("toolCallId", &call_id), ("errorText", &text), executed],
            );
        }
    }

    fn tool(&mut self, index: u32) -> &mut ToolInput {
        let at = match self.tools.iter().position(|t| t.index == index) {
            Some(at) => at,
            None => {
                self.tools.push(ToolInput {
                    index,
                    ..ToolInput::default()
                });
                self.tools.len() - 1
            }
        };
        &mut self.tools[at]
    }
}

/// `data: {"type":"<kind>",...}` and the blank line: `fields` are names and JSON values, in
/// order (`type` first, as the AI SDK writes it). A value's raw line breaks (only possible as
/// whitespace between tokens) become spaces, so a part is always one line.
fn push_part(out: &mut String, kind: &str, fields: &[(&str, &str)]) {
    out.push_str("data: {\"type\":\"");
    out.push_str(kind);
    out.push('"');
    for (name, json) in fields {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        push_one_line(out, json);
    }
    out.push_str("}\n\n");
}

fn push_input_delta(out: &mut String, id: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    push_part(
        out,
        "tool-input-delta",
        &[
            ("toolCallId", &to_json(id)),
            ("inputTextDelta", &to_json(text)),
        ],
    );
}

/// A tool call's arguments as the JSON of the `input` value, checked (and kept as the model
/// wrote them, less line breaks); no arguments at all are `{}`.
fn parse_input(arguments: &str) -> Result<String, serde_json::Error> {
    if arguments.trim().is_empty() {
        return Ok("{}".into());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(arguments)?;
    Ok(arguments.trim().to_owned())
}

/// A call's `input` value: function and MCP arguments are JSON already; code, commands and
/// free-form input are text, given as the object the AI SDK's own OpenAI provider uses
/// (`{ code }`, `{ commands }`) or, for a custom tool, as a JSON string.
fn input_of(kind: ToolKind, arguments: &str) -> Result<String, serde_json::Error> {
    match kind {
        ToolKind::Function | ToolKind::Mcp | ToolKind::LocalShell => parse_input(arguments),
        ToolKind::Custom => Ok(to_json(arguments)),
        ToolKind::CodeInterpreter => Ok(to_json(&serde_json::json!({ "code": arguments }))),
        ToolKind::Shell => {
            let commands: Vec<&str> = arguments.lines().collect();
            Ok(to_json(&serde_json::json!({ "commands": commands })))
        }
    }
}

/// A hosted call's error as one line of text: its `message` when it has one.
fn error_text(error: &RawJson) -> String {
    let value: serde_json::Value = serde_json::from_str(error.0.get()).unwrap_or_default();
    match &value {
        serde_json::Value::String(text) => text.clone(),
        _ => value["message"]
            .as_str()
            .map_or_else(|| error.0.get().to_owned(), str::to_owned),
    }
}

/// OpenAI's finish reason in the AI SDK's words.
fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "stop" => "stop",
        "length" => "length",
        "tool_calls" | "function_call" => "tool-calls",
        "content_filter" => "content-filter",
        _ => "other",
    }
}

/// `messageMetadata` of the `finish` part: `{ usage, providerUsage }`, `usage` in the AI SDK's
/// names (`inputTokens`, `outputTokens`, `totalTokens`, `reasoningTokens`,
/// `cachedInputTokens`, those the provider sent), `providerUsage` the object as it came.
fn usage_metadata(raw: &RawJson) -> String {
    let value: serde_json::Value = serde_json::from_str(raw.0.get()).unwrap_or_default();
    let first = |paths: &[&str]| {
        paths
            .iter()
            .find_map(|p| value.pointer(p).and_then(serde_json::Value::as_u64))
    };
    let mut usage = String::from("{");
    for (name, paths) in [
        ("inputTokens", &["/prompt_tokens", "/input_tokens"][..]),
        (
            "outputTokens",
            &["/completion_tokens", "/output_tokens"][..],
        ),
        ("totalTokens", &["/total_tokens"][..]),
        (
            "reasoningTokens",
            &[
                "/completion_tokens_details/reasoning_tokens",
                "/output_tokens_details/reasoning_tokens",
            ][..],
        ),
        (
            "cachedInputTokens",
            &[
                "/prompt_tokens_details/cached_tokens",
                "/input_tokens_details/cached_tokens",
            ][..],
        ),
    ] {
        if let Some(n) = first(paths) {
            if usage.len() > 1 {
                usage.push(',');
            }
            usage.push_str(&format!("\"{name}\":{n}"));
        }
    }
    usage.push('}');
    format!("{{\"usage\":{},\"providerUsage\":{}}}", usage, raw.0.get())
}

/// The response's id, from the first provider object (chat chunks' `id`, the responses
/// `response.created` event's `response.id`): the UI message's `messageId`.
fn message_id(batch: &Batch) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        id: Option<String>,
        response: Option<Inner>,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        id: Option<String>,
    }
    let &(start, end) = batch.raw_spans.first()?;
    let head: Head = serde_json::from_str(&batch.raw_json[start..end]).ok()?;
    head.response
        .and_then(|r| r.id)
        .or(head.id)
        .filter(|id| !id.is_empty())
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

    /// The parts of a whole stream rendered batch by batch (one SSE event a batch), then ended.
    fn ui_parts(events: &[&str], error: Option<&str>) -> Vec<serde_json::Value> {
        let mut decoder = Decoder::new(Box::new(ChatParser::new()), None);
        let mut ui = UiMessageStream::new();
        let mut out = String::new();
        for event in events {
            decoder.push(event.as_bytes());
            out.push_str(&ui.render(&decoder.take_batch()));
        }
        decoder.finish();
        out.push_str(&ui.render(&decoder.take_batch()));
        out.push_str(&ui.end(error));
        assert!(out.ends_with("\n\n"), "{out}");
        out.split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let json = block.strip_prefix("data: ").expect("one data line a part");
                assert!(!json.contains('\n'), "one line: {json}");
                serde_json::from_str(json).unwrap()
            })
            .collect()
    }

    fn types_of(parts: &[serde_json::Value]) -> Vec<&str> {
        parts.iter().map(|p| p["type"].as_str().unwrap()).collect()
    }

    fn chunk(delta: &str, finish: Option<&str>) -> String {
        let finish = finish.map_or("null".to_owned(), |f| format!("\"{f}\""));
        format!("data: {{\"id\":\"chatcmpl-9\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n")
    }

    #[test]
    fn ai_sdk_text_opens_once_and_ends_at_the_finish() {
        let a = chunk("{\"content\":\"Hel\"}", None);
        let b = chunk("{\"content\":\"lo\"}", None);
        let c = chunk("{}", Some("stop"));
        let usage = "data: {\"id\":\"chatcmpl-9\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n";
        let parts = ui_parts(&[&a, &b, &c, usage, "data: [DONE]\n\n"], None);
        assert_eq!(
            types_of(&parts),
            [
                "start",
                "start-step",
                "text-start",
                "text-delta",
                "text-delta",
                "text-end",
                "finish-step",
                "finish"
            ]
        );
        assert_eq!(
            parts[0],
            serde_json::json!({"type": "start", "messageId": "chatcmpl-9"})
        );
        assert_eq!(parts[2]["id"], parts[3]["id"]);
        assert_eq!(parts[5]["id"], parts[2]["id"]);
        assert_eq!(parts[3]["delta"], "Hel");
        assert_eq!(parts[4]["delta"], "lo");
        assert_eq!(
            parts[7],
            serde_json::json!({
                "type": "finish", "finishReason": "stop",
                "messageMetadata": {
                    "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
                    "providerUsage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                },
            })
        );
    }

    /// The ai-sdk parts of Responses events (one `data:` line each), one batch per event.
    fn responses_ui_parts(events: &[&str]) -> Vec<serde_json::Value> {
        use crate::openai::responses::ResponsesParser;
        let mut decoder = Decoder::new(Box::new(ResponsesParser::new()), None);
        let mut ui = UiMessageStream::new();
        let mut out = String::new();
        for event in events {
            decoder.push(format!("data: {event}\n\n").as_bytes());
            out.push_str(&ui.render(&decoder.take_batch()));
        }
        decoder.finish();
        out.push_str(&ui.render(&decoder.take_batch()));
        out.push_str(&ui.end(None));
        out.split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let line = block.strip_prefix("data: ").expect("one data line");
                assert!(!line.contains('\n'), "{block}");
                serde_json::from_str(line).unwrap()
            })
            .collect()
    }

    #[test]
    fn ai_sdk_hosted_tools_are_provider_executed_parts() {
        let parts = responses_ui_parts(&[
            r#"{"type":"response.created","response":{"id":"resp_1"}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"mcp_call","id":"mcp_1","server_label":"zip","name":"shorten","arguments":""}}"#,
            r#"{"type":"response.mcp_call_arguments.delta","output_index":0,"item_id":"mcp_1","delta":"{\"u\":1}"}"#,
            // An output that looks like SSE framing stays inside its JSON string.
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"mcp_call","id":"mcp_1","server_label":"zip","name":"shorten","arguments":"{\"u\":1}","output":"ok\n\ndata: [DONE]\n\n","error":null}}"#,
            r#"{"type":"response.web_search_call.in_progress","output_index":1,"item_id":"ws_1"}"#,
            r#"{"type":"response.web_search_call.completed","output_index":1,"item_id":"ws_1"}"#,
            r#"{"type":"response.output_item.done","output_index":2,"item":{"type":"code_interpreter_call","id":"ci_1","code":"print(1)\n","outputs":[{"type":"logs","logs":"1"}]}}"#,
            r#"{"type":"response.output_text.delta","output_index":3,"delta":"See"}"#,
            r#"{"type":"response.output_text.annotation.added","output_index":3,"annotation":{"type":"url_citation","url":"https://a.example/","title":"A\n\nevent: x","start_index":0,"end_index":3}}"#,
            r#"{"type":"response.output_text.delta","output_index":3,"delta":" it"}"#,
            r#"{"type":"response.output_text.annotation.added","output_index":3,"annotation":{"type":"file_citation","file_id":"file-1","filename":"a.pdf","index":2}}"#,
            r#"{"type":"response.output_item.done","output_index":4,"item":{"type":"image_generation_call","id":"ig_1","result":"QUJD","output_format":"jpeg"}}"#,
            r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}}"#,
        ]);
        assert_eq!(
            types_of(&parts),
            [
                "start",
                "start-step",
                "tool-input-start",
                "tool-input-delta",
                "tool-input-available",
                "tool-output-available",
                "tool-input-start",
                "tool-input-available",
                "tool-output-available",
                "tool-input-start",
                "tool-input-delta",
                "tool-input-available",
                "tool-output-available",
                "text-start",
                "text-delta",
                "source-url",
                "text-delta",
                "source-document",
                "text-end",
                "file",
                "finish-step",
                "finish",
            ]
        );
        assert_eq!(parts[2]["providerExecuted"], true);
        assert_eq!(parts[4]["input"], serde_json::json!({"u": 1}));
        assert_eq!(parts[5]["output"], "ok\n\ndata: [DONE]\n\n");
        assert_eq!(parts[6]["toolName"], "web_search");
        assert_eq!(
            parts[8]["output"],
            serde_json::json!({"status": "completed"})
        );
        assert_eq!(
            parts[11]["input"],
            serde_json::json!({"code": "print(1)\n"})
        );
        assert_eq!(parts[12]["output"][0]["logs"], "1");
        assert_eq!(parts[15]["title"], "A\n\nevent: x");
        assert_eq!(parts[15]["sourceId"], "source-1");
        assert_eq!(parts[17]["title"], "a.pdf");
        assert_eq!(parts[19]["url"], "data:image/jpeg;base64,QUJD");
        // Nothing the caller must run: the finish is `stop`.
        assert_eq!(parts[21]["finishReason"], "stop");
    }

    #[test]
    fn ai_sdk_deltas_of_one_batch_become_one_part() {
        let sse = [
            chunk("{\"content\":\"a\"}", None),
            chunk("{\"content\":\"b\"}", None),
        ]
        .concat();
        let parts = ui_parts(&[&sse], None);
        assert_eq!(
            types_of(&parts),
            [
                "start",
                "start-step",
                "text-start",
                "text-delta",
                "text-end",
                "finish-step",
                "finish"
            ]
        );
        assert_eq!(parts[3]["delta"], "ab");
        assert!(
            parts[6].get("finishReason").is_none(),
            "no finish reason seen"
        );
    }

    #[test]
    fn ai_sdk_reasoning_then_text_then_a_tool_call() {
        let events = [
            chunk("{\"reasoning_content\":\"think\"}", None),
            chunk("{\"content\":\"Let me check.\"}", None),
            TOOL_CALL_SSE.to_owned(),
        ];
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        let parts = ui_parts(&refs, None);
        assert_eq!(
            types_of(&parts),
            [
                "start",
                "start-step",
                "reasoning-start",
                "reasoning-delta",
                "reasoning-end",
                "text-start",
                "text-delta",
                "text-end",
                "tool-input-start",
                "tool-input-delta",
                "tool-input-delta",
                "tool-input-available",
                "finish-step",
                "finish",
            ]
        );
        assert_eq!(parts[2]["id"], "reasoning-1");
        assert_eq!(parts[5]["id"], "text-2");
        assert_eq!(
            parts[8],
            serde_json::json!({"type": "tool-input-start", "toolCallId": "call_1", "toolName": "weather"})
        );
        assert_eq!(
            parts[9],
            serde_json::json!({"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": "{\"city\":"})
        );
        assert_eq!(
            parts[11],
            serde_json::json!({
                "type": "tool-input-available", "toolCallId": "call_1", "toolName": "weather",
                "input": {"city": "Paris"},
            })
        );
        assert_eq!(parts[13]["finishReason"], "tool-calls");
    }

    #[test]
    fn ai_sdk_arguments_that_are_not_json_are_a_tool_input_error() {
        let sse = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{oops\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let parts = ui_parts(&[sse], None);
        let error = parts
            .iter()
            .find(|p| p["type"] == "tool-input-error")
            .unwrap();
        assert_eq!(error["input"], "{oops");
        assert_eq!(error["toolCallId"], "c");
        assert!(error["errorText"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"));
    }

    #[test]
    fn ai_sdk_error_closes_the_open_text_and_reports_its_message() {
        let a = chunk("{\"content\":\"partial\"}", None);
        let parts = ui_parts(&[&a], Some("The AI service had an error."));
        assert_eq!(
            types_of(&parts),
            [
                "start",
                "start-step",
                "text-start",
                "text-delta",
                "text-end",
                "error"
            ]
        );
        assert_eq!(
            parts[5],
            serde_json::json!({"type": "error", "errorText": "The AI service had an error."})
        );
    }

    #[test]
    fn ai_sdk_maps_finish_reasons() {
        for (openai, ai) in [
            ("stop", "stop"),
            ("length", "length"),
            ("tool_calls", "tool-calls"),
            ("function_call", "tool-calls"),
            ("content_filter", "content-filter"),
            ("something_new", "other"),
        ] {
            let parts = ui_parts(&[&chunk("{}", Some(openai))], None);
            assert_eq!(parts.last().unwrap()["finishReason"], ai, "{openai}");
        }
    }

    #[test]
    fn ai_sdk_framing_cannot_be_broken_by_payload_text() {
        let out = render(&batch_of(HOSTILE), RelayFormat::AiSdk);
        assert!(!out.contains("\ndata: x"), "{out}");
        let hostile = chunk("{\"content\":\"\\n\\ndata: [DONE]\\n\\n\"}", None);
        let parts = ui_parts(&[&hostile, &chunk("{}", Some("stop"))], None);
        assert_eq!(parts[3]["delta"], "\n\ndata: [DONE]\n\n");
    }

    #[test]
    fn ai_sdk_ignores_other_choices_and_an_empty_batch() {
        let mut ui = UiMessageStream::new();
        assert_eq!(ui.render(&Batch::default()), "");
        let out = ui.render(&batch_of(
            "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\n",
        ));
        assert_eq!(
            out,
            "data: {\"type\":\"start\"}\n\ndata: {\"type\":\"start-step\"}\n\n"
        );
        assert_eq!(
            ui.end(None),
            "data: {\"type\":\"finish-step\"}\n\ndata: {\"type\":\"finish\"}\n\n"
        );
        assert_eq!(ui.end(None), "", "once only");
    }

    #[test]
    fn ai_sdk_message_id_given_or_none() {
        let batch = batch_of(&chunk("{\"content\":\"x\"}", None));
        let given = UiMessageStream::with_message_id(Some("msg-1".into()), true).render(&batch);
        assert!(given.starts_with("data: {\"type\":\"start\",\"messageId\":\"msg-1\"}\n\n"));
        let none = UiMessageStream::with_message_id(None, false).render(&batch);
        assert!(none.starts_with("data: {\"type\":\"start\"}\n\n"), "{none}");
    }

    #[test]
    fn ai_sdk_message_id_of_a_responses_stream() {
        let mut decoder = Decoder::new(
            Box::new(crate::openai::responses::ResponsesParser::new()),
            None,
        );
        decoder.push(b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_7\",\"status\":\"in_progress\",\"output\":[]}}\n\n");
        let out = UiMessageStream::new().render(&decoder.take_batch());
        assert!(
            out.starts_with("data: {\"type\":\"start\",\"messageId\":\"resp_7\"}\n\n"),
            "{out}"
        );
    }
}
