'use strict'
// Resumable relays: `new RelayStore({ url, ttl, prefix })` keeps a durable log of every relayed
// event in Redis, so that any instance of a service can replay an answer from any point and
// follow it to its end (`store.resume(id, res, { format, lastEventId })`), and cancel it where
// it runs (`store.cancel(id)`).
//
// Keys, each with an expiry (`ttl` seconds unless said otherwise):
//   {prefix}relay:{id}         a Redis stream, one entry per relayed batch: `t` (start, data,
//                              done, error, cancelled), `b` (the batch as the engine rendered
//                              it in the relay's format, without SSE ids), `n` (its events);
//                              the `start` entry has `f` (the format). Refreshed as it grows.
//   {prefix}relay-live:{id}    the producer's marker (SET NX, a random token, 3 s expiry
//                              refreshed every 500 ms): one producer per id; its absence with
//                              no terminal entry means the producer died.
//   {prefix}relay-cancel:{id}  set by cancel(id); the producer checks it with its marker.
// Entry ids are chosen by the producer (one producer per key, so they only grow): an entry
// `ms-s` with n events reserves the ids `ms-s` .. `ms-(s+n-1)`, one per event, and those are
// the events' SSE ids. So every event has an id that is a Redis stream id, the live client is
// written to without waiting for Redis, and a Last-Event-ID inside a batch resumes exactly
// after that event.

const { randomUUID } = require('node:crypto')
const { kBatches, kResumableRelay } = require('./symbols')
const { AbortError } = require('./errors')
const { checkNames } = require('./options')
const { RELAY_PARTS } = require('./relay')
const { NativeUiRenderer } = require('./native')
const SseIds = require('./sse-ids')
const { ResponseStream } = require('./endpoint-streams')
const { BackgroundPosition } = require('./background-position')

const STORE_OPTIONS = ['url', 'ttl', 'prefix', 'client']
const RESUME_OPTIONS = ['format', 'lastEventId', 'heartbeat']
const SSE_FORMATS = ['events', 'openai', 'ai-sdk']
const FORMAT_LIST = "'events', 'openai' or 'ai-sdk'"
/** The producer's marker expiry, and how often it is refreshed (and the cancel flag read). */
const MARKER_MS = 3000
const HEARTBEAT_MS = 500
/** How long a follower's XREAD blocks before it checks that the producer is still alive. */
const FOLLOW_BLOCK_MS = 1000
/** How long connecting to Redis (or its first answer) may take before the store gives up. */
const CONNECT_TIMEOUT_MS = 2000
const DEFAULT_HEARTBEAT = 15_000
const TERMINAL = new Set(['done', 'error', 'cancelled'])

const CANCELLED = { message: 'The answer was cancelled.', type: 'cancelled', code: 'cancelled', status: 499 }
const INTERRUPTED = {
  message: 'The answer was interrupted: the server producing it stopped.',
  type: 'upstream_error',
  code: 'relay_interrupted',
  status: 502,
}

// Producer heartbeat: KEYS marker, stream, cancel; ARGV token, marker ms, ttl s.
// -1: the marker is not ours (lost); else 1 when cancelled, 0 otherwise.
const HEARTBEAT_SCRIPT = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return redis.call('EXISTS', KEYS[3])`
// Start: KEYS marker, stream, cancel; ARGV token, marker ms, start entry id, format, ttl s.
// 0 when another producer has the id; else the marker taken, the old log and flag dropped,
// the start entry written.
const BEGIN_SCRIPT = `if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('XADD', KEYS[2], ARGV[3], 't', 'start', 'f', ARGV[4], 'n', '0', 'b', '')
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1`
// End: KEYS stream, marker, cancel; ARGV entry id, type, events, ttl s, token: the terminal
// entry, the expiry refreshed, the marker released if it is ours, the cancel flag dropped.
const FINISH_SCRIPT = `redis.call('XADD', KEYS[1], ARGV[1], 't', ARGV[2], 'n', '1', 'b', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if redis.call('GET', KEYS[2]) == ARGV[5] then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[3])
return 1`
// KEYS marker; ARGV token: deletes the marker if it is ours.
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
// KEYS marker, cancel; ARGV ttl: sets the cancel flag of a live relay.
const CANCEL_SCRIPT = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[2], '1', 'EX', ARGV[1]) return 1 end
return 0`

