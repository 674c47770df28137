'use strict'
// Relaying a stream to clients: pipeTo(res), toReadableStream(), toNodeStream() and
// pipeToWebSocket(). The engine renders each batch in the chosen format (relay.rs), so JS only
// moves one buffer of UTF-8 per batch (one string for WebSocket text frames); it adds the parts
// that depend on how the stream ends, the headers, heartbeats and backpressure.

const { Readable } = require('node:stream')
const { kBatches } = require('./symbols')
const { AbortError } = require('./errors')

const FORMATS = {
  openai: 'text/event-stream; charset=utf-8',
  events: 'text/event-stream; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
}
const DEFAULT_HEARTBEAT = 15_000
const WEBSOCKET_HIGH_WATER = 1 << 20

function checkOptions(options, defaults) {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new TypeError('streamdelta: relay options must be an object')
  const format = options?.format ?? defaults.format
  if (!(format in FORMATS) || (defaults.only && !defaults.only.includes(format))) {
    throw new TypeError(
      `streamdelta: format must be one of ${(defaults.only ?? Object.keys(FORMATS)).map((f) => `'${f}'`).join(', ')}, got '${format}'`,
    )
  }
  const heartbeat = options?.heartbeat ?? DEFAULT_HEARTBEAT
  if (heartbeat !== false && (typeof heartbeat !== 'number' || !(heartbeat > 0)))
    throw new TypeError('streamdelta: heartbeat must be a positive number of ms or false')
  return { format, heartbeat: FORMATS[format] === FORMATS.openai ? heartbeat : false }
}

/** What an error looks like to a client, without internals (the key is already scrubbed). */
function publicError(error) {
  const out = {
    message: error?.message ?? String(error),
    type: error?.type ?? null,
    code: error?.apiCode ?? error?.code ?? null,
  }
  if (error?.param) out.param = error.param
  return out
}

/** The last bytes of a stream in `format`: success, or the error reported in-band. */
function ending(format, error) {
  if (!error) {
    if (format === 'openai') return 'data: [DONE]\n\n'
    if (format === 'events') return 'event: done\ndata: {}\n\n'
    return ''
  }
  const body = publicError(error)
  switch (format) {
    case 'openai':
      return `data: ${JSON.stringify({ error: body })}\n\n`
    case 'events':
      return `event: error\ndata: ${JSON.stringify(body)}\n\n`
    case 'ndjson':
      return `${JSON.stringify({ type: 'error', error: body })}\n`
    default:
      return `\n[error] ${JSON.stringify(body)}\n`
  }
}

/**
 * Pumps `stream` into `sink` in `format`: `sink.write(text)` returns false when the client is
 * full, `sink.drained()` resolves when it can take more (or is gone), `sink.gone()` tells a
 * client that left. Resolves with `{ ok, final?, error? }`; never rejects.
 */
async function pump(stream, format, heartbeat, sink) {
  let lastWrite = Date.now()
  const write = (chunk) => {
    lastWrite = Date.now()
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
  let error
  try {
    for await (const batch of stream[kBatches]()) {
      if (sink.gone()) break
      const bytes = batch.relayBytes(format)
      if (bytes.length > 0 && write(bytes) === false) await sink.drained()
    }
  } catch (caught) {
    error = caught
  } finally {
    if (timer) clearInterval(timer)
  }
  if (sink.gone()) {
    if (!error || error instanceof AbortError) stream.abort('the client disconnected')
    return { ok: false, error: error ?? new AbortError('The stream was aborted: the client disconnected') }
  }
  const last = ending(format, error)
  if (last) write(last)
  if (error) return { ok: false, error }
  return { ok: true, final: await stream.final() }
}

function headersFor(format) {
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

/** `stream.pipeTo(res, { format, heartbeat })` for a Node ServerResponse. */
async function pipeTo(stream, res, options) {
  const { format, heartbeat } = checkOptions(options, { format: 'openai' })
  if (!res || typeof res.write !== 'function' || typeof res.end !== 'function')
    throw new TypeError('streamdelta: pipeTo needs a Node ServerResponse (res)')
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
      if (!gone && !res.headersSent) {
        const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
        if (error?.headers?.['retry-after']) headers['retry-after'] = error.headers['retry-after']
        res.writeHead(statusFor(error), headers)
        res.end(JSON.stringify({ error: publicError(error) }))
      }
      return { ok: false, error }
    }
    if (!res.headersSent) {
      for (const [name, value] of Object.entries(headersFor(format))) res.setHeader(name, value)
      res.statusCode = 200
      res.flushHeaders()
    }
    const flush = typeof res.flush === 'function' ? () => res.flush() : () => {}
    const result = await pump(stream, format, heartbeat, {
      write(chunk) {
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
    })
    if (!gone) res.end()
    return result
  } finally {
    res.off('close', onClose)
  }
}

/** `stream.toNodeStream({ format })`: a Node Readable of the same bytes as `pipeTo`. */
function toNodeStream(stream, options) {
  const { format, heartbeat } = checkOptions(options, { format: 'openai' })
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
  pump(stream, format, heartbeat, {
    write: (chunk) => readable.push(chunk),
    drained: () => new Promise((resolve) => (wake = resolve)),
    gone: () => gone,
  }).then(() => {
    if (!gone) readable.push(null)
  })
  return readable
}

/** `stream.toReadableStream({ format })`: a web ReadableStream of the same bytes. */
function toReadableStream(stream, options) {
  const { format, heartbeat } = checkOptions(options, { format: 'openai' })
  const encoder = new TextEncoder()
  let gone = false
  let wake = null
  let controllerRef
  return new ReadableStream({
    start(controller) {
      controllerRef = controller
      pump(stream, format, heartbeat, {
        write(chunk) {
          controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk)
          return controller.desiredSize > 0
        },
        drained: () => new Promise((resolve) => (wake = resolve)),
        gone: () => gone,
      }).then(() => {
        if (!gone) controllerRef.close()
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

/** `stream.pipeToWebSocket(ws, { format })`: one JSON message per batch. */
async function pipeToWebSocket(stream, ws, options) {
  const { format } = checkOptions(options, { format: 'events', only: ['events', 'ndjson'] })
  if (!ws || typeof ws.send !== 'function' || typeof ws.close !== 'function')
    throw new TypeError('streamdelta: pipeToWebSocket needs a WebSocket (send, close, bufferedAmount, close event)')
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
    const message = { type: 'error', error: publicError(error) }
    send(format === 'events' ? JSON.stringify([message]) : `${JSON.stringify(message)}\n`)
    ws.close(1011, 'upstream error')
    return { ok: false, error }
  }
  send(format === 'events' ? '[{"type":"done"}]' : '{"type":"done"}\n')
  return { ok: true, final: await stream.final() }
}

module.exports = { pipeTo, toNodeStream, toReadableStream, pipeToWebSocket }
