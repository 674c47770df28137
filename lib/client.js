'use strict'
// The Client: validates options once, in JS, so bad arguments throw a TypeError naming the
// field synchronously; then hands the engine a typed config (binding.d.ts `ClientConfig`).

const { NativeClient, WireFormat } = require('./native')
const { EngineSource, PackedBatch, QueuedSource } = require('./sources')
const { ChatStream, ResponseStream, CompletionStream } = require('./endpoint-streams')
const { ToolRunStream } = require('./tool-runner')
const { AbortError } = require('./errors')
const { checkNames } = require('./options')
const { asksForJson, checkSchema } = require('./structured')
const { Limiter } = require('./limiter')
const { parseRateLimit, exhaustedUntil } = require('./rate-limit')
const { UsageTotals, usageOf } = require('./usage')
const { traceRequest } = require('./tracing')

const DEFAULT_BASE_URL = 'https://api.openai.com/v1'
const DEFAULT_TIMEOUT = 600_000
const DEFAULT_IDLE_TIMEOUT = 120_000
const DEFAULT_MAX_RETRIES = 2

const CLIENT_OPTIONS = [
  'apiKey',
  'baseURL',
  'organization',
  'project',
  'headers',
  'query',
  'timeout',
  'idleTimeout',
  'maxRetries',
  'maxEventBytes',
  'azure',
  'log',
  'ca',
  'proxy',
  'maxConcurrent',
  'queueTimeout',
]
const REQUEST_OPTIONS = [
  'signal',
  'headers',
  'query',
  'timeout',
  'idleTimeout',
  'maxRetries',
  'apiKey',
  'partialJson',
  'schema',
]
/** Responses API fields that stand in for `input`: the input comes from a stored prompt or conversation. */
const RESPONSES_INPUT_SOURCES = ['previous_response_id', 'prompt', 'conversation']

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