/** The error pipeTo reports when another producer has the id. */
class RelayLiveError extends Error {
  constructor(id) {
    super(`streamdelta: relay '${id}' is already live (another pipeTo with this id is still producing)`)
    this.name = 'RelayLiveError'
    this.code = 'ERR_RELAY_LIVE'
  }
}

function checkId(id) {
  if (typeof id !== 'string' || id === '' || id.length > 512)
    throw new TypeError(
      `streamdelta: a relay id must be a non-empty string of at most 512 characters, got ${typeof id}`,
    )
}

function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`streamdelta: ${what} did not answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** The SSE events of a rendered batch (each ends with a blank line; data lines are JSON). */
function splitEvents(text) {
  const events = text.split('\n\n')
  events.pop()
  return events
}

/** `events` with SSE ids `ms-(seq+k)`, from event `from` on. */
function withIds(events, ms, seq, from = 0) {
  let out = ''
  for (let k = from; k < events.length; k++) out += `id: ${ms}-${seq + k}\n${events[k]}\n\n`
  return out
}

function parseId(id) {
  const dash = id.indexOf('-')
  return { ms: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)) }
}

/** A stream entry's fields (a flat [name, value, ...] array) as an object. */
function fieldsOf(flat) {
  const fields = {}
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1])
  return fields
}

/** The `ai-sdk` renderer of one relay (see relay.js's pump): a string id, false for none, undefined for the upstream's. */
function uiRenderer(messageId) {
  return new NativeUiRenderer(typeof messageId === 'string' ? messageId : null, messageId === undefined)
}

/** How a resumer that has no renderer says that the answer failed: `body` in `format`. */
function failure(format, body) {
  if (format === 'ai-sdk')
    return `data: ${JSON.stringify({ type: 'error', errorText: body.message })}\n\ndata: [DONE]\n\n`
  return RELAY_PARTS.ending(format, body)
}

/** A response's writes, backpressure and whether the client left. */
function clientOf(res) {
  const client = {
    gone: res.destroyed || res.writableEnded,
    lastWrite: Date.now(),
    /** `done`: called once `res` no longer needs `text` (Node's write callback), if ever. */
    write(text, done = undefined) {
      if (client.gone) return true
      client.lastWrite = Date.now()
      const ok = res.write(text, done)
      if (typeof res.flush === 'function') res.flush()
      return ok
    },
    drained: () =>
      client.gone
        ? Promise.resolve()
        : new Promise((resolve) => {
            const done = () => {
              res.off('drain', done)
              res.off('close', done)
              resolve()
            }
            res.on('drain', done)
            res.on('close', done)
          }),
  }
  return client
}

/**
 * The producer's side of one relay: assigns entry ids, sends XADDs without waiting (one
 * connection keeps them in order), refreshes the marker and the expiry, reads the cancel flag.
 * A Redis failure stops the recording (a log with a gap would be worse than none): the marker
 * is released so that resumers end with an error instead of waiting.
 */
class Recorder {
  #command
  #keys
  #token
  #ttl
  #ms = 0
  #seq = 0
  /** Commands sent and not answered yet, and who waits for them all (settled()). */
  #inFlight = 0
  /** @type {{ promise: Promise<void>, resolve: () => void } | null} */
  #whenSettled = null
  #timer = null
  #beating = false
  broken = false
  cancelled = false

  constructor(command, keys, token, ttl, onCancel, onBroken) {
    this.#command = command
    this.#keys = keys
    this.#token = token
    this.#ttl = ttl
    this.onCancel = onCancel
    this.onBroken = onBroken
  }

  /**
   * The id the next entry gets (moved on to now's millisecond): `add` takes it, so a batch's
   * SSE ids can be written before the batch is recorded, in the same turn.
   */
  nextId() {
    const now = Date.now()
    if (now > this.#ms) {
      this.#ms = now
      this.#seq = 0
    }
    return { ms: this.#ms, seq: this.#seq }
  }

  /** Reserves `n` ids (at least one) from the next id on: the first is the entry's. */
  #take(n) {
    const id = { ms: this.#ms, seq: this.#seq }
    this.#seq += Math.max(1, n)
    return id
  }

  #next(n) {
    this.nextId()
    return this.#take(n)
  }

  /** Sends a command without waiting; a failure stops the recording. One promise per command (this runs per batch). */
  #send(args) {
    this.#inFlight++
    this.#command(args).then(
      () => this.#answered(),
      (error) => {
        this.#fail(error)
        this.#answered()
      },
    )
  }

  #answered() {
    this.#inFlight--
    if (this.#inFlight === 0 && this.#whenSettled) {
      this.#whenSettled.resolve()
      this.#whenSettled = null
    }
  }

  #fail(error) {
    if (this.broken) return
    this.broken = true
    this.error = error
    this.#stop()
    // Best effort: without the marker, resumers end with an error rather than wait.
    this.#command(['EVAL', RELEASE_SCRIPT, '1', this.#keys.live, this.#token]).catch(() => {})
    this.onBroken(error)
  }

  /**
   * An EVAL of one of the scripts that hold the live marker: KEYS live, stream, cancel; ARGV
   * the token, the marker's expiry, then `more`.
   */
  #markerScript(script, ...more) {
    const keys = this.#keys
    return ['EVAL', script, '3', keys.live, keys.stream, keys.cancel, this.#token, String(MARKER_MS), ...more]
  }

  /** Takes the id (SET NX) and starts the log; throws RelayLiveError when another has it. */
  async begin(format) {
    const { ms, seq } = this.#next(1)
    const keys = this.#keys
    // One round trip: each command costs the JS thread more than the script does Redis.
    const taken = await this.#command(this.#markerScript(BEGIN_SCRIPT, `${ms}-${seq}`, format, String(this.#ttl)))
    if (taken !== 1) throw new RelayLiveError(keys.id)
    this.#timer = setInterval(() => this.#beat(), HEARTBEAT_MS)
  }

  async #beat() {
    if (this.#beating || this.broken) return
    this.#beating = true
    try {
      const state = await this.#command(this.#markerScript(HEARTBEAT_SCRIPT, String(this.#ttl)))
      if (state === -1) this.#fail(new Error('streamdelta: the relay lost its live marker in Redis'))
      else if (state === 1 && !this.cancelled) {
        this.cancelled = true
        this.onCancel()
      }
    } catch (error) {
      this.#fail(error)
    } finally {
      this.#beating = false
    }
  }

  #stop() {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  /**
   * Takes over the log of a relay whose producer died: takes the id (SET NX) and carries on
   * after the log's last entry `lastId`. False when another instance took it first.
   */
  async adopt(lastId) {
    const taken = await this.#command(['SET', this.#keys.live, this.#token, 'NX', 'PX', String(MARKER_MS)])
    if (taken !== 'OK') return false
    const last = parseId(lastId)
    this.#ms = last.ms
    this.#seq = last.seq + 1
    this.#timer = setInterval(() => this.#beat(), HEARTBEAT_MS)
    return true
  }

  /**
   * Records a data batch of `n` events, the engine's UTF-8 as it is (`extra`: more fields, such
   * as a background response's position), under the ids from `nextId()` on; returns the ids'
   * start, null when not recording.
   */
  add(bytes, n, extra = null) {
    if (this.broken) return null
    const id = this.#take(n)
    /** @type {Array<string | Buffer>} */
    const args = ['XADD', this.#keys.stream, `${id.ms}-${id.seq}`, 't', 'data', 'n', String(n), 'b', bytes]
    if (extra) args.push(...extra)
    this.#send(args)
    return id
  }

  /** Records the terminal entry, refreshes the expiry, releases the marker; waits for Redis. */
  async finish(type, text) {
    this.#stop()
    if (this.broken) return null
    const id = this.#next(1)
    const keys = this.#keys
    const entry = `${id.ms}-${id.seq}`
    this.#send([
      'EVAL',
      FINISH_SCRIPT,
      '3',
      keys.stream,
      keys.live,
      keys.cancel,
      entry,
      type,
      text,
      String(this.#ttl),
      this.#token,
    ])
    return id
  }

  /** Resolves when every command sent so far has answered (or failed). */
  settled() {
    if (this.#inFlight === 0) return Promise.resolve()
    if (!this.#whenSettled) {
      let resolve = () => {}
      const promise = new Promise((done) => {
        resolve = () => done(undefined)
      })
      this.#whenSettled = { promise, resolve }
    }
    return this.#whenSettled.promise
  }
}

/** A durable log of relayed events in Redis, shared by every instance of a service. */
class RelayStore {
  #url
  #ttl
  #prefix
  #client = null
  #connecting = null
  #closed = false
  #readers = new Set()
  #recorders = new Set()
  /** The Client a resumer takes a background response over with (option `client`), or null. */
  #takeoverClient = null

  /** @param {{ url: string, ttl: number, prefix?: string, client?: import('./client').Client }} options */
  constructor(options) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('streamdelta: RelayStore needs options { url, ttl, prefix? }')
    checkNames(options, STORE_OPTIONS, 'RelayStore option')
    const { url, ttl, prefix = 'streamdelta:', client = null } = options
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
      throw new TypeError(`streamdelta: RelayStore option url must be a redis:// or rediss:// URL, got ${String(url)}`)
    if (!Number.isInteger(ttl) || ttl < 1)
      throw new TypeError(
        `streamdelta: RelayStore option ttl must be a whole number of seconds >= 1, got ${String(ttl)}`,
      )
    if (typeof prefix !== 'string')
      throw new TypeError(`streamdelta: RelayStore option prefix must be a string, got ${typeof prefix}`)
    if (client !== null && typeof client?.resumeResponse !== 'function')
      throw new TypeError(
        'streamdelta: RelayStore option client must be a streamdelta Client (it takes over background responses)',
      )
    this.#url = url
    this.#ttl = ttl
    this.#prefix = prefix
    this.#takeoverClient = client
  }

  get ttl() {
    return this.#ttl
  }

  get prefix() {
    return this.#prefix
  }

  #keys(id) {
    return {
      id,
      stream: `${this.#prefix}relay:${id}`,
      live: `${this.#prefix}relay-live:${id}`,
      cancel: `${this.#prefix}relay-cancel:${id}`,
    }
  }

  /** A new client: no offline queue (a command while Redis is away fails at once, it never waits). */
  #newClient() {
    const { createClient } = require('redis')
    const client = createClient({
      url: this.#url,
      disableOfflineQueue: true,
      socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) },
    })
    // Errors reach the commands that fail; without a listener a lost connection would throw.
    client.on('error', () => {})
    return client
  }

  /** The shared connection for non-blocking commands, connected on first use. */
  async #connection() {
    if (this.#closed) throw new Error('streamdelta: this RelayStore is closed')
    // While Redis is away the client reconnects by itself; its commands fail at once meanwhile.
    if (this.#client) return this.#client
    if (!this.#connecting) {
      const client = this.#newClient()
      this.#connecting = withTimeout(client.connect(), CONNECT_TIMEOUT_MS, 'Redis')
        .then(() => {
          this.#client = client
          return client
        })
        .catch((error) => {
          client.destroy()
          throw error
        })
        .finally(() => {
          this.#connecting = null
        })
    }
    return this.#connecting
  }

  /**
   * @param {string[]} args
   * @returns {Promise<any>}
   */
  #command(args) {
    // Connected: straight to the client (this runs once per relayed batch).
    if (this.#client && !this.#closed) {
      try {
        return this.#client.sendCommand(args)
      } catch (error) {
        return Promise.reject(error) // callers expect a rejection, never a throw
      }
    }
    return this.#connection().then((client) => client.sendCommand(args))
  }

  /** pipeTo(res, { resumable: { store: this, id } }): see relay.js. */
  [kResumableRelay](stream, res, { format, heartbeat, onError, id, messageId }) {
    RELAY_PARTS.checked(stream, () => {
      checkId(id)
      if (!SSE_FORMATS.includes(format))
        throw new TypeError(`streamdelta: a resumable relay needs format ${FORMAT_LIST}, got '${format}'`)
      if (this.#closed) throw new TypeError('streamdelta: this RelayStore is closed')
    })
    return this.#produce(stream, res, format, heartbeat, onError, id, messageId).catch((error) => {
      stream.abort(error)
      if (!res.destroyed && !res.writableEnded) res.destroy()
      return { ok: false, error }
    })
  }

  /** A Recorder of relay `id` on the shared connection; `stream` is aborted when cancelled. */
  #recorder(keys, stream, client) {
    return new Recorder(
      (args) => this.#command(args),
      keys,
      randomUUID(),
      this.#ttl,
      () => stream.abort(new AbortError('The stream was aborted: the relay was cancelled')),
      () => client.write(': no longer resumable: the relay store failed\n\n'),
    )
  }

  async #produce(stream, res, format, heartbeat, onError, id, messageId) {
    const { ending, publicError, headersFor, sendErrorResponse } = RELAY_PARTS
    const client = clientOf(res)
    const recorder = this.#recorder(this.#keys(id), stream, client)
    let recording = true
    const onClose = () => {
      if (res.writableFinished) return
      client.gone = true
      // Without a log nobody can pick the answer up again: stop it, as a plain relay does.
      if (!recording || recorder.broken) stream.abort('the client disconnected')
    }
    res.on('close', onClose)
    this.#recorders.add(recorder)
    const renderer = format === 'ai-sdk' ? uiRenderer(messageId) : null
    try {
      try {
        await withTimeout(recorder.begin(format), CONNECT_TIMEOUT_MS, 'Redis')
      } catch (error) {
        if (error instanceof RelayLiveError) {
          stream.abort(error.message)
          if (!client.gone && !res.headersSent) {
            res.writeHead(409, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
            res.end(
              JSON.stringify({ error: { message: error.message, type: 'conflict', code: 'relay_live', status: 409 } }),
            )
          }
          return { ok: false, error }
        }
        // Redis unreachable: the live client is still served, told in-band it cannot resume.
        recording = false
        recorder.broken = true
        if (client.gone) stream.abort('the client disconnected')
      }
      try {
        await stream.response
      } catch (error) {
        const { body } = publicError(error, onError)
        if (recording) await recorder.finish('error', ending(format, body, renderer))
        if (!client.gone && !res.headersSent) sendErrorResponse(res, error, onError)
        return { ok: false, error }
      }
      for (const [name, value] of Object.entries(headersFor(format))) res.setHeader(name, value)
      res.statusCode = 200
      res.flushHeaders()
      if (!recording) client.write(': not resumable: the relay store is unreachable\n\n')
      const position = stream instanceof ResponseStream ? new BackgroundPosition() : null
      return await this.#record(stream, format, renderer, recorder, client, res, { heartbeat, onError, position })
    } finally {
      res.off('close', onClose)
      this.#recorders.delete(recorder)
    }
  }

  /**
   * The producer's loop, shared by pipeTo and a takeover: each batch rendered once, written to
   * the client with its SSE ids and appended to the log (without waiting for Redis), then the
   * terminal entry. `position` records a background response's resume point with each batch.
   */
  async #record(stream, format, renderer, recorder, client, res, { heartbeat, onError, position }) {
    const { ending, publicError } = RELAY_PARTS
    const reuse = SseIds.reusesBuffers(res)
    const timer =
      heartbeat &&
      setInterval(
        () => {
          if (Date.now() - client.lastWrite >= heartbeat) client.write(': ping\n\n')
        },
        Math.max(10, Math.min(heartbeat, 1000)),
      )
    let error
    try {
      for await (const batch of stream[kBatches]()) {
        // A stand-in batch made in JS (a failure of a byte source) carries only its end.
        if (renderer && batch.deltaCount === 0 && batch.chunkCount === 0) continue
        const bytes = renderer ? renderer.render(/** @type {any} */ (batch)) : batch.relayBytes(format)
        const extra = position ? position.observe(batch) : null
        if (bytes.length === 0) continue
        // The engine counts the events and writes their ids (one scan and one copy per batch,
        // on the engine's UTF-8 as it is; per event in JS, this was most of what recording cost
        // the JS thread), into a buffer reused once the write is done (see sse-ids.js).
        let written
        if (recorder.broken) written = client.write(bytes)
        else {
          const at = recorder.nextId()
          const { out, events, slab } = SseIds.withIds(bytes, at.ms, at.seq, reuse)
          recorder.add(bytes, events, extra)
          written = client.write(out, slab ? () => SseIds.recycle(slab) : undefined)
        }
        if (written === false) await client.drained()
      }
    } catch (caught) {
      error = caught
    } finally {
      if (timer) clearInterval(timer)
    }
    let type = 'done'
    let last = ending(format, null, renderer)
    if (recorder.cancelled) {
      type = 'cancelled'
      last = ending(format, CANCELLED, renderer)
      error = new AbortError('The stream was aborted: the relay was cancelled')
    } else if (error) {
      type = 'error'
      last = ending(format, publicError(error, onError).body, renderer)
    }
    const at = await recorder.finish(type, last)
    client.write(at ? withIds(splitEvents(last), at.ms, at.seq) : last)
    if (!client.gone) res.end()
    await recorder.settled()
    if (error) return { ok: false, error }
    return { ok: true, final: await stream.final() }
  }

  /**
   * A resumer found the producer gone with no end recorded. When the log's last entry holds a
   * background response's position and this store has a `client`, it takes the relay over:
   * takes the id, re-attaches upstream after the last recorded sequence number and carries
   * the log on to the end, relaying to its own client too (so every other resumer follows).
   * Returns null when it cannot (the answer is then interrupted), 'following' when another
   * instance took it over first, else the takeover's result.
   */
  async #takeOver(keys, format, client, res, heartbeat) {
    if (!this.#takeoverClient) return null
    const [last] = await this.#command(['XREVRANGE', keys.stream, '+', '-', 'COUNT', '1'])
    if (!last) return null
    const fields = fieldsOf(last[1])
    if (TERMINAL.has(fields.t) || fields.r === undefined) return null
    const startingAfter = Number(fields.q)
    // The stream is made only once the id is ours; `cancel` aborts it through this holder.
    const holder = { stream: null, abort: (reason) => holder.stream?.abort(reason) }
    const recorder = this.#recorder(keys, holder, client)
    if (!(await recorder.adopt(last[0]))) return 'following'
    this.#recorders.add(recorder)
    try {
      const stream = this.#takeoverClient.resumeResponse(fields.r, { startingAfter })
      holder.stream = stream
      const renderer = format === 'ai-sdk' ? uiRenderer(false) : null
      const result = await this.#record(stream, format, renderer, recorder, client, res, {
        heartbeat,
        onError: undefined,
        position: new BackgroundPosition(fields.r),
      })
      return { ...result, found: true, takenOver: true }
    } finally {
      this.#recorders.delete(recorder)
    }
  }

  /**
   * Replays relay `id` to `res` after `lastEventId` (everything without it), then follows it
   * live to its end. 204 with no body for an unknown or expired id. Never rejects.
   * @param {string} id
   * @param {import('node:http').ServerResponse} res
   * @param {{ format?: 'events' | 'openai' | 'ai-sdk', lastEventId?: string | null, heartbeat?: number | false }} [options]
   */
  resume(id, res, options = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('streamdelta: resume options must be an object')
    checkNames(options, RESUME_OPTIONS, 'resume option')
    checkId(id)
    if (!RELAY_PARTS.isServerResponse(res))
      throw new TypeError('streamdelta: resume needs a Node http.ServerResponse (res)')
    const { format, lastEventId, heartbeat = DEFAULT_HEARTBEAT } = options
    if (format !== undefined && !SSE_FORMATS.includes(format))
      throw new TypeError(`streamdelta: resume option format must be ${FORMAT_LIST}, got ${String(format)}`)
    if (lastEventId !== undefined && lastEventId !== null && typeof lastEventId !== 'string')
      throw new TypeError(`streamdelta: resume option lastEventId must be a string, got ${typeof lastEventId}`)
    if (heartbeat !== false && (typeof heartbeat !== 'number' || !(heartbeat > 0)))
      throw new TypeError('streamdelta: resume option heartbeat must be a positive number of ms or false')
    if (this.#closed) throw new TypeError('streamdelta: this RelayStore is closed')
    return this.#follow(id, res, format, lastEventId ?? null, heartbeat).catch((error) => {
      if (!res.headersSent) {
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
        res.end(
          JSON.stringify({ error: { message: 'The answer cannot be resumed now.', type: 'unavailable', status: 503 } }),
        )
      } else if (!res.writableEnded) res.destroy() // cut: the client reconnects and resumes again
      return { ok: false, found: res.statusCode !== 204, error }
    })
  }

  async #follow(id, res, wanted, lastEventId, heartbeat) {
    const keys = this.#keys(id)
    const client = clientOf(res)
    // A dedicated connection: XREAD BLOCK holds it. Closed when done or when the client leaves.
    const reader = this.#newClient()
    this.#readers.add(reader)
    const onClose = () => {
      if (res.writableFinished) return
      client.gone = true
      reader.destroy()
    }
    res.on('close', onClose)
    /** @type {(args: string[]) => Promise<any>} raw RESP2 replies: arrays, strings, numbers, null */
    const command = (args) => reader.sendCommand(args)
    try {
      await withTimeout(reader.connect(), CONNECT_TIMEOUT_MS, 'Redis')
      const [first] = await command(['XRANGE', keys.stream, '-', '+', 'COUNT', '1'])
      if (!first && (await command(['EXISTS', keys.live])) === 0) {
        if (!client.gone) res.writeHead(204, { 'cache-control': 'no-store' }).end()
        return { ok: false, found: false }
      }
      const start = first && fieldsOf(first[1])
      const recorded = start?.t === 'start' ? start.f : undefined
      const format = wanted ?? recorded ?? 'events'
      if (recorded !== undefined && format !== recorded) {
        const message = `relay '${id}' was recorded in the '${recorded}' format, not '${format}'`
        res.writeHead(409, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
        res.end(JSON.stringify({ error: { message, type: 'conflict', code: 'relay_format', status: 409 } }))
        return { ok: false, found: true, error: new TypeError(`streamdelta: ${message}`) }
      }
      const { headersFor } = RELAY_PARTS
      for (const [name, value] of Object.entries(headersFor(format))) res.setHeader(name, value)
      res.statusCode = 200
      res.flushHeaders()

      let cursor = '0-0'
      /** Writes one entry; returns its type. `from`: the first of its events to write. */
      const deliver = async (entryId, flat, from = 0) => {
        cursor = entryId
        const fields = fieldsOf(flat)
        if (fields.t === 'start') return fields.t
        const { ms, seq } = parseId(entryId)
        const events = splitEvents(fields.b ?? '')
        if (from < events.length && client.write(withIds(events, ms, seq, from)) === false) await client.drained()
        return fields.t
      }
      const finish = (type) => {
        if (!client.gone) res.end()
        return { ok: type === 'done', found: true }
      }

      if (lastEventId !== null && /^\d+-\d+$/.test(lastEventId)) {
        const [entry] = await command(['XREVRANGE', keys.stream, lastEventId, '-', 'COUNT', '1'])
        if (entry) {
          const fields = fieldsOf(entry[1])
          const at = parseId(entry[0])
          const last = parseId(lastEventId)
          const n = Number(fields.n ?? 0)
          const seen = at.ms === last.ms ? last.seq - at.seq + 1 : n
          if (TERMINAL.has(fields.t) && seen >= n) return finish(fields.t) // it had the end already
          const type = await deliver(entry[0], entry[1], seen)
          if (TERMINAL.has(type)) return finish(type)
        }
      }

      while (!client.gone) {
        const reply = await command([
          'XREAD',
          'COUNT',
          '256',
          'BLOCK',
          String(FOLLOW_BLOCK_MS),
          'STREAMS',
          keys.stream,
          cursor,
        ])
        let entries = reply?.[0]?.[1] ?? []
        if (entries.length === 0) {
          if (client.gone) break
          if ((await command(['EXISTS', keys.live])) === 0) {
            // No producer: what it wrote before it went is all there will be.
            entries = await command(['XRANGE', keys.stream, `(${cursor}`, '+'])
            if (entries.length === 0) {
              const took = await this.#takeOver(keys, format, client, res, heartbeat)
              if (took === 'following') continue // another instance carries the log on
              if (took) return took
              const last = failure(format, INTERRUPTED)
              client.write(last)
              finish('error')
              return { ok: false, found: true, error: new Error(`streamdelta: ${INTERRUPTED.message}`) }
            }
          } else if (heartbeat && Date.now() - client.lastWrite >= heartbeat) client.write(': ping\n\n')
        }
        for (const [entryId, flat] of entries) {
          const type = await deliver(entryId, flat)
          if (TERMINAL.has(type)) return finish(type)
        }
      }
      return { ok: false, found: true, error: new AbortError('The resume was aborted: the client disconnected') }
    } catch (error) {
      if (client.gone)
        return { ok: false, found: true, error: new AbortError('The resume was aborted: the client disconnected') }
      throw error
    } finally {
      res.off('close', onClose)
      this.#readers.delete(reader)
      if (reader.isOpen) reader.destroy()
    }
  }

  /**
   * Cancels relay `id` wherever it runs: its producer notices within a second, aborts the
   * upstream and records a `cancelled` end, which ends every resumer. Resolves true when the
   * relay was live, false otherwise.
   * @param {string} id
   */
  async cancel(id) {
    checkId(id)
    const keys = this.#keys(id)
    const done = await this.#command(['EVAL', CANCEL_SCRIPT, '2', keys.live, keys.cancel, String(this.#ttl)])
    return done === 1
  }

  /** Ends the store's connections (resumers in progress are cut; relays stop recording). */
  async close() {
    if (this.#closed) return
    this.#closed = true
    for (const reader of this.#readers) reader.destroy()
    this.#readers.clear()
    await Promise.allSettled([...this.#recorders].map((recorder) => recorder.settled()))
    const connecting = this.#connecting
    if (connecting) await connecting.catch(() => {})
    const client = this.#client
    this.#client = null
    if (client?.isOpen) await client.close().catch(() => client.destroy())
  }
}

module.exports = { RelayStore, RelayLiveError }
