'use strict'
// Where a stream's batches come from. Both sources implement `BatchSource` (interfaces.js),
// the interface the pump in base-stream.js reads:
//  - EngineSource: an HTTP stream run by the Rust engine (bytes never enter JS).
//  - ByteSource: bytes the user already has (fetch Response, web or Node stream, async
//    iterable), fed synchronously into the same Rust decoder.
//  - QueuedSource: a request waiting for its turn (`maxConcurrent`): no batch until a slot
//    frees and it opens its EngineSource, then that source's batches.

const { headersObject, fromFailure, AbortError } = require('./errors')
const { FailureKind } = require('./native')
const { Form } = require('./symbols')
const { parseRateLimit } = require('./rate-limit')

/** @typedef {import('./interfaces').BatchSource} BatchSource */
/** @typedef {import('./interfaces').Batch} Batch */

/** @implements {BatchSource} */
class EngineSource {
  #native
  #hub
  #id
  #aborted = false
  #response = null
  /** The pending `response()` promise's resolve and reject. */
  #settleResponse = null
  /** Told the response's info once it arrived (`watchResponse`). */
  #onResponse = null
  /** Batches the engine handed over for this stream beyond the one a waiting pump took. */
  #queue = []
  #head = 0
  /** The pending `nextBatch()`'s resolve. */
  #resolve = null
  /** The last `tryTake` of the engine's channel found a batch: more may wait behind it. */
  #pull = false
  /** The engine's channel is over and drained. */
  #over = false
  /** Whether the consumers read the batches themselves (`Form.Native`): the hub then hands
   * this stream its batches as native objects. */
  native = false

