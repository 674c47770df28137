// streamdelta/browser: a page's reader of a relay route in the `events` format. Plain ESM, no
// native code and no Node APIs (fetch, TextDecoder, AbortController), so bundlers take it
// as it is. POSTs (or GETs) with `fetch`, reads the named SSE events back as the same Delta
// union the server's stream yields: `for await`, `on(...)`, `text()`, `finalText()`, `abort()`.
//
//   import { readRelay } from 'streamdelta/browser'
//   const answer = readRelay('/chat', { body: { messages } })
//   answer.on('text', (text, snapshot) => (el.textContent = snapshot))
//   await answer.finalText()
//
// On a resumable route (pipeTo with `resumable`: every event has an SSE id), `resumeUrl` lets
// the reader survive a dropped connection: it GETs that route with `Last-Event-ID` and reads
// on, so the page gets every delta exactly once.

/** An error the relay reported (`event: error`), or an HTTP error answer. */
export class RelayError extends Error {
  /**
   * @param {string} message
   * @param {{ status?: number | null, type?: string | null, code?: string | null, body?: unknown }} [fields]
   */
  constructor(message, fields = {}) {
    super(message)
    this.name = 'RelayError'
    this.status = fields.status ?? null
    this.type = fields.type ?? null
    this.code = fields.code ?? null
    this.body = fields.body
  }
}

/** The reader was aborted (`abort()` or its `signal`). */
export class RelayAbortError extends Error {
  constructor(message = 'The relay stream was aborted') {
    super(message)
    this.name = 'AbortError'
  }
}

/** WHATWG event-stream framing, enough for a relay: event, data, id; comments skipped. */
class EventSplitter {
  #buffer = ''
  #event = ''
  #data = []
  lastEventId = ''

