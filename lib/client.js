'use strict'
// The Client: validates options once, in JS, so bad arguments throw a TypeError naming the
// field synchronously; then hands the engine a typed config (binding.d.ts `ClientConfig`).

const { NativeClient, WireFormat } = require('./native')
const { EngineSource, PackedBatch } = require('./sources')
const { ChatStream, ResponseStream, CompletionStream } = require('./endpoint-streams')
const { AbortError } = require('./errors')

const DEFAULT_BASE_URL = 'https://api.openai.com/v1'
const DEFAULT_TIMEOUT = 600_000
const DEFAULT_IDLE_TIMEOUT = 120_000
const DEFAULT_MAX_RETRIES = 2

function fail(message) {
  throw new TypeError(`streamdelta: ${message}`)
}

function optionalString(value, name) {
  if (value !== undefined && value !== null && typeof value !== 'string')
    fail(`${name} must be a string, got ${typeof value}`)
  return value ?? undefined
}

function optionalMs(value, name) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    fail(`${name} must be a non-negative number of milliseconds, got ${String(value)}`)
  return Math.round(value)
}

function optionalCount(value, name) {
  if (value === undefined || value === null) return undefined
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a non-negative integer, got ${String(value)}`)
  return value
}

/**
 * `{ name: value }` -> `[[name, value]]`; undefined/null values are skipped.
 * @returns {Array<[string, string]>}
 */
function pairs(value, name) {
  if (value === undefined || value === null) return []
  if (typeof value !== 'object' || Array.isArray(value)) fail(`${name} must be an object of string values`)
  /** @type {Array<[string, string]>} */
  const out = []
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      fail(`${name}.${key} must be a string`)
    out.push([key, String(v)])
  }
  return out
}

/** `log: 'debug'` or `STREAMDELTA_LOG=debug`: requests, statuses, retries and timings on stderr. */
function logLevel(value) {
  const level = value ?? process.env.STREAMDELTA_LOG ?? 'off'
  if (level !== 'debug' && level !== 'off') fail(`log must be 'debug' or 'off', got '${level}'`)
  return level
}

function parseBaseURL(value) {
  if (typeof value !== 'string') fail(`baseURL must be a string, got ${typeof value}`)
  let url
  try {
    url = new URL(value)
  } catch {
    fail(`baseURL is not a valid URL: '${value}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    fail(`baseURL must be an http(s) URL, got '${url.protocol}'`)
  return value.replace(/\/+$/, '')
}

class Client {
  #native
  #config
  #hub = new EngineHub()

