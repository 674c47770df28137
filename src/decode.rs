//! Bytes in, batches out: SSE framing plus one wire format, shared by HTTP streams and by
//! the bring-your-own-bytes parsers. No I/O here, so the same code serves both.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::failure::{truncate_at_char, Failure, FailureKind};
use crate::openai::partial_json::PartialJson;
use crate::openai::{Delta, Step, WireError, WireParser};
use crate::secrets::Secrets;
use crate::sse::{SseEventRef, SseParser};

/// Everything decoded since the last hand-over to JS, in ready-made forms so that JS pays only
/// for the one it reads: the Delta JSON array, choice 0's text, the raw chunks. The Delta JSON
/// is built on the engine thread only while some consumer reads deltas (see
/// [`Decoder::delta_json_switch`]); otherwise `deltas_array` builds it on demand.
#[derive(Debug, Default)]
pub struct Batch {
    /// The deltas themselves, for the relay formats (`relay.rs`).
    pub deltas: Vec<Delta>,
    /// `[{"type":"text",...},...]` without the brackets, comma-separated: the first
    /// `json_count` deltas.
    pub deltas_json: String,
    pub json_count: usize,
    pub delta_count: usize,
    /// How many raw provider objects `raw_json` holds.
    pub chunk_count: usize,
    /// Choice 0's content text, concatenated (what `text()` yields).
    pub text: String,
    /// The raw provider objects, comma-separated JSON texts.
    pub raw_json: String,
    /// Where each raw object lies in `raw_json` (start, end).
    pub raw_spans: Vec<(usize, usize)>,
    /// Patches to the value choice 0's content parses to so far (`objects()`), comma-separated
    /// (see `partial_json`); built only while a consumer reads objects.
    pub objects_json: String,
    /// Set on the last batch of a stream.
    pub end: Option<End>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.delta_count == 0 && self.chunk_count == 0 && self.end.is_none()
    }

    /// Payload bytes held, to bound a batch while the consumer is slow.
    pub fn weight(&self) -> usize {
        self.deltas_json.len() + self.raw_json.len() + self.objects_json.len()
    }

    /// The object patches as a JSON array, or `None` when there are none.
    pub fn objects_array(&self) -> Option<String> {
        (!self.objects_json.is_empty()).then(|| format!("[{}]", self.objects_json))
    }

    /// The text of a batch that is one text delta of choice 0 (most batches of a slow stream):
    /// JS makes that Delta itself, so its JSON is never built (see `Decoder::flush_deltas`).
    pub fn lone_text(&self) -> Option<&str> {
        match self.deltas.as_slice() {
            [Delta::Text { choice: 0, text }] if self.delta_count == 1 => Some(text),
            _ => None,
        }
    }

    pub fn deltas_array(&self) -> String {
        if self.json_count == self.delta_count {
            return format!("[{}]", self.deltas_json);
        }
        // Not (or not wholly) built on the engine thread: nobody read deltas when it ran.
        serde_json::to_string(&self.deltas).unwrap_or_else(|_| "[]".into())
    }

    pub fn raw_array(&self) -> String {
        format!("[{}]", self.raw_json)
    }
}

/// How a stream ended (it crosses to JS as `binding::types::StreamEnd`).
#[derive(Debug, Clone)]
pub enum End {
    Finished {
        final_json: String,
    },
    Failed {
        failure: Box<Failure>,
        partial_json: Option<String>,
    },
}

impl End {
    /// The end as one JSON text (`{"final":..}` or `{"error":..,"partial":..}`): how the unit
    /// and property tests compare whole outcomes. JS receives `binding::types::StreamEnd`.
    pub fn to_json(&self) -> String {
        match self {
            End::Finished { final_json } => format!("{{\"final\":{final_json}}}"),
            End::Failed {
                failure,
                partial_json,
            } => {
                let error = serde_json::to_string(failure).unwrap_or_else(|_| "{}".into());
                let partial = partial_json.as_deref().unwrap_or("null");
                format!("{{\"error\":{error},\"partial\":{partial}}}")
            }
        }
    }
}

