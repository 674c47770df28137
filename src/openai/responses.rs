//! The Responses API stream (`/responses`): one SSE event in, `Delta`s out, plus the
//! accumulation `final()` returns, shaped like the non-streaming `response` object.
//!
//! Every event's data is a JSON object whose `type` names it. The SSE `event:` line may repeat
//! the type or be missing; the JSON `type` always decides, the `event:` name only stands in when
//! the JSON has none. Deviations handled on purpose: with or without `event:` lines, with or
//! without `sequence_number` (when present, events at or below the highest one seen are replays
//! after a resume and are ignored), `keepalive` events, a stray `data: [DONE]`, unknown event
//! types (passed on as chunks without deltas), GitHub Copilot's proxy rotating `item_id` on every
//! event (calls are found by `output_index` then), and `error` events whose fields sit beside
//! `type` (OpenAI) or under `error` (others).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::errors::{error_event, parse_error, provider_error, ErrorEventFormat};
use super::fields::{append, fill_str};
use super::partial_json::PartialJson;
use super::surrogates::{self, Held, Text, REPLACEMENT};

mod hosted;
use super::{Delta, RawJson, Step, ToolKind, WireError, WireOptions, WireParser};
use crate::sse::SseEventRef;

/// Used when `response.failed` carries no error object.
const FAILED_WITHOUT_ERROR: &str = "the response failed without an error object";

// Wire shapes. Which fields an event has, and their types, depend on its `type`, and unknown
// future types must pass untouched: every field stays raw and is decoded only by the handler of
// a type that owns it, so an odd value in a field we do not read never costs the event.

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    sequence_number: Option<&'a RawValue>,
    #[serde(borrow)]
    delta: Option<&'a RawValue>,
    #[serde(borrow)]
    item_id: Option<&'a RawValue>,
    #[serde(borrow)]
    output_index: Option<&'a RawValue>,
    #[serde(borrow)]
    summary_index: Option<&'a RawValue>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
    /// The whole input on `.done` of custom tool (`input`) and code interpreter (`code`)
    /// events.
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    code: Option<&'a RawValue>,
    #[serde(borrow)]
    command_index: Option<&'a RawValue>,
    #[serde(borrow)]
    annotation: Option<&'a RawValue>,
    #[serde(borrow)]
    partial_image_index: Option<&'a RawValue>,
    #[serde(borrow)]
    partial_image_b64: Option<&'a RawValue>,
    #[serde(borrow)]
    item: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// An output item (`response.output_item.added` / `.done`): the fields of tool calls (the
/// hosted items' own are read by `hosted`).
#[derive(Deserialize)]
struct Item<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    call_id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
    /// A custom tool call's input text.
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    /// A code interpreter call's code.
    #[serde(borrow)]
    code: Option<&'a RawValue>,
    /// A shell call's `{commands}`, a local shell call's `{type, command, env}`.
    #[serde(borrow)]
    action: Option<&'a RawValue>,
    /// A shell call's `{type}`: `container_*` when the provider runs it.
    #[serde(borrow)]
    environment: Option<&'a RawValue>,
    #[serde(borrow)]
    server_label: Option<&'a RawValue>,
    /// An MCP call's result; a code interpreter call's are `outputs`.
    #[serde(borrow)]
    output: Option<&'a RawValue>,
    #[serde(borrow)]
    outputs: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// The parts of a shell call's `action` and `environment` read here.
#[derive(Deserialize)]
struct ShellAction {
    #[serde(default)]
    commands: Vec<String>,
}

#[derive(Deserialize)]
struct Environment<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
}

/// The parts of a `response` object (in `response.created`, `.completed`, ...) we read.
#[derive(Deserialize)]
struct ResponseHead<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    created_at: Option<&'a RawValue>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    #[serde(borrow)]
    incomplete_details: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    output: Option<&'a RawValue>,
    /// Whether the object already has an `output_text` key (even `null`), which we then keep.
    #[serde(default)]
    output_text: Present,
}

#[derive(Deserialize)]
struct IncompleteDetails<'a> {
    #[serde(borrow)]
    reason: Option<&'a RawValue>,
}

/// A string, borrowed from the payload when it has no escapes.
#[derive(Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// Deserializes from any value, recording only that the key was there.
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Present(true))
    }
}

// Accumulation.

/// Everything streamed for one `output_index`. One index holds one item on OpenAI; a server that
/// omits or reuses indexes still loses nothing, as each kind of content has its own field.
#[derive(Default)]
struct OutputSlot {
    /// `None` until a non-empty piece arrives.
    text: Option<String>,
    refusal: Option<String>,
    /// Reasoning summary parts by `summary_index`.
    summary: BTreeMap<u64, String>,
    /// Raw reasoning text (`response.reasoning_text.delta`, open-weight models).
    reasoning: Option<String>,
    /// Tool calls (indexes into `ResponsesParser::calls`).
    calls: Vec<usize>,
    /// Other items (hosted tools' own: web search, image generation, MCP tool lists and
    /// approval requests, shell output, ...) as their `output_item.done` sent them.
    items: Vec<Box<RawValue>>,
}