  /**
   * @param {object} [options] see index.d.ts `ClientOptions`
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') fail('options must be an object')
    const azure = options.azure
    if (azure !== undefined && azure !== null) {
      if (typeof azure !== 'object') fail('azure must be an object { apiVersion, deployment? }')
      if (typeof azure.apiVersion !== 'string' || azure.apiVersion === '')
        fail('azure.apiVersion must be a non-empty string')
      optionalString(azure.deployment, 'azure.deployment')
    }
    /** @type {import('../binding').ClientConfig} */
    const config = {
      baseUrl: parseBaseURL(options.baseURL ?? process.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL),
      apiKey: optionalString(options.apiKey, 'apiKey') ?? process.env.OPENAI_API_KEY ?? undefined,
      organization: optionalString(options.organization, 'organization'),
      project: optionalString(options.project, 'project'),
      headers: pairs(options.headers, 'headers'),
      query: pairs(options.query, 'query'),
      timeoutMs: optionalMs(options.timeout, 'timeout') ?? DEFAULT_TIMEOUT,
      idleTimeoutMs: optionalMs(options.idleTimeout, 'idleTimeout') ?? DEFAULT_IDLE_TIMEOUT,
      maxRetries: optionalCount(options.maxRetries, 'maxRetries') ?? DEFAULT_MAX_RETRIES,
      maxEventBytes: optionalCount(options.maxEventBytes, 'maxEventBytes'),
      azure: azure ? { apiVersion: azure.apiVersion, deployment: azure.deployment ?? undefined } : undefined,
      debug: logLevel(options.log) === 'debug',
    }
    this.#config = config
    const hub = this.#hub
    this.#native = new NativeClient(config, () => hub.onReady())
    hub.native = this.#native
  }

  /** The base URL requests go to (never includes the key). */
  get baseURL() {
    return this.#config.baseUrl
  }

  /**
   * Streams a chat completion: POST `/chat/completions` with `stream: true`.
   * @returns {ChatStream}
   */
  chat(body, options) {
    return this.#open(ChatStream, WireFormat.Chat, 'POST', '/chat/completions', body, options)
  }

  /**
   * Streams a Responses API answer: POST `/responses` with `stream: true`. A request made with
   * `background: true` resumes by itself when the stream breaks (see resumeResponse).
   * @returns {ResponseStream}
   */
  responses(body, options) {
    return this.#open(ResponseStream, WireFormat.Responses, 'POST', '/responses', body, options, {
      resume: body?.background === true,
    })
  }

  /**
   * Re-attaches to a background response: GET `/responses/{id}?stream=true&starting_after=N`.
   * @returns {ResponseStream}
   */
  /**
   * @param {string} id
   * @param {{ startingAfter?: number }} [position]
   * @param {object} [options]
   */
  resumeResponse(id, { startingAfter } = {}, options) {
    if (typeof id !== 'string' || id === '' || /[/?#]/.test(id)) fail('id must be a response id string')
    if (startingAfter !== undefined && (!Number.isInteger(startingAfter) || startingAfter < 0))
      fail('startingAfter must be a non-negative integer')
    const query = { ...(options?.query ?? {}), stream: 'true' }
    if (startingAfter !== undefined) query.starting_after = String(startingAfter)
    return this.#open(
      ResponseStream,
      WireFormat.Responses,
      'GET',
      `/responses/${encodeURIComponent(id)}`,
      undefined,
      { ...options, query },
      { resume: true },
    )
  }

  /**
   * Streams a legacy completion: POST `/completions` with `stream: true`.
   * @returns {CompletionStream}
   */
  completions(body, options) {
    return this.#open(CompletionStream, WireFormat.Completions, 'POST', '/completions', body, options)
  }

  /**
   * @param {typeof ChatStream | typeof ResponseStream | typeof CompletionStream} StreamClass
   * @param {import('../binding').WireFormat} format
   * @param {string} method
   * @param {string} path
   * @param {object | undefined} body
   * @param {object | undefined} options
   * @param {{ resume?: boolean }} [extra]
   */
  #open(StreamClass, format, method, path, body, options, extra = {}) {
    const model = body === undefined ? undefined : checkBody(body, this.#config)
    const request = requestOptions(options)
    const payload = body === undefined ? null : JSON.stringify({ ...body, stream: true })
    const wire = { ...request.wire, ...extra }
    const native = request.signal?.aborted ? null : this.#native.open(format, method, path, payload, wire, model)
    return new StreamClass(native ? new EngineSource(native, this.#hub) : abortedSource(), { signal: request.signal })
  }
}

function checkBody(body, config) {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    fail('body must be an object (the request body of the endpoint)')
  if (body.model === undefined && !config.azure?.deployment) fail('body.model is required')
  if (body.model !== undefined && (typeof body.model !== 'string' || body.model === ''))
    fail('body.model must be a non-empty string')
  return body.model
}

function requestOptions(options) {
  if (options === undefined || options === null) return { wire: {}, signal: undefined }
  if (typeof options !== 'object') fail('request options must be an object')
  const { signal } = options
  if (signal !== undefined && signal !== null && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean'))
    fail('options.signal must be an AbortSignal')
  return {
    signal: signal ?? undefined,
    wire: {
      apiKey: optionalString(options.apiKey, 'options.apiKey'),
      headers: pairs(options.headers, 'options.headers'),
      query: pairs(options.query, 'options.query'),
      timeoutMs: optionalMs(options.timeout, 'options.timeout'),
      idleTimeoutMs: optionalMs(options.idleTimeout, 'options.idleTimeout'),
      maxRetries: optionalCount(options.maxRetries, 'options.maxRetries'),
    },
  }
}

/**
 * The streams of one client and the engine's ready list. The engine wakes JS once when some
 * streams have batches (`onReady`, through one shared channel that does not itself keep the
 * process alive); then one `ready()` names them all and one `take()` hands over, as one string
 * and a typed array, the batches of those a consumer waits on, in the forms it reads. A stream
 * named while nobody waits on it keeps its batches in the engine (backpressure) and is marked
 * unclaimed: its next `tryTake` asks the engine. While any stream waits, a timer keeps the
 * process alive, as a pending socket read would.
 */
class EngineHub {
  /** @type {import('../binding').NativeClient | null} */
  native = null
  /** @type {Map<number, EngineSource>} */
  #waiting = new Map()
  /** Streams named by `ready()` while nobody waited: their batches wait in the engine. */
  #unclaimed = new Set()
  /** A stream dropped unconsumed leaves no id behind. */
  #forget = new FinalizationRegistry((/** @type {number} */ id) => this.#unclaimed.delete(id))
  #keepAlive = null

  /** @param {EngineSource} source @param {number} id */
  register(source, id) {
    this.#forget.register(source, id, source)
  }

  /** @param {EngineSource} source */
  unregister(source, id) {
    this.#forget.unregister(source)
    this.#unclaimed.delete(id)
    this.unwait(id)
  }

  /** Whether the engine named the stream while nobody waited (and forgets that). */
  claim(id) {
    return this.#unclaimed.delete(id)
  }

  /** @param {EngineSource} source @param {number} id */
  wait(source, id) {
    this.#waiting.set(id, source)
    if (this.#waiting.size === 1) {
      this.#keepAlive ??= setInterval(() => {}, 2 ** 31 - 1).unref()
      this.#keepAlive.ref()
    }
  }

  unwait(id) {
    if (this.#waiting.delete(id) && this.#waiting.size === 0) this.#keepAlive.unref()
  }

  onReady() {
    const native = /** @type {import('../binding').NativeClient} */ (this.native)
    const ids = native.ready()
    const count = ids.length
    if (count === 0) return
    const wanted = new Uint8Array(count)
    let packed = 0
    /** @type {EngineSource[] | null} */
    let natives = null
    for (let i = 0; i < count; i++) {
      const id = ids[i]
      const source = this.#waiting.get(id)
      if (source === undefined) this.#unclaimed.add(id)
      else if (source.native) (natives ??= []).push(source)
      else {
        wanted[i] = 1
        packed++
      }
    }
    if (packed > 0) {
      const { data, meta, ends } = native.take(wanted)
      let at = 0
      let end = 0
      // A stream's batches are consecutive entries; after the first, its source no longer waits.
      let lastId = 0
      /** @type {EngineSource | undefined} */
      let last
      for (let i = 0; i < meta.length; i += 7) {
        const id = meta[i]
        const flags = meta[i + 1]
        const textLength = meta[i + 4]
        const deltasLength = meta[i + 5]
        const rawLength = meta[i + 6]
        const textEnd = at + textLength
        const deltasEnd = textEnd + deltasLength
        const rawEnd = deltasEnd + rawLength
        if (id !== lastId) {
          lastId = id
          last = this.#waiting.get(id)
        }
        if (last !== undefined) {
          if (flags & 2) last.deliver(null)
          else
            last.deliver(
              new PackedBatch(
                meta[i + 2],
                meta[i + 3],
                textLength === 0 ? '' : data.slice(at, textEnd),
                deltasLength === 0 ? null : data.slice(textEnd, deltasEnd),
                rawLength === 0 ? null : data.slice(deltasEnd, rawEnd),
                flags & 1 ? ends[end] : null,
              ),
            )
        }
        if (flags & 1) end++
        at = rawEnd
      }
    }
    if (natives !== null) for (const source of natives) source.pollNative()
  }
}

/**
 * The source of a stream whose signal was aborted before it started: no request is made.
 * @returns {import('./interfaces').BatchSource}
 */
function abortedSource() {
  return {
    tryTake: () => null,
    nextBatch: () => Promise.resolve(null),
    readForms: () => {},
    abort: () => undefined,
    stats: () => ({ ttftMs: null, chunks: 0, bytes: 0, durationMs: 0 }),
    response: () => Promise.reject(new AbortError('The stream was aborted before it started')),
  }
}

module.exports = { Client, EngineHub }