pub struct Decoder {
    sse: SseParser,
    wire: Box<dyn WireParser>,
    deltas: Vec<Delta>,
    batch: Batch,
    /// `[DONE]` or a terminal event came: later bytes are ignored.
    done: bool,
    /// Set once the decoder reached a verdict (it went into a batch's `end`); nothing more is
    /// decoded after it.
    ended: bool,
    chunks: u64,
    /// The request's credentials, scrubbed from every failure this decoder records.
    secrets: Secrets,
    /// Body bytes received over every connection of this stream (resumes included).
    received: u64,
    /// Whether to build each batch's Delta JSON as deltas arrive (see `Batch`).
    delta_json: Arc<AtomicBool>,
    /// Choice 0's content parsed as JSON as it arrives, and whether a consumer reads its
    /// patches (on until JS says otherwise, like `delta_json`). Prose fails at its first byte,
    /// after which the parser ignores the rest.
    objects: PartialJson,
    objects_json: Arc<AtomicBool>,
    /// Some content text went into `objects`.
    objects_fed: bool,
    /// Whether to keep each batch's raw provider objects (`raw_json`): only while a consumer
    /// reads them or a relay may re-encode them.
    raw_json: Arc<AtomicBool>,
    max_event_bytes: Option<usize>,
}

thread_local! {
    /// The deltas of the event being applied, between the wire parser and `flush_deltas`. Always
    /// empty between events, so one buffer per thread serves every stream's decoder: a Vec of
    /// each decoder's own kept ~0.5 KB of capacity in every open stream (heaptrack).
    static DELTA_SCRATCH: std::cell::Cell<Vec<Delta>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Decoder {
    pub fn new(wire: Box<dyn WireParser>, max_event_bytes: Option<usize>) -> Self {
        Decoder {
            sse: sse_parser(max_event_bytes),
            max_event_bytes,
            received: 0,
            delta_json: Arc::new(AtomicBool::new(true)),
            objects: PartialJson::recording(),
            objects_json: Arc::new(AtomicBool::new(true)),
            objects_fed: false,
            raw_json: Arc::new(AtomicBool::new(true)),
            wire,
            deltas: Vec::new(),
            batch: Batch::default(),
            done: false,
            ended: false,
            chunks: 0,
            secrets: Secrets::default(),
        }
    }

    /// Makes every recorded failure free of the request's credentials (a provider may echo
    /// a key back).
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// The switch JS flips to say whether a consumer reads deltas. On until JS says otherwise, so
    /// batches decoded before any consumer attached are complete.
    pub fn delta_json_switch(&self) -> Arc<AtomicBool> {
        self.delta_json.clone()
    }

    /// Shares a switch made before this decoder (the HTTP stream's handle exists first).
    pub fn with_delta_json_switch(mut self, switch: Arc<AtomicBool>) -> Self {
        self.delta_json = switch;
        self
    }

    /// The switch JS flips to say whether a consumer reads objects (`objects()`, `object`).
    pub fn objects_switch(&self) -> Arc<AtomicBool> {
        self.objects_json.clone()
    }

    pub fn with_objects_switch(mut self, switch: Arc<AtomicBool>) -> Self {
        self.objects_json = switch;
        self
    }

    /// Shares the switch saying whether batches keep the raw provider objects (on until told
    /// otherwise).
    pub fn with_raw_json_switch(mut self, switch: Arc<AtomicBool>) -> Self {
        self.raw_json = switch;
        self
    }

    /// A resumed stream starts on a new connection: whatever partial line the broken one left
    /// is dropped, while the wire format keeps its accumulation (and skips replayed events).
    pub fn restart_framing(&mut self) {
        self.sse = sse_parser(self.max_event_bytes);
    }

    /// Where a broken stream can resume: the response id and the last sequence number, for
    /// formats that have them.
    pub fn resume_point(&self) -> Option<(String, u64)> {
        let after = self.wire.resume_after()?;
        let partial: serde_json::Value = serde_json::from_str(&self.wire.final_json()).ok()?;
        let id = partial.get("id")?.as_str().filter(|id| !id.is_empty())?;
        Some((id.to_string(), after))
    }

    /// Provider chunks decoded so far.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Every choice finished (or a terminal event came): the result is whole even if the
    /// connection ends now, cleanly or not.
    pub fn is_whole(&self) -> bool {
        self.done || self.wire.is_complete()
    }

    pub fn is_done(&self) -> bool {
        self.done || self.ended
    }

    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    pub fn take_batch(&mut self) -> Batch {
        std::mem::take(&mut self.batch)
    }

    /// Decodes `bytes`. A failure is recorded as the batch's end, with the partial result;
    /// `is_done()` then tells the caller to stop.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.is_done() {
            return;
        }
        self.received += bytes.len() as u64;
        // The framer lends each event straight out of `bytes` (no copy, no allocation); it is
        // moved out for the call so the callback may borrow the rest of the decoder.
        let mut sse = std::mem::take(&mut self.sse);
        self.deltas = DELTA_SCRATCH.take();
        // Events completed before an oversized one still count, whatever the read boundaries.
        let fed = sse.feed_with(bytes, |event| self.apply(&event));
        self.sse = sse;
        if self.deltas.is_empty() {
            DELTA_SCRATCH.set(std::mem::take(&mut self.deltas));
        }
        if let Err(e) = fed {
            if !self.is_done() {
                self.fail(Failure::new(FailureKind::Parse, e.to_string()));
            }
        }
    }

    fn apply(&mut self, event: &SseEventRef<'_>) {
        // After `[DONE]` or a failure, the rest of the bytes are ignored.
        if self.done || self.ended {
            return;
        }
        match self.wire.on_event(event, &mut self.deltas) {
            Ok(step) => {
                // A terminal event that is an object (responses' `response.completed`) is a
                // provider object too; `[DONE]` is not.
                let terminal_object =
                    step == Step::Done && event.data.trim_start().starts_with('{');
                if step == Step::Chunk || terminal_object {
                    self.chunks += 1;
                    self.batch.chunk_count += 1;
                    // Nobody reads raw objects: the copy (most of a chunk's bytes) is skipped.
                    if self.raw_json.load(Ordering::Relaxed) {
                        if !self.batch.raw_json.is_empty() {
                            self.batch.raw_json.push(',');
                        }
                        let start = self.batch.raw_json.len();
                        self.batch.raw_json.push_str(event.data.trim());
                        self.batch
                            .raw_spans
                            .push((start, self.batch.raw_json.len()));
                    }
                }
                self.flush_deltas();
                if step == Step::Done {
                    self.done = true;
                }
            }
            Err(error) => {
                self.flush_deltas();
                self.fail(wire_failure(error));
            }
        }
    }

    fn flush_deltas(&mut self) {
        if self.deltas.is_empty() {
            return;
        }
        let build_json = self.delta_json.load(Ordering::Relaxed);
        // When the wire parser parses choice 0's content for `final()`, its parser is the one
        // `objects()` reads (see `WireParser::content_json`): the text is parsed once.
        let own_parser = self.wire.content_json().is_none();
        for delta in self.deltas.drain(..) {
            if let Delta::Text { choice: 0, text } = &delta {
                self.batch.text.push_str(text);
                if own_parser {
                    self.objects.feed(text);
                }
                self.objects_fed = true;
            }
            // A batch's first delta, when it is choice 0's text, waits: alone in its batch it
            // needs no JSON (`Batch::lone_text`); it is written once a second delta comes.
            if build_json && self.batch.json_count == 0 && self.batch.delta_count == 1 {
                if let Some(first) = self.batch.deltas.first() {
                    let _ = serde_json::to_writer(unsafe_vec(&mut self.batch.deltas_json), first);
                    self.batch.json_count = 1;
                }
            }
            let lone_text =
                self.batch.delta_count == 0 && matches!(&delta, Delta::Text { choice: 0, .. });
            // Only while every earlier delta of the batch is in the JSON too.
            if build_json && self.batch.json_count == self.batch.delta_count && !lone_text {
                if self.batch.json_count > 0 {
                    self.batch.deltas_json.push(',');
                }
                // Serialising a plain enum into a String cannot fail.
                let _ = serde_json::to_writer(unsafe_vec(&mut self.batch.deltas_json), &delta);
                self.batch.json_count += 1;
            }
            self.batch.delta_count += 1;
            self.batch.deltas.push(delta);
        }
        let record = self.objects_json.load(Ordering::Relaxed);
        let objects = objects_parser(&mut self.wire, &mut self.objects);
        objects.set_record(record);
        objects.take_patches(&mut self.batch.objects_json);
    }

    /// End of input. A stream that closes without a terminal marker is whole only when every
    /// choice finished; otherwise it is incomplete. A body with no SSE at all is a parse error.
    pub fn finish(&mut self) {
        if self.ended {
            return;
        }
        self.flush_held();
        if !self.done {
            let mut events = Vec::new();
            let _ = self.sse.finish(&mut events);
            if !self.sse.saw_any_line() && self.sse.bytes_seen() > 0 {
                return self.fail(Failure::new(
                    FailureKind::Parse,
                    "the response body is not an event stream (no SSE lines)",
                ));
            }
            if !self.wire.is_complete() {
                let what = if self.sse.bytes_seen() == 0 {
                    "the server closed the stream without sending any data"
                } else {
                    "the connection closed before the stream finished (no [DONE] and not every choice had a finish_reason)"
                };
                return self.fail(Failure::new(FailureKind::Incomplete, what));
            }
        }
        self.wire.close(&mut self.deltas);
        self.flush_deltas();
        if self.objects_fed {
            // A number ending the content completes now; content cut short is not JSON.
            let objects = objects_parser(&mut self.wire, &mut self.objects);
            let _ = objects.finish();
            objects.take_patches(&mut self.batch.objects_json);
        }
        let final_json = self.wire.final_json();
        self.end_with(End::Finished { final_json });
    }

    /// Records a failure as the stream's end, with what was accumulated so far. The partial
    /// result is attached only once body bytes had arrived. The first verdict wins.
    pub fn fail(&mut self, failure: Failure) {
        if self.ended {
            return;
        }
        self.flush_held();
        let partial_json = (self.received > 0).then(|| self.wire.final_json());
        self.end_with(End::Failed {
            failure: Box::new(failure.redact(&self.secrets)),
            partial_json,
        });
    }

    /// What the wire format still holds back (a lone high surrogate) goes into the batch.
    fn flush_held(&mut self) {
        self.wire.flush(&mut self.deltas);
        self.flush_deltas();
    }

    fn end_with(&mut self, end: End) {
        self.ended = true;
        self.batch.end = Some(end);
    }

    /// The accumulated result so far (for failures raised outside the decoder).
    pub fn partial_json(&self) -> String {
        self.wire.final_json()
    }
}

