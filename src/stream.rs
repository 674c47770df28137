//! One tokio task per stream: it opens the request, reads the socket, decodes, and hands
//! batches to its outbox, a bounded queue. A full queue stops the socket read (backpressure);
//! an abort drops the request at once; a panic becomes an error on this stream only.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tokio::task::AbortHandle;

use crate::decode::{Batch, Decoder, End};
use crate::failure::{Failure, FailureKind};
use crate::http::{response_meta, HttpClient, RequestSpec, ResponseMeta};
use crate::openai::WireParser;
use crate::supervised::Supervised;

/// Batches waiting for JS (`lib/client.js` sizes its `take()` entries for these and an end:
/// `ENTRIES_PER_STREAM`). Small on purpose: with the batch weight cap below, this bounds the
/// memory a stalled consumer can cost.
const CHANNEL_BATCHES: usize = 4;
/// A batch stops growing past this many payload bytes until JS takes it.
const BATCH_WEIGHT_CAP: usize = 512 * 1024;

/// What the outbox queues: a batch is about 200 bytes, moved through the queue as a pointer.
type BoxedBatch = Box<Batch>;

/// Counters readable from JS at any time (`stream.stats`).
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    /// Microseconds from start to the first chunk; 0 while none.
    first_chunk_us: AtomicU64,
    /// Microseconds from start to the end; 0 while running.
    ended_us: AtomicU64,
    pub chunks: AtomicU64,
    pub bytes: AtomicU64,
}

