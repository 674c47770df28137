'use strict'
// Relaying a stream to clients: pipeTo(res), toReadableStream(), toNodeStream() and
// pipeToWebSocket(). The engine renders each batch in the chosen format (relay.rs), so JS only
// moves one buffer of UTF-8 per batch (one string for WebSocket text frames); it adds the parts
// that depend on how the stream ends, the headers, heartbeats and backpressure.

const http = require('node:http')
const { Readable } = require('node:stream')
const { kBatches, kResumableRelay } = require('./symbols')
const { AbortError } = require('./errors')
const { checkNames } = require('./options')
const { NativeUiRenderer } = require('./native')

const FORMATS = {
  openai: 'text/event-stream; charset=utf-8',
  events: 'text/event-stream; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  // The AI SDK's UI message stream: the content type its own relays send, without a charset.
  'ai-sdk': 'text/event-stream',
}
/** The SSE formats: they get heartbeat comments (`: ping`), which SSE readers skip. */
const SSE_FORMATS = ['openai', 'events', 'ai-sdk']
const DEFAULT_HEARTBEAT = 15_000
const WEBSOCKET_HIGH_WATER = 1 << 20
const RELAY_OPTIONS = ['format', 'heartbeat', 'onError', 'messageId']
/** pipeTo's options: the others' plus `resumable` (a RelayStore and an id, see relay-store.js). */
const PIPE_OPTIONS = [...RELAY_OPTIONS, 'resumable']
const WEBSOCKET_OPTIONS = ['format', 'onError']
/** Options only some relays have: named here so that the others refuse them clearly. */
const ONLY_PIPE_TO = { resumable: 'resumable relays are only for pipeTo(res, { resumable })' }

/**
 * Checks the relay options synchronously; `only` limits the formats, `names` the option names.
 * @returns {{ format: string, heartbeat: number | false, onError: ((error: unknown) => unknown) | undefined, messageId: string | false | undefined }}
 */
function checkOptions(options, defaults) {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new TypeError('streamdelta: relay options must be an object')
  if (options) checkNames(options, defaults.names ?? RELAY_OPTIONS, 'relay option', ONLY_PIPE_TO)
  const format = options?.format ?? defaults.format
  if (typeof format !== 'string' || !(format in FORMATS) || (defaults.only && !defaults.only.includes(format))) {
    // The formats of the client's own protocol first, then the AI SDK's (a separate kind).
    const allowed = defaults.only ?? Object.keys(FORMATS)
    const own = allowed.filter((f) => f !== 'ai-sdk')
    const aiSdk = allowed.includes('ai-sdk') ? " (or 'ai-sdk', the AI SDK's UI message stream)" : ''
    throw new TypeError(
      `streamdelta: relay option format must be one of ${own.map((f) => `'${f}'`).join(', ')}, got ${typeof format === 'string' ? `'${format}'` : String(format)}${aiSdk}`,
    )
  }
  const heartbeat = options?.heartbeat ?? DEFAULT_HEARTBEAT
  if (heartbeat !== false && (typeof heartbeat !== 'number' || !(heartbeat > 0)))
    throw new TypeError(
      `streamdelta: relay option heartbeat must be a positive number of ms or false, got ${String(heartbeat)}`,
    )
  const onError = options?.onError ?? undefined
  if (onError !== undefined && typeof onError !== 'function')
    throw new TypeError(
      `streamdelta: relay option onError must be a function (error) => ({ status?, message? }), got ${typeof onError}`,
    )
  const messageId = options?.messageId
  if (messageId !== undefined) {
    if (format !== 'ai-sdk')
      throw new TypeError(`streamdelta: relay option messageId is for format 'ai-sdk' only, not '${format}'`)
    if (messageId !== false && (typeof messageId !== 'string' || messageId === ''))
      throw new TypeError(
        `streamdelta: relay option messageId must be a non-empty string or false, got ${typeof messageId === 'string' ? "''" : String(messageId)}`,
      )
  }
  return { format, heartbeat: SSE_FORMATS.includes(format) ? heartbeat : false, onError, messageId }
}

/**
 * Runs the synchronous checks of a relay call; when they throw, the stream is aborted first
 * (its upstream request closed), so a bad call never leaves a request open.
 * @template T
 * @param {{ abort(reason?: unknown): void }} stream
 * @param {() => T} check
 * @returns {T}
 */
function checked(stream, check) {
  try {
    return check()
  } catch (error) {
    stream.abort(`bad relay arguments: ${error?.message ?? error}`)
    throw error
  }
}