#[derive(Default)]
struct Call {
    kind: ToolKind,
    /// The output item's `id` (`fc_...`), which argument events name as `item_id`.
    item_id: Option<String>,
    output_index: Option<u64>,
    /// The item's `call_id`; hosted calls that have none go by the item's `id`.
    call_id: String,
    name: String,
    arguments: String,
    /// `arguments` came whole from an `output_item.added` item, not from deltas: argument
    /// deltas that follow restate it, so they replace it.
    provisional: bool,
    /// The announced arguments parsed as they arrive (`partialJson`).
    partial: Option<PartialJson>,
    /// A `ToolCallDelta` went out for this call (the first one carries `id` and `name`).
    announced: bool,
    /// The whole `ToolCall` went out: its `output_item.done` came (or the response ended).
    completed: bool,
    /// An MCP call's `server_label`.
    server: Option<String>,
    /// The provider runs the call (see `Delta::ToolCall::hosted`).
    hosted: bool,
    /// From the `output_item.done` item: a hosted call's result and error (never `null`).
    output: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
    /// The `output_item.done` item verbatim, for `final()` while no terminal event came.
    done_item: Option<Box<RawValue>>,
    /// A shell call: the `command_index` its latest delta named (commands join with `\n`).
    command_index: u64,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Status {
    #[default]
    InProgress,
    Completed,
    Incomplete,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete => "incomplete",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Text,
    Refusal,
    Summary,
    Reasoning,
}

/// A streamed text field, whose deltas join as JS strings do (see `surrogates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A channel of an `output_index`, with the `summary_index` for `Summary` (else 0).
    Output(Channel, u64, u64),
    /// A function call's arguments (its index into `ResponsesParser::calls`).
    Arguments(usize),
}

/// The Responses API wire format.
#[derive(Default)]
pub struct ResponsesParser {
    id: Option<String>,
    model: Option<String>,
    created_at: Option<i64>,
    highest_sequence: Option<u64>,
    /// The latest `output_index` seen: where an event without one belongs.
    current_index: u64,
    output: BTreeMap<u64, OutputSlot>,
    /// Function calls in order of appearance; the position is the `ToolCall` index.
    calls: Vec<Call>,
    usage: Option<Box<RawValue>>,
    status: Status,
    /// The `response` object of `response.completed` / `.incomplete`, verbatim.
    terminal_response: Option<Box<RawValue>>,
    /// The `output_text` added to `terminal_response` by `final_json` (`None`: it has its own).
    terminal_output_text: Option<String>,
    /// Lone high surrogates ending a field's last delta (see `surrogates`).
    held: Held<Field>,
    options: WireOptions,
    /// The output text parsed as JSON as it arrives (`options.json`).
    parsed: Option<PartialJson>,
}

