//! The only module that knows napi: the classes `lib/native.js` hands to the JS layer. What
//! crosses once per client or stream is typed (`types`); what crosses per batch is a few
//! strings (JSON that JS parses only when a consumer asks for it) or one buffer, never one
//! N-API object per delta.

mod types;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::decode::{Batch, Decoder};
use crate::failure::{Failure, FailureKind};
use crate::http::{HttpClient, RequestSpec};
use crate::openai::chat::ChatParser;
use crate::openai::completions::CompletionsParser;
use crate::openai::responses::ResponsesParser;
use crate::openai::{WireOptions, WireParser};
use crate::relay;
use crate::relay_ids;
use crate::sse::SseParser;
use crate::sse_pack::EventPacker;
use crate::stream::{self, Outbox, ReadyList, ResponseState, StreamHandle, Take};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use types::{
    JsClientConfig, JsRelayFormat, JsRequestOptions, ResponseOutcome, StreamEnd, WireFormat,
};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

fn wire_for(format: WireFormat) -> Box<dyn WireParser> {
    wire_with(format, WireOptions::default())
}

fn wire_with(format: WireFormat, options: WireOptions) -> Box<dyn WireParser> {
    match format {
        WireFormat::Chat => Box::new(ChatParser::with_options(options)),
        WireFormat::Responses => Box::new(ResponsesParser::with_options(options)),
        WireFormat::Completions => Box::new(CompletionsParser::new()),
    }
}

/// `onReady()`: some stream of this client has a batch (or is over) and is on its ready list;
/// called once when the list goes from empty to not empty. Weak: a waiting stream keeps the
/// process alive from JS (`lib/client.js`), not through this.
type OnReady = ThreadsafeFunction<u32, Unknown<'static>, u32, Status, false, true>;

/// Which forms of a batch `NativeClient::take` renders for a stream (`NativeStream::read_forms`).
const FORM_TEXT: u32 = 1;
const FORM_DELTAS: u32 = 2;
const FORM_RAW: u32 = 4;
/// JS reads the batches themselves (`NativeBatch`, for the relays): every form stays available.
const FORM_NATIVE: u32 = 8;
/// Patches to choice 0's content parsed as JSON (`objects()`, the `object` event).
const FORM_OBJECTS: u32 = 16;
/// `take` entry flags (an entry: stream id, flags, deltaCount, chunkCount, and the lengths of
/// text, deltas, raw and objects in the string `take` returns).
const ENTRY_END: u32 = 1;
const ENTRY_OVER: u32 = 2;
/// The entry's deltas are one text delta of choice 0: its deltas form is that text, not JSON.
const ENTRY_LONE_TEXT: u32 = 4;
/// u32s per `take` entry: id, flags, deltaCount, chunkCount, text, deltas, raw and objects
/// lengths.
const ENTRY_LEN: usize = 8;

/// One configured HTTP client (connection pool, auth, defaults).
#[napi]
pub struct NativeClient {
    http: Arc<HttpClient>,
    ready: Arc<ReadyList>,
    /// What the last `ready()` returned, for the `take()` that follows it.
    listed: Mutex<Vec<Arc<Outbox>>>,
    /// The ends of the last `take()`'s entries flagged `ENTRY_END`, for `take_ends()`: most
    /// wake-ups carry none, and an object around the string would cost every one of them.
    ended: Mutex<Vec<StreamEnd>>,
    next_stream_id: std::sync::atomic::AtomicU32,
}