/** Generic messages for failures that are this server's business, not the client's. */
const GENERIC = {
  ERR_RATE_LIMIT: 'Rate limit reached. Please try again later.',
  ERR_AUTH: 'The AI service refused the request (upstream authentication failed).',
  ERR_API: 'The AI service had an error. Please try again.',
  ERR_CONNECTION: 'Could not reach the AI service. Please try again.',
  ERR_TIMEOUT: 'The AI service did not respond in time. Please try again.',
  ERR_STREAM: 'The AI service had an error while answering.',
  ERR_PARSE: 'The AI service sent a malformed answer.',
  ERR_INCOMPLETE: 'The AI service ended the answer early.',
  ABORT_ERR: 'The answer was aborted.',
}
const GENERIC_OTHER = 'The answer failed.'

/**
 * A provider's message made fit for a browser: without the engine's status prefix ("429 ..."),
 * its first sentence only (what follows is help text, request ids, links), no URLs or keys,
 * at most 200 characters. Empty when nothing is left.
 * @param {unknown} message
 */
function shortMessage(message) {
  if (typeof message !== 'string') return ''
  let text = message
    .replace(/^\d{3} /, '')
    .replace(/\s*\(after \d+ attempts\)$/, '')
    .trim()
  text = text.split(/(?<=[.!?])\s+/)[0] ?? ''
  text = text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '')
    .replace(/\b(sk|org|proj)-[A-Za-z0-9_-]{6,}/g, '[redacted]')
    .replace(/\s{2,}/g, ' ')
    .trim()
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

/**
 * What a client is told about `error`: `{ status, body: { message, type, code, status, param? } }`.
 * By default a short, safe message (no internal URLs, transport text or keys): the provider's
 * own words only for errors about the request itself (a 4xx other than 401/403/429) and for
 * its mid-stream errors, a generic sentence otherwise. `onError(error)` may replace `status`
 * (an HTTP error status, used when nothing was sent yet) and `message`.
 * @param {any} error
 * @param {((error: unknown) => unknown) | undefined} onError
 */
function publicError(error, onError) {
  let status = statusFor(error)
  const code = error?.code
  const clientFault = code === 'ERR_API' && typeof error?.status === 'number' && error.status < 500
  let message = ''
  if (clientFault || code === 'ERR_STREAM') message = shortMessage(error?.message)
  if (message === '') message = GENERIC[code] ?? GENERIC_OTHER
  const body = {
    message,
    type: error?.type ?? (code === 'ERR_API' || code === 'ERR_STREAM' ? 'server_error' : 'upstream_error'),
    code: error?.apiCode ?? code ?? null,
    status,
  }
  if (code === 'ERR_AUTH') Object.assign(body, { type: 'upstream_error', code: 'upstream_auth_failed' })
  if (clientFault && error?.param) body.param = error.param
  if (onError) {
    let custom
    try {
      custom = onError(error)
    } catch {
      custom = undefined // a throwing onError must not break the relay: the default stands
    }
    if (custom !== null && typeof custom === 'object') {
      const given = /** @type {{ status?: unknown, message?: unknown }} */ (custom)
      const wanted = given.status
      if (typeof wanted === 'number' && Number.isInteger(wanted) && wanted >= 400 && wanted <= 599)
        status = body.status = wanted
      if (typeof given.message === 'string') body.message = given.message
    }
  }
  return { status, body }
}

/** `retry-after` (seconds) for a 429/503 answer: the upstream's header, else its retryAfterMs. */
function retryAfter(error, status) {
  if (status !== 429 && status !== 503) return null
  const header = error?.headers?.['retry-after']
  if (typeof header === 'string' && header !== '') return header
  const ms = error?.retryAfterMs
  return typeof ms === 'number' && ms >= 0 ? String(Math.ceil(ms / 1000)) : null
}

/**
 * The last bytes of a stream in `format`: success, or the error reported in-band. The `text`
 * format has no in-band error (anything written would read as answer text): its relays end
 * the transfer abnormally instead (see pipeTo), so '' here. `ai-sdk` ends with its renderer's
 * last parts (`finish-step` and `finish`, or an `error` part with the message) and `[DONE]`,
 * as the AI SDK's own relays do.
 * @param {string} format
 * @param {{ message: string } | null} body
 * @param {InstanceType<typeof NativeUiRenderer> | null} [renderer] the `ai-sdk` relay's
 */
