//! The only module that knows napi: the classes `lib/native.js` hands to the JS layer. What
//! crosses once per client or stream is typed (`types`); what crosses per batch is a few
//! strings (JSON that JS parses only when a consumer asks for it) or one buffer, never one
//! N-API object per delta.

mod types;

use std::sync::atomic::Ordering;
use std::sync::Arc;

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
use crate::sse::SseParser;
use crate::sse_pack::EventPacker;
use crate::stream::{self, ReadySignal, ResponseState, StreamHandle, Take};
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

/// `onReady(streamId)`: a stream JS waits on has a batch (or is over). Weak: a waiting stream
/// keeps the process alive from JS (`lib/client.js`), not through this.
type OnReady = ThreadsafeFunction<u32, Unknown<'static>, u32, Status, false, true>;

/// One configured HTTP client (connection pool, auth, defaults).
#[napi]
pub struct NativeClient {
    http: Arc<HttpClient>,
    on_ready: Arc<OnReady>,
    next_stream_id: std::sync::atomic::AtomicU32,
}

#[napi]
impl NativeClient {
    /// `config` is already validated, with defaults applied, by `lib/client.js`.
    #[napi(constructor)]
    pub fn new(config: JsClientConfig, on_ready: OnReady) -> Result<Self> {
        let http = HttpClient::new(config.into()).map_err(invalid)?;
        Ok(NativeClient {
            http: Arc::new(http),
            on_ready: Arc::new(on_ready),
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
        let on_ready = self.on_ready.clone();
        let ready = ReadySignal::new(Arc::new(move || {
            on_ready.call(id, ThreadsafeFunctionCallMode::NonBlocking);
        }));
        let handle = napi::bindgen_prelude::within_runtime_if_available(move || {
            stream::start(http, spec, model, wire, ready)
        });
        Ok(NativeStream {
            handle: Arc::new(handle),
            id,
        })
    }
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

    /// The next batch if one is ready now; never waits. `null` when there is none now, or
    /// (after `wait()` said something is ready) when the stream is over and drained.
    #[napi]
    pub fn try_take(&self) -> Option<NativeBatch> {
        match self.handle.try_take() {
            Take::Batch(inner) => Some(NativeBatch { inner }),
            Take::Nothing | Take::Over => None,
        }
    }

    /// After `tryTake()` found nothing: true when something is ready after all (take again);
    /// false when `onReady(id)` will be called once something is.
    #[napi]
    pub fn wait(&self) -> bool {
        self.handle.wait()
    }

    /// Whether a consumer reads deltas: while one does, the engine builds their JSON as it
    /// decodes; otherwise a batch builds it only if `deltas()` is called.
    #[napi]
    pub fn read_deltas(&self, on: bool) {
        self.handle.delta_json.store(on, Ordering::Relaxed);
    }

    /// Whether a consumer reads objects: while one does, the engine builds object patches.
    #[napi]
    pub fn read_objects(&self, on: bool) {
        self.handle.objects_json.store(on, Ordering::Relaxed);
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

    /// Resolves once response headers arrived, or with the failure that came instead.
    #[napi]
    pub async fn response(&self) -> ResponseOutcome {
        let handle = self.handle.clone();
        match handle.response().await {
            ResponseState::Ready(meta) => ResponseOutcome::Ready {
                response: meta.into(),
            },
            ResponseState::Failed(failure) => ResponseOutcome::Failed {
                failure: failure.into(),
            },
            // `response()` waits past this state; kept total for the type's sake.
            ResponseState::Pending => ResponseOutcome::Failed {
                failure: Failure::new(
                    FailureKind::Abort,
                    "the stream was aborted before a response arrived",
                )
                .into(),
            },
        }
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

    /// See `NativeStream::read_objects`.
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