/// The parser of choice 0's content: the wire parser's when it keeps one, else the decoder's.
fn objects_parser<'a>(
    wire: &'a mut Box<dyn WireParser>,
    own: &'a mut PartialJson,
) -> &'a mut PartialJson {
    match wire.content_json() {
        Some(parser) => parser,
        None => own,
    }
}

fn sse_parser(max_event_bytes: Option<usize>) -> SseParser {
    match max_event_bytes {
        Some(limit) => SseParser::with_max_event_bytes(limit),
        None => SseParser::new(),
    }
}

fn wire_failure(error: WireError) -> Failure {
    match error {
        WireError::Parse { message, line } => Failure {
            line: Some(truncate_at_char(&line, 200).to_string()),
            ..Failure::new(FailureKind::Parse, message)
        },
        WireError::Provider {
            message,
            kind,
            code,
            param,
        } => Failure {
            error_type: kind,
            api_code: code,
            param,
            ..Failure::new(FailureKind::Stream, message)
        },
    }
}

/// Lets serde_json write straight into a String. Safe because serde_json only ever writes
/// valid UTF-8.
fn unsafe_vec(s: &mut String) -> &mut Vec<u8> {
    // SAFETY: serde_json's serializer emits UTF-8 only, so the String stays valid.
    unsafe { s.as_mut_vec() }
}

#[cfg(test)]
mod tests;
