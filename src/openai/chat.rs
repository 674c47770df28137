//! Chat completions (`chat.completion.chunk` payloads): one SSE event in, `Delta`s out, plus the
//! accumulation `final()` returns, shaped like the non-streaming `chat.completion` object.
//!
//! OpenAI-compatible servers differ in small ways; the ones handled here on purpose:
//! `null` for any optional field, a missing `delta` (Azure content-filter chunks), `choices: []`
//! or missing, tool calls whole in one chunk or split, indexes starting at 1 or missing, `id` and
//! `name` repeated on every delta, a legacy `function_call` duplicated beside `tool_calls`,
//! `reasoning` / `reasoning_content`, and Mistral's typed `content` parts.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::errors::{bad_payload, error_event, provider_error, ErrorEventFormat};
use super::fields::{append, fill_str};
use super::partial_json::{JsonValue, PartialJson};
use super::surrogates::{self, Held, Text, REPLACEMENT};
use super::{Delta, RawJson, Step, ToolKind, WireError, WireOptions, WireParser};
use crate::sse::SseEventRef;

// Wire shapes: only the fields we use, borrowed from the payload where possible. Missing and
// `null` both deserialize to `None`; unknown fields are skipped.

#[derive(Deserialize)]
struct Chunk<'a> {
    // Metadata stays raw and is read only until known, so an odd type here (a null or numeric
    // `id`, a float `created`) costs nothing and never loses the chunk's text.
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    created: Option<&'a RawValue>,
    #[serde(borrow)]
    system_fingerprint: Option<&'a RawValue>,
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    index: Option<u32>,
    #[serde(borrow)]
    delta: Option<ChoiceDelta<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChoiceDelta<'a> {
    /// A string everywhere but Mistral's magistral models (an array of typed parts).
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    refusal: Option<Text<'a>>,
    /// DeepSeek, xAI, vLLM.
    #[serde(borrow)]
    reasoning_content: Option<Text<'a>>,
    /// Groq, OpenRouter, newer vLLM.
    #[serde(borrow)]
    reasoning: Option<Text<'a>>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
    #[serde(borrow)]
    function_call: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    index: Option<u32>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<Text<'a>>,
}

/// One of Mistral's typed content parts: `{"type":"text","text":..}` or
/// `{"type":"thinking","thinking":[{"type":"text","text":..}]}` (`thinking` may be a string).
#[derive(Deserialize)]
struct ContentPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Text<'a>>,
    #[serde(borrow)]
    thinking: Option<&'a RawValue>,
}

// Accumulation.

#[derive(Default)]
struct ChoiceState {
    /// `None` until a non-empty piece arrives, so a tool-call-only answer keeps `content: null`.
    content: Option<String>,
    refusal: Option<String>,
    reasoning: Option<String>,
    tool_calls: BTreeMap<u32, ToolCallState>,
    /// The choice streamed a legacy `function_call`: it is accumulated as tool call 0 (so
    /// consumers find every call in `tool_calls`) and also echoed as `message.function_call`,
    /// the field the non-streaming API would have filled.
    legacy_function_call: bool,
    finish_reason: Option<String>,
    /// Lone high surrogates ending a field's last value (see `surrogates`).
    held: Held<Field>,
    options: WireOptions,
    /// The content parsed as JSON as it arrives (`options.json`).
    parsed: Option<PartialJson>,
}

/// A text field of a choice, whose values join as JS strings do (see `surrogates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Content,
    Refusal,
    Reasoning,
    /// A tool call's `function.arguments` (a legacy `function_call` is tool call 0).
    Arguments(u32),
}

#[derive(Default)]
struct ToolCallState {
    id: String,
    name: String,
    arguments: String,
    /// A `ToolCallDelta` went out for this call: consumers know of it.
    announced: bool,
    /// The whole `ToolCall` went out: the call is complete.
    completed: bool,
    /// The arguments parsed as they arrive (`partialJson`).
    partial: Option<PartialJson>,
}

/// The chat completions wire format.
#[derive(Default)]
pub struct ChatParser {
    id: Option<String>,
    model: Option<String>,
    created: Option<i64>,
    system_fingerprint: Option<String>,
    /// Keyed by `choices[].index`: with n > 1 choices arrive in any order. Boxed: a BTreeMap's
    /// first node has room for 11 entries, which inline was 11 `ChoiceState`s (3.7 KB, the
    /// most an open stream held of ours, heaptrack) for the one choice a stream has.
    choices: BTreeMap<u32, Box<ChoiceState>>,
    usage: Option<Box<RawValue>>,
    options: WireOptions,
}

