'use strict'
// One pass over one response, consumable as a Delta iterator, text(), chunks(), events and
// final(). A single pump pulls batches from the source (the engine, or a byte source in JS)
// and hands each consumer only the form it asked for: deltas, text and raw chunks are three
// separate JSON/strings in a batch, materialised only when someone reads them.

const { AbortError, ParseError, fromFailure } = require('./errors')
const relay = require('./relay')
const { ObjectBuilder, issuesMessage } = require('./structured')
const { kBatches, Form } = require('./symbols')

/** How long a snapshot of a wide value may wait for more patches (about one frame). */
const OBJECT_FLUSH_MS = 16

const DELTA_EVENTS = new Set([
  'text',
  'refusal',
  'reasoning',
  'toolCallDelta',
  'toolCall',
  'toolStatus',
  'citation',
  'image',
  'approval',
  'finish',
  'usage',
])

/** The listeners of a stream nobody listens to: shared, never written (`on` makes a stream its
 * own Map). Thousands of open streams each carried an empty Map of their own. */
const NO_LISTENERS = new Map()

class BaseStream {
  #source
  /** @type {Map<string, { listener: Function, once: boolean }[]>} */
  #listeners = NO_LISTENERS
  /** The one active iterator: `{ kind: 'delta'|'text'|'chunk'|'object'|'batch', queue, head,
   * resolve, reject }` (the pending next()'s settle functions, null while none is pending). */
  #iterator = null
  #iterated = false
  #pumping = false
  /** 'open' until the end: then 'done', 'failed' or 'aborted'. */
  #state = 'open'
  #final = undefined
  #error = undefined
  #finalPromise = null
  #settleFinal = null
  #abortController = new AbortController()
  /** What the source was last told about the forms consumers read (null: nothing yet). */
  #toldForms = null
  /** Listeners or the iterator changed since the source was last told (the pump tells it
   * again only then: not once per batch). */
  #formsStale = true
  /** Choice 0's content parsed as JSON so far (`objects()`, the `object` event); made when
   * first read (see `#objectBuilder`). @type {ObjectBuilder | null} */
  #objects = null
  /** The timer that hands out a snapshot still waiting (see `#dispatchObjects`). */
  #objectFlush = null
  /** The `schema` request option (a Standard Schema), checked against the whole value. */
  #schema
  /** The end arrived and the schema is checking it: no more batches are read. */
  #validating = false
  #batchesReadDeltas = false
  #detachSignal = null
  /** The client's hook for the end (frees the queue slot, sums usage, traces); once. */
  #onEnd = null
  /** Per choice: accumulated text/refusal/reasoning for event snapshots. */
  /** @type {Map<number, { text: string, refusal: string, reasoning: string }> | null} */
  #snapshots = null