  /**
   * @param {import('../binding').NativeStream} native
   * @param {import('./client').EngineHub} hub
   */
  constructor(native, hub) {
    this.#native = native
    this.#hub = hub
    this.#id = native.id
    hub.register(this, this.#id)
  }

  tryTake() {
    if (this.#head < this.#queue.length) {
      const batch = this.#queue[this.#head++]
      if (this.#head === this.#queue.length) {
        this.#queue = []
        this.#head = 0
      }
      return batch
    }
    // The engine hands over every batch of a stream JS waits on, and names a stream again for
    // each batch it sends afterwards: only a stream it named while nobody waited needs asking.
    if (!this.#pull && !this.#hub.claim(this.#id)) return null
    const batch = this.#native.tryTake()
    this.#pull = batch !== null
    if (batch === null && this.#native.isOver()) this.#over = true
    return batch
  }

  /** The next batch; `null` once the stream is over and drained (or aborted). */
  nextBatch() {
    if (this.#aborted || this.#over) return Promise.resolve(null)
    const batch = this.tryTake()
    if (batch !== null || this.#over) return Promise.resolve(batch)
    return new Promise((resolve) => {
      this.#resolve = resolve
      this.#hub.wait(this, this.#id)
    })
  }

  /**
   * Calls `onBatch` with the next batch (`null` once over), synchronously from the hub's
   * wake-up that brings it; call it after `tryTake()` found none. False when the stream is over
   * and drained (or aborted): nothing will come.
   * @param {(batch: import('./interfaces').Batch | null) => void} onBatch
   */
  waitBatch(onBatch) {
    if (this.#aborted || this.#over) return false
    this.#resolve = onBatch
    this.#hub.wait(this, this.#id)
    return true
  }

  /**
   * From the hub: a batch for this stream, or `null` when it is over.
   * @param {import('./interfaces').Batch | null} batch
   */
  deliver(batch) {
    if (this.#aborted) return
    const resolve = this.#resolve
    if (resolve !== null) {
      this.#resolve = null
      this.#hub.unwait(this.#id)
      resolve(batch)
    } else if (batch === null) this.#over = true
    else this.#queue.push(batch)
  }

  /** From the hub: the engine named this stream, whose batches come as native objects. */
  pollNative() {
    this.#pull = true
    const batch = this.tryTake()
    if (batch !== null || this.#over) this.deliver(batch)
  }

  /** Which forms consumers read (the engine renders only those; deltas JSON as it decodes). */
  readForms(forms) {
    this.native = (forms & Form.Native) !== 0
    this.#native.readForms(forms)
  }

  abort() {
    // The engine frees a stream's decoder once JS took its end: an end taken but not yet read
    // is where the result is then.
    const partial = this.#native.abort() ?? this.#queuedResult()
    this.#aborted = true
    this.#hub.unregister(this, this.#id)
    const resolve = this.#resolve
    this.#resolve = null
    // A pending nextBatch() or waitBatch() settles, after the aborting code has run (as a
    // promise would): the stream learns why from it, not from a closed source.
    if (resolve !== null) queueMicrotask(() => resolve(null))
    return partial == null ? undefined : JSON.parse(partial)
  }

  /** The result an end waiting in the queue carries, as the engine's JSON text. */
  #queuedResult() {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const end = this.#queue[i]?.end()
      if (end) return end.type === 'done' ? end.finalJson : end.partialJson
    }
    return null
  }

  stats() {
    const s = this.#native.stats()
    return { ttftMs: s.ttftMs ?? null, chunks: s.chunks, bytes: s.bytes, durationMs: s.durationMs, queuedMs: 0 }
  }

  response() {
    if (!this.#response) {
      const outcome = this.#native.responseNow()
      if (outcome !== null) this.#response = settled(() => responseInfo(outcome))
      else
        this.#response = new Promise((resolve, reject) => {
          this.#settleResponse = { resolve, reject }
          if (this.#onResponse === null) this.#hub.awaitResponse(this, this.#id)
        })
    }
    return this.#response
  }

  /**
   * Calls `onInfo` with the response's info when its headers arrive (not when it fails): what
   * the client reads of every response (its rate limits) without a promise per stream.
   * @param {(info: import('./interfaces').ResponseInfo) => void} onInfo
   */
  watchResponse(onInfo) {
    this.#onResponse = onInfo
    if (this.#settleResponse === null) this.#hub.awaitResponse(this, this.#id)
  }

  /** From the hub: the engine named this stream; true once its response is settled. */
  checkResponse() {
    const outcome = this.#native.responseNow()
    if (outcome === null) return false
    let info = null
    let failure = null
    try {
      info = responseInfo(outcome)
    } catch (error) {
      failure = error
    }
    const settle = this.#settleResponse
    this.#settleResponse = null
    if (settle !== null) {
      if (failure === null) settle.resolve(info)
      else settle.reject(failure)
    }
    if (info !== null && this.#onResponse !== null) this.#onResponse(info)
    return true
  }
}

/** A promise of what `make` returns, or of what it throws. */
function settled(make) {
  try {
    return Promise.resolve(make())
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * `stream.response` from what the engine says of it; throws the failure that came instead.
 * @param {import('../binding').ResponseOutcome} outcome
 * @returns {import('./interfaces').ResponseInfo}
 */
function responseInfo(outcome) {
  if (outcome.type === 'failed') throw fromFailure(outcome.failure)
  const { status, requestId, httpVersion } = outcome.response
  const headers = /** @type {Record<string, string>} */ (headersObject(outcome.response.headers))
  return { status, headers, requestId: requestId ?? null, httpVersion, rateLimit: parseRateLimit(headers) }
}

/**
 * A batch as `NativeClient.take()` hands it over: the forms the stream's consumers read, sliced
 * from the one string of every ready stream. A form nobody read when it was taken is empty.
 * @implements {Batch}
 */
class PackedBatch {
  #text
  #deltas
  #loneText
  #raw
  #objects
  #end

  /**
   * @param {number} deltaCount
   * @param {number} chunkCount
   * @param {string} text
   * @param {string | null} deltas
   * @param {boolean} loneText `deltas` is the text of the batch's one text delta (choice 0)
   * @param {string | null} raw
   * @param {string | null} objects
   * @param {import('./interfaces').StreamEnd | null} end
   */
  constructor(deltaCount, chunkCount, text, deltas, loneText, raw, objects, end) {
    this.deltaCount = deltaCount
    this.chunkCount = chunkCount
    this.#text = text
    this.#deltas = deltas
    this.#loneText = loneText
    this.#raw = raw
    this.#objects = objects
    this.#end = end
  }

  text() {
    return this.#text
  }

  deltas() {
    if (this.#loneText) return JSON.stringify([{ type: 'text', choice: 0, text: this.#deltas }])
    return this.#deltas ?? '[]'
  }

  /** The text of the batch's one delta when that is choice 0's text (no JSON was made for
   * it); `null` otherwise. */
  loneText() {
    return this.#loneText ? this.#deltas : null
  }

  raw() {
    return this.#raw ?? '[]'
  }

  /** The batch's object patches as a JSON array; `null` when it has none. */
  objects() {
    return this.#objects
  }

  /** @returns {string} */
  relay() {
    throw new Error('streamdelta: internal error: a relay reads native batches (Form.Native)')
  }

  /** @returns {Buffer} */
  relayBytes() {
    throw new Error('streamdelta: internal error: a relay reads native batches (Form.Native)')
  }

  end() {
    return this.#end
  }
}

/**
 * A batch made in JS for a failure of the byte source itself: the same `Batch` interface as a
 * native batch, carrying only the end.
 * @param {import('./interfaces').Failure} failure
 * @param {string | null} partialJson what had accumulated, as the engine's JSON text
 * @returns {import('./interfaces').Batch}
 */
function failureBatch(failure, partialJson) {
  /** @type {import('./interfaces').StreamEnd} */
  const end = { type: 'failed', failure, partialJson }
  return {
    deltaCount: 0,
    chunkCount: 0,
    deltas: () => '[]',
    text: () => '',
    raw: () => '[]',
    relay: () => '',
    relayBytes: () => Buffer.alloc(0),
    objects: () => null,
    end: () => end,
  }
}

/** @implements {BatchSource} */
class ByteSource {
  #decoder
  #iterator
  #cleanup
  #response
  #started = performance.now()
  #firstChunkAt = null
  #endedAt = null
  #bytes = 0
  #chunks = 0
  #finished = false

  constructor(decoder, source) {
    this.#decoder = decoder
    const { iterator, cleanup, response } = openByteIterator(source)
    this.#iterator = iterator
    this.#cleanup = cleanup
    this.#response = response
  }

  tryTake() {
    return null
  }

  readForms(forms) {
    this.#decoder.readDeltas((forms & Form.Deltas) !== 0)
    this.#decoder.readObjects((forms & Form.Objects) !== 0)
  }

  async nextBatch() {
    while (!this.#finished) {
      let step
      try {
        step = await this.#iterator.next()
      } catch (error) {
        this.#finish()
        const partialJson = this.#bytes > 0 ? this.#decoder.partial() : null
        const kind = this.#bytes > 0 ? FailureKind.Incomplete : FailureKind.Connection
        return failureBatch({ kind, message: `the byte source failed: ${error?.message ?? error}` }, partialJson)
      }
      let batch
      if (step.done) {
        this.#finish()
        batch = this.#decoder.end()
      } else {
        const bytes = toBytes(step.value)
        this.#bytes += bytes.length
        batch = this.#decoder.feed(bytes)
      }
      this.#chunks += batch.chunkCount
      if (this.#firstChunkAt === null && this.#chunks > 0) this.#firstChunkAt = performance.now()
      const ended = batch.end() !== null
      if (ended) this.#finish()
      if (batch.deltaCount > 0 || batch.chunkCount > 0 || ended) return batch
    }
    return null
  }

  #finish() {
    if (this.#finished) return
    this.#finished = true
    this.#endedAt = performance.now()
    this.#cleanup()
  }

  abort() {
    const partial = this.#bytes > 0 ? JSON.parse(this.#decoder.partial()) : undefined
    this.#finish()
    return partial
  }

  stats() {
    const end = this.#endedAt ?? performance.now()
    return {
      ttftMs: this.#firstChunkAt === null ? null : this.#firstChunkAt - this.#started,
      chunks: this.#chunks,
      bytes: this.#bytes,
      durationMs: end - this.#started,
      queuedMs: 0,
    }
  }

  response() {
    return Promise.resolve(this.#response)
  }
}

function toBytes(value) {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  throw new TypeError(`the byte source yielded ${typeof value}, expected Uint8Array chunks`)
}

/** Accepts a fetch Response, a web ReadableStream, a Node Readable or any AsyncIterable. */
function openByteIterator(source) {
  let response = null
  if (source && typeof source === 'object' && 'body' in source && typeof source.status === 'number' && source.headers) {
    /** @type {Record<string, string>} */
    const headers = {}
    source.headers.forEach?.((value, name) => {
      headers[name] = value
    })
    // A fetch Response does not say which HTTP version carried it.
    response = {
      status: source.status,
      headers,
      requestId: headers['x-request-id'] ?? null,
      httpVersion: null,
      rateLimit: parseRateLimit(headers),
    }
    if (!source.body) throw new TypeError('source: the Response has no body')
    source = source.body
  }
  if (source && typeof source.getReader === 'function') {
    const reader = source.getReader()
    return {
      iterator: { next: () => reader.read() },
      cleanup: () => reader.cancel().catch(() => {}),
      response,
    }
  }
  if (source && typeof source[Symbol.asyncIterator] === 'function') {
    const iterator = source[Symbol.asyncIterator]()
    return {
      iterator,
      cleanup: () => {
        if (typeof source.destroy === 'function') source.destroy()
        else if (typeof iterator.return === 'function') Promise.resolve(iterator.return()).catch(() => {})
      },
      response,
    }
  }
  throw new TypeError('source must be a Response, a ReadableStream, a Node Readable or an AsyncIterable of Uint8Array')
}

/**
 * A request waiting in the client's queue (`maxConcurrent`). The stream exists at once; the
 * request is sent (`open()`) only when the limiter gives it a slot. Until then it has no batch,
 * and `nextBatch()` waits; aborted while queued, it leaves the queue and is never sent; when
 * `queueTimeout` elapses first, its one batch is a `TimeoutError` (`phase: 'queue'`).
 * @implements {BatchSource}
 */
class QueuedSource {
  /** @type {() => BatchSource} */
  #open
  #limiter
  /** @type {BatchSource | null} */
  #inner = null
  /** 'queued' | 'started' | 'aborted' | 'timedOut' */
  #state = 'queued'
  #holdsSlot = false
  #queuedAt = performance.now()
  #queuedMs = 0
  /** @type {import('./interfaces').Failure | null} */
  #failure = null
  #failureTaken = false
  /** @type {number | null} the forms consumers read, told before the request started */
  #readForms = null
  #response = null
  #settled
  /** @type {(value?: unknown) => void} */
  #settle = () => {}

  /**
   * @param {() => BatchSource} open sends the request: called once, when a slot frees
   * @param {import('./limiter').Limiter} limiter
   * @param {{ maxConcurrent: number, queueTimeout?: number }} limits for the timeout's message
   */
  constructor(open, limiter, limits) {
    this.#open = open
    this.#limiter = limiter
    this.#settled = new Promise((resolve) => {
      this.#settle = resolve
    })
    this.ticket = {
      start: () => this.#start(),
      timeout: (/** @type {number} */ waitedMs) => this.#timeout(waitedMs, limits),
    }
    limiter.enter(this.ticket)
  }

  /** Whether it is still waiting for its slot. */
  get queued() {
    return this.#state === 'queued'
  }

  #start() {
    if (this.#state !== 'queued') {
      this.#limiter.release()
      return
    }
    this.#holdsSlot = true
    this.#queuedMs = performance.now() - this.#queuedAt
    try {
      this.#inner = this.#open()
    } catch (error) {
      // The engine refused the request outright: the stream fails with that, like any failure.
      this.release()
      this.#state = 'timedOut'
      this.#failure = { kind: FailureKind.Connection, message: String(error?.message ?? error) }
      this.#settle()
      return
    }
    this.#state = 'started'
    if (this.#readForms !== null) this.#inner.readForms(this.#readForms)
    this.#settle()
  }

  /**
   * @param {number} waitedMs
   * @param {{ maxConcurrent: number, queueTimeout?: number }} limits
   */
  #timeout(waitedMs, { maxConcurrent, queueTimeout }) {
    if (this.#state !== 'queued') return
    this.#state = 'timedOut'
    this.#queuedMs = waitedMs
    this.#failure = {
      kind: FailureKind.Timeout,
      phase: 'queue',
      message: `Timed out after ${queueTimeout} ms waiting in the client's queue (maxConcurrent: ${maxConcurrent}); the request was never sent`,
    }
    this.#settle()
  }

  /** Frees the slot it holds, once (its stream ended, failed or was aborted). */
  release() {
    if (!this.#holdsSlot) return
    this.#holdsSlot = false
    this.#limiter.release()
  }

  tryTake() {
    return this.#inner === null ? null : this.#inner.tryTake()
  }

  async nextBatch() {
    if (this.#state === 'queued') await this.#settled
    if (this.#inner !== null) return this.#inner.nextBatch()
    if (this.#failure !== null && !this.#failureTaken) {
      this.#failureTaken = true
      return failureBatch(this.#failure, null)
    }
    return null
  }

  readForms(forms) {
    this.#readForms = forms
    this.#inner?.readForms(forms)
  }

  abort() {
    if (this.#inner !== null) return this.#inner.abort()
    if (this.#state === 'queued') {
      this.#limiter.leave(this.ticket)
      this.#state = 'aborted'
      this.#queuedMs = performance.now() - this.#queuedAt
      this.#settle()
    }
    return undefined
  }

  stats() {
    const queuedMs = this.#state === 'queued' ? performance.now() - this.#queuedAt : this.#queuedMs
    if (this.#inner === null) return { ttftMs: null, chunks: 0, bytes: 0, durationMs: 0, queuedMs }
    return { ...this.#inner.stats(), queuedMs }
  }

  response() {
    if (!this.#response) {
      this.#response = this.#settled.then(() => {
        if (this.#inner !== null) return this.#inner.response()
        if (this.#failure !== null) throw fromFailure(this.#failure)
        throw new AbortError('The stream was aborted while it waited in the queue; the request was never sent')
      })
    }
    return this.#response
  }
}

module.exports = { EngineSource, ByteSource, PackedBatch, QueuedSource, failureBatch }
