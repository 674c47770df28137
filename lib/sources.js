'use strict'
// Where a stream's batches come from. Both sources implement `BatchSource` (interfaces.js),
// the interface the pump in base-stream.js reads:
//  - EngineSource: an HTTP stream run by the Rust engine (bytes never enter JS).
//  - ByteSource: bytes the user already has (fetch Response, web or Node stream, async
//    iterable), fed synchronously into the same Rust decoder.

const { headersObject, fromFailure } = require('./errors')
const { FailureKind } = require('./native')

/** @typedef {import('./interfaces').BatchSource} BatchSource */

/** @implements {BatchSource} */
class EngineSource {
  #native
  #waits
  #aborted = false
  #response = null

  /**
   * @param {import('../binding').NativeStream} native
   * @param {{ wait(id: number): Promise<void>, wake(id: number): void }} waits
   */
  constructor(native, waits) {
    this.#native = native
    this.#waits = waits
  }

  tryTake() {
    return this.#native.tryTake()
  }

  /** The next batch; `null` once the stream is over and drained (or aborted). */
  async nextBatch() {
    const native = this.#native
    while (!this.#aborted) {
      const batch = native.tryTake()
      if (batch !== null) return batch
      // Something is ready after all: a batch, or else the end.
      if (native.wait()) return native.tryTake()
      await this.#waits.wait(native.id)
    }
    return null
  }

  /** Whether a consumer reads deltas (the engine then builds their JSON as it decodes). */
  readDeltas(on) {
    this.#native.readDeltas(on)
  }

  /** Whether a consumer reads objects (the engine then builds their patches as it decodes). */
  readObjects(on) {
    this.#native.readObjects(on)
  }

  abort() {
    const partial = this.#native.abort()
    this.#aborted = true
    this.#waits.wake(this.#native.id) // a pending nextBatch() settles
    return partial == null ? undefined : JSON.parse(partial)
  }

  stats() {
    const s = this.#native.stats()
    return { ttftMs: s.ttftMs ?? null, chunks: s.chunks, bytes: s.bytes, durationMs: s.durationMs }
  }

  response() {
    if (!this.#response) {
      this.#response = this.#native.response().then((outcome) => {
        if (outcome.type === 'failed') throw fromFailure(outcome.failure)
        const { status, headers, requestId, httpVersion } = outcome.response
        return { status, headers: headersObject(headers), requestId: requestId ?? null, httpVersion }
      })
    }
    return this.#response
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

  readDeltas(on) {
    this.#decoder.readDeltas(on)
  }

  readObjects(on) {
    this.#decoder.readObjects(on)
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
    response = { status: source.status, headers, requestId: headers['x-request-id'] ?? null, httpVersion: null }
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

module.exports = { EngineSource, ByteSource }