impl ResponsesParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_options(options: WireOptions) -> Self {
        ResponsesParser {
            options,
            ..Self::default()
        }
    }

    /// `output_parsed` for `final()`: the output text's JSON value (`null` when it is not
    /// JSON), when the request asked for JSON.
    fn output_parsed(&self) -> Option<String> {
        self.options.json.then(|| {
            let value = self.parsed.as_ref().and_then(PartialJson::complete_value);
            value.map_or_else(|| "null".to_owned(), |v| v.to_json())
        })
    }

    fn apply(
        &mut self,
        kind: &str,
        event: &Event<'_>,
        data: &str,
        out: &mut Vec<Delta>,
    ) -> Result<Step, WireError> {
        match kind {
            "response.output_text.delta" => self.text(event, Channel::Text, out),
            "response.refusal.delta" => self.text(event, Channel::Refusal, out),
            "response.reasoning_summary_text.delta" => self.text(event, Channel::Summary, out),
            "response.reasoning_text.delta" => self.text(event, Channel::Reasoning, out),
            "response.output_item.added" => self.item(event, false, out),
            "response.output_item.done" => self.item(event, true, out),
            "response.function_call_arguments.delta" => {
                self.arguments_delta(event, ToolKind::Function, out)
            }
            "response.custom_tool_call_input.delta" => {
                self.arguments_delta(event, ToolKind::Custom, out)
            }
            "response.mcp_call_arguments.delta" => self.arguments_delta(event, ToolKind::Mcp, out),
            "response.code_interpreter_call_code.delta" => {
                self.arguments_delta(event, ToolKind::CodeInterpreter, out)
            }
            "response.shell_call_command.delta" => {
                self.arguments_delta(event, ToolKind::Shell, out)
            }
            "response.function_call_arguments.done" => {
                self.arguments_done(event, ToolKind::Function, event.arguments, out)
            }
            "response.custom_tool_call_input.done" => {
                self.arguments_done(event, ToolKind::Custom, event.input, out)
            }
            "response.mcp_call_arguments.done" => {
                self.arguments_done(event, ToolKind::Mcp, event.arguments, out)
            }
            "response.code_interpreter_call_code.done" => {
                self.arguments_done(event, ToolKind::CodeInterpreter, event.code, out)
            }
            // A shell call's `command.done` names one command: its deltas, and the item's
            // `action.commands` at `output_item.done`, are the call's input.
            "response.shell_call_command.done" => {}
            "response.output_text.annotation.added" => {
                out.extend(hosted::citation(event.annotation));
            }
            "response.image_generation_call.partial_image" => out.extend(hosted::partial_image(
                event.item_id,
                event.partial_image_index,
                event.partial_image_b64,
            )),
            "response.created" | "response.queued" | "response.in_progress" => {
                if let Some(head) = response_head(event.response) {
                    self.fill_head(&head);
                }
            }
            "response.completed" => return Ok(self.terminal(event, Status::Completed, out)),
            "response.incomplete" => return Ok(self.terminal(event, Status::Incomplete, out)),
            "response.failed" => {
                self.flush(out);
                self.status = Status::Failed;
                let head = response_head(event.response);
                if let Some(head) = &head {
                    self.fill_head(head);
                }
                return Err(failed_error(head.and_then(|h| h.error)));
            }
            "error" => return Err(error_event(data, ErrorEventFormat::Responses)),
            "keepalive" => return Ok(Step::Ignored),
            _ => {
                if let Some((tool, status)) = hosted::status_of(kind) {
                    let id = string(event.item_id).unwrap_or_default();
                    out.push(hosted::tool_status(&id, tool, status));
                }
                // Content parts and whatever comes next: chunks consumers see them, nothing
                // to accumulate.
            }
        }
        Ok(Step::Chunk)
    }

    /// Where an event belongs: its `output_index`, else the latest one seen.
    fn output_index(&mut self, raw: Option<&RawValue>) -> u64 {
        if let Some(index) = number(raw) {
            self.current_index = index;
        }
        self.current_index
    }

    fn text(&mut self, event: &Event<'_>, channel: Channel, out: &mut Vec<Delta>) {
        let Some(text) = text(event.delta).filter(|t| !t.is_empty()) else {
            return;
        };
        let index = self.output_index(event.output_index);
        let part = match channel {
            Channel::Summary => number(event.summary_index).unwrap_or(0),
            _ => 0,
        };
        let text = self.held.join(Field::Output(channel, index, part), text);
        self.piece(channel, index, part, text, out);
    }

    /// One joined piece of a channel (`Held::join`): empty when it was only a high surrogate
    /// held back.
    fn piece(
        &mut self,
        channel: Channel,
        index: u64,
        part: u64,
        text: Cow<'_, str>,
        out: &mut Vec<Delta>,
    ) {
        if text.is_empty() {
            return;
        }
        let slot = self.output.entry(index).or_default();
        let delta = match channel {
            Channel::Text => {
                let text = append(&mut slot.text, text);
                if self.options.json {
                    // Also the parser of `objects()` (see `content_json`).
                    self.parsed
                        .get_or_insert_with(PartialJson::recording)
                        .feed(&text);
                }
                Delta::Text { choice: 0, text }
            }
            Channel::Refusal => Delta::Refusal {
                choice: 0,
                text: append(&mut slot.refusal, text),
            },
            Channel::Reasoning => Delta::Reasoning {
                choice: 0,
                text: append(&mut slot.reasoning, text),
            },
            Channel::Summary => {
                slot.summary.entry(part).or_default().push_str(&text);
                Delta::Reasoning {
                    choice: 0,
                    text: text.into_owned(),
                }
            }
        };
        out.push(delta);
    }

    /// `response.output_item.added` registers a tool call; `.done` completes it, sending its
    /// whole input when no delta did. The hosted tools' own items say their piece on `.done`
    /// (an image, an approval request, a shell call's output) and are kept for `final()`.
    fn item(&mut self, event: &Event<'_>, done: bool, out: &mut Vec<Delta>) {
        let Some(raw) = event.item.filter(|raw| raw.get().starts_with('{')) else {
            return;
        };
        let Ok(item) = serde_json::from_str::<Item>(raw.get()) else {
            return;
        };
        let item_type = string(item.kind).unwrap_or_default();
        let Some(kind) = kind_of(&item_type) else {
            if done {
                self.hosted_item(&item_type, raw, event.output_index, out);
            }
            return;
        };
        let index = self.call_for(string(item.id), number(event.output_index), kind);
        let call = &mut self.calls[index];
        call.kind = kind;
        if call.call_id.is_empty() {
            // Hosted calls have no `call_id`: their item's id names them.
            if let Some(call_id) = string(item.call_id).or_else(|| string(item.id)) {
                call.call_id = call_id.into_owned();
            }
        }
        if call.name.is_empty() {
            call.name = match kind {
                ToolKind::Function | ToolKind::Custom | ToolKind::Mcp => {
                    string(item.name).map(Cow::into_owned).unwrap_or_default()
                }
                // The tool is the name.
                ToolKind::CodeInterpreter => "code_interpreter".to_owned(),
                ToolKind::Shell => "shell".to_owned(),
                ToolKind::LocalShell => "local_shell".to_owned(),
            };
        }
        if call.server.is_none() {
            call.server = string(item.server_label).map(Cow::into_owned);
        }
        call.hosted = match kind {
            ToolKind::Mcp | ToolKind::CodeInterpreter => true,
            ToolKind::Shell => runs_in_container(item.environment),
            ToolKind::Function | ToolKind::Custom | ToolKind::LocalShell => false,
        };
        if !done && kind == ToolKind::Shell && call.hosted {
            // A container shell has no progress events of its own: its item says it started.
            let id = call.item_id.clone().unwrap_or_default();
            out.push(hosted::tool_status(&id, "shell", "in_progress"));
        }
        if done {
            fn present(raw: Option<&RawValue>) -> Option<&RawValue> {
                raw.filter(|r| r.get() != "null")
            }
            let result = match kind {
                ToolKind::CodeInterpreter => item.outputs,
                _ => item.output,
            };
            call.output = present(result).map(ToOwned::to_owned);
            call.error = present(item.error).map(ToOwned::to_owned);
            call.done_item = Some(raw.to_owned());
        }
        let call = &mut self.calls[index];
        if call.announced {
            if done {
                self.complete(index, out);
            }
            return;
        }
        if let Some(input) = item_input(kind, &item).filter(|a| !a.is_empty()) {
            call.arguments = input;
            call.provisional = !done;
        }
        if done {
            self.announce(index, self.calls[index].arguments.clone(), out);
            self.complete(index, out);
        }
    }

    /// The `.done` of an item that is not a call: what it says, and the item for `final()`.
    fn hosted_item(
        &mut self,
        item_type: &str,
        raw: &RawValue,
        output_index: Option<&RawValue>,
        out: &mut Vec<Delta>,
    ) {
        if matches!(item_type, "message" | "reasoning" | "") {
            return;
        }
        if let Some(item) = hosted::HostedItem::parse(raw) {
            match item_type {
                "mcp_approval_request" => out.push(hosted::approval(&item)),
                "image_generation_call" => out.extend(hosted::final_image(&item)),
                "shell_call_output" => {
                    // The output of a container shell call: the call is over. Its status goes
                    // by the call's item id, as its `in_progress` did. (A local shell's output
                    // is the caller's own input item: it never streams.)
                    let call_id = item.call_id();
                    let call = self.calls.iter().find(|c| {
                        c.kind == ToolKind::Shell
                            && c.hosted
                            && Some(&c.call_id) == call_id.as_ref()
                    });
                    if let Some(id) = call.and_then(|c| c.item_id.as_deref()) {
                        out.push(hosted::tool_status(id, "shell", "completed"));
                    }
                }
                _ => {}
            }
        }
        let index = self.output_index(output_index);
        let slot = self.output.entry(index).or_default();
        slot.items.push(raw.to_owned());
    }

    fn arguments_delta(&mut self, event: &Event<'_>, kind: ToolKind, out: &mut Vec<Delta>) {
        let index = self.call_for(string(event.item_id), number(event.output_index), kind);
        let Some(piece) = text(event.delta).filter(|d| !d.is_empty()) else {
            return;
        };
        let piece = self.held.join(Field::Arguments(index), piece);
        let call = &mut self.calls[index];
        if kind == ToolKind::Shell && !piece.is_empty() {
            // Each command of a shell call goes on its own line.
            let command = number(event.command_index).unwrap_or(call.command_index);
            let next = command != call.command_index;
            call.command_index = command;
            if next && !call.arguments.is_empty() && !call.provisional {
                let piece = Cow::Owned(format!("\n{piece}"));
                return self.arguments_piece(index, piece, out);
            }
        }
        self.arguments_piece(index, piece, out);
    }

    /// One joined piece of a call's arguments: empty when it was only a high surrogate.
    fn arguments_piece(&mut self, index: usize, piece: Cow<'_, str>, out: &mut Vec<Delta>) {
        if piece.is_empty() {
            return;
        }
        let call = &mut self.calls[index];
        if call.provisional {
            call.arguments.clear();
            call.provisional = false;
            call.partial = None;
        }
        call.arguments.push_str(&piece);
        self.announce(index, piece.into_owned(), out);
    }

    /// A call's input is whole (`function_call_arguments.done`, `mcp_call_arguments.done`, ...):
    /// the input itself when no delta sent it.
    fn arguments_done(
        &mut self,
        event: &Event<'_>,
        kind: ToolKind,
        whole: Option<&RawValue>,
        out: &mut Vec<Delta>,
    ) {
        let index = self.call_for(string(event.item_id), number(event.output_index), kind);
        let call = &mut self.calls[index];
        if call.announced {
            // The deltas already said it all; what consumers saw stays the accumulation.
            return;
        }
        if let Some(arguments) = string(whole) {
            call.arguments = arguments.into_owned();
        }
        self.announce(index, self.calls[index].arguments.clone(), out);
    }

    /// The call an event names: by `item_id`, else by `output_index` (Copilot's proxy sends a
    /// fresh `item_id` on every event), else the latest call when the event names neither, else
    /// a new call (its `output_item.added` never came).
    fn call_for(
        &mut self,
        item_id: Option<Cow<'_, str>>,
        output_index: Option<u64>,
        kind: ToolKind,
    ) -> usize {
        let by_id = item_id.as_deref().and_then(|id| {
            self.calls
                .iter()
                .position(|c| c.item_id.as_deref() == Some(id))
        });
        let found = by_id.or_else(|| match output_index {
            Some(index) => self
                .calls
                .iter()
                .rposition(|c| c.output_index == Some(index) && c.kind == kind),
            // Nothing to go by at all: the latest call.
            None if item_id.is_none() => self.calls.len().checked_sub(1),
            None => None,
        });
        if let Some(index) = output_index {
            self.current_index = index;
        }
        if let Some(found) = found {
            return found;
        }
        let index = self.calls.len();
        self.calls.push(Call {
            kind,
            item_id: item_id.map(Cow::into_owned),
            output_index,
            // A hosted call announced before its item (the item would say): its own id.
            hosted: matches!(kind, ToolKind::Mcp | ToolKind::CodeInterpreter),
            ..Call::default()
        });
        let slot = self.output.entry(self.current_index).or_default();
        slot.calls.push(index);
        index
    }

    /// One `ToolCallDelta`; the first for a call carries its `id` and `name`.
    fn announce(&mut self, index: usize, arguments: String, out: &mut Vec<Delta>) {
        let call = &mut self.calls[index];
        let first = !call.announced;
        call.announced = true;
        let label = |s: &str| (first && !s.is_empty()).then(|| s.to_owned());
        let partial = self.options.partial_json.then(|| {
            let parser = call.partial.get_or_insert_with(PartialJson::new);
            parser.feed(&arguments);
            parser.snapshot()
        });
        out.push(Delta::ToolCallDelta {
            choice: 0,
            index: index as u32,
            id: label(&call.call_id),
            name: label(&call.name),
            arguments,
            kind: call.kind,
            partial: partial.flatten(),
            hosted: call.hosted,
        });
    }

    /// The whole `ToolCall`, once per announced call: the one place a call becomes complete.
    fn complete(&mut self, index: usize, out: &mut Vec<Delta>) {
        let call = &mut self.calls[index];
        if !call.announced || call.completed {
            return;
        }
        call.completed = true;
        out.push(Delta::ToolCall {
            choice: 0,
            index: index as u32,
            id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            kind: call.kind,
            server: call.server.clone(),
            output: call.output.clone().map(RawJson),
            error: call.error.clone().map(RawJson),
            hosted: call.hosted,
        });
    }

    /// Every call still open (its `output_item.done` never came), in order.
    fn complete_all(&mut self, out: &mut Vec<Delta>) {
        for index in 0..self.calls.len() {
            self.complete(index, out);
        }
    }

    fn fill_head(&mut self, head: &ResponseHead<'_>) {
        fill_str(&mut self.id, head.id);
        fill_str(&mut self.model, head.model);
        if self.created_at.is_none() {
            let created = head
                .created_at
                .and_then(|raw| serde_json::from_str::<i64>(raw.get()).ok());
            self.created_at = created.filter(|&c| c != 0);
        }
    }

    /// `response.completed` / `.incomplete`: the finish reason, the usage, and the final object.
    fn terminal(&mut self, event: &Event<'_>, status: Status, out: &mut Vec<Delta>) -> Step {
        self.flush(out);
        let head = response_head(event.response);
        let reason = match status {
            Status::Incomplete => {
                incomplete_reason(head.as_ref().and_then(|h| h.incomplete_details))
            }
            // Calls the provider ran itself leave nothing for the caller to do.
            _ if self.calls.iter().any(|c| !c.hosted) => "tool_calls".to_owned(),
            _ => "stop".to_owned(),
        };
        self.complete_all(out);
        out.push(Delta::Finish { choice: 0, reason });
        self.status = status;
        let (Some(head), Some(raw)) = (head, event.response) else {
            return Step::Done;
        };
        self.fill_head(&head);
        if let Some(usage) = head.usage.filter(|u| u.get().starts_with('{')) {
            let usage = usage.to_owned();
            self.usage = Some(usage.clone());
            out.push(Delta::Usage {
                usage: RawJson(usage),
            });
        }
        // `output_text` is openai-node's convenience: the text of every `output_text` part of
        // the message items in `output`, joined. We add it the same way, computed from the
        // object itself so a resumed stream (which saw only the tail of the deltas) still gets
        // the whole text; servers that send `output: []` in the terminal event get the text
        // streamed here instead. An `output_text` the server put there itself is kept as sent.
        self.terminal_output_text = if head.output_text.0 {
            None
        } else {
            Some(output_text_of(head.output).unwrap_or_else(|| self.streamed_text()))
        };
        self.terminal_response = Some(raw.to_owned());
        Step::Done
    }

    /// Every streamed text, in output order.
    fn streamed_text(&self) -> String {
        let texts = self.output.values().filter_map(|s| s.text.as_deref());
        texts.collect()
    }
}