impl ChatParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_options(options: WireOptions) -> Self {
        ChatParser {
            options,
            ..Self::default()
        }
    }

    fn apply(&mut self, chunk: Chunk<'_>, out: &mut Vec<Delta>) -> Result<Step, WireError> {
        if let Some(error) = chunk.error {
            let error = serde_json::from_str(error.get()).unwrap_or(Value::Null);
            return Err(provider_error(&error));
        }
        fill_str(&mut self.id, chunk.id);
        fill_str(&mut self.model, chunk.model);
        fill_str(&mut self.system_fingerprint, chunk.system_fingerprint);
        if self.created.is_none() {
            // Azure's prompt-filter chunk says `created: 0`: wait for a real one.
            let created = chunk
                .created
                .and_then(|raw| serde_json::from_str(raw.get()).ok());
            self.created = created.filter(|&c: &i64| c != 0);
        }

        for choice in chunk.choices.into_iter().flatten() {
            let index = choice.index.unwrap_or(0);
            let options = self.options;
            let state = self.choices.entry(index).or_insert_with(|| {
                Box::new(ChoiceState {
                    options,
                    ..ChoiceState::default()
                })
            });
            if let Some(delta) = choice.delta {
                state.apply(index, delta, out);
            }
            // Some servers send `""` for "not yet"; the reason comes after this choice's deltas.
            // A repeated reason (some servers echo it on the usage chunk) is not a new event.
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                if state.finish_reason.as_deref() != Some(&reason) {
                    // The choice ended: a surrogate still held is never completed.
                    state.flush(index, out);
                    state.complete_calls(index, |_| true, out);
                    let reason = reason.into_owned();
                    state.finish_reason = Some(reason.clone());
                    out.push(Delta::Finish {
                        choice: index,
                        reason,
                    });
                }
            }
        }

        // Only an object is a usage report; the last one wins (it is the most complete).
        if let Some(usage) = chunk.usage.filter(|u| u.get().starts_with('{')) {
            let usage = usage.to_owned();
            self.usage = Some(usage.clone());
            out.push(Delta::Usage {
                usage: RawJson(usage),
            });
        }
        Ok(Step::Chunk)
    }
}

impl ChoiceState {
    /// Deltas go out in a fixed order: reasoning, text, refusal, tool calls.
    fn apply(&mut self, choice: u32, delta: ChoiceDelta<'_>, out: &mut Vec<Delta>) {
        let reasoning_content = delta.reasoning_content.filter(|s| !s.is_empty());
        let reasoning = delta.reasoning.filter(|s| !s.is_empty());
        // Servers that fill both fields send the same text twice: it counts once.
        let reasoning = reasoning.filter(|r| reasoning_content.as_ref() != Some(r));
        for text in reasoning_content.into_iter().chain(reasoning) {
            let text = self.held.join(Field::Reasoning, text);
            self.reasoning(choice, text, out);
        }

        if let Some(content) = delta.content {
            self.content(choice, content, out);
        }

        if let Some(text) = delta.refusal {
            let text = self.held.join(Field::Refusal, text);
            self.refusal(choice, text, out);
        }

        match (delta.tool_calls, delta.function_call) {
            // A `function_call` beside `tool_calls` is the same call again (some servers send
            // both): `tool_calls` wins so nothing counts twice.
            (Some(calls), _) if !calls.is_empty() => {
                for (position, call) in calls.into_iter().enumerate() {
                    let index = call.index.unwrap_or(position as u32);
                    let (name, arguments) = call
                        .function
                        .map_or((None, None), |f| (f.name, f.arguments));
                    let arguments = arguments.map(|a| self.held.join(Field::Arguments(index), a));
                    self.tool_call(choice, index, call.id, name, arguments, out);
                }
            }
            (_, Some(function)) => {
                self.legacy_function_call = true;
                let arguments = function
                    .arguments
                    .map(|a| self.held.join(Field::Arguments(0), a));
                self.tool_call(choice, 0, None, function.name, arguments, out);
            }
            _ => {}
        }
    }

    /// `content` is a string, or (Mistral) an array of typed parts. Any other shape carries
    /// nothing we can show, so it is skipped rather than failing the chunk.
    fn content(&mut self, choice: u32, raw: &RawValue, out: &mut Vec<Delta>) {
        let json = raw.get();
        if json.starts_with('"') {
            if let Ok(text) = surrogates::from_str::<Text>(json) {
                let text = self.held.join(Field::Content, text);
                self.text(choice, text, out);
            }
            return;
        }
        let Ok(parts) = surrogates::from_str::<Vec<ContentPart>>(json) else {
            return;
        };
        for part in parts {
            match part.kind.as_deref() {
                Some("text") => {
                    if let Some(text) = part.text {
                        let text = self.held.join(Field::Content, text);
                        self.text(choice, text, out);
                    }
                }
                Some("thinking") => {
                    for text in part.thinking.map(thinking_texts).unwrap_or_default() {
                        let text = self.held.join(Field::Reasoning, text);
                        self.reasoning(choice, text, out);
                    }
                }
                _ => {}
            }
        }
    }