/** `maxConcurrent`: a positive integer, or undefined / null / Infinity for no limit. */
function concurrencyLimit(value) {
  if (value === undefined || value === null || value === Number.POSITIVE_INFINITY) return undefined
  if (!Number.isInteger(value) || value < 1)
    fail(`maxConcurrent must be a positive integer (or Infinity for no limit), got ${String(value)}`)
  return value
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

/**
 * `baseURL` -> `{ base, query }`: the URL without its query (and without a trailing slash),
 * and the query's pairs, which join the client's `query` (the engine appends the endpoint's
 * path to `base`, so a query left in it would end up before the path).
 * @returns {{ base: string, query: Array<[string, string]> }}
 */
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
  if (url.hash !== '') fail(`baseURL must not have a #fragment, got '${value}'`)
  const at = value.indexOf('?')
  if (at === -1) return { base: value.replace(/\/+$/, ''), query: [] }
  return {
    base: value.slice(0, at).replace(/\/+$/, ''),
    query: /** @type {Array<[string, string]>} */ ([...new URLSearchParams(value.slice(at + 1))]),
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/

/**
 * `ca`: a PEM string or Buffer, or an array of them -> PEM texts. Anything else (a DER file, a
 * path, a key) throws a TypeError naming the entry; the engine parses the certificates.
 * @returns {string[]}
 */
function caList(value) {
  if (value === undefined || value === null) return []
  const many = Array.isArray(value)
  return (many ? value : [value]).map((item, i) => {
    const name = many ? `ca[${i}]` : 'ca'
    let text
    if (typeof item === 'string') text = item
    else if (item instanceof Uint8Array)
      text = Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString('latin1')
    else fail(`${name} must be a PEM string or a Buffer of PEM text, got ${item === null ? 'null' : typeof item}`)
    if (!PEM_CERTIFICATE.test(text))
      fail(
        `${name} must be PEM text with at least one '-----BEGIN CERTIFICATE-----' block (the certificate's contents, not a file path; convert DER with \`openssl x509 -inform der -in ca.der -out ca.pem\`)`,
      )
    return text
  })
}

/**
 * `proxy`: undefined/null (the environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY), false (no
 * proxy at all), or an http(s) URL with optional `user:pass@`. A message never quotes the
 * credentials.
 * @returns {{ proxy?: string, proxyOff: boolean }}
 */
function proxySetting(value) {
  if (value === undefined || value === null) return { proxyOff: false }
  if (value === false) return { proxyOff: true }
  if (typeof value !== 'string')
    fail(`proxy must be a URL string ('http://user:pass@host:port') or false, got ${String(typeof value)}`)
  let url
  try {
    url = new URL(value)
  } catch {
    fail(`proxy is not a valid URL: '${value.replace(/\/\/[^/@]*@/, '//')}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    fail(`proxy must be an http:// or https:// URL, got '${url.protocol}'`)
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '')
    fail(`proxy must be scheme://[user:pass@]host:port with no path, got '${url.protocol}//${url.host}${url.pathname}'`)
  return { proxy: value, proxyOff: false }
}

/**
 * The client's query pairs: those of the baseURL, except names the `query` option sets (it
 * wins), then the option's own.
 * @param {Array<[string, string]>} fromURL
 * @param {Array<[string, string]>} explicit
 */
function mergeQuery(fromURL, explicit) {
  const named = new Set(explicit.map(([name]) => name))
  return [...fromURL.filter(([name]) => !named.has(name)), ...explicit]
}

class Client {
  #native
  #config
  #hub = new EngineHub()
  /** @type {Limiter | null} set with `maxConcurrent` */
  #limiter = null
  #limits = { maxConcurrent: 0, queueTimeout: /** @type {number | undefined} */ (undefined) }
  #usage = new UsageTotals()
  /** @type {import('./interfaces').RateLimit | null} */
  #rateLimit = null

  /**
   * @param {object} [options] see index.d.ts `ClientOptions`
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') fail('options must be an object')
    checkNames(options, CLIENT_OPTIONS, 'client option')
    const maxConcurrent = concurrencyLimit(options.maxConcurrent)
    const queueTimeout = optionalMs(options.queueTimeout, 'queueTimeout')
    if (maxConcurrent !== undefined) {
      this.#limiter = new Limiter(maxConcurrent, queueTimeout)
      this.#limits = { maxConcurrent, queueTimeout }
    }
    const azure = options.azure
    if (azure !== undefined && azure !== null) {
      if (typeof azure !== 'object') fail('azure must be an object { apiVersion, deployment? }')
      checkNames(azure, ['apiVersion', 'deployment'], 'azure option')
      if (typeof azure.apiVersion !== 'string' || azure.apiVersion === '')
        fail('azure.apiVersion must be a non-empty string')
      optionalString(azure.deployment, 'azure.deployment')
    }
    const baseURL = parseBaseURL(options.baseURL ?? process.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL)
    /** @type {import('../binding').ClientConfig} */
    const config = {
      baseUrl: baseURL.base,
      apiKey: optionalString(options.apiKey, 'apiKey') ?? process.env.OPENAI_API_KEY ?? undefined,
      organization: optionalString(options.organization, 'organization'),
      project: optionalString(options.project, 'project'),
      headers: pairs(options.headers, 'headers'),
      query: mergeQuery(baseURL.query, pairs(options.query, 'query')),
      timeoutMs: optionalMs(options.timeout, 'timeout') ?? DEFAULT_TIMEOUT,
      idleTimeoutMs: optionalMs(options.idleTimeout, 'idleTimeout') ?? DEFAULT_IDLE_TIMEOUT,
      maxRetries: optionalCount(options.maxRetries, 'maxRetries') ?? DEFAULT_MAX_RETRIES,
      maxEventBytes: optionalCount(options.maxEventBytes, 'maxEventBytes'),
      azure: azure ? { apiVersion: azure.apiVersion, deployment: azure.deployment ?? undefined } : undefined,
      debug: logLevel(options.log) === 'debug',
      ca: caList(options.ca),
      // Read as Node reads it: a PEM file, on top of the system's roots (the engine reads it now).
      extraCaFile: process.env.NODE_EXTRA_CA_CERTS || undefined,
      ...proxySetting(options.proxy),
    }
    this.#config = config
    const hub = this.#hub
    try {
      this.#native = new NativeClient(config, () => hub.onReady())
    } catch (error) {
      // The engine refused a value JS could not check (a PEM block that does not parse).
      if (error?.code === 'InvalidArg') fail(error.message)
      throw error
    }
    hub.native = this.#native
  }

  /** The base URL requests go to, without a query (its pairs joined `query`); never includes the key. */
  get baseURL() {
    return this.#config.baseUrl
  }

  /**
   * Sums of the usage this client's streams reported (those that ended, or failed after
   * reporting it): `{ requests, inputTokens, outputTokens, cachedTokens, reasoningTokens,
   * byModel }`. A fresh copy on each read.
   */
  get usage() {
    return this.#usage.snapshot()
  }

  /** The rate-limit headers of the last answer that had them (see `stream.response`), or null. */
  get rateLimit() {
    return this.#rateLimit === null ? null : { ...this.#rateLimit }
  }

  /**
   * Streams a chat completion: POST `/chat/completions` with `stream: true`.
   * @returns {ChatStream}
   */
  chat(body, options) {
    return this.#open(ChatStream, WireFormat.Chat, 'POST', '/chat/completions', body, options, checkChatBody)
  }

  /**
   * Streams a chat across tool-calling steps: each step a chat() stream, each whole tool call
   * run (those of one answer at once), the results sent back, until an answer calls no tool
   * or `maxSteps` steps ran (lib/tool-runner.js).
   * @returns {ToolRunStream}
   */
  runTools(body, run, options) {
    return new ToolRunStream(this, body, run, options)
  }

  /**
   * Streams a Responses API answer: POST `/responses` with `stream: true`. A request made with
   * `background: true` resumes by itself when the stream breaks (see resumeResponse).
   * @returns {ResponseStream}
   */
  responses(body, options) {
    return this.#open(ResponseStream, WireFormat.Responses, 'POST', '/responses', body, options, checkResponsesBody, {
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
  resumeResponse(id, position = {}, options) {
    if (typeof id !== 'string' || id === '' || /[/?#]/.test(id)) fail('id must be a response id string')
    if (position === null || typeof position !== 'object') fail('the position must be an object { startingAfter? }')
    checkNames(position, ['startingAfter'], 'resumeResponse position')
    const { startingAfter } = position
    checkRequestNames(options)
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
      null,
      { resume: true },
    )
  }

  /**
   * Streams a legacy completion: POST `/completions` with `stream: true`.
   * @returns {CompletionStream}
   */
  completions(body, options) {
    return this.#open(
      CompletionStream,
      WireFormat.Completions,
      'POST',
      '/completions',
      body,
      options,
      checkCompletionsBody,
    )
  }

  /**
   * @param {typeof ChatStream | typeof ResponseStream | typeof CompletionStream} StreamClass
   * @param {import('../binding').WireFormat} format
   * @param {string} method
   * @param {string} path
   * @param {object | undefined} body
   * @param {object | undefined} options
   * @param {((body: object) => void) | null} checkFields the endpoint's own body checks
   * @param {{ resume?: boolean }} [extra]
   */
  #open(StreamClass, format, method, path, body, options, checkFields, extra = {}) {
    const request = requestOptions(options)
    const model = body === undefined && checkFields === null ? undefined : checkBody(body, this.#config)
    if (checkFields) checkFields(body)
    const payload = body === undefined ? null : JSON.stringify({ ...body, stream: true })
    const wire = { ...request.wire, ...extra }
    // The engine parses the content as JSON for `final()` when the body asks for JSON (or a
    // schema will validate it).
    if (format !== WireFormat.Completions && (asksForJson(body) || request.schema !== undefined)) wire.jsonOutput = true
    const trace = traceRequest({
      operation: OPERATIONS[format] ?? String(format),
      model: model ?? this.#config.azure?.deployment ?? null,
      url: requestURL(this.#config, path, model),
    })
    const send = () => this.#send(format, method, path, payload, wire, model, trace)
    /** @type {import('./interfaces').BatchSource} */
    let source
    if (request.signal?.aborted) source = abortedSource()
    else if (this.#limiter) source = new QueuedSource(send, this.#limiter, this.#limits)
    else source = send()
    const onEnd = (state, final, error) => {
      if (source instanceof QueuedSource) source.release()
      const usage = usageOf(state === 'done' ? final : error?.partial)
      if (usage !== null) this.#usage.add(modelOf(state === 'done' ? final : error?.partial) ?? model, usage)
      if (error?.headers) this.#sawRateLimit(parseRateLimit(error.headers))
      trace?.finish(state, final, error, source.stats())
    }
    return new StreamClass(source, { signal: request.signal, onEnd, schema: request.schema })
  }

  /** Sends a request to the engine now; watches its response headers for rate limits. */
  #send(format, method, path, payload, wire, model, trace) {
    const source = new EngineSource(this.#native.open(format, method, path, payload, wire, model), this.#hub)
    // A failed response is the stream's to report; its headers are read at the end (error.headers).
    source.watchResponse(this.#onResponse)
    trace?.sent(source.response())
    return source
  }

  /** @param {import('./interfaces').ResponseInfo} info */
  #onResponse = (info) => this.#sawRateLimit(info.rateLimit)

  /** @param {import('./interfaces').RateLimit | null} rateLimit */
  #sawRateLimit(rateLimit) {
    if (rateLimit === null) return
    if (this.#rateLimit !== null && rateLimit.receivedAt < this.#rateLimit.receivedAt) return
    this.#rateLimit = rateLimit
    this.#limiter?.holdUntil(exhaustedUntil(rateLimit))
  }
}

const OPERATIONS = {
  [WireFormat.Chat]: 'chat',
  [WireFormat.Responses]: 'responses',
  [WireFormat.Completions]: 'completions',
}

/** The model that answered, from a final result or an error's `partial`. */
function modelOf(result) {
  return typeof result?.model === 'string' && result.model !== '' ? result.model : undefined
}

/**
 * The URL a request goes to, as the engine builds it (without the query, which may carry
 * anything): for tracing.
 */
function requestURL(config, path, model) {
  const base = config.baseUrl
  if (!config.azure) return `${base}${path}`
  if (path === '/responses' || path.startsWith('/responses/')) return `${base}/openai${path}`
  return `${base}/openai/deployments/${encodeURIComponent(config.azure.deployment ?? model ?? '')}${path}`
}

function checkBody(body, config) {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    fail('body must be an object (the request body of the endpoint)')
  if (body.model === undefined && !config.azure?.deployment) fail('body.model is required')
  if (body.model !== undefined && (typeof body.model !== 'string' || body.model === ''))
    fail('body.model must be a non-empty string')
  if (body.stream === false)
    fail(
      'body.stream: false is not supported: streamdelta only streams (stream: true is always sent); await stream.final() gives the whole answer',
    )
  if (body.stream !== undefined && body.stream !== true)
    fail(`body.stream must be true or absent, got ${String(body.stream)}`)
  return body.model
}

/** Chat completions: `messages` is required, an array of message objects. */
function checkChatBody(body) {
  if (body.messages === undefined || body.messages === null)
    fail('body.messages is required (an array of messages: [{ role, content }])')
  if (!Array.isArray(body.messages)) fail(`body.messages must be an array of messages, got ${typeof body.messages}`)
  body.messages.forEach((message, i) => {
    if (message === null || typeof message !== 'object' || Array.isArray(message))
      fail(`body.messages[${i}] must be a message object { role, content }`)
  })
}

/**
 * Responses: `input` (a string or an array of input items) is required, unless the input comes
 * from elsewhere: `previous_response_id`, a stored `prompt` or a `conversation`.
 */
function checkResponsesBody(body) {
  const input = body.input
  if (input === undefined || input === null) {
    if (RESPONSES_INPUT_SOURCES.some((name) => body[name] !== undefined && body[name] !== null)) return
    fail(
      `body.input is required (a string or an array of input items), unless one of ${RESPONSES_INPUT_SOURCES.join(', ')} is given`,
    )
  }
  if (typeof input !== 'string' && !Array.isArray(input))
    fail(`body.input must be a string or an array of input items, got ${typeof input}`)
}

/** Legacy completions: `prompt` is required (a string, an array of strings or of token arrays). */
function checkCompletionsBody(body) {
  if (body.prompt === undefined || body.prompt === null) fail('body.prompt is required (a string or an array)')
  if (typeof body.prompt !== 'string' && !Array.isArray(body.prompt))
    fail(`body.prompt must be a string or an array, got ${typeof body.prompt}`)
}

function checkRequestNames(options) {
  if (options === undefined || options === null) return
  if (typeof options !== 'object') fail('request options must be an object')
  checkNames(options, REQUEST_OPTIONS, 'request option')
}

function requestOptions(options) {
  checkRequestNames(options)
  if (options === undefined || options === null) return { wire: {}, signal: undefined, schema: undefined }
  const { signal } = options
  if (signal !== undefined && signal !== null && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean'))
    fail('options.signal must be an AbortSignal')
  if (options.partialJson !== undefined && options.partialJson !== null && typeof options.partialJson !== 'boolean')
    fail(`options.partialJson must be a boolean, got ${typeof options.partialJson}`)
  if (options.schema !== undefined && options.schema !== null) checkSchema(options.schema)
  const apiKey = optionalString(options.apiKey, 'options.apiKey')
  if (apiKey === '') fail('options.apiKey must be a non-empty string')
  /** @type {import('../binding').RequestOptions & { apiKey?: string, partialJson?: boolean }} */
  const wire = {
    headers: pairs(options.headers, 'options.headers'),
    query: pairs(options.query, 'options.query'),
    timeoutMs: optionalMs(options.timeout, 'options.timeout'),
    idleTimeoutMs: optionalMs(options.idleTimeout, 'options.idleTimeout'),
    maxRetries: optionalCount(options.maxRetries, 'options.maxRetries'),
  }
  // The engine uses (and scrubs) a request's own key, and parses tool arguments as they stream.
  if (apiKey !== undefined) wire.apiKey = apiKey
  if (typeof options.partialJson === 'boolean') wire.partialJson = options.partialJson
  return { signal: signal ?? undefined, wire, schema: options.schema ?? undefined }
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
  /** @type {Map<number, EngineSource>} streams whose `response()` waits for the engine */
  #responding = new Map()
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
    if (this.#waiting.size === 1) this.#keepAliveChanged()
  }

  unwait(id) {
    if (this.#waiting.delete(id) && this.#waiting.size === 0) this.#keepAliveChanged()
  }

  /**
   * The source's `response()` waits for the engine: it is asked again each time the engine
   * names the stream (`checkResponse`), until it settles. An abort does not end the wait: the
   * engine names the stream once more when its task is over, and the response then says so.
   * @param {EngineSource} source @param {number} id
   */
  awaitResponse(source, id) {
    this.#responding.set(id, source)
    if (this.#responding.size === 1) this.#keepAliveChanged()
  }

  /** The process stays up while a stream waits for a batch or a response, as a socket read would keep it. */
  #keepAliveChanged() {
    if (this.#waiting.size + this.#responding.size > 0) {
      this.#keepAlive ??= setInterval(() => {}, 2 ** 31 - 1).unref()
      this.#keepAlive.ref()
    } else this.#keepAlive?.unref()
  }

  /** What `ready()` writes (stream ids) and `take()` reads (whether JS takes each): reused,
   * grown when a wake-up names more streams than they hold. */
  #ids = new Uint32Array(256)
  #wanted = new Uint8Array(256)
  /** What `take()` writes: an entry count, then ENTRY_LEN u32s per entry; grown with `#ids`. */
  #meta = new Uint32Array(1 + 256 * ENTRY_LEN * ENTRIES_PER_STREAM)

  onReady() {
    const native = /** @type {import('../binding').NativeClient} */ (this.native)
    for (;;) {
      const count = native.ready(this.#ids)
      if (count === 0) return
      this.#takeReady(native, count)
      if (count < this.#ids.length) return
      // More were ready than the ids held: the rest are still listed, and no new wake-up will
      // come for them.
      const size = this.#ids.length * 2
      this.#ids = new Uint32Array(size)
      this.#wanted = new Uint8Array(size)
      this.#meta = new Uint32Array(1 + size * ENTRY_LEN * ENTRIES_PER_STREAM)
    }
  }

  /** Hands the batches of the `count` streams `ready()` named to the sources waiting on them. */
  #takeReady(native, count) {
    const ids = this.#ids
    const wanted = this.#wanted
    let packed = 0
    /** @type {EngineSource[] | null} */
    let natives = null
    const responding = this.#responding
    for (let i = 0; i < count; i++) {
      const id = ids[i]
      if (responding.size > 0) {
        if (responding.get(id)?.checkResponse()) {
          responding.delete(id)
          if (responding.size === 0) this.#keepAliveChanged()
        }
      }
      const source = this.#waiting.get(id)
      wanted[i] = 0
      if (source === undefined) this.#unclaimed.add(id)
      else if (source.native) (natives ??= []).push(source)
      else {
        wanted[i] = 1
        packed++
      }
    }
    if (packed > 0) {
      const meta = this.#meta
      const data = native.take(wanted, meta)
      /** @type {import('../binding').StreamEnd[] | null} */
      let ends = null
      let at = 0
      let end = 0
      // A stream's batches are consecutive entries; after the first, its source no longer waits.
      let lastId = 0
      /** @type {EngineSource | undefined} */
      let last
      const stop = 1 + meta[0] * ENTRY_LEN
      for (let i = 1; i < stop; i += ENTRY_LEN) {
        const id = meta[i]
        const flags = meta[i + 1]
        const textLength = meta[i + 4]
        const deltasLength = meta[i + 5]
        const rawLength = meta[i + 6]
        const objectsLength = meta[i + 7]
        const textEnd = at + textLength
        const deltasEnd = textEnd + deltasLength
        const rawEnd = deltasEnd + rawLength
        const objectsEnd = rawEnd + objectsLength
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
                (flags & 4) !== 0,
                rawLength === 0 ? null : data.slice(deltasEnd, rawEnd),
                objectsLength === 0 ? null : data.slice(rawEnd, objectsEnd),
                flags & 1 ? (ends ??= native.takeEnds())[end] : null,
              ),
            )
        }
        if (flags & 1) end++
        at = objectsEnd
      }
    }
    if (natives !== null) for (const source of natives) source.pollNative()
  }
}

/** u32s per `take()` entry (binding.rs `ENTRY_LEN`). */
const ENTRY_LEN = 8
/** Entries one stream can have in one `take()`: its outbox's batches (stream.rs
 * `CHANNEL_BATCHES`) and an end; a stream with more is listed again. */
const ENTRIES_PER_STREAM = 5

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
    stats: () => ({ ttftMs: null, chunks: 0, bytes: 0, durationMs: 0, queuedMs: 0 }),
    response: () => Promise.reject(new AbortError('The stream was aborted before it started')),
  }
}

module.exports = { Client, EngineHub }