function ending(format, body, renderer = null) {
  if (renderer) return `${renderer.end(body ? body.message : null)}data: [DONE]\n\n`
  if (!body) {
    if (format === 'openai') return 'data: [DONE]\n\n'
    if (format === 'events') return 'event: done\ndata: {}\n\n'
    return ''
  }
  switch (format) {
    case 'openai':
      return `data: ${JSON.stringify({ error: body })}\n\n`
    case 'events':
      return `event: error\ndata: ${JSON.stringify(body)}\n\n`
    case 'ndjson':
      return `${JSON.stringify({ type: 'error', error: body })}\n`
    default:
      return ''
  }
}

/**
 * Pumps `stream` into `sink` in `format`: `sink.write(text)` returns false when the client is
 * full, `sink.drained()` resolves when it can take more (or is gone), `sink.gone()` tells a
 * client that left. Resolves with `{ ok, final?, error?, wrote }` (`wrote`: whether any byte
 * reached the sink before the end); never rejects. An error is written in-band in the formats
 * that have a way to say it; for `text` the caller ends the transfer abnormally.
 */
async function pump(stream, format, heartbeat, sink, onError, messageId) {
  let lastWrite = Date.now()
  let wrote = false
  const write = (chunk) => {
    lastWrite = Date.now()
    wrote = true
    return sink.write(chunk)
  }
  const timer =
    heartbeat &&
    setInterval(
      () => {
        if (!sink.gone() && Date.now() - lastWrite >= heartbeat) write(': ping\n\n')
      },
      Math.max(10, Math.min(heartbeat, 1000)),
    )
  // `ai-sdk` parts depend on earlier batches (an open text part, started tool calls): one
  // renderer, native like the other formats, keeps that state for this relay.
  // `messageId`: a string for `start`, false for none, undefined for the upstream's id.
  const renderer =
    format === 'ai-sdk'
      ? new NativeUiRenderer(typeof messageId === 'string' ? messageId : null, messageId === undefined)
      : null
  let error
  try {
    for await (const batch of stream[kBatches]()) {
      if (sink.gone()) break
      // A stand-in batch made in JS (a failure of a byte source) carries only its end.
      if (renderer && batch.deltaCount === 0 && batch.chunkCount === 0) continue
      const bytes = renderer ? renderer.render(/** @type {any} */ (batch)) : batch.relayBytes(format)
      if (bytes.length > 0 && write(bytes) === false) await sink.drained()
    }
  } catch (caught) {
    error = caught
  } finally {
    if (timer) clearInterval(timer)
  }
  if (sink.gone()) {
    if (!error || error instanceof AbortError) stream.abort('the client disconnected')
    return { ok: false, error: error ?? new AbortError('The stream was aborted: the client disconnected'), wrote }
  }
  if (error) {
    const last = ending(format, publicError(error, onError).body, renderer)
    if (last) write(last)
    return { ok: false, error, wrote }
  }
  const last = ending(format, null, renderer)
  if (last) write(last)
  return { ok: true, final: await stream.final(), wrote }
}

function headersFor(format) {
  if (format === 'ai-sdk')
    // What the AI SDK's `createUIMessageStreamResponse` sends (`connection` is Node's business).
    return {
      'content-type': FORMATS[format],
      'cache-control': 'no-cache',
      'x-vercel-ai-ui-message-stream': 'v1',
      'x-accel-buffering': 'no',
    }
  return {
    'content-type': FORMATS[format],
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  }
}

/** An HTTP status for an error that happened before the first byte reached the client. */
function statusFor(error) {
  if (typeof error?.status === 'number') {
    if (error.status === 401 || error.status === 403) return 502 // our upstream credentials, not the client's
    if (error.status >= 500 || error.status < 400) return 502
    return error.status
  }
  if (error?.code === 'ERR_TIMEOUT') return 504
  return 502
}

/** Whether `res` can be relayed to: a Node ServerResponse (or one that behaves like it). */
function isServerResponse(res) {
  if (res instanceof http.ServerResponse) return true
  return (
    res !== null &&
    typeof res === 'object' &&
    ['writeHead', 'setHeader', 'write', 'end', 'on', 'off'].every((name) => typeof res[name] === 'function')
  )
}

/** Answers a failure that came before any byte was sent: its HTTP status and a JSON body. */
function sendErrorResponse(res, error, onError) {
  const { status, body } = publicError(error, onError)
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
  const after = retryAfter(error, status)
  if (after !== null) headers['retry-after'] = after
  res.writeHead(status, headers)
  res.end(JSON.stringify({ error: body }))
}

/**
 * `stream.pipeTo(res, { format, heartbeat, onError })` for a Node ServerResponse. The options
 * and `res` are checked synchronously (a TypeError, the stream aborted); the promise it returns
 * never rejects.
 */
