//! Bytes in, batches out: SSE framing plus one wire format, shared by HTTP streams and by
//! the bring-your-own-bytes parsers. No I/O here, so the same code serves both.

use crate::failure::{truncate_at_char, Failure, FailureKind};
use crate::openai::{Delta, Step, WireError, WireParser};
use crate::sse::{SseEvent, SseParser};

/// Everything decoded since the last hand-over to JS, in three ready-made forms so that JS
/// pays only for the one it reads: the Delta JSON array, choice 0's text, the raw chunks.
#[derive(Debug, Default)]
pub struct Batch {
    /// `[{"type":"text",...},...]` without the brackets, comma-separated.
    pub deltas_json: String,
    pub delta_count: usize,
    /// How many raw provider objects `raw_json` holds.
    pub chunk_count: usize,
    /// Choice 0's content text, concatenated (what `text()` yields).
    pub text: String,
    /// The raw provider objects, comma-separated JSON texts.
    pub raw_json: String,
    /// Set on the last batch of a stream.
    pub end: Option<End>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.delta_count == 0 && self.raw_json.is_empty() && self.end.is_none()
    }

    /// Payload bytes held, to bound a batch while the consumer is slow.
    pub fn weight(&self) -> usize {
        self.deltas_json.len() + self.raw_json.len()
    }

    pub fn deltas_array(&self) -> String {
        format!("[{}]", self.deltas_json)
    }

    pub fn raw_array(&self) -> String {
        format!("[{}]", self.raw_json)
    }
}

/// How a stream ended. Serialised to JS as `{ "final": ... }` or `{ "error": ..., "partial": ... }`.
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
    events: Vec<SseEvent>,
    deltas: Vec<Delta>,
    batch: Batch,
    /// `[DONE]` or a terminal event came: later bytes are ignored.
    done: bool,
    /// Set once the decoder reached a verdict; nothing more is decoded after it.
    failed: bool,
    chunks: u64,
    /// The API key, scrubbed from every failure this decoder records.
    secret: Option<String>,
}

impl Decoder {
    pub fn new(wire: Box<dyn WireParser>, max_event_bytes: Option<usize>) -> Self {
        let sse = match max_event_bytes {
            Some(limit) => SseParser::with_max_event_bytes(limit),
            None => SseParser::new(),
        };
        Decoder {
            sse,
            wire,
            events: Vec::new(),
            deltas: Vec::new(),
            batch: Batch::default(),
            done: false,
            failed: false,
            chunks: 0,
            secret: None,
        }
    }

    /// Makes every recorded failure free of `secret` (a provider may echo the API key).
    pub fn with_secret(mut self, secret: Option<String>) -> Self {
        self.secret = secret;
        self
    }

    /// Provider chunks decoded so far.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    pub fn is_done(&self) -> bool {
        self.done || self.failed
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
        if let Err(e) = self.sse.feed(bytes, &mut self.events) {
            self.fail(Failure::new(FailureKind::Parse, e.to_string()));
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        self.apply(&events);
        events.clear();
        self.events = events;
    }

    fn apply(&mut self, events: &[SseEvent]) {
        for event in events.iter() {
            if self.done {
                break;
            }
            match self.wire.on_event(event, &mut self.deltas) {
                Ok(step) => {
                    if step == Step::Chunk {
                        self.chunks += 1;
                        self.batch.chunk_count += 1;
                        if !self.batch.raw_json.is_empty() {
                            self.batch.raw_json.push(',');
                        }
                        self.batch.raw_json.push_str(event.data.trim());
                    }
                    self.flush_deltas();
                    if step == Step::Done {
                        self.done = true;
                    }
                }
                Err(error) => {
                    self.flush_deltas();
                    self.fail(wire_failure(error));
                    return;
                }
            }
        }
    }

    fn flush_deltas(&mut self) {
        for delta in self.deltas.drain(..) {
            if let Delta::Text { choice: 0, text } = &delta {
                self.batch.text.push_str(text);
            }
            if self.batch.delta_count > 0 {
                self.batch.deltas_json.push(',');
            }
            // Serialising a plain enum into a String cannot fail.
            let _ = serde_json::to_writer(unsafe_vec(&mut self.batch.deltas_json), &delta);
            self.batch.delta_count += 1;
        }
    }

    /// End of input. A stream that closes without a terminal marker is whole only when every
    /// choice finished; otherwise it is incomplete. A body with no SSE at all is a parse error.
    pub fn finish(&mut self) -> End {
        if self.batch.end.is_some() {
            return self.batch.end.clone().unwrap();
        }
        if !self.done {
            let mut events = Vec::new();
            let _ = self.sse.finish(&mut events);
            if !self.sse.saw_any_line() && self.sse.bytes_seen() > 0 {
                self.fail(Failure::new(
                    FailureKind::Parse,
                    "the response body is not an event stream (no SSE lines)",
                ));
                return self.batch.end.clone().unwrap();
            }
            if !self.wire.is_complete() {
                let what = if self.sse.bytes_seen() == 0 {
                    "the server closed the stream without sending any data"
                } else {
                    "the connection closed before the stream finished (no [DONE] and not every choice had a finish_reason)"
                };
                self.fail(Failure::new(FailureKind::Incomplete, what));
                return self.batch.end.clone().unwrap();
            }
        }
        let end = End::Finished {
            final_json: self.wire.final_json(),
        };
        self.batch.end = Some(end.clone());
        end
    }

    /// Records a failure as the stream's end, with what was accumulated so far.
    /// The partial result is attached only once body bytes had arrived.
    pub fn fail(&mut self, failure: Failure) {
        self.failed = true;
        let partial_json = (self.sse.bytes_seen() > 0).then(|| self.wire.final_json());
        self.batch.end = Some(End::Failed {
            failure: Box::new(failure.redact(self.secret.as_deref())),
            partial_json,
        });
    }

    /// The accumulated result so far (for failures raised outside the decoder).
    pub fn partial_json(&self) -> String {
        self.wire.final_json()
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