impl WireParser for ResponsesParser {
    fn on_event(
        &mut self,
        event: &SseEventRef<'_>,
        out: &mut Vec<Delta>,
    ) -> Result<Step, WireError> {
        let data = event.data.trim_ascii();
        let name = event.event;
        if data.is_empty() {
            // `event: keepalive` without data, a bare `data:`.
            return Ok(Step::Ignored);
        }
        if data == "[DONE]" {
            // Not part of the Responses protocol, but proxies add it.
            return Ok(Step::Done);
        }
        if !data.starts_with('{') {
            return match name {
                Some("error") => Err(error_event(data, ErrorEventFormat::Responses)),
                Some("keepalive" | "ping") => Ok(Step::Ignored),
                _ => Err(not_an_event(data)),
            };
        }
        let event: Event = serde_json::from_str(data)
            .map_err(|e| parse_error(format!("data line is not valid JSON: {e}"), data))?;

        if let Some(sequence) = number(event.sequence_number) {
            if self
                .highest_sequence
                .is_some_and(|highest| sequence <= highest)
            {
                // Seen before the stream was resumed.
                return Ok(Step::Ignored);
            }
            self.highest_sequence = Some(sequence);
        }

        let kind = string(event.kind).filter(|k| !k.is_empty());
        match kind.as_deref().or(name) {
            Some(kind) => self.apply(kind, &event, data, out),
            // No type at all: a bare `{"error": ...}` from a proxy is still an error.
            None if event.error.is_some() => Err(error_event(data, ErrorEventFormat::Responses)),
            None => Ok(Step::Chunk),
        }
    }