#[napi]
impl NativeClient {
    /// `config` is already validated, with defaults applied, by `lib/client.js`.
    #[napi(constructor)]
    pub fn new(config: JsClientConfig, on_ready: OnReady) -> Result<Self> {
        let http = HttpClient::new(config.into()).map_err(invalid)?;
        let wake = Box::new(move || {
            on_ready.call(0, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(NativeClient {
            http: Arc::new(http),
            ready: Arc::new(ReadyList::new(wake)),
            listed: Mutex::new(Vec::new()),
            ended: Mutex::new(Vec::new()),
            next_stream_id: std::sync::atomic::AtomicU32::new(1),
        })
    }

    /// Starts a request at once and returns its stream handle.
    #[napi]
    pub fn open(
        &self,
        format: WireFormat,
        method: String,
        path: String,
        body: Option<String>,
        options: JsRequestOptions,
        model: Option<String>,
    ) -> Result<NativeStream> {
        let wire = wire_with(
            format,
            WireOptions {
                json: options.json_output.unwrap_or(false),
                partial_json: options.partial_json.unwrap_or(false),
            },
        );
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| invalid("bad HTTP method"))?;
        let spec = RequestSpec {
            method,
            path,
            body,
            options: options.into(),
        };
        let http = self.http.clone();
        let id = self.next_stream_id.fetch_add(1, Ordering::Relaxed);
        let list = self.ready.clone();
        let handle = napi::bindgen_prelude::within_runtime_if_available(move || {
            stream::start(http, spec, model, wire, id, list)
        });
        Ok(NativeStream {
            handle: Arc::new(handle),
            id,
        })
    }

    /// Writes into `ids` the ids of the streams that became ready since the last call, each
    /// once, and returns how many. When more are ready than `ids` holds, the rest stay listed
    /// for the next call (JS calls again when `ids` came back full). The `take()` that follows
    /// takes those JS waits on; the others keep their batches (JS takes them with
    /// `NativeStream::try_take` when it wants them). JS owns the arrays: a typed array made
    /// here would be an external ArrayBuffer with a finalizer, on every wake-up.
    #[napi]
    pub fn ready(&self, mut ids: Uint32ArraySlice) -> u32 {
        // SAFETY: JS is stopped in this call and nothing else touches the array meanwhile.
        let ids = unsafe { ids.as_mut() };
        let listed = self.ready.take_at_most(ids.len());
        for (slot, outbox) in ids.iter_mut().zip(&listed) {
            *slot = outbox.id;
        }
        let count = listed.len() as u32;
        *self.listed.lock().unwrap_or_else(|e| e.into_inner()) = listed;
        count
    }

    /// Every batch now ready of the streams the last `ready()` named where `wanted[i]` is not
    /// 0, rendered in the forms each stream's consumer reads; their numbers go into `meta`
    /// (`ENTRY_LEN` u32s an entry after a first u32, the entry count). A stream whose batches
    /// do not all fit in `meta` is listed again for the next wake-up. Returns the entries'
    /// forms as one string, sliced in JS: per entry its text, then its deltas JSON array, then
    /// its raw JSON array, then its objects patches JSON array, each present when its length
    /// is not 0 (lengths in UTF-16 units); flags 1: the entry carries its stream's end, 2: the
    /// stream is over, 4: its deltas form is the text of its one text delta, not JSON. Never
    /// waits.
    #[napi]
    pub fn take(&self, wanted: &[u8], mut meta: Uint32ArraySlice) -> Utf16String {
        // SAFETY: as in `ready`.
        let meta = unsafe { meta.as_mut() };
        let listed = std::mem::take(&mut *self.listed.lock().unwrap_or_else(|e| e.into_inner()));
        let mut data: Vec<u16> = Vec::new();
        let mut ends = Vec::new();
        let mut at = 1;
        for (outbox, _) in listed
            .iter()
            .zip(wanted.iter())
            .filter(|(_, &wanted)| wanted != 0)
        {
            let forms = outbox.forms.load(Ordering::Relaxed);
            loop {
                if at + ENTRY_LEN > meta.len() {
                    // Out of room: the rest waits for the next wake-up.
                    self.ready.relist(outbox);
                    break;
                }
                match outbox.try_take() {
                    Take::Batch(batch) => {
                        let mut flags = 0;
                        if let Some(end) = &batch.end {
                            flags |= ENTRY_END;
                            ends.push(StreamEnd::from(end));
                        }
                        let text = push_form(&mut data, forms & FORM_TEXT != 0, || {
                            std::borrow::Cow::Borrowed(batch.text.as_str())
                        });
                        let deltas_read = forms & FORM_DELTAS != 0 && batch.delta_count > 0;
                        let lone_text = batch.lone_text().filter(|_| deltas_read);
                        let deltas = match lone_text {
                            Some(text) => {
                                flags |= ENTRY_LONE_TEXT;
                                push_form(&mut data, true, || std::borrow::Cow::Borrowed(text))
                            }
                            None => push_form(&mut data, deltas_read, || {
                                std::borrow::Cow::Owned(batch.deltas_array())
                            }),
                        };
                        let raw = push_form(
                            &mut data,
                            forms & FORM_RAW != 0 && batch.chunk_count > 0,
                            || std::borrow::Cow::Owned(batch.raw_array()),
                        );
                        let objects = match (forms & FORM_OBJECTS != 0)
                            .then(|| batch.objects_array())
                            .flatten()
                        {
                            Some(array) => {
                                push_form(&mut data, true, || std::borrow::Cow::Owned(array))
                            }
                            None => 0,
                        };
                        meta[at..at + ENTRY_LEN].copy_from_slice(&[
                            outbox.id,
                            flags,
                            batch.delta_count as u32,
                            batch.chunk_count as u32,
                            text,
                            deltas,
                            raw,
                            objects,
                        ]);
                        at += ENTRY_LEN;
                        self.ready.recycle(batch);
                    }
                    Take::Nothing => break,
                    Take::Over => {
                        meta[at..at + ENTRY_LEN]
                            .copy_from_slice(&[outbox.id, ENTRY_OVER, 0, 0, 0, 0, 0, 0]);
                        at += ENTRY_LEN;
                        break;
                    }
                }
            }
        }
        if let Some(count) = meta.first_mut() {
            *count = ((at - 1) / ENTRY_LEN) as u32;
        }
        *self.ended.lock().unwrap_or_else(|e| e.into_inner()) = ends;
        Utf16String::from(data)
    }

    /// The ends of the last `take()`'s entries flagged 1 (`ENTRY_END`), in order.
    #[napi]
    pub fn take_ends(&self) -> Vec<StreamEnd> {
        std::mem::take(&mut *self.ended.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Appends one form to `data` when `on`; returns its length in UTF-16 units.
fn push_form<'a>(
    data: &mut Vec<u16>,
    on: bool,
    form: impl FnOnce() -> std::borrow::Cow<'a, str>,
) -> u32 {
    if !on {
        return 0;
    }
    let before = data.len();
    data.extend(form().encode_utf16());
    (data.len() - before) as u32
}

/// A batch of decoded data. Each form becomes a JS string only when asked for.
#[napi]
pub struct NativeBatch {
    inner: Batch,
}

#[napi]
impl NativeBatch {
    /// Number of deltas in the batch.
    #[napi(getter)]
    pub fn delta_count(&self) -> u32 {
        self.inner.delta_count as u32
    }

    /// Number of raw provider objects in the batch.
    #[napi(getter)]
    pub fn chunk_count(&self) -> u32 {
        self.inner.chunk_count as u32
    }

    /// The deltas as a JSON array.
    #[napi]
    pub fn deltas(&self) -> String {
        self.inner.deltas_array()
    }

    /// Choice 0's content text in this batch.
    #[napi]
    pub fn text(&self) -> String {
        self.inner.text.clone()
    }

    /// The raw provider objects as a JSON array.
    #[napi]
    pub fn raw(&self) -> String {
        self.inner.raw_array()
    }

    /// The batch re-encoded for clients in `format`.
    #[napi]
    pub fn relay(&self, format: JsRelayFormat) -> String {
        relay::render(&self.inner, format.into())
    }

    /// The same as UTF-8 bytes, for sockets: a string would be decoded into V8's UTF-16 here and
    /// encoded back to UTF-8 by `res.write`, the relay's largest cost once text is not ASCII.
    #[napi]
    pub fn relay_bytes(&self, format: JsRelayFormat) -> Buffer {
        relay::render(&self.inner, format.into())
            .into_bytes()
            .into()
    }

    /// Patches to choice 0's content parsed as JSON (`objects()`), as a JSON array; `null` when
    /// the batch changed nothing (see `openai::partial_json`).
    #[napi]
    pub fn objects(&self) -> Option<String> {
        self.inner.objects_array()
    }

    /// Set on the last batch only: how the stream ended.
    #[napi]
    pub fn end(&self) -> Option<StreamEnd> {
        self.inner.end.as_ref().map(StreamEnd::from)
    }
}

/// How many SSE events a rendered batch holds (a resumable relay reserves that many ids for it).
// JS calls these two (lib/relay-store.js, lib/sse-ids.js); a test build has no JS caller.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn sse_event_count(bytes: &[u8]) -> u32 {
    relay_ids::event_count(bytes) as u32
}

/// What `sseWriteIds` wrote into its `out`.
#[napi(object)]
pub struct SseWritten {
    pub length: u32,
    pub events: u32,
}

/// Writes a rendered batch into `out` with `id: {ms}-{firstSeq + k}` before its `k`-th SSE
/// event: what a resumable relay writes to its live client (`lib/sse-ids.js`, which reuses
/// `out`). Null when `out` is too short. `out` must not be `bytes`.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn sse_write_ids(
    bytes: &[u8],
    mut out: BufferSlice,
    ms: f64,
    first_seq: f64,
) -> Option<SseWritten> {
    relay_ids::with_ids_into(bytes, &mut out, ms as u64, first_seq as u64).map(|written| {
        SseWritten {
            length: written.len as u32,
            events: written.events as u32,
        }
    })
}

#[napi(object)]
pub struct StreamStats {
    pub ttft_ms: Option<f64>,
    pub chunks: f64,
    pub bytes: f64,
    pub duration_ms: f64,
}

/// One HTTP stream in flight.
#[napi]
pub struct NativeStream {
    handle: Arc<StreamHandle>,
    id: u32,
}

#[napi]
impl NativeStream {
    /// What the client's `onReady` calls this stream.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The next batch if one is ready now; never waits. `null` when there is none now, or when
    /// the stream is over and drained (`isOver()` tells which).
    #[napi]
    pub fn try_take(&self) -> Option<NativeBatch> {
        match self.handle.try_take() {
            Take::Batch(inner) => Some(NativeBatch { inner: *inner }),
            Take::Nothing | Take::Over => None,
        }
    }

    /// Whether the stream is over and every batch was taken (after `tryTake()` found none).
    #[napi]
    pub fn is_over(&self) -> bool {
        self.handle.outbox().is_over()
    }

    /// Which forms consumers read (`FORM_*` bits: 1 text, 2 deltas, 4 raw, 8 native batches,
    /// 16 objects): `NativeClient::take` renders only those; while deltas are read the engine
    /// builds their JSON as it decodes (otherwise a batch builds it only if `deltas()` is
    /// called); raw provider objects are kept only while raw chunks or native batches are
    /// read; object patches are built only while objects are read.
    #[napi]
    pub fn read_forms(&self, forms: u32) {
        self.handle.outbox().forms.store(forms, Ordering::Relaxed);
        self.handle
            .delta_json
            .store(forms & FORM_DELTAS != 0, Ordering::Relaxed);
        self.handle
            .raw_json
            .store(forms & (FORM_RAW | FORM_NATIVE) != 0, Ordering::Relaxed);
        self.handle
            .objects_json
            .store(forms & FORM_OBJECTS != 0, Ordering::Relaxed);
    }

    /// Cancels the request now; the socket closes. Returns the partial result as JSON when
    /// any body byte had arrived.
    #[napi]
    pub fn abort(&self) -> Option<String> {
        self.handle.abort()
    }

    #[napi]
    pub fn stats(&self) -> StreamStats {
        let (ttft_ms, chunks, bytes, duration_ms) = self.handle.stats.snapshot();
        StreamStats {
            ttft_ms,
            chunks: chunks as f64,
            bytes: bytes as f64,
            duration_ms,
        }
    }

    /// The response headers if they arrived, or the failure that came instead; `null` while
    /// neither has. The engine lists the stream on its client's ready list when that changes,
    /// so JS asks again only then (`lib/client.js`, `EngineHub`).
    #[napi]
    pub fn response_now(&self) -> Option<ResponseOutcome> {
        let (state, task_over) = self.handle.outbox().response();
        match state {
            ResponseState::Ready(meta) => Some(ResponseOutcome::Ready {
                response: (*meta).into(),
            }),
            ResponseState::Failed(failure) => Some(ResponseOutcome::Failed {
                failure: (*failure).into(),
            }),
            // The task is gone without a response: it was aborted (or panicked) first.
            ResponseState::Pending if task_over => Some(ResponseOutcome::Failed {
                failure: Failure::new(
                    FailureKind::Abort,
                    "the stream was aborted before a response arrived",
                )
                .into(),
            }),
            ResponseState::Pending => None,
        }
    }
}

/// The `ai-sdk` relay format of one stream: the AI SDK's UI message stream needs what earlier
/// batches opened (a text part, started tool calls) and what they said (finish reason, usage)
/// for its later parts, so a relay keeps one of these for its stream's batches. It lives with
/// the relay (`lib/relay.js`) rather than in the engine's batch producer: batches are rendered
/// on the JS thread when the relay takes them, the producer does not know which format (if
/// any) they will be rendered in, and the same renderer then serves HTTP streams and
/// bring-your-own-bytes streams (`NativeDecoder`) alike.
#[napi]
pub struct NativeUiRenderer {
    inner: relay::UiMessageStream,
}

#[napi]
impl NativeUiRenderer {
    /// `messageId` for the `start` part; without one, the upstream response's id when
    /// `upstreamId` (else none: the client keeps the id it made).
    #[napi(constructor)]
    pub fn new(message_id: Option<String>, upstream_id: bool) -> Self {
        NativeUiRenderer {
            inner: relay::UiMessageStream::with_message_id(message_id, upstream_id),
        }
    }

    /// The parts of `batch`, as UTF-8 bytes.
    #[napi]
    pub fn render(&mut self, batch: &NativeBatch) -> Buffer {
        self.inner.render(&batch.inner).into_bytes().into()
    }

    /// The last parts (before `data: [DONE]`): `finish-step` and `finish`, or, with
    /// `errorText`, an `error` part.
    #[napi]
    pub fn end(&mut self, error_text: Option<String>) -> String {
        self.inner.end(error_text.as_deref())
    }
}

/// Bring-your-own-bytes decoding: the same batches, fed synchronously from JS.
#[napi]
pub struct NativeDecoder {
    decoder: Decoder,
}

#[napi]
impl NativeDecoder {
    #[napi(constructor)]
    pub fn new(format: WireFormat, max_event_bytes: Option<f64>) -> Self {
        NativeDecoder {
            decoder: Decoder::new(wire_for(format), max_event_bytes.map(|n| n as usize)),
        }
    }

    /// See `NativeStream::read_deltas`.
    #[napi]
    pub fn read_deltas(&self, on: bool) {
        self.decoder
            .delta_json_switch()
            .store(on, Ordering::Relaxed);
    }

    /// Whether a consumer reads objects: while one does, the decoder builds object patches.
    #[napi]
    pub fn read_objects(&self, on: bool) {
        self.decoder.objects_switch().store(on, Ordering::Relaxed);
    }

    /// Decodes the next bytes; returns what they completed (with `end` set on failure).
    #[napi(catch_unwind)]
    pub fn feed(&mut self, bytes: &[u8]) -> NativeBatch {
        self.decoder.push(bytes);
        NativeBatch {
            inner: self.decoder.take_batch(),
        }
    }

    /// End of input: the last batch, with `end` set.
    #[napi(catch_unwind)]
    pub fn end(&mut self) -> NativeBatch {
        self.decoder.finish();
        NativeBatch {
            inner: self.decoder.take_batch(),
        }
    }

    /// The accumulated result so far, as JSON (for errors raised by the byte source).
    #[napi]
    pub fn partial(&self) -> String {
        self.decoder.partial_json()
    }
}

/// What varies between the events of one `feed`, when something does (see `sse_pack`).
#[napi(object)]
pub struct SseEventExtras {
    /// Every event's type, CR-separated; absent when all are `message`.
    pub types: Option<String>,
    /// Every event's last event ID, CR-separated; absent when they all equal `id`.
    pub ids: Option<String>,
    /// The last event ID shared by every event (when `ids` is absent).
    pub id: String,
    /// `index:ms` pairs, comma-separated.
    pub retries: Option<String>,
}

/// The bare WHATWG event-stream parser. One `feed` from `lib/sse-parser.js` is one call returning one
/// string (two when some events are ASCII and some not): N-API calls and objects cost
/// microseconds each, which at one feed per socket read would be most of the work. The layout
/// is `sse_pack`'s; `eventsFrom` in `lib/sse-parser.js` reads it.
#[napi]
pub struct NativeSseParser {
    parser: SseParser,
    packed: EventPacker,
}

#[napi]
impl NativeSseParser {
    #[napi(constructor)]
    pub fn new(max_event_bytes: Option<f64>) -> Self {
        let parser = match max_event_bytes {
            Some(limit) => SseParser::with_max_event_bytes(limit as usize),
            None => SseParser::new(),
        };
        NativeSseParser {
            parser,
            packed: EventPacker::default(),
        }
    }

    /// Frames `bytes`. Returns `""` when they completed no event, otherwise the wide string
    /// with its trailer (`sse_pack::EventPacker::finish`). After an oversized event it throws;
    /// the events completed before it in the same call are dropped with it, since the stream
    /// is unusable after it.
    #[napi(catch_unwind)]
    pub fn feed<'env>(&mut self, env: &'env Env, bytes: &[u8]) -> Result<napi::JsString<'env>> {
        let packed = &mut self.packed;
        packed.clear();
        self.parser
            .feed_with(bytes, |event| packed.add(&event))
            .map_err(|e| invalid(e.to_string()))?;
        if self.packed.count == 0 {
            return env.create_string("");
        }
        env.create_string_utf16(self.packed.finish())
    }

