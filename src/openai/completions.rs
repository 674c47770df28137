//! Legacy completions (`/completions`, `text_completion` payloads): one SSE event in, `Delta`s
//! out, plus the accumulation `final()` returns, shaped like the non-streaming `text_completion`.
//!
//! Handled on purpose, as for chat: `null` for any optional field, `choices: []` or missing (the
//! usage chunk), choices of `n > 1` in any order, `finish_reason` on the last text chunk, a
//! repeated finish reason, `{"error": ...}` with a string or integer `code`, and no `[DONE]`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::errors::{bad_payload, error_event, provider_error, ErrorEventFormat};
use super::fields::fill_str;
use super::surrogates::{self, Held, Text, REPLACEMENT};
use super::{Delta, RawJson, Step, WireError, WireParser};
use crate::sse::SseEventRef;

// Wire shapes: only the fields we use, borrowed from the payload where possible. Missing and
// `null` both deserialize to `None`; unknown fields (`logprobs`, `object`, ...) are skipped.

#[derive(Deserialize)]
struct Chunk<'a> {
    // Metadata stays raw and is read only until known: an odd type here never costs the text.
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
    text: Option<Text<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct ChoiceState {
    text: String,
    finish_reason: Option<String>,
    /// A lone high surrogate ending the last `text` (see `surrogates`): the one field.
    held: Held<()>,
}

impl ChoiceState {
    fn text(&mut self, choice: u32, text: Cow<'_, str>, out: &mut Vec<Delta>) {
        if !text.is_empty() {
            self.text.push_str(&text);
            out.push(Delta::Text {
                choice,
                text: text.into_owned(),
            });
        }
    }

    /// The choice ended: a high surrogate still held becomes U+FFFD.
    fn flush(&mut self, choice: u32, out: &mut Vec<Delta>) {
        if !self.held.take_all().is_empty() {
            self.text(choice, Cow::Borrowed(REPLACEMENT), out);
        }
    }
}

/// The legacy completions wire format.
#[derive(Default)]
pub struct CompletionsParser {
    id: Option<String>,
    model: Option<String>,
    created: Option<i64>,
    system_fingerprint: Option<String>,
    /// Keyed by `choices[].index`: with n > 1 choices arrive in any order.
    choices: BTreeMap<u32, ChoiceState>,
    usage: Option<Box<RawValue>>,
}

impl CompletionsParser {
    pub fn new() -> Self {
        Self::default()
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
            let created = chunk
                .created
                .and_then(|raw| serde_json::from_str(raw.get()).ok());
            self.created = created.filter(|&c: &i64| c != 0);
        }

        for choice in chunk.choices.into_iter().flatten() {
            let index = choice.index.unwrap_or(0);
            let state = self.choices.entry(index).or_default();
            if let Some(text) = choice.text {
                let text = state.held.join((), text);
                state.text(index, text, out);
            }
            // `""` means "not yet" on some servers; a repeated reason is not a new event.
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                if state.finish_reason.as_deref() != Some(&reason) {
                    // The choice ended: a surrogate still held is never completed.
                    state.flush(index, out);
                    let reason = reason.into_owned();
                    state.finish_reason = Some(reason.clone());
                    out.push(Delta::Finish {
                        choice: index,
                        reason,
                    });
                }
            }
        }

        // Only an object is a usage report; the last one wins.
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

impl WireParser for CompletionsParser {
    fn on_event(
        &mut self,
        event: &SseEventRef<'_>,
        out: &mut Vec<Delta>,
    ) -> Result<Step, WireError> {
        let data = event.data.trim_ascii();
        match event.event_type() {
            "error" => Err(error_event(data, ErrorEventFormat::Responses)),
            _ if data.is_empty() => Ok(Step::Ignored),
            _ if data == "[DONE]" => {
                self.flush(out);
                Ok(Step::Done)
            }
            "message" => match surrogates::from_str::<Chunk>(data) {
                Ok(chunk) => self.apply(chunk, out),
                Err(error) => Err(bad_payload(data, &error, "text completion chunk")),
            },
            // Another event type is ours only if it looks like a chunk (or carries an error).
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

    fn final_json(&self) -> String {
        let choices = self.choices.iter().map(|(&index, c)| FinalChoice {
            index,
            text: &c.text,
            finish_reason: c.finish_reason.as_deref(),
            logprobs: (),
        });
        let completion = FinalCompletion {
            id: self.id.as_deref().unwrap_or_default(),
            object: "text_completion",
            created: self.created.unwrap_or_default(),
            model: self.model.as_deref().unwrap_or_default(),
            system_fingerprint: self.system_fingerprint.as_deref(),
            choices: choices.collect(),
            usage: self.usage.as_deref(),
        };
        serde_json::to_string(&completion).expect("plain structs always serialize")
    }
}

// The `final()` shape: the non-streaming `text_completion` object.

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
    text: &'a str,
    finish_reason: Option<&'a str>,
    /// Always `null`: log probabilities are not accumulated.
    logprobs: (),
}

#[cfg(test)]
mod tests;