    // The text of one value of a field, joined (`Held::join`): empty when the value was only
    // a high surrogate held back.

    fn text(&mut self, choice: u32, text: Cow<'_, str>, out: &mut Vec<Delta>) {
        if !text.is_empty() {
            let text = append(&mut self.content, text);
            if self.options.json {
                // Choice 0's parser also records the patches of `objects()` (see `content_json`).
                let parser = self.parsed.get_or_insert_with(|| match choice {
                    0 => PartialJson::recording(),
                    _ => PartialJson::new(),
                });
                parser.feed(&text);
            }
            out.push(Delta::Text { choice, text });
        }
    }

    fn reasoning(&mut self, choice: u32, text: Cow<'_, str>, out: &mut Vec<Delta>) {
        if !text.is_empty() {
            let text = append(&mut self.reasoning, text);
            out.push(Delta::Reasoning { choice, text });
        }
    }

    fn refusal(&mut self, choice: u32, text: Cow<'_, str>, out: &mut Vec<Delta>) {
        if !text.is_empty() {
            let text = append(&mut self.refusal, text);
            out.push(Delta::Refusal { choice, text });
        }
    }

    /// The choice ended: each high surrogate still held becomes U+FFFD in its field.
    fn flush(&mut self, choice: u32, out: &mut Vec<Delta>) {
        for field in self.held.take_all() {
            let lone = Cow::Borrowed(REPLACEMENT);
            match field {
                Field::Content => self.text(choice, lone, out),
                Field::Refusal => self.refusal(choice, lone, out),
                Field::Reasoning => self.reasoning(choice, lone, out),
                Field::Arguments(index) => {
                    self.tool_call(choice, index, None, None, Some(lone), out)
                }
            }
        }
    }

    /// The delta reports `id` / `name` as they came; the accumulation keeps the first non-empty
    /// ones (servers that repeat the name on every delta must not get it doubled) and appends
    /// the arguments.
    fn tool_call(
        &mut self,
        choice: u32,
        index: u32,
        id: Option<Cow<'_, str>>,
        name: Option<Cow<'_, str>>,
        arguments: Option<Cow<'_, str>>,
        out: &mut Vec<Delta>,
    ) {
        let id = id.filter(|s| !s.is_empty());
        let name = name.filter(|s| !s.is_empty());
        let arguments = arguments.unwrap_or_default();

        let announcing = !self.tool_calls.get(&index).is_some_and(|c| c.announced);
        if announcing && !(id.is_none() && name.is_none() && arguments.is_empty()) {
            // Calls usually stream one after another: when a new one starts, the earlier ones
            // whose arguments are whole JSON are complete. Fragments of interleaved calls
            // (arguments not yet whole) keep theirs open until the choice finishes.
            self.complete_calls(choice, |call| is_whole_json(&call.arguments), out);
        }
        let state = self.tool_calls.entry(index).or_default();
        if let (true, Some(id)) = (state.id.is_empty(), &id) {
            state.id.push_str(id);
        }
        if let (true, Some(name)) = (state.name.is_empty(), &name) {
            state.name.push_str(name);
        }
        state.arguments.push_str(&arguments);

        // A bare `{"index":1,"function":{"arguments":""}}` tells the consumer nothing.
        if id.is_none() && name.is_none() && arguments.is_empty() {
            return;
        }
        let partial = self.options.partial_json.then(|| {
            let parser = state.partial.get_or_insert_with(PartialJson::new);
            parser.feed(&arguments);
            parser.snapshot()
        });
        state.announced = true;
        out.push(Delta::ToolCallDelta {
            choice,
            index,
            id: id.map(Cow::into_owned),
            name: name.map(Cow::into_owned),
            arguments: arguments.into_owned(),
            kind: ToolKind::Function,
            partial: partial.flatten(),
            hosted: false,
        });
    }

    /// Sends the whole `ToolCall` for every announced, not yet complete call that `whole`
    /// accepts, in index order.
    fn complete_calls(
        &mut self,
        choice: u32,
        whole: impl Fn(&ToolCallState) -> bool,
        out: &mut Vec<Delta>,
    ) {
        for (&index, call) in &mut self.tool_calls {
            if call.announced && !call.completed && whole(call) {
                call.completed = true;
                out.push(Delta::ToolCall {
                    choice,
                    index,
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    kind: ToolKind::Function,
                    server: None,
                    output: None,
                    error: None,
                    hosted: false,
                });
            }
        }
    }
}