  /** @param {string} text @returns {Array<{ event: string, data: string, id: string }>} */
  push(text) {
    this.#buffer += text
    const out = []
    let at
    while ((at = this.#lineEnd()) !== -1) {
      const line = this.#buffer.slice(0, at)
      const skip = this.#buffer[at] === '\r' && this.#buffer[at + 1] === '\n' ? 2 : 1
      this.#buffer = this.#buffer.slice(at + skip)
      if (line === '') {
        if (this.#data.length > 0)
          out.push({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.lastEventId })
        this.#event = ''
        this.#data = []
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      let value = colon === -1 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'event') this.#event = value
      else if (field === 'data') this.#data.push(value)
      else if (field === 'id' && !value.includes('\0')) this.lastEventId = value
    }
    return out
  }

  #lineEnd() {
    const n = this.#buffer.indexOf('\n')
    const r = this.#buffer.indexOf('\r')
    if (r === -1) return n
    // A lone CR at the very end may be the first half of CRLF: wait for the next bytes.
    if (r === this.#buffer.length - 1) return n === -1 ? -1 : Math.min(n, r)
    return n === -1 ? r : Math.min(n, r)
  }
}

/** One `events` relay event as a Delta (null for `done`); throws RelayError for `error`. */
function toDelta(event, data) {
  const value = JSON.parse(data)
  switch (event) {
    case 'text':
    case 'refusal':
    case 'reasoning':
      return typeof value === 'string' ? { type: event, text: value, choice: 0 } : value
    case 'finish':
      return { type: 'finish', choice: value.choice ?? 0, reason: value.reason }
    case 'usage':
      return { type: 'usage', usage: value }
    case 'error':
      throw new RelayError(String(value?.message ?? 'The relay reported an error'), {
        status: value?.status,
        type: value?.type,
        code: value?.code,
        body: value,
      })
    case 'done':
      return null
    default:
      return value !== null && typeof value === 'object' && !('type' in value) ? { type: event, ...value } : value
  }
}

/**
 * Reads a relay route in the `events` format. The request starts at once.
 * @param {string | URL} url
 * @param {{ body?: unknown, method?: string, headers?: Record<string, string>, signal?: AbortSignal, fetch?: typeof fetch, credentials?: RequestCredentials, resumeUrl?: string | URL, maxReconnects?: number, reconnectDelay?: number }} [options]
 */
export function readRelay(url, options = {}) {
  return new RelayReader(url, options)
}

const READ_OPTIONS = [
  'body',
  'method',
  'headers',
  'signal',
  'fetch',
  'credentials',
  'resumeUrl',
  'maxReconnects',
  'reconnectDelay',
]

/** Throws a TypeError naming the first bad option (a page's mistakes show at the call). */
function checkReadOptions(options) {
  if (options === null || typeof options !== 'object')
    throw new TypeError('streamdelta/browser: readRelay options must be an object')
  for (const name of Object.keys(options))
    if (!READ_OPTIONS.includes(name))
      throw new TypeError(`streamdelta/browser: unknown readRelay option '${name}' (known: ${READ_OPTIONS.join(', ')})`)
  const { resumeUrl, maxReconnects, reconnectDelay } = options
  if (resumeUrl !== undefined && typeof resumeUrl !== 'string' && !(resumeUrl instanceof URL))
    throw new TypeError(
      `streamdelta/browser: readRelay option resumeUrl must be a string or URL, got ${typeof resumeUrl}`,
    )
  if (maxReconnects !== undefined && !(Number.isInteger(maxReconnects) && maxReconnects >= 0))
    throw new TypeError(
      `streamdelta/browser: readRelay option maxReconnects must be a whole number >= 0, got ${String(maxReconnects)}`,
    )
  if (reconnectDelay !== undefined && !(typeof reconnectDelay === 'number' && reconnectDelay >= 0))
    throw new TypeError(
      `streamdelta/browser: readRelay option reconnectDelay must be a number of ms >= 0, got ${String(reconnectDelay)}`,
    )
}

/** The relay said nothing more will come: an HTTP error answer as a RelayError. */
async function httpError(response) {
  const text = await response.text().catch(() => '')
  let parsed
  try {
    parsed = JSON.parse(text)
  } catch {}
  const error = parsed?.error
  return new RelayError(String(error?.message ?? (text || `HTTP ${response.status}`)), {
    status: response.status,
    type: error?.type,
    code: error?.code,
    body: parsed ?? text,
  })
}

/** A connection that broke before the relay's end: the reader may reconnect after it. */
class Broken extends Error {}

export class RelayReader {
  #controller = new AbortController()
  #deltas = []
  #waiters = []
  #listeners = new Map()
  #done = false
  #error = null
  #text = ''
  #finished
  /** The last SSE id the relay sent (a resumable route's events carry one), '' before. */
  #lastEventId = ''

  constructor(url, options = {}) {
    checkReadOptions(options)
    const { body, method = body === undefined ? 'GET' : 'POST', headers = {}, signal, credentials } = options
    const doFetch = options.fetch ?? globalThis.fetch
    if (signal) {
      if (signal.aborted) this.#controller.abort(signal.reason)
      else signal.addEventListener('abort', () => this.abort(signal.reason), { once: true })
    }
    const init = {
      method,
      headers: {
        accept: 'text/event-stream',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: this.#controller.signal,
      credentials,
    }
    const resume = {
      url: options.resumeUrl,
      left: options.maxReconnects ?? 5,
      delay: options.reconnectDelay ?? 1000,
      // A reconnection GETs the resume route: the page's headers (auth), none about a body.
      init: { method: 'GET', headers: { accept: 'text/event-stream', ...headers }, signal: init.signal, credentials },
    }
    this.#finished = this.#run(doFetch, url, init, resume)
    this.#finished.catch(() => {}) // observed through the iterator, finalText() or 'error'
  }

  /**
   * Reads the relay; when its connection breaks before the end and the route is resumable
   * (its events carried ids, and `resumeUrl` says where it resumes), GETs `resumeUrl` with
   * `Last-Event-ID` and reads on from there: the server replays exactly what came after.
   */
  async #run(doFetch, url, init, resume) {
    try {
      let request = { url, init }
      for (;;) {
        try {
          await this.#read(doFetch, request.url, request.init)
          break
        } catch (error) {
          const signal = this.#controller.signal
          const canResume = resume.url !== undefined && this.#lastEventId !== '' && resume.left > 0
          if (!(error instanceof Broken)) throw error
          if (signal.aborted || !canResume) throw error.cause
          resume.left--
          await new Promise((resolve) => setTimeout(resolve, resume.delay))
          if (signal.aborted) throw error
          const headers = { ...resume.init.headers, 'last-event-id': this.#lastEventId }
          request = { url: resume.url, init: { ...resume.init, headers } }
        }
      }
      this.#finish(null)
    } catch (error) {
      const failure = this.#controller.signal.aborted ? new RelayAbortError() : error
      this.#finish(failure)
      throw failure
    }
    return this.#text
  }

  /** One response, to the relay's `done`; throws Broken when the connection broke first. */
  async #read(doFetch, url, init) {
    let response
    try {
      response = await doFetch(url, init)
    } catch (error) {
      throw new Broken('The relay could not be reached', { cause: error })
    }
    if (response.status === 204)
      throw new RelayError('The answer can no longer be resumed (the relay has no record of it)', {
        status: 204,
        code: 'not_resumable',
      })
    if (!response.ok) {
      const error = await httpError(response)
      // A resume route that cannot reach its store now (503) may answer on a later try.
      if (response.status === 503 && this.#lastEventId !== '') throw new Broken(error.message, { cause: error })
      throw error
    }
    if (!response.body) throw new RelayError('The relay answered without a body', { status: response.status })
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const splitter = new EventSplitter()
    for (;;) {
      let chunk
      try {
        chunk = await reader.read()
      } catch (error) {
        throw new Broken('The relay connection broke', { cause: error })
      }
      const { value, done } = chunk
      const events = splitter.push(done ? decoder.decode() + '\n\n' : decoder.decode(value, { stream: true }))
      for (const { event, data, id } of events) {
        const delta = toDelta(event, data)
        if (id !== '') this.#lastEventId = id
        if (delta === null) {
          reader.cancel().catch(() => {})
          return
        }
        this.#deliver(delta)
      }
      if (done)
        throw new Broken('The relay stream ended before its done event', {
          cause: new RelayError('The relay stream ended before its done event'),
        })
    }
  }

  #deliver(delta) {
    if (delta.type === 'text' && delta.choice === 0) this.#text += delta.text
    this.#emit(delta.type, delta)
    const waiter = this.#waiters.shift()
    if (waiter) waiter.resolve({ value: delta, done: false })
    else this.#deltas.push(delta)
  }

  #emit(type, delta) {
    const list = this.#listeners.get(type)
    if (!list) return
    for (const listener of [...list]) {
      if (type === 'text' || type === 'refusal' || type === 'reasoning')
        listener(delta.text, type === 'text' ? this.#text : undefined, delta.choice)
      else if (type === 'error') listener(delta)
      else if (type === 'done') listener(this.#text)
      else listener(delta)
    }
  }

  #finish(error) {
    if (this.#done) return
    this.#done = true
    this.#error = error
    if (error) this.#emit('error', error)
    else this.#emit('done')
    for (const waiter of this.#waiters.splice(0))
      error ? waiter.reject(error) : waiter.resolve({ value: undefined, done: true })
  }

  /** Deltas in arrival order; ends after `done`, throws RelayError / an AbortError. */
  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this.#deltas.length > 0) return Promise.resolve({ value: this.#deltas.shift(), done: false })
        if (this.#done)
          return this.#error ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
      },
      return: () => {
        this.abort('the reader stopped')
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  /** Content text of choice 0, delta by delta. */
  async *text() {
    for await (const delta of this) if (delta.type === 'text' && delta.choice === 0) yield delta.text
  }

  /** Choice 0's whole content, once the relay says `done`. */
  finalText() {
    return this.#finished
  }

  /**
   * `text`, `refusal`, `reasoning` (text, snapshot, choice); any other Delta type (the Delta);
   * `error` (the error); `done` (the whole text). Returns this.
   */
  on(event, listener) {
    let list = this.#listeners.get(event)
    if (!list) this.#listeners.set(event, (list = []))
    list.push(listener)
    return this
  }

  off(event, listener) {
    const list = this.#listeners.get(event)
    const at = list?.indexOf(listener) ?? -1
    if (at !== -1) list.splice(at, 1)
    return this
  }

  /** Cancels the request (the server sees the connection close and aborts its upstream). */
  abort(reason) {
    if (this.#done) return
    this.#controller.abort(reason)
  }
}