function pipeTo(stream, res, options) {
  const { format, heartbeat, onError, messageId } = checked(stream, () => {
    const checkedOptions = checkOptions(options, { format: 'openai', names: PIPE_OPTIONS })
    if (!isServerResponse(res))
      throw new TypeError('streamdelta: pipeTo needs a Node http.ServerResponse (res), got ' + describe(res))
    return checkedOptions
  })
  const resumable = options?.resumable
  if (resumable !== undefined) {
    // The store relays (relay-store.js): it records every event in Redis as it goes.
    const store = checked(stream, () => {
      if (
        resumable === null ||
        typeof resumable !== 'object' ||
        typeof resumable.store?.[kResumableRelay] !== 'function'
      )
        throw new TypeError('streamdelta: relay option resumable must be { store: RelayStore, id: string }')
      return resumable.store
    })
    return store[kResumableRelay](stream, res, { format, heartbeat, onError, messageId, id: resumable.id })
  }
  return relayTo(stream, res, format, heartbeat, onError, messageId).catch((error) => {
    // Something failed in the relay itself (say res.writeHead threw): end the request, report it.
    stream.abort(error)
    if (!res.destroyed && !res.writableEnded) res.destroy()
    return { ok: false, error }
  })
}

function describe(value) {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  return value.constructor?.name ?? 'an object'
}

async function relayTo(stream, res, format, heartbeat, onError, messageId) {
  let gone = res.destroyed || res.writableEnded
  const onClose = () => {
    if (!res.writableFinished) {
      gone = true
      stream.abort('the client disconnected')
    }
  }
  res.on('close', onClose)
  try {
    if (gone) {
      stream.abort('the client disconnected')
      return { ok: false, error: new AbortError('The stream was aborted: the client disconnected') }
    }
    try {
      await stream.response
    } catch (error) {
      if (!gone && !res.headersSent) sendErrorResponse(res, error, onError)
      return { ok: false, error }
    }
    const start = () => {
      if (res.headersSent) return
      for (const [name, value] of Object.entries(headersFor(format))) res.setHeader(name, value)
      res.statusCode = 200
      res.flushHeaders()
    }
    // SSE and ndjson clients get the headers now; `text` waits for its first byte, so that a
    // failure before it can still be a real HTTP status.
    const lazy = format === 'text'
    if (!lazy) start()
    const flush = typeof res.flush === 'function' ? () => res.flush() : () => {}
    const result = await pump(
      stream,
      format,
      heartbeat,
      {
        write(chunk) {
          if (lazy) start()
          const ok = res.write(chunk)
          flush() // behind `compression`, push each batch out now
          return ok
        },
        drained: () =>
          new Promise((resolve) => {
            const done = () => {
              res.off('drain', done)
              res.off('close', done)
              resolve()
            }
            res.on('drain', done)
            res.on('close', done)
          }),
        gone: () => gone,
      },
      onError,
      messageId,
    )
    if (gone) return strip(result)
    if (!result.ok && format === 'text') {
      // Plain text has no in-band error: before any byte, a real status and a JSON body;
      // after, the transfer is cut (no terminating chunk), so the client sees a network error
      // rather than an answer that merely looks finished.
      if (!result.wrote && !res.headersSent) sendErrorResponse(res, result.error, onError)
      else cut(res)
      return strip(result)
    }
    start()
    res.end()
    return strip(result)
  } finally {
    res.off('close', onClose)
  }
}

/**
 * Ends a response abnormally: what was written still reaches the client (the socket flushes,
 * then closes), but the body never gets its end (no terminating chunk), so the client reports
 * a network error instead of a complete answer. A client that does not read is cut after 10 s.
 */
function cut(res) {
  const socket = res.socket
  if (!socket || typeof socket.end !== 'function' || socket.destroyed) {
    res.destroy()
    return
  }
  // Node 24 hands a response's writes to the socket on a later tick (it corks them): ending
  // the socket now would drop the last batches. After this turn they are in the socket, and
  // `end()` sends them before the FIN.
  setImmediate(() => socket.end())
  const timer = setTimeout(() => socket.destroy(), 10_000).unref()
  socket.once('close', () => clearTimeout(timer))
}

/** The pump's result without its internal `wrote`. */
function strip({ wrote, ...result }) {
  return result
}