    fn flush(&mut self, out: &mut Vec<Delta>) {
        for field in self.held.take_all() {
            let lone = Cow::Borrowed(REPLACEMENT);
            match field {
                Field::Output(channel, index, part) => self.piece(channel, index, part, lone, out),
                Field::Arguments(index) => self.arguments_piece(index, lone, out),
            }
        }
    }

    fn is_complete(&self) -> bool {
        matches!(self.status, Status::Completed | Status::Incomplete)
    }

    fn close(&mut self, out: &mut Vec<Delta>) {
        self.complete_all(out);
    }

    fn content_json(&mut self) -> Option<&mut PartialJson> {
        self.parsed.as_mut()
    }

    fn final_json(&self) -> String {
        if let Some(raw) = &self.terminal_response {
            let json = match &self.terminal_output_text {
                Some(text) => with_output_text(raw.get(), text),
                None => raw.get().to_owned(),
            };
            return match self.output_parsed() {
                Some(parsed) => with_member(&json, "output_parsed", &parsed),
                None => json,
            };
        }
        let mut output = Vec::new();
        for slot in self.output.values() {
            if !slot.summary.is_empty() || slot.reasoning.is_some() {
                let summary = slot.summary.values();
                output.push(OutputItem::Built(FinalItem::Reasoning {
                    summary: summary
                        .map(|text| FinalPart::SummaryText { text })
                        .collect(),
                    content: slot
                        .reasoning
                        .as_deref()
                        .map(|text| FinalPart::ReasoningText { text })
                        .into_iter()
                        .collect(),
                }));
            }
            if slot.text.is_some() || slot.refusal.is_some() {
                let text = slot.text.as_deref().map(|text| FinalPart::OutputText {
                    text,
                    annotations: [],
                });
                let refusal = slot
                    .refusal
                    .as_deref()
                    .map(|refusal| FinalPart::Refusal { refusal });
                output.push(OutputItem::Built(FinalItem::Message {
                    role: "assistant",
                    content: text.into_iter().chain(refusal).collect(),
                }));
            }
            for call in slot.calls.iter().map(|&i| &self.calls[i]) {
                output.push(match (&call.done_item, call.kind) {
                    (_, ToolKind::Function) => OutputItem::Built(FinalItem::FunctionCall {
                        id: call.item_id.as_deref(),
                        call_id: &call.call_id,
                        name: &call.name,
                        arguments: &call.arguments,
                    }),
                    // A finished hosted or custom call: its item as the provider sent it.
                    (Some(item), _) => OutputItem::Raw(item),
                    // Still streaming: what came so far, in the fields this crate names.
                    (None, kind) => OutputItem::Open(OpenCall {
                        kind: item_type_of(kind),
                        id: call.item_id.as_deref(),
                        call_id: &call.call_id,
                        name: &call.name,
                        arguments: &call.arguments,
                        server_label: call.server.as_deref(),
                        status: "in_progress",
                    }),
                });
            }
            output.extend(slot.items.iter().map(|item| OutputItem::Raw(item)));
        }
        let response = FinalResponse {
            id: self.id.as_deref().unwrap_or_default(),
            object: "response",
            created_at: self.created_at.unwrap_or_default(),
            status: self.status.as_str(),
            model: self.model.as_deref().unwrap_or_default(),
            output,
            output_text: self.streamed_text(),
            usage: self.usage.as_deref(),
            output_parsed: self
                .output_parsed()
                .map(|json| RawValue::from_string(json).expect("serialized JSON")),
        };
        serde_json::to_string(&response).expect("plain structs always serialize")
    }