/// Whether `text` is one whole JSON value (what `JSON.parse` would accept).
fn is_whole_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

impl WireParser for ChatParser {
    fn on_event(
        &mut self,
        event: &SseEventRef<'_>,
        out: &mut Vec<Delta>,
    ) -> Result<Step, WireError> {
        let data = event.data.trim_ascii();
        match event.event_type() {
            "error" => Err(error_event(data, ErrorEventFormat::Chat)),
            _ if data.is_empty() => Ok(Step::Ignored),
            _ if data == "[DONE]" => {
                self.flush(out);
                Ok(Step::Done)
            }
            "message" => match surrogates::from_str::<Chunk>(data) {
                Ok(chunk) => self.apply(chunk, out),
                Err(error) => Err(bad_payload(data, &error, "chat completion chunk")),
            },
            // Another event type is ours only if it looks like a chunk (or carries an error);
            // anything else (pings, vendor extras, non-JSON) is not for us.
            _ => match surrogates::from_str::<Chunk>(data) {
                Ok(chunk) if chunk.choices.is_some() || chunk.error.is_some() => {
                    self.apply(chunk, out)
                }
                _ => Ok(Step::Ignored),
            },
        }
    }

    fn flush(&mut self, out: &mut Vec<Delta>) {
        for (&index, state) in &mut self.choices {
            state.flush(index, out);
        }
    }

    fn is_complete(&self) -> bool {
        !self.choices.is_empty() && self.choices.values().all(|c| c.finish_reason.is_some())
    }

    fn close(&mut self, out: &mut Vec<Delta>) {
        for (&index, choice) in &mut self.choices {
            choice.complete_calls(index, |_| true, out);
        }
    }

    fn content_json(&mut self) -> Option<&mut PartialJson> {
        self.choices.get_mut(&0)?.parsed.as_mut()
    }

    fn final_json(&self) -> String {
        let choices = self.choices.iter().map(|(&index, c)| {
            let tool_calls = c.tool_calls.values().map(|t| FinalToolCall {
                id: Some(t.id.as_str()).filter(|id| !id.is_empty()),
                kind: "function",
                function: FinalFunction {
                    name: &t.name,
                    arguments: &t.arguments,
                },
            });
            let function_call = c
                .tool_calls
                .get(&0)
                .filter(|_| c.legacy_function_call)
                .map(|t| FinalFunction {
                    name: &t.name,
                    arguments: &t.arguments,
                });
            FinalChoice {
                index,
                message: FinalMessage {
                    role: "assistant",
                    content: c.content.as_deref(),
                    refusal: c.refusal.as_deref(),
                    reasoning_content: c.reasoning.as_deref(),
                    tool_calls: tool_calls.collect(),
                    function_call,
                    parsed: c
                        .options
                        .json
                        .then(|| c.parsed.as_ref().and_then(PartialJson::complete_value)),
                },
                finish_reason: c.finish_reason.as_deref(),
                logprobs: (),
            }
        });
        let completion = FinalCompletion {
            id: self.id.as_deref().unwrap_or_default(),
            object: "chat.completion",
            created: self.created.unwrap_or_default(),
            model: self.model.as_deref().unwrap_or_default(),
            system_fingerprint: self.system_fingerprint.as_deref(),
            choices: choices.collect(),
            usage: self.usage.as_deref(),
        };
        serde_json::to_string(&completion).expect("plain structs always serialize")
    }
}

// The `final()` shape: the non-streaming `chat.completion` object.

#[derive(Serialize)]
struct FinalCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'a str>,
    choices: Vec<FinalChoice<'a>>,
    usage: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct FinalChoice<'a> {
    index: u32,
    message: FinalMessage<'a>,
    finish_reason: Option<&'a str>,
    /// Always `null`: log probabilities are not accumulated.
    logprobs: (),
}

#[derive(Serialize)]
struct FinalMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<FinalToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FinalFunction<'a>>,
    /// The content parsed as JSON when the request asked for JSON (`null`: it is not JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    parsed: Option<Option<JsonValue>>,
}

#[derive(Serialize)]
struct FinalToolCall<'a> {
    /// `null` when the server never sent one (a legacy `function_call`).
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FinalFunction<'a>,
}

#[derive(Serialize)]
struct FinalFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

// Helpers.

/// The texts of a Mistral `thinking` field: a string or an array of text parts.
fn thinking_texts(raw: &RawValue) -> Vec<Text<'_>> {
    if let Ok(text) = surrogates::from_str::<Text>(raw.get()) {
        return vec![text];
    }
    let parts = surrogates::from_str::<Vec<ContentPart>>(raw.get()).unwrap_or_default();
    parts
        .into_iter()
        .filter_map(|p| p.text)
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