/** `stream.toNodeStream({ format })`: a Node Readable of the same bytes as `pipeTo`. */
function toNodeStream(stream, options) {
  const { format, heartbeat, onError, messageId } = checked(stream, () => checkOptions(options, { format: 'openai' }))
  let wake = null
  let gone = false
  const readable = new Readable({
    read() {
      if (wake) {
        const resolve = wake
        wake = null
        resolve()
      }
    },
    destroy(error, callback) {
      gone = true
      stream.abort(error ?? 'the reader stopped')
      if (wake) wake()
      callback(error)
    },
  })
  pump(
    stream,
    format,
    heartbeat,
    {
      write: (chunk) => readable.push(chunk),
      drained: () => new Promise((resolve) => (wake = resolve)),
      gone: () => gone,
    },
    onError,
    messageId,
  ).then((result) => {
    if (gone) return
    // `text` has no in-band error: the Readable fails with it instead of ending as if complete.
    if (!result.ok && format === 'text') readable.destroy(result.error)
    else readable.push(null)
  })
  return readable
}

/** `stream.toReadableStream({ format })`: a web ReadableStream of the same bytes. */
function toReadableStream(stream, options) {
  const { format, heartbeat, onError, messageId } = checked(stream, () => checkOptions(options, { format: 'openai' }))
  const encoder = new TextEncoder()
  let gone = false
  let wake = null
  let controllerRef
  return new ReadableStream({
    start(controller) {
      controllerRef = controller
      pump(
        stream,
        format,
        heartbeat,
        {
          write(chunk) {
            controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk)
            return controller.desiredSize > 0
          },
          drained: () => new Promise((resolve) => (wake = resolve)),
          gone: () => gone,
        },
        onError,
        messageId,
      ).then((result) => {
        if (gone) return
        // `text` has no in-band error: the stream errors, so the response is cut, not ended.
        if (!result.ok && format === 'text') controllerRef.error(result.error)
        else controllerRef.close()
      })
    },
    pull() {
      if (wake) {
        const resolve = wake
        wake = null
        resolve()
      }
    },
    cancel(reason) {
      gone = true
      stream.abort(reason ?? 'the reader cancelled')
      if (wake) wake()
    },
  })
}

/** `stream.pipeToWebSocket(ws, { format, onError })`: one JSON message per batch. */
function pipeToWebSocket(stream, ws, options) {
  const { format, onError } = checked(stream, () => {
    const checkedOptions = checkOptions(options, {
      format: 'events',
      only: ['events', 'ndjson'],
      names: WEBSOCKET_OPTIONS,
    })
    if (!ws || typeof ws.send !== 'function' || typeof ws.close !== 'function')
      throw new TypeError('streamdelta: pipeToWebSocket needs a WebSocket (send, close, bufferedAmount, close event)')
    return checkedOptions
  })
  return relayToWebSocket(stream, ws, format, onError).catch((error) => {
    stream.abort(error)
    return { ok: false, error }
  })
}

async function relayToWebSocket(stream, ws, format, onError) {
  let gone = ws.readyState !== undefined && ws.readyState > 1
  const onClose = () => {
    gone = true
    stream.abort('the WebSocket closed')
  }
  const listen = typeof ws.on === 'function' ? (fn) => ws.on('close', fn) : (fn) => ws.addEventListener('close', fn)
  const unlisten =
    typeof ws.off === 'function' ? (fn) => ws.off('close', fn) : (fn) => ws.removeEventListener?.('close', fn)
  listen(onClose)
  const send = (message) => {
    if (!gone) ws.send(message)
  }
  let error
  try {
    for await (const batch of stream[kBatches](format === 'events')) {
      if (gone) break
      if (batch.deltaCount === 0) continue
      send(format === 'events' ? batch.deltas() : batch.relay('ndjson'))
      // Backpressure: a WebSocket has no drain event, so wait for its buffer to empty.
      while (!gone && ws.bufferedAmount > WEBSOCKET_HIGH_WATER) await new Promise((r) => setTimeout(r, 5))
    }
  } catch (caught) {
    error = caught
  } finally {
    unlisten(onClose)
  }
  if (gone) return { ok: false, error: error ?? new AbortError('The stream was aborted: the WebSocket closed') }
  if (error) {
    const message = { type: 'error', error: publicError(error, onError).body }
    send(format === 'events' ? JSON.stringify([message]) : `${JSON.stringify(message)}\n`)
    ws.close(1011, 'upstream error')
    return { ok: false, error }
  }
  send(format === 'events' ? '[{"type":"done"}]' : '{"type":"done"}\n')
  return { ok: true, final: await stream.final() }
}

/** What a resumable relay (relay-store.js, which imports this module) shares with the others. */
const RELAY_PARTS = { checked, ending, publicError, headersFor, sendErrorResponse, isServerResponse, FORMATS }

module.exports = { pipeTo, toNodeStream, toReadableStream, pipeToWebSocket, publicError, RELAY_PARTS }