    fn resume_after(&self) -> Option<u64> {
        self.highest_sequence
    }
}

// The `final()` shape while no terminal event came: a subset of the `response` object.

#[derive(Serialize)]
struct FinalResponse<'a> {
    id: &'a str,
    object: &'static str,
    created_at: i64,
    status: &'static str,
    model: &'a str,
    output: Vec<OutputItem<'a>>,
    output_text: String,
    usage: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_parsed: Option<Box<RawValue>>,
}

/// One item of `output`: built here, or kept as the provider sent it.
#[derive(Serialize)]
#[serde(untagged)]
enum OutputItem<'a> {
    Built(FinalItem<'a>),
    Raw(&'a RawValue),
    Open(OpenCall<'a>),
}

/// A call other than a function call whose item has not finished.
#[derive(Serialize)]
struct OpenCall<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    call_id: &'a str,
    name: &'a str,
    arguments: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_label: Option<&'a str>,
    status: &'static str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FinalItem<'a> {
    Reasoning {
        summary: Vec<FinalPart<'a>>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        content: Vec<FinalPart<'a>>,
    },
    Message {
        role: &'static str,
        content: Vec<FinalPart<'a>>,
    },
    FunctionCall {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        call_id: &'a str,
        name: &'a str,
        arguments: &'a str,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FinalPart<'a> {
    OutputText {
        text: &'a str,
        /// Always empty: annotations are not accumulated.
        annotations: [(); 0],
    },
    Refusal {
        refusal: &'a str,
    },
    SummaryText {
        text: &'a str,
    },
    ReasoningText {
        text: &'a str,
    },
}

// Helpers.

/// The kind of call an output item type is (`None`: not a call).
fn kind_of(item_type: &str) -> Option<ToolKind> {
    Some(match item_type {
        "function_call" => ToolKind::Function,
        "custom_tool_call" => ToolKind::Custom,
        "mcp_call" => ToolKind::Mcp,
        "code_interpreter_call" => ToolKind::CodeInterpreter,
        "shell_call" => ToolKind::Shell,
        "local_shell_call" => ToolKind::LocalShell,
        _ => return None,
    })
}

/// The output item type of a call kind (for `final()` while no terminal event came).
fn item_type_of(kind: ToolKind) -> &'static str {
    match kind {
        ToolKind::Function => "function_call",
        ToolKind::Custom => "custom_tool_call",
        ToolKind::Mcp => "mcp_call",
        ToolKind::CodeInterpreter => "code_interpreter_call",
        ToolKind::Shell => "shell_call",
        ToolKind::LocalShell => "local_shell_call",
    }
}

/// A call item's whole input, as its `arguments` deltas would add up.
fn item_input(kind: ToolKind, item: &Item<'_>) -> Option<String> {
    match kind {
        ToolKind::Function | ToolKind::Mcp => string(item.arguments).map(Cow::into_owned),
        ToolKind::Custom => string(item.input).map(Cow::into_owned),
        ToolKind::CodeInterpreter => string(item.code).map(Cow::into_owned),
        ToolKind::Shell => {
            let action = item.action?;
            let action: ShellAction = serde_json::from_str(action.get()).ok()?;
            Some(action.commands.join("\n"))
        }
        // `{type, command: [argv], env, ...}`: JSON, as a function's arguments are.
        ToolKind::LocalShell => item
            .action
            .filter(|raw| raw.get().starts_with('{'))
            .map(|raw| raw.get().to_owned()),
    }
}

/// A shell call's `environment` says the provider runs it (`container_auto`,
/// `container_reference`); without one the caller does.
fn runs_in_container(environment: Option<&RawValue>) -> bool {
    let environment = environment.filter(|raw| raw.get().starts_with('{'));
    let environment =
        environment.and_then(|raw| serde_json::from_str::<Environment>(raw.get()).ok());
    let kind = environment.and_then(|e| string(e.kind));
    kind.is_some_and(|k| k.starts_with("container"))
}

fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw.filter(|raw| raw.get().starts_with('"'))?;
    serde_json::from_str::<Str>(raw.get()).ok().map(|s| s.0)
}

/// A text field's string (see `surrogates`: it may join with the field's next value).
fn text(raw: Option<&RawValue>) -> Option<Text<'_>> {
    let raw = raw.filter(|raw| raw.get().starts_with('"'))?;
    surrogates::from_str::<Text>(raw.get()).ok()
}

fn number(raw: Option<&RawValue>) -> Option<u64> {
    serde_json::from_str(raw?.get()).ok()
}

fn response_head(raw: Option<&RawValue>) -> Option<ResponseHead<'_>> {
    let raw = raw.filter(|raw| raw.get().starts_with('{'))?;
    serde_json::from_str(raw.get()).ok()
}