    /// The last feed's ASCII events' data (when its flags said there is some).
    #[napi]
    pub fn narrow<'env>(&self, env: &'env Env) -> Result<napi::JsString<'env>> {
        env.create_string_latin1(&self.packed.narrow)
    }

    /// Types, ids and retries of the last feed's events (when its flags said so).
    #[napi]
    pub fn extras(&self) -> SseEventExtras {
        let packed = &self.packed;
        SseEventExtras {
            types: packed.types.clone(),
            ids: packed.ids.clone(),
            id: packed.id.clone(),
            retries: (!packed.retries.is_empty()).then(|| packed.retries.clone()),
        }
    }

    /// End of input: an unterminated last event is discarded (the spec's rule), so nothing is
    /// ever completed here.
    #[napi(catch_unwind)]
    pub fn end(&mut self) -> Result<()> {
        self.packed.clear();
        self.parser
            .finish(&mut Vec::new())
            .map_err(|e| invalid(e.to_string()))
    }
}

/// The engine's threads. napi's default runtime starts one worker per core, but a Node process
/// has one JS thread doing most of the work and streams need little engine time each: more
/// workers than that only add cross-thread wake-ups (tasks migrate between workers on every
/// socket read). Half the cores, 1 to 4.
#[napi_derive::module_init]
fn init_engine_runtime() {
    crate::allocator::configure();
    let workers = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("streamdelta")
        .enable_all()
        .build();
    // If it cannot be built here, napi builds its default runtime on first use.
    if let Ok(runtime) = runtime {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}