  /**
   * @internal
   * @param {import('./interfaces').BatchSource} source
   * @param {{ signal?: AbortSignal, onEnd?: (state: string, final: any, error: any) => void, schema?: any }} [options]
   */
  constructor(source, { signal, onEnd, schema } = {}) {
    this.#source = source
    this.#onEnd = onEnd ?? null
    this.#schema = schema
    if (signal) {
      if (signal.aborted) {
        this.abort(signal.reason)
      } else {
        const onAbort = () => this.abort(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        this.#detachSignal = () => signal.removeEventListener('abort', onAbort)
      }
    }
  }

  // ---- consumption styles ------------------------------------------------------------

  [Symbol.asyncIterator]() {
    return this.#openIterator('delta')
  }

  /** Content text of choice 0 (deltas that arrived together may be coalesced). */
  text() {
    return this.#openIterator('text')
  }

  /**
   * Choice 0's content (responses: the output text) parsed as JSON so far: one snapshot per
   * batch that changed it, each built from the previous one (unchanged subtrees are the same
   * objects). Content that is not JSON ends it with `ParseError`.
   */
  objects() {
    return this.#openIterator('object')
  }

  /** Raw provider objects, in arrival order. */
  chunks() {
    return this.#openIterator('chunk')
  }

  /** @internal The batches themselves (see relay.js); `readsDeltas` when it calls deltas(). */
  [kBatches](readsDeltas = false) {
    const it = this.#openIterator('batch')
    this.#batchesReadDeltas = readsDeltas
    this.#formsStale = true
    return it
  }

  on(event, listener) {
    if (typeof listener !== 'function') throw new TypeError(`listener for '${event}' must be a function`)
    if (this.#listeners === NO_LISTENERS) this.#listeners = new Map()
    let list = this.#listeners.get(event)
    if (!list) this.#listeners.set(event, (list = []))
    list.push({ listener, once: false })
    this.#formsStale = true
    // Batches the engine hands over from now on carry the form this listener reads.
    if (this.#state === 'open' && this.#toldForms !== null) this.#tellForms()
    this.#startFlowing()
    return this
  }

  addListener(event, listener) {
    return this.on(event, listener)
  }

  once(event, listener) {
    this.on(event, listener)
    this.#listeners.get(event).at(-1).once = true
    return this
  }

  off(event, listener) {
    const list = this.#listeners.get(event)
    if (list) {
      const at = list.findIndex((entry) => entry.listener === listener)
      if (at !== -1) list.splice(at, 1)
      if (list.length === 0) {
        this.#listeners.delete(event)
        this.#formsStale = true
      }
    }
    return this
  }

  removeListener(event, listener) {
    return this.off(event, listener)
  }

  removeAllListeners(event) {
    if (event === undefined) this.#listeners = NO_LISTENERS
    else this.#listeners.delete(event)
    this.#formsStale = true
    return this
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0
  }

  /** The accumulated result, shaped like the non-streaming API object. */
  final() {
    if (!this.#finalPromise) {
      this.#finalPromise = new Promise((resolve, reject) => {
        this.#settleFinal = { resolve, reject }
      })
      if (this.#state !== 'open') this.#settle()
      else this.#startFlowing()
    }
    return this.#finalPromise
  }

  /** Cancels the request; consumers end with `AbortError`. */
  abort(reason) {
    if (this.#state !== 'open') return
    const partial = this.#source.abort()
    const said = reason instanceof Error ? reason.message : String(reason)
    // A reason that is itself an abort message (another stream's `signal`) is not prefixed twice.
    const message =
      reason === undefined
        ? 'The stream was aborted'
        : said.startsWith('The stream was aborted')
          ? said
          : `The stream was aborted: ${said}`
    const error = new AbortError(message, { cause: reason })
    if (partial != null) Object.assign(error, { partial })
    this.#end('aborted', undefined, error)
  }

  /** Aborted when the stream is aborted (by `abort()`, a signal, or a consumer that stopped). */
  get signal() {
    return this.#abortController.signal
  }

  /** `{ ttftMs, chunks, bytes, durationMs }` as of now. */
  get stats() {
    return this.#source.stats()
  }

  /**
   * Relays the stream to a Node ServerResponse; resolves `{ ok, final?, error? }`, never rejects.
   * Bad options or a `res` that is not a ServerResponse throw a TypeError synchronously (and
   * abort the stream).
   */
  pipeTo(res, options) {
    return relay.pipeTo(this, res, options)
  }

  /** The same bytes as `pipeTo`, as a web ReadableStream (for `new Response(...)`). */
  toReadableStream(options) {
    return relay.toReadableStream(this, options)
  }

  /** The same bytes as `pipeTo`, as a Node Readable. */
  toNodeStream(options) {
    return relay.toNodeStream(this, options)
  }

  /** Relays to a WebSocket, one JSON message per batch; resolves `{ ok, final?, error? }`. */
  pipeToWebSocket(ws, options) {
    return relay.pipeToWebSocket(this, ws, options)
  }

  /** Resolves with `{ status, headers, requestId, httpVersion }` once response headers arrived. */
  get response() {
    return this.#source.response()
  }

  // ---- the pump ----------------------------------------------------------------------

  #openIterator(kind) {
    if (this.#iterator) {
      throw new Error(
        'streamdelta: this stream is already being iterated; a stream is one pass over one response (use events, or one iterator)',
      )
    }
    if (this.#iterated) {
      throw new Error(
        'streamdelta: this stream was already iterated to its end or stopped; a stream is one pass over one response',
      )
    }
    this.#iterated = true
    const it = { kind, queue: [], head: 0, resolve: null, reject: null }
    this.#iterator = it
    this.#formsStale = true
    return {
      next: () => this.#iteratorNext(it),
      return: async (value) => {
        // `break` out of `for await`: the consumer stopped, so the request is cancelled.
        if (it.resolve !== null) {
          // A next() still pending settles as done rather than hanging.
          const resolve = it.resolve
          it.resolve = it.reject = null
          resolve({ value: undefined, done: true })
        }
        if (this.#iterator === it) {
          this.#iterator = null
          this.#formsStale = true
        }
        if (this.#state === 'open') this.abort('the consumer stopped reading')
        return { value, done: true }
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  #iteratorNext(it) {
    if (it.head < it.queue.length) {
      const value = it.queue[it.head++]
      if (it.head === it.queue.length) {
        it.queue = []
        it.head = 0
      }
      return Promise.resolve({ value, done: false })
    }
    if (this.#state !== 'open') {
      if (this.#iterator === it) this.#iterator = null
      if (this.#state === 'done') return Promise.resolve({ value: undefined, done: true })
      return Promise.reject(this.#error)
    }
    return new Promise((resolve, reject) => {
      it.resolve = resolve
      it.reject = reject
      this.#pump()
    })
  }

  #startFlowing() {
    if (this.#state === 'open') queueMicrotask(() => this.#pump())
  }

  /** Whether anyone wants the next batch now. An iterator paces the stream; otherwise
   * listeners or a pending final() make it flow. */
  #wantsData() {
    if (this.#state !== 'open' || this.#validating) return false
    const it = this.#iterator
    if (it) return it.resolve !== null
    return this.#listeners.size > 0 || this.#settleFinal !== null
  }

  /** Tells the source which forms consumers read, so that the engine renders only those (and
   * builds Delta JSON on its own thread only while someone reads deltas: a text() or relay
   * consumer never pays for it). */
  #tellForms() {
    this.#formsStale = false
    const it = this.#iterator
    let forms = 0
    if (it?.kind === 'text') forms |= Form.Text
    if (it?.kind === 'delta' || (it?.kind === 'batch' && this.#batchesReadDeltas) || this.#hasDeltaListeners())
      forms |= Form.Deltas
    if (it?.kind === 'chunk' || this.#listeners.has('chunk')) forms |= Form.Raw
    if (it?.kind === 'batch') forms |= Form.Native
    if (this.#readsObjects()) forms |= Form.Objects
    if (forms !== this.#toldForms) {
      this.#toldForms = forms
      this.#source.readForms(forms)
    }
  }

  #readsObjects() {
    return this.#iterator?.kind === 'object' || this.#listeners.has('object')
  }

  /** One batch's object patches: a changed snapshot goes to `objects()` and `object`. */
  #dispatchObjects(batch) {
    const objects = this.#objectBuilder()
    const patches = batch.objects()
    if (patches !== null) objects.apply(patches)
    const last = batch.end() !== null
    // A wide value waits for more patches before its next snapshot (lib/structured.js), at
    // most OBJECT_FLUSH_MS; the last batch and a parse error hand out what is pending.
    if (objects.pending && (last || objects.error !== null || objects.ready())) this.#handOutObject()
    else if (objects.pending && this.#objectFlush === null) {
      this.#objectFlush = setTimeout(this.#flushObject, OBJECT_FLUSH_MS)
      // Node and Bun timers can be unref'd (the stream itself keeps the process up); Deno's are numbers.
      this.#objectFlush.unref?.()
    }
    const error = objects.error
    if (error !== null && this.#iterator?.kind === 'object' && this.#state === 'open') {
      // Not JSON: objects() ends here, with what had arrived (the text included) in `partial`.
      const end = batch.end()
      const partial =
        end?.type === 'done'
          ? JSON.parse(end.finalJson)
          : end?.type === 'failed'
            ? parsePartial(end.partialJson)
            : this.#source.abort()
      const failure = new ParseError(`the content is not JSON: ${error.reason} (at byte ${error.position})`)
      if (partial != null) Object.assign(failure, { partial })
      this.#end('failed', undefined, failure)
    }
  }

  #objectBuilder() {
    this.#objects ??= new ObjectBuilder()
    return this.#objects
  }

  #handOutObject() {
    if (this.#objectFlush !== null) {
      clearTimeout(this.#objectFlush)
      this.#objectFlush = null
    }
    const value = this.#objectBuilder().take()
    if (this.#iterator?.kind === 'object') this.#iterator.queue.push(value)
    this.#emit('object', value, 0)
  }

  /** A snapshot that waited OBJECT_FLUSH_MS for more patches goes out as it is. */
  #flushObject = () => {
    this.#objectFlush = null
    if (this.#state !== 'open' || !this.#objects?.pending || !this.#readsObjects()) return
    try {
      this.#handOutObject()
    } catch (error) {
      // An `object` listener threw: as in the pump, the stream ends with that error.
      this.#source.abort()
      this.#end('failed', undefined, error)
      return
    }
    this.#answerNext(this.#iterator)
  }

  /** The end of a stream with a `schema`: the whole value is validated before the stream ends. */
  #validate(final) {
    const parsedAt = Array.isArray(final?.choices)
      ? (final.choices.find((c) => c.index === 0) ?? final.choices[0])?.message
      : final
    const key = Array.isArray(final?.choices) ? 'parsed' : 'output_parsed'
    const value = parsedAt?.[key]
    const text = Array.isArray(final?.choices) ? parsedAt?.content : final?.output_text
    const fail = (message, issues) => {
      const error = new ParseError(message)
      Object.assign(error, { issues, partial: final })
      this.#validating = false
      this.#end('failed', undefined, error)
    }
    if (value === null && String(text ?? '').trim() !== 'null') {
      fail('the content is not JSON, so the schema cannot check it', [{ message: 'the content is not JSON' }])
      return
    }
    this.#validating = true
    let result
    try {
      result = this.#schema['~standard'].validate(value)
    } catch (error) {
      fail(`the schema threw: ${error instanceof Error ? error.message : String(error)}`, [])
      return
    }
    Promise.resolve(result).then(
      (outcome) => {
        if (outcome?.issues) {
          fail(issuesMessage(outcome.issues), outcome.issues)
          return
        }
        if (parsedAt) parsedAt[key] = outcome?.value
        this.#validating = false
        this.#end('done', final, undefined)
      },
      (error) => fail(`the schema failed: ${error instanceof Error ? error.message : String(error)}`, []),
    )
  }

  /**
   * Takes batches while someone wants them: those ready now at once, then the next one when it
   * comes. The engine's source hands that one over synchronously, from the wake-up that brought
   * it (`waitBatch`); a promise and an async resumption per batch were most of the JS cost of
   * a stream whose batches come one at a time (a slow stream among thousands).
   */
  #pump() {
    if (this.#pumping) return
    this.#pumping = true
    this.#pumpFrom(undefined)
  }

  /**
   * The pump's loop, `#pumping` set. `batch`: the one that just arrived (null: the source
   * closed), or undefined to take from the source first. Returns while a batch is awaited (the
   * pump still runs: `#onBatch` carries on).
   */
  #pumpFrom(batch) {
    try {
      for (;;) {
        if (batch === undefined) {
          if (!this.#wantsData()) break
          if (this.#formsStale) this.#tellForms()
          batch = this.#source.tryTake()
          if (batch === null && this.#waitForBatch()) return
        }
        if (batch === null) {
          // The source closed without an end marker: only an abort does that.
          this.#end('aborted', undefined, new AbortError('The stream was aborted'))
          break
        }
        this.#dispatch(batch)
        batch = undefined
      }
    } catch (error) {
      this.#pumpFailed(error)
    }
    this.#pumping = false
  }

  /** Asks the source for its next batch (to `#onBatch`); false when it has none to come. */
  #waitForBatch() {
    const source = this.#source
    if (source.waitBatch !== undefined) return source.waitBatch(this.#onBatch)
    source.nextBatch().then(this.#onBatch, this.#onSourceFailed)
    return true
  }

  /** @param {import('./interfaces').Batch | null} batch */
  #onBatch = (batch) => {
    if (this.#state !== 'open') this.#pumping = false
    else this.#pumpFrom(batch)
  }

  #onSourceFailed = (error) => {
    this.#pumping = false
    this.#pumpFailed(error)
  }

  /** A listener threw, or the source itself failed: the stream ends with that error. */
  #pumpFailed(error) {
    if (this.#state === 'open') {
      this.#source.abort()
      this.#end('failed', undefined, error)
    }
  }

  #dispatch(batch) {
    const it = this.#iterator
    const kind = it === null ? null : it.kind
    // A stream nobody listens to (one iterator: the common case) skips every listener lookup.
    // No user code runs before the first emit, so that answer holds until then.
    const listening = this.#listeners.size > 0
    if (kind === 'batch' && (batch.deltaCount > 0 || batch.chunkCount > 0)) it.queue.push(batch)
    const chunkListeners = listening && this.#listeners.has('chunk')
    if ((kind === 'chunk' || chunkListeners) && batch.chunkCount > 0) {
      const chunks = JSON.parse(batch.raw())
      if (kind === 'chunk') pushAll(it, chunks)
      if (chunkListeners) for (const chunk of chunks) this.#emit('chunk', chunk)
    }
    if (batch.deltaCount > 0) {
      if (kind === 'text') {
        const text = batch.text()
        if (text !== '') it.queue.push(text)
      }
      const deltaListeners = listening && this.#hasDeltaListeners()
      // A batch of one choice-0 text delta (most batches of a slow stream) reaches listeners
      // without a Delta object made for it.
      const lone = kind !== 'delta' && deltaListeners ? (batch.loneText?.() ?? null) : null
      if (lone !== null) this.#emitText('text', lone, 0)
      else if (kind === 'delta' || deltaListeners) {
        const deltas = deltasOf(batch)
        if (kind === 'delta') pushAll(it, deltas)
        if (deltaListeners) for (const delta of deltas) this.#emitDelta(delta)
      }
    }
    if (kind === 'object' || (listening && this.#readsObjects())) this.#dispatchObjects(batch)
    const end = batch.end()
    if (end !== null && this.#state === 'open') {
      if (end.type === 'failed') this.#end('failed', undefined, fromFailure(end.failure, parsePartial(end.partialJson)))
      else if (this.#schema !== undefined) this.#validate(JSON.parse(end.finalJson))
      else this.#end('done', JSON.parse(end.finalJson), undefined)
    }
    this.#answerNext(it)
  }

  /** A pending next() gets the iterator's next queued value, when one is queued. */
  #answerNext(it) {
    if (it === null || it.resolve === null || it.head >= it.queue.length) return
    const resolve = it.resolve
    it.resolve = it.reject = null
    resolve(this.#iteratorNextSync(it))
  }

  #iteratorNextSync(it) {
    const value = it.queue[it.head++]
    if (it.head === it.queue.length) {
      it.queue.length = 0
      it.head = 0
    }
    return { value, done: false }
  }

  #hasDeltaListeners() {
    if (this.#listeners.size === 0) return false
    for (const name of DELTA_EVENTS) if (this.#listeners.has(name)) return true
    return false
  }

  #emitDelta(delta) {
    switch (delta.type) {
      case 'text':
      case 'refusal':
      case 'reasoning':
        this.#emitText(delta.type, delta.text, delta.choice)
        break
      // The engine decides when a call is whole (src/openai: the wire parsers): `toolCall`
      // is its own Delta, so both events just pass the delta on.
      case 'toolCallDelta':
      case 'toolCall':
      // Hosted tools (responses): progress, citations, images and MCP approval requests are
      // Deltas decided in the engine too; their events carry the Delta as it is.
      case 'toolStatus':
      case 'citation':
      case 'image':
      case 'approval':
        this.#emit(delta.type, delta)
        break
      case 'finish':
        this.#emit('finish', delta.reason, delta.choice)
        break
      case 'usage':
        this.#emit('usage', delta.usage)
        break
    }
  }

  #snapshot(choice) {
    this.#snapshots ??= new Map()
    let snap = this.#snapshots.get(choice)
    if (!snap) this.#snapshots.set(choice, (snap = { text: '', refusal: '', reasoning: '' }))
    return snap
  }

  /** A `text`, `refusal` or `reasoning` event: the piece, the choice's snapshot, the choice. */
  #emitText(type, text, choice) {
    const snap = this.#snapshot(choice)
    snap[type] += text
    this.#emit(type, text, snap[type], choice)
  }

  #emit(event, ...args) {
    const list = this.#listeners.get(event)
    if (!list) return false
    // One listener that stays (the common case): no copy of the list to call it from.
    if (list.length === 1 && !list[0].once) {
      list[0].listener.apply(this, args)
      return true
    }
    for (const entry of [...list]) {
      if (entry.once) this.off(event, entry.listener)
      entry.listener.apply(this, args)
    }
    return true
  }

  #end(state, final, error) {
    if (this.#state !== 'open') return
    this.#state = state
    this.#final = final
    this.#error = error
    if (this.#objectFlush !== null) {
      clearTimeout(this.#objectFlush)
      this.#objectFlush = null
    }
    if (this.#detachSignal) this.#detachSignal()
    if (this.#onEnd) {
      const onEnd = this.#onEnd
      this.#onEnd = null
      try {
        onEnd(state, final, error)
      } catch (hookError) {
        queueMicrotask(() => {
          throw hookError
        })
      }
    }
    if (state !== 'done') this.#abortController.abort(error)
    const it = this.#iterator
    if (it !== null && it.resolve !== null && it.head >= it.queue.length) {
      const { resolve, reject } = it
      it.resolve = it.reject = null
      this.#iterator = null
      if (state === 'done') resolve({ value: undefined, done: true })
      else reject(error)
    }
    const observed = it !== null || this.#settleFinal !== null || this.#listeners.has('error')
    this.#settle()
    try {
      if (state === 'done') {
        this.#emit('end', final)
      } else if (state === 'aborted') {
        this.#emit('abort', error)
      } else if (!this.#emit('error', error) && !observed && this.#listeners.size > 0) {
        // Like an EventEmitter 'error' with no handler: do not swallow it silently when
        // events were the only way this stream was consumed.
        Promise.reject(error)
      }
    } catch (listenerError) {
      queueMicrotask(() => {
        throw listenerError
      })
    }
  }

  #settle() {
    if (!this.#settleFinal) return
    const { resolve, reject } = this.#settleFinal
    this.#settleFinal = null
    if (this.#state === 'done') resolve(this.#final)
    else reject(this.#error)
  }
}

/**
 * A batch's Delta objects. A batch that is one text delta of choice 0 (most batches of a slow
 * stream) comes as that text, and its Delta is made here: no JSON built in the engine, none
 * parsed in JS.
 * @param {import('./interfaces').Batch} batch
 */
function deltasOf(batch) {
  const text = batch.loneText?.() ?? null
  if (text !== null) return [{ type: 'text', choice: 0, text }]
  return JSON.parse(batch.deltas())
}

/** @param {string | null | undefined} json */
function parsePartial(json) {
  return json == null ? null : JSON.parse(json)
}

function pushAll(it, items) {
  for (const item of items) it.queue.push(item)
}

module.exports = { BaseStream }