impl Stats {
    fn new() -> Self {
        Stats {
            started: Instant::now(),
            first_chunk_us: AtomicU64::new(0),
            ended_us: AtomicU64::new(0),
            chunks: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn since_start_us(&self) -> u64 {
        (self.started.elapsed().as_micros() as u64).max(1)
    }

    fn mark_end(&self) {
        let _ = self.ended_us.compare_exchange(
            0,
            self.since_start_us(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// `(ttft_ms, chunks, bytes, duration_ms)`; ttft is None before the first chunk.
    pub fn snapshot(&self) -> (Option<f64>, u64, u64, f64) {
        let first = self.first_chunk_us.load(Ordering::Relaxed);
        let ended = self.ended_us.load(Ordering::Relaxed);
        let duration = if ended > 0 {
            ended
        } else {
            self.since_start_us()
        };
        (
            (first > 0).then(|| first as f64 / 1000.0),
            self.chunks.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            duration as f64 / 1000.0,
        )
    }
}

/// The state of `stream.response`.
#[derive(Debug, Clone)]
pub enum ResponseState {
    Pending,
    // Boxed: every open stream holds one, mostly pending (inline, a Failure's 240 bytes).
    Ready(Box<ResponseMeta>),
    Failed(Box<Failure>),
}

/// What `binding` holds for one stream.
pub struct StreamHandle {
    /// Also holds the decoder for `abort()` (see `Outbox::decoder`).
    outbox: Arc<Outbox>,
    pub stats: Arc<Stats>,
    /// Emptied by `abort()`, or by the task itself once over (`Supervised`): a tokio task's memory
    /// (its cell, sized for the whole future) lives as long as any handle to it, and JS drops
    /// this handle only when V8 collects the stream, thousands of finished streams later.
    abort: Arc<StdMutex<TaskSlot>>,
    /// Whether the engine builds Delta JSON as it decodes (see `decode::Batch`).
    pub delta_json: Arc<AtomicBool>,
    /// Whether the engine builds object patches as it decodes (see `decode::Batch`).
    pub objects_json: Arc<AtomicBool>,
    /// Whether batches keep the raw provider objects.
    pub raw_json: Arc<AtomicBool>,
}

/// What `StreamHandle::try_take` found.
pub enum Take {
    /// Boxed as it came through the channel: moving a batch out is a copy of its every field.
    Batch(Box<Batch>),
    /// Nothing yet.
    Nothing,
    /// The stream is over and every batch was taken.
    Over,
}

/// Where one stream's batches wait for JS: a bounded queue (a full one stops the socket read),
/// and whether the stream is on its client's ready list now. A queue under a mutex rather than
/// tokio's mpsc channel: the channel was 800 bytes a stream (its slot block and its state), and
/// its `try_recv` 5% of the JS thread's time under a thousand slow streams (perf).
pub struct Outbox {
    pub id: u32,
    queue: StdMutex<Queue>,
    /// Shared with the task so that an abort can still report what had arrived; `None` once JS
    /// took the end or aborted, when nobody can ask for it any more.
    decoder: StdMutex<Option<SharedDecoder>>,
    /// On the ready list (or about to be): set by the engine, cleared by `ReadyList::take`.
    queued: AtomicBool,
    /// Which forms JS reads from this stream's batches (`binding`'s `FORM_*` bits).
    pub forms: AtomicU32,
    /// What `stream.response` is now, set by the task (a watch channel was 584 bytes a stream,
    /// for a value JS only ever reads synchronously).
    response: StdMutex<ResponseState>,
}

/// The batches of one stream on their way to JS.
#[derive(Default)]
struct Queue {
    batches: VecDeque<BoxedBatch>,
    /// The task is over: no batch will come after these.
    closed: bool,
    /// JS took the end, or aborted: nobody reads any more, and the task stops at its next batch.
    released: bool,
    /// The task, waiting for room in a full queue.
    room: Option<Waker>,
}

/// The stream's reader is gone (it took the end, aborted, or was collected).
pub struct Released;

impl Outbox {
    fn new(id: u32, decoder: Option<SharedDecoder>) -> Self {
        Outbox {
            id,
            queue: StdMutex::new(Queue::default()),
            decoder: StdMutex::new(decoder),
            queued: AtomicBool::new(false),
            forms: AtomicU32::new(u32::MAX),
            response: StdMutex::new(ResponseState::Pending),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next batch if one is ready now; never waits.
    pub fn try_take(&self) -> Take {
        let mut queue = self.queue();
        match queue.batches.pop_front() {
            Some(batch) => {
                let room = queue.room.take();
                drop(queue);
                if batch.end.is_some() {
                    // The last batch: what the stream still holds is for nobody now.
                    self.release();
                } else if let Some(task) = room {
                    task.wake();
                }
                Take::Batch(batch)
            }
            None if queue.closed || queue.released => {
                drop(queue);
                self.release();
                Take::Over
            }
            None => Take::Nothing,
        }
    }

    /// The task's side: ready once the queue has room for a batch, or once nobody reads.
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<Result<(), Released>> {
        let mut queue = self.queue();
        if queue.released {
            Poll::Ready(Err(Released))
        } else if queue.batches.len() < CHANNEL_BATCHES {
            Poll::Ready(Ok(()))
        } else {
            queue.room = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// The task's side: a batch for JS (after `poll_room`, or an end, which may exceed the
    /// bound by one).
    fn push(&self, batch: BoxedBatch) {
        let mut queue = self.queue();
        if !queue.released {
            queue.batches.push_back(batch);
        }
    }

    /// The task's side: what `stream.response` is now.
    fn set_response(&self, state: ResponseState) {
        *self.response.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// The task is over: no batch will come after those queued.
    fn close(&self) {
        self.queue().closed = true;
    }

    /// What `stream.response` is now, and whether the task is over (a response still pending
    /// then will never come).
    pub fn response(&self) -> (ResponseState, bool) {
        let state = self
            .response
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (state, self.queue().closed)
    }

    /// The stream is over and every batch was taken.
    pub fn is_over(&self) -> bool {
        let queue = self.queue();
        queue.released || (queue.closed && queue.batches.is_empty())
    }

    /// Frees the stream's channel and decoder (what had accumulated, its framing buffers), once
    /// JS took the end or aborted. JS keeps a finished stream's object until V8 collects it,
    /// which for an object that survived a young-generation GC is the next full GC, thousands
    /// of streams later: held until then, finished streams' native memory rose and fell by
    /// megabytes between full GCs, and the allocator kept the high-water mark (heaptrack of
    /// the native-memory benchmark).
    fn release(&self) {
        let (batches, room) = {
            let mut queue = self.queue();
            queue.released = true;
            (std::mem::take(&mut queue.batches), queue.room.take())
        };
        let decoder = self
            .decoder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop((batches, decoder));
        // A task waiting for room stops: nobody will read what it has.
        if let Some(task) = room {
            task.wake();
        }
    }
}

/// The streams of one client that have something for JS (a batch, or their end), in the order
/// they became ready. JS is woken once when the list goes from empty to not empty, and then
/// takes every ready stream's batches in one call: one wake-up and a couple of N-API calls per
/// turn of the event loop, however many streams are ready.
///
/// Wake-ups are at least `MIN_WAKE_GAP` apart: with thousands of slow streams, chunks arrive a
/// few at a time all the time, and each wake-up costs both threads a fixed price (the engine's
/// threadsafe-function call and eventfd write, JS's uv callback, N-API calls and microtask
/// checkpoint) that a few chunks do not pay back. The first wake-up after a quiet spell is
/// immediate, so a lone stream's latency is unchanged.
pub struct ReadyList {
    entries: StdMutex<Vec<Arc<Outbox>>>,
    wake: Box<dyn Fn() + Send + Sync>,
    epoch: Instant,
    /// When JS was last woken, in microseconds since `epoch`.
    last_wake_us: AtomicU64,
    /// A wake-up is scheduled for the end of the gap.
    deferred: AtomicBool,
    /// Batches JS has taken (`recycle`), freed by the engine when it next lists a stream. They
    /// were allocated on the engine's threads: freed on the JS thread, each of their strings
    /// and deltas went back to another thread's glibc arena, behind that arena's lock, which
    /// the engine was taking at the same time (perf: lock waits on the JS thread).
    // Boxed as they came through the channel: unboxing would copy each batch and free its box
    // on the JS thread, the very cost this avoids.
    #[allow(clippy::vec_box)]
    spent: StdMutex<Vec<Box<Batch>>>,
}

/// A taken batch past this weight is freed by JS at once rather than held until the engine
/// next lists a stream (an idle client would keep it).
const RECYCLED_BATCH_WEIGHT: usize = 64 * 1024;

/// See `ReadyList`: tokio's timer ticks in milliseconds, so this is one tick.
const MIN_WAKE_GAP: std::time::Duration = std::time::Duration::from_millis(1);

impl ReadyList {
    pub fn new(wake: Box<dyn Fn() + Send + Sync>) -> Self {
        ReadyList {
            entries: StdMutex::new(Vec::new()),
            wake,
            epoch: Instant::now(),
            last_wake_us: AtomicU64::new(0),
            deferred: AtomicBool::new(false),
            spent: StdMutex::new(Vec::new()),
        }
    }

    fn push(self: &Arc<Self>, outbox: Arc<Outbox>) {
        let was_empty = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.push(outbox);
            entries.len() == 1
        };
        if was_empty {
            self.wake_soon();
        }
        let spent = std::mem::take(&mut *self.spent.lock().unwrap_or_else(|e| e.into_inner()));
        drop(spent);
    }

    /// Batches JS is done with, for the engine to free (see `spent`).
    pub fn recycle(&self, batch: Box<Batch>) {
        if batch.weight() + batch.text.len() > RECYCLED_BATCH_WEIGHT {
            return;
        }
        self.spent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(batch);
    }

    /// Wakes JS now, or at the end of the gap since the last wake-up.
    fn wake_soon(self: &Arc<Self>) {
        let now = self.epoch.elapsed().as_micros() as u64;
        let last = self.last_wake_us.load(Ordering::Relaxed);
        let gap = MIN_WAKE_GAP.as_micros() as u64;
        // Off the engine's threads (JS relisting a stream) there is no timer: wake at once.
        let runtime = tokio::runtime::Handle::try_current();
        if last == 0 || now >= last + gap || runtime.is_err() {
            self.wake_now(now);
            return;
        }
        if self.deferred.swap(true, Ordering::AcqRel) {
            return; // already scheduled: it takes whatever is listed by then
        }
        let list = self.clone();
        let at = tokio::time::Instant::from_std(
            self.epoch + std::time::Duration::from_micros(last + gap),
        );
        if let Ok(runtime) = runtime {
            runtime.spawn(async move {
                tokio::time::sleep_until(at).await;
                list.deferred.store(false, Ordering::Release);
                list.wake_now(list.epoch.elapsed().as_micros() as u64);
            });
        }
    }

    fn wake_now(&self, now_us: u64) {
        self.last_wake_us.store(now_us.max(1), Ordering::Relaxed);
        (self.wake)();
    }

    /// The first `limit` streams listed since the last call (the rest stay listed, in order).
    /// Each stream is off the list from here on: its next batch lists it again, so a stream
    /// whose batches JS leaves for now is named again only once it has more (JS remembers it;
    /// see `lib/client.js`).
    pub fn take_at_most(&self, limit: usize) -> Vec<Arc<Outbox>> {
        let entries = {
            let mut listed = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if listed.len() <= limit {
                std::mem::take(&mut *listed)
            } else {
                let rest = listed.split_off(limit);
                std::mem::replace(&mut *listed, rest)
            }
        };
        for outbox in &entries {
            // Pairs with the swap in `ReadySignal::ready`: a batch sent after this lists the
            // stream again; one sent before is in the channel for whoever takes next.
            outbox.queued.store(false, Ordering::SeqCst);
        }
        entries
    }

    /// Lists a stream again whose batches were not all taken (they did not fit this time).
    pub fn relist(self: &Arc<Self>, outbox: &Arc<Outbox>) {
        if !outbox.queued.swap(true, Ordering::SeqCst) {
            self.push(outbox.clone());
        }
    }
}

/// Puts a stream on its client's ready list when it has a batch for JS (or is over). Holds the
/// outbox as the task does: only the task and its end bookkeeping signal, and both keep it.
#[derive(Clone)]
pub struct ReadySignal {
    list: Arc<ReadyList>,
    outbox: Arc<Outbox>,
}

impl ReadySignal {
    /// Called after a batch went into the channel, and when the task is over.
    fn ready(&self) {
        if !self.outbox.queued.swap(true, Ordering::SeqCst) {
            self.list.push(self.outbox.clone());
        }
    }
}

impl StreamHandle {
    /// The next batch if one is ready now; never waits.
    pub fn try_take(&self) -> Take {
        self.outbox.try_take()
    }

    /// The stream's outbox, as its client's ready list names it.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Cancels the request: the task is dropped at its next await, which closes the socket.
    /// Returns the accumulated result when any body byte had arrived.
    pub fn abort(&self) -> Option<String> {
        self.cancel();
        let decoder = self
            .outbox
            .decoder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.outbox.release();
        if self.stats.bytes.load(Ordering::Relaxed) == 0 {
            return None;
        }
        // After JS took the end there is nothing to report: the end carried it.
        Some(lock(&decoder?).partial_json())
    }

    /// Cancels the request, if it still runs, and reports nothing.
    fn cancel(&self) {
        if let Some(handle) = self.abort.lock().unwrap_or_else(|e| e.into_inner()).take() {
            handle.abort();
        }
        self.stats.mark_end();
    }
}

type SharedDecoder = Arc<StdMutex<Decoder>>;

/// The decoder lock is only held for synchronous work, never across an await; a panic while
/// holding it is reported by the supervisor, so a poisoned lock is still usable.
fn lock(decoder: &SharedDecoder) -> std::sync::MutexGuard<'_, Decoder> {
    decoder.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for StreamHandle {
    // A stream that JS garbage-collected must not hold its socket open. Nobody can read a
    // partial result any more: none is built (this runs on the JS thread, once per stream).
    fn drop(&mut self) {
        self.cancel();
        self.outbox.release();
    }
}

/// Starts one HTTP stream. Must be called inside the tokio runtime's context.
pub fn start(
    client: Arc<HttpClient>,
    spec: RequestSpec,
    model: Option<String>,
    wire: Box<dyn WireParser>,
    id: u32,
    list: Arc<ReadyList>,
) -> StreamHandle {
    let delta_json = Arc::new(AtomicBool::new(true));
    let objects_json = Arc::new(AtomicBool::new(true));
    let raw_json = Arc::new(AtomicBool::new(true));
    let decoder: SharedDecoder = Arc::new(StdMutex::new(
        Decoder::new(wire, client.config().max_event_bytes)
            .with_secrets(client.secrets(&spec.options))
            .with_delta_json_switch(delta_json.clone())
            .with_objects_switch(objects_json.clone())
            .with_raw_json_switch(raw_json.clone()),
    ));
    let outbox = Arc::new(Outbox::new(id, Some(decoder.clone())));
    let ready = ReadySignal {
        list,
        outbox: outbox.clone(),
    };
    let stats = Arc::new(Stats::new());
    let task_stats = stats.clone();
    let task_decoder = decoder.clone();
    let request = Request {
        client,
        spec,
        model,
    };
    let outlets = Outlets {
        outbox: outbox.clone(),
        stats: task_stats,
        shared: task_decoder,
        ready: ready.clone(),
    };
    let abort = Arc::new(StdMutex::new(TaskSlot::default()));
    let on_over = {
        let abort = abort.clone();
        let stats = stats.clone();
        let outbox = outbox.clone();
        move |panic: Option<String>| {
            stats.mark_end();
            // Nothing to abort any more, and the task's memory can go now.
            abort.lock().unwrap_or_else(|e| e.into_inner()).over();
            // A panic inside the engine becomes an error on this stream, never a crashed
            // process.
            if let Some(message) = panic {
                outbox.push(panic_batch(message));
            }
            outbox.close();
            // However the task ended, a waiting JS must look again (and find the end).
            ready.ready();
        }
    };
    let task = tokio::spawn(Supervised::new(run(request, outlets), on_over));
    abort
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .start(task.abort_handle());
    StreamHandle {
        outbox,
        stats,
        abort,
        delta_json,
        objects_json,
        raw_json,
    }
}

/// The end of a stream whose task panicked.
fn panic_batch(message: String) -> BoxedBatch {
    let failure = Failure::new(
        FailureKind::Internal,
        format!("streamdelta engine error: {message}"),
    );
    Box::new(Batch {
        end: Some(End::Failed {
            failure: Box::new(failure),
            partial_json: None,
        }),
        ..Batch::default()
    })
}

/// The abort handle of a stream's task, until the task is over.
#[derive(Default)]
struct TaskSlot {
    handle: Option<AbortHandle>,
    over: bool,
}

impl TaskSlot {
    /// Keeps the handle, unless the task was already over when its spawner got here.
    fn start(&mut self, handle: AbortHandle) {
        if !self.over {
            self.handle = Some(handle);
        }
    }

    fn over(&mut self) {
        self.over = true;
        self.handle = None;
    }

    fn take(&mut self) -> Option<AbortHandle> {
        self.handle.take()
    }
}

/// What the task needs to make the request.
struct Request {
    client: Arc<HttpClient>,
    spec: RequestSpec,
    model: Option<String>,
}

/// Where the task reports: batches, response headers, counters, and the shared decoder.
struct Outlets {
    outbox: Arc<Outbox>,
    stats: Arc<Stats>,
    shared: SharedDecoder,
    ready: ReadySignal,
}

async fn run(request: Request, outlets: Outlets) {
    let Request {
        client,
        spec,
        model,
    } = request;
    let Outlets {
        outbox,
        stats,
        shared,
        ready,
    } = outlets;
    let idle = client.idle_timeout(&spec);
    // Opening (retries, backoff, reqwest's request future) is boxed: inline, its state sized
    // this task for the whole life of the stream (3.8 KB against 2.4 KB boxed, debug build).
    let mut response = match Box::pin(client.open(&spec, model.as_deref())).await {
        Ok(response) => response,
        Err(failure) => {
            outbox.set_response(ResponseState::Failed(failure.clone()));
            let batch = Batch {
                end: Some(End::Failed {
                    failure,
                    partial_json: None,
                }),
                ..Batch::default()
            };
            stats.mark_end();
            outbox.push(Box::new(batch));
            ready.ready();
            return;
        }
    };
    let secrets = client.secrets(&spec.options);
    let mut meta = response_meta(&response);
    // A proxy may echo a credential into a header: `stream.response.headers` never shows it.
    for (_, value) in &mut meta.headers {
        secrets.scrub_in_place(value);
    }
    outbox.set_response(ResponseState::Ready(Box::new(meta)));
    // JS learns of the headers the way it learns of batches (`NativeStream::response_now`
    // then reads them): a promise of its own per stream would be a threadsafe function made
    // and torn down per stream, and a wake-up of JS of its own.
    ready.ready();
    // hyper's header values are slices of its first read buffer: kept, they pinned that 8 KB
    // for the whole stream while hyper read the body into a second one (heaptrack). Copied
    // into `meta` above, they are not needed any more.
    drop(std::mem::take(response.headers_mut()));
    let mut eof = false;
    // One timer per stream, not one per read: a read only notes the time, and the timer, when it
    // fires, moves itself to the last read plus `idle` (once per idle period at most).
    let mut idle_deadline = tokio::time::Instant::now() + idle;
    let idle_timer = tokio::time::sleep_until(idle_deadline);
    tokio::pin!(idle_timer);
    let max_retries = client.max_retries(&spec);
    let mut reconnects = 0;
    // A stream that broke and will be reopened: the request to make, and why it broke.
    // Boxed: rarely used, and inline it was 432 bytes of a task state of 2.4 KB.
    let mut broken: Option<Box<(RequestSpec, Option<Failure>)>> = None;
    loop {
        // Kept boxed across the await: unboxed, the request and the failure were in the task's
        // state for its whole life (print-type-sizes).
        if let Some(reopen) = broken.take() {
            reconnects += 1;
            let again = &reopen.0;
            client.debug(
                &secrets,
                &format!("reconnecting: {} {}", again.method, again.path),
            );
            match Box::pin(client.open(again, model.as_deref())).await {
                Ok(resumed) => {
                    response = resumed;
                    drop(std::mem::take(response.headers_mut()));
                    lock(&shared).restart_framing();
                    idle_deadline = tokio::time::Instant::now() + idle;
                }
                Err(failure) => {
                    eof = true;
                    let mut decoder = lock(&shared);
                    match reopen.1 {
                        Some(cause) => decoder.fail(cause),
                        None => decoder.fail(*failure),
                    }
                }
            }
        }
        let (read_more, has_batch) = {
            let guard = lock(&shared);
            let batch = guard.batch();
            (
                !eof && batch.end.is_none() && batch.weight() < BATCH_WEIGHT_CAP,
                !batch.is_empty(),
            )
        };
        if !read_more && !has_batch {
            break;
        }
        tokio::select! {
            // Bytes already waiting are taken first, so one wake-up hands JS everything that
            // is there; but nothing ever waits for more data before sending.
            biased;
            chunk = response.chunk(), if read_more => {
                let mut decoder = lock(&shared);
                match chunk {
                    Ok(Some(bytes)) => {
                        idle_deadline = tokio::time::Instant::now() + idle;
                        stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        decoder.push(&bytes);
                        note_chunks(&stats, decoder.chunks());
                        if decoder.is_done() {
                            // `[DONE]` or a failure: stop reading; the verdict is recorded.
                            eof = true;
                            decoder.finish();
                        }
                    }
                    Ok(None) => {
                        if let Some(again) = resumable(&spec, &decoder, reconnects, max_retries) {
                            broken = Some(Box::new((again, None)));
                        } else {
                            eof = true;
                            decoder.finish();
                        }
                    }
                    Err(error) => {
                        let nothing_read = stats.bytes.load(Ordering::Relaxed) == 0;
                        let failure = read_failure(&error, nothing_read, decoder.chunks());
                        match after_read_error(failure, nothing_read, &spec, &decoder, reconnects, max_retries) {
                            AfterReadError::Finish => {
                                eof = true;
                                decoder.finish();
                            }
                            AfterReadError::Reopen { request, cause } => {
                                broken = Some(Box::new((request, Some(cause))));
                            }
                            AfterReadError::Fail(failure) => {
                                eof = true;
                                decoder.fail(failure);
                            }
                        }
                    }
                }
            },
            room = std::future::poll_fn(|cx| outbox.poll_room(cx)), if has_batch => match room {
                Ok(()) => {
                    let batch = lock(&shared).take_batch();
                    if let Some(end) = &batch.end {
                        stats.mark_end();
                        let (_, chunks, bytes, ms) = stats.snapshot();
                        let how = match end {
                            End::Finished { .. } => "finished".to_string(),
                            End::Failed { failure, .. } => format!("failed: {}", failure.message),
                        };
                        client.debug(
                            &secrets,
                            &format!("stream {how} after {chunks} chunks, {bytes} bytes, {ms:.0} ms"),
                        );
                    }
                    outbox.push(Box::new(batch));
                    ready.ready();
                }
                // JS took the end, aborted or dropped the stream: nobody will read further.
                Err(Released) => return,
            },
            _ = &mut idle_timer, if read_more => {
                if idle_timer.deadline() < idle_deadline {
                    // Bytes came since it was set: wait for the rest of the idle time.
                    idle_timer.as_mut().reset(idle_deadline);
                    continue;
                }
                eof = true;
                lock(&shared).fail(Failure::timeout("idle", idle.as_millis() as u64));
            }
        }
    }
    stats.mark_end();
}

/// What a body read that failed leads to.
#[derive(Debug)]
enum AfterReadError {
    /// Everything had arrived; only the goodbye was lost: the stream ends as it is.
    Finish,
    /// Make `request` (a resume, or the same request again) and read on; `cause` is the
    /// stream's failure if that request fails too.
    Reopen {
        request: RequestSpec,
        cause: Failure,
    },
    /// The stream ends with this failure.
    Fail(Failure),
}

/// After a body read failed with `failure`: finish a stream that is whole, resume a background
/// Responses stream, make the request again when no body byte had arrived (nothing reached the
/// caller), each within `maxRetries`; else fail.
fn after_read_error(
    mut failure: Failure,
    nothing_read: bool,
    spec: &RequestSpec,
    decoder: &Decoder,
    reconnects: u32,
    max_retries: u32,
) -> AfterReadError {
    if nothing_read {
        failure.attempts = Some(reconnects + 1);
    }
    if decoder.is_whole() {
        AfterReadError::Finish
    } else if let Some(request) = resumable(spec, decoder, reconnects, max_retries) {
        AfterReadError::Reopen {
            request,
            cause: failure,
        }
    } else if nothing_read && reconnects < max_retries {
        AfterReadError::Reopen {
            request: spec.clone(),
            cause: failure,
        }
    } else {
        AfterReadError::Fail(failure)
    }
}

/// The request that resumes a stream that just broke: only background Responses requests
/// whose events carried sequence numbers, within `maxRetries` reconnections.
fn resumable(
    spec: &RequestSpec,
    decoder: &Decoder,
    reconnects: u32,
    max_retries: u32,
) -> Option<RequestSpec> {
    if !spec.options.resume || reconnects >= max_retries || decoder.is_done() {
        return None;
    }
    let (id, after) = decoder.resume_point()?;
    Some(resume_spec(spec, &id, after))
}

/// `GET /responses/{id}?stream=true&starting_after=N` with the original request's options.
fn resume_spec(original: &RequestSpec, id: &str, after: u64) -> RequestSpec {
    let mut options = original.options.clone();
    options.query.push(("stream".into(), "true".into()));
    options
        .query
        .push(("starting_after".into(), after.to_string()));
    RequestSpec {
        method: reqwest::Method::GET,
        path: format!("/responses/{id}"),
        body: None,
        options,
    }
}

fn note_chunks(stats: &Stats, chunks: u64) {
    if chunks > 0 && stats.first_chunk_us.load(Ordering::Relaxed) == 0 {
        stats
            .first_chunk_us
            .store(stats.since_start_us(), Ordering::Relaxed);
    }
    stats.chunks.store(chunks, Ordering::Relaxed);
}

/// A body read that fails after headers: a connection error when nothing had arrived yet,
/// otherwise an incomplete stream (its partial result is kept). The message says how far the
/// stream got; the transport's texts ("unexpected EOF during chunk size line") are the causes.
fn read_failure(error: &reqwest::Error, nothing_read: bool, events: u64) -> Failure {
    let (kind, message) = if nothing_read {
        (
            FailureKind::Connection,
            "the connection was lost before any of the response body arrived".to_string(),
        )
    } else {
        let events = match events {
            1 => "1 event".to_string(),
            n => format!("{n} events"),
        };
        (
            FailureKind::Incomplete,
            format!("the connection was lost mid-stream after {events}"),
        )
    };
    Failure::new(kind, message).caused_by(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{ClientConfig, RequestOptions};
    use crate::openai::{Delta, Step, WireError};
    use crate::sse::SseEventRef;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A wire format with a bug: it panics on the first event.
    struct PanickingParser;

    impl WireParser for PanickingParser {
        fn on_event(&mut self, _: &SseEventRef<'_>, _: &mut Vec<Delta>) -> Result<Step, WireError> {
            panic!("wire parser bug")
        }
        fn is_complete(&self) -> bool {
            false
        }
        fn final_json(&self) -> String {
            "{}".into()
        }
    }

    /// A one-shot HTTP server on 127.0.0.1 answering with `body` as an event stream.
    async fn serve_once(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(body.as_bytes()).await.unwrap();
        });
        url
    }

    fn client_for(url: String) -> Arc<HttpClient> {
        let config = ClientConfig::for_tests(&url);
        Arc::new(HttpClient::new(config).unwrap())
    }

    #[test]
    fn a_read_error_reopens_only_before_any_body_byte_and_within_max_retries() {
        let spec = RequestSpec {
            method: reqwest::Method::POST,
            path: "/chat/completions".into(),
            body: Some("{}".into()),
            options: RequestOptions::default(),
        };
        let decoder = Decoder::new(Box::new(crate::openai::chat::ChatParser::new()), None);
        let broke = |kind| Failure::new(kind, "the connection broke while streaming");
        match after_read_error(broke(FailureKind::Connection), true, &spec, &decoder, 0, 1) {
            AfterReadError::Reopen { request, cause } => {
                assert_eq!(request.path, spec.path);
                assert_eq!(cause.attempts, Some(1));
            }
            other => panic!("{other:?}"),
        }
        match after_read_error(broke(FailureKind::Connection), true, &spec, &decoder, 1, 1) {
            AfterReadError::Fail(failure) => assert_eq!(failure.attempts, Some(2)),
            other => panic!("{other:?}"),
        }
        match after_read_error(broke(FailureKind::Incomplete), false, &spec, &decoder, 0, 1) {
            AfterReadError::Fail(failure) => {
                assert_eq!(failure.kind, FailureKind::Incomplete);
                assert_eq!(failure.attempts, None);
            }
            other => panic!("{other:?}"),
        }
    }

    /// A stream started against a server that answers `body` once, and its ready list.
    struct Started {
        handle: StreamHandle,
        list: Arc<ReadyList>,
        woken: Arc<tokio::sync::Notify>,
    }

    impl Started {
        async fn new(body: &'static str, wire: Box<dyn WireParser>) -> Started {
            let url = serve_once(body).await;
            let spec = RequestSpec {
                method: reqwest::Method::POST,
                path: "/chat/completions".into(),
                body: Some("{}".into()),
                options: RequestOptions::default(),
            };
            let woken = Arc::new(tokio::sync::Notify::new());
            let notify = woken.clone();
            let list = Arc::new(ReadyList::new(Box::new(move || notify.notify_one())));
            let handle = start(client_for(url), spec, None, wire, 1, list.clone());
            Started {
                handle,
                list,
                woken,
            }
        }

        /// The stream's next batch, waiting for it; panics if the stream closes first.
        async fn next_batch(&self) -> Batch {
            loop {
                match self.handle.try_take() {
                    Take::Batch(batch) => return *batch,
                    Take::Nothing => {
                        if self.list.take_at_most(usize::MAX).is_empty() {
                            self.woken.notified().await
                        }
                    }
                    Take::Over => panic!("the stream closed without its end"),
                }
            }
        }
    }

    #[tokio::test]
    async fn a_panic_in_the_engine_becomes_an_error_on_that_stream() {
        let started = Started::new("data: {\"choices\":[]}\n\n", Box::new(PanickingParser)).await;
        let batch = started.next_batch().await;
        let end = batch.end.expect("the stream ended").to_json();
        assert!(end.contains(r#""kind":"internal""#), "{end}");
        assert!(end.contains("wire parser bug"), "{end}");
    }

    #[tokio::test]
    async fn a_stream_frees_its_queue_and_decoder_once_its_end_is_taken() {
        let started = Started::new(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n",
            Box::new(crate::openai::chat::ChatParser::new()),
        )
        .await;
        let handle = &started.handle;
        let held = |handle: &StreamHandle| {
            let decoder = handle.outbox.decoder.lock().unwrap().is_some();
            let channel = !handle.outbox.queue().released;
            (decoder, channel)
        };
        assert_eq!(held(handle), (true, true));
        let mut text = String::new();
        loop {
            let batch = started.next_batch().await;
            text.push_str(&batch.text);
            if batch.end.is_some() {
                break;
            }
            assert_eq!(held(handle), (true, true), "freed before the end");
        }
        assert_eq!(text, "hi");
        assert_eq!(held(handle), (false, false));
        assert!(matches!(handle.try_take(), Take::Over));
        assert!(handle.outbox().is_over());
        // The end carried the result: an abort now has nothing to add.
        assert_eq!(handle.abort(), None);
    }

    /// Every open stream holds its task's state: kept small, it is memory per stream a service
    /// with thousands of them does not pay (2.4 KB before the rare states were boxed).
    #[test]
    fn a_stream_task_state_stays_small() {
        let list = Arc::new(ReadyList::new(Box::new(|| {})));
        let outbox = idle_outbox(1);
        let decoder: SharedDecoder = Arc::new(StdMutex::new(Decoder::new(
            Box::new(crate::openai::chat::ChatParser::new()),
            None,
        )));
        let outlets = Outlets {
            outbox: outbox.clone(),
            stats: Arc::new(Stats::new()),
            shared: decoder,
            ready: ReadySignal {
                list,
                outbox: outbox.clone(),
            },
        };
        let spec = RequestSpec {
            method: reqwest::Method::POST,
            path: "/chat/completions".into(),
            body: None,
            options: RequestOptions::default(),
        };
        let request = Request {
            client: client_for("http://127.0.0.1:9".into()),
            spec,
            model: None,
        };
        let task = run(request, outlets);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1536, "the stream task's state is {size} bytes");
    }

    /// A waker that counts its wake-ups.
    struct CountingWaker(AtomicU32);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_full_outbox_holds_the_task_until_js_takes_a_batch_and_stops_it_once_released() {
        let outbox = idle_outbox(1);
        let counter = Arc::new(CountingWaker(AtomicU32::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..CHANNEL_BATCHES {
            assert!(matches!(outbox.poll_room(&mut cx), Poll::Ready(Ok(()))));
            outbox.push(Box::default());
        }
        assert!(
            outbox.poll_room(&mut cx).is_pending(),
            "a full queue has room"
        );
        assert!(matches!(outbox.try_take(), Take::Batch(_)));
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            1,
            "taking a batch did not wake the task"
        );
        assert!(matches!(outbox.poll_room(&mut cx), Poll::Ready(Ok(()))));
        outbox.push(Box::default());
        assert!(outbox.poll_room(&mut cx).is_pending());
        outbox.release();
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            2,
            "releasing did not wake the task"
        );
        assert!(matches!(
            outbox.poll_room(&mut cx),
            Poll::Ready(Err(Released))
        ));
        assert!(matches!(outbox.try_take(), Take::Over));
        assert!(outbox.is_over());
    }

    #[test]
    fn a_closed_outbox_hands_out_what_it_holds_then_says_over() {
        let outbox = idle_outbox(1);
        outbox.push(Box::default());
        outbox.close();
        assert!(!outbox.is_over());
        assert!(matches!(outbox.try_take(), Take::Batch(_)));
        assert!(outbox.is_over());
        assert!(matches!(outbox.try_take(), Take::Over));
    }

    fn idle_outbox(id: u32) -> Arc<Outbox> {
        Arc::new(Outbox::new(id, None))
    }

    /// A counting wake-up, and the list it wakes.
    fn counted_list() -> (Arc<ReadyList>, Arc<AtomicU32>) {
        let wakes = Arc::new(AtomicU32::new(0));
        let counter = wakes.clone();
        let list = Arc::new(ReadyList::new(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })));
        (list, wakes)
    }

    #[tokio::test]
    async fn wake_ups_are_a_gap_apart_and_none_is_lost() {
        let (list, wakes) = counted_list();
        list.push(idle_outbox(1));
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "the first wake-up is immediate"
        );
        assert_eq!(list.take_at_most(usize::MAX).len(), 1);
        // Listed again within the gap: the wake-up waits for its end, and comes once for all.
        list.push(idle_outbox(2));
        list.push(idle_outbox(3));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        tokio::time::sleep(MIN_WAKE_GAP * 5).await;
        assert_eq!(wakes.load(Ordering::SeqCst), 2, "the deferred wake-up came");
        let ids: Vec<u32> = list.take_at_most(usize::MAX).iter().map(|o| o.id).collect();
        assert_eq!(ids, [2, 3]);
        // After a quiet spell the next one is immediate again.
        tokio::time::sleep(MIN_WAKE_GAP * 2).await;
        list.push(idle_outbox(4));
        assert_eq!(wakes.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn take_at_most_leaves_the_rest_listed_in_order() {
        let (list, wakes) = counted_list();
        for id in 1..=5 {
            list.push(idle_outbox(id));
        }
        let first: Vec<u32> = list.take_at_most(2).iter().map(|o| o.id).collect();
        let rest: Vec<u32> = list.take_at_most(10).iter().map(|o| o.id).collect();
        assert_eq!((first, rest), (vec![1, 2], vec![3, 4, 5]));
        // Outside the engine's runtime (JS relisting) there is no timer: the wake-up is now.
        let again = idle_outbox(6);
        list.relist(&again);
        list.relist(&again);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        assert_eq!(list.take_at_most(10).len(), 1, "listed once");
    }
}