/// `incomplete_details.reason` in the finish words of chat completions.
fn incomplete_reason(details: Option<&RawValue>) -> String {
    let reason = details
        .filter(|raw| raw.get().starts_with('{'))
        .and_then(|raw| serde_json::from_str::<IncompleteDetails>(raw.get()).ok())
        .and_then(|details| string(details.reason))
        .filter(|reason| !reason.is_empty());
    match reason.as_deref() {
        Some("max_output_tokens") => "length".to_owned(),
        Some(other) => other.to_owned(),
        // No reason given: say what we know rather than guess one.
        None => "incomplete".to_owned(),
    }
}

/// openai-node's `output_text`: the `output_text` parts of the message items, joined. `None`
/// when `output` holds no such part.
fn output_text_of(output: Option<&RawValue>) -> Option<String> {
    let output: Value = serde_json::from_str(output?.get()).ok()?;
    let messages = output.as_array()?.iter().filter(|i| i["type"] == "message");
    let parts = messages.flat_map(|m| m["content"].as_array().into_iter().flatten());
    let texts: Vec<&str> = parts
        .filter(|p| p["type"] == "output_text")
        .filter_map(|p| p["text"].as_str())
        .collect();
    (!texts.is_empty()).then(|| texts.concat())
}

/// A JSON object's text with an `output_text` member added at the end.
fn with_output_text(object: &str, text: &str) -> String {
    let text = serde_json::to_string(text).expect("strings always serialize");
    with_member(object, "output_text", &text)
}

/// A JSON object's text with a member (`value` is JSON text) added at the end.
fn with_member(object: &str, key: &str, value: &str) -> String {
    let body = object.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body).trim_end();
    // Only `{}` leaves a body ending in `{`: every member ends with a value.
    let separator = if body.ends_with('{') { "" } else { "," };
    format!("{body}{separator}\"{key}\":{value}}}")
}

// Errors particular to this format (the shared ones are in `errors.rs`).

/// A payload that does not start like a JSON object.
fn not_an_event(data: &str) -> WireError {
    match serde_json::from_str::<IgnoredAny>(data) {
        Ok(_) => parse_error("data line is not a Responses event object".to_owned(), data),
        Err(e) => parse_error(format!("data line is not valid JSON: {e}"), data),
    }
}

/// `response.failed`: the `response.error` object.
fn failed_error(error: Option<&RawValue>) -> WireError {
    let error = error.and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok());
    match error {
        Some(error @ (Value::Object(_) | Value::String(_))) => provider_error(&error),
        _ => WireError::Provider {
            message: FAILED_WITHOUT_ERROR.to_owned(),
            kind: None,
            code: None,
            param: None,
        },
    }
}

#[cfg(test)]
mod tests;
