// The paced benchmark's server, in its own process so its CPU never counts against a client.
// POST /v1/chat/completions answers a chat stream shaped like server.mjs's (and OpenAI's): a
// role chunk at once, then (once STREAMS streams are open, see start()) CHUNKS_PER_STREAM
// content chunks, one every INTERVAL_MS, then a finish chunk, a usage chunk and [DONE]. Each content chunk carries the moment it was written,
// `performance.timeOrigin + performance.now()` in epoch ms to the microsecond, so a client in
// another process on this machine can tell how long the chunk took to reach its JS code.
// Content: `<epoch ms with 3 decimals>|é東🙂` (2-, 3- and 4-byte UTF-8, so clients decode for
// real); see CONTENT_SUFFIX and paced-client.mjs for the parse.
// GET /stats returns (and resets) what the server did since the last call: its CPU time, the
// pace it achieved (time between ticks), how long its ticks ran, how many streams were open at
// once and how long the requests took to arrive: what each run really was.
// Prints one JSON line to stdout: { port, chunksPerStream, intervalMs, contentSuffix, streamBytes }.
import http from 'node:http'
import { seededRandom } from './chat-body.mjs'

const CHUNKS = Number(process.env.CHUNKS_PER_STREAM ?? 100)
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 20)
const STREAMS = Number(process.env.STREAMS ?? 1000) // see start() below
const START_WAIT_MS = 10_000
const CONTENT_SUFFIX = 'é東🙂'

// Deterministic (chat-body.mjs's PRNG, its own sequence from seed 42): every stream has the same
// byte count, so fetch-bytes can check it received everything by counting.
const { randomString } = seededRandom(42)

const created = 1767225600 // 2026-01-01T00:00:00Z
const model = 'gpt-4o-mini-2024-07-18'
const fingerprint = 'fp_' + randomString(10).toLowerCase()
// OpenAI pads every chunk with a random-length `obfuscation` field; a fixed cycle of pads keeps
// that shape while keeping the per-stream byte count the same for every stream.
const PADS = Array.from({ length: 16 }, (_, i) => randomString(2 + ((i * 7) % 14)))

/** One `data:` event, OpenAI's key order, built with JSON.stringify (used for the rare chunks). */
function event(id, choices, extra = {}, pad = PADS[0]) {
  const chunk = {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: fingerprint,
    choices,
    ...extra,
    obfuscation: pad,
  }
  return `data: ${JSON.stringify(chunk)}\n\n`
}
const choice = (delta, finish_reason = null) => [{ index: 0, delta, logprobs: null, finish_reason }]

/** The content events are the hot path (50,000 a second at defaults): split once around the
 *  content and the padding so a tick only concatenates strings. */
function contentTemplate(id) {
  const [head, rest] = event(id, choice({ content: '@CONTENT@' }), {}, '@PAD@').split('@CONTENT@')
  const [middle, end] = rest.split('@PAD@')
  return { head, middle, end }
}
/** Epoch ms with microseconds, always 17 characters (13 digits until 2286). */
const stamp = () => (performance.timeOrigin + performance.now()).toFixed(3)

function tailEvents(id, i) {
  const usage = {
    prompt_tokens: 21,
    completion_tokens: CHUNKS,
    total_tokens: CHUNKS + 21,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
  return (
    event(id, choice({}, 'stop'), {}, PADS[i % PADS.length]) +
    event(id, [], { usage }, PADS[(i + 1) % PADS.length]) +
    'data: [DONE]\n\n'
  )
}

// The body bytes of one stream, computed the way the streams are written (a stamp is always 17
// characters), so fetch-bytes knows what to expect.
function streamBytes() {
  const id = `chatcmpl-${'x'.repeat(29)}`
  const { head, middle, end } = contentTemplate(id)
  let s = event(id, choice({ role: 'assistant', content: '', refusal: null }))
  for (let i = 0; i < CHUNKS; i++) s += head + stamp() + '|' + CONTENT_SUFFIX + middle + PADS[i % PADS.length] + end
  return Buffer.byteLength(s + tailEvents(id, CHUNKS))
}

// Every open stream, advanced together by ONE timer: 1,000 timers would cost the server more
// than the writes themselves and fire in a less predictable order.
const open = new Set()
let running = false // a tick is scheduled or under way
const fresh = () => ({
  intervals: 0,
  intervalSumMs: 0,
  maxIntervalMs: 0,
  maxTickMs: 0,
  maxOpen: 0,
  firstAt: null,
  lastAt: null,
  cpu: process.cpuUsage(),
})
let stats = fresh()
let nextAt = 0
let lastTickAt = null

/** Sends one stream its next chunk, or its end. */
function advance(s) {
  if (s.closed) {
    open.delete(s)
  } else if (s.sent < CHUNKS) {
    const pad = PADS[s.sent % PADS.length]
    s.sent++
    // The stamp is taken right before the write, and the write must reach the socket at once:
    // left alone, node:http corks the socket and flushes it on the next tick, i.e. after this
    // loop has stamped every other stream, which would add the rest of the tick's work (many
    // ms at 1,000 streams) to the measured latency. Corking it ourselves around the write
    // keeps http from deferring it, and the uncork sends it now.
    const socket = s.res.socket
    socket.cork()
    s.res.write(s.head + stamp() + '|' + CONTENT_SUFFIX + s.middle + pad + s.end)
    socket.uncork()
  } else {
    s.res.end(tailEvents(s.id, CHUNKS))
    open.delete(s)
  }
}

function tick() {
  const started = performance.now()
  // The achieved pace: time between tick starts (the chunk interval every stream saw).
  if (lastTickAt !== null) {
    stats.intervals++
    stats.intervalSumMs += started - lastTickAt
    stats.maxIntervalMs = Math.max(stats.maxIntervalMs, started - lastTickAt)
  }
  lastTickAt = started
  for (const s of open) advance(s)
  stats.maxTickMs = Math.max(stats.maxTickMs, performance.now() - started)
  if (open.size === 0) {
    running = false
    lastTickAt = null
    return
  }
  // A fixed grid every INTERVAL_MS, so a tick's own duration does not stretch the pace
  // (setInterval would drift by it). A tick that is late (the tick itself took longer than the
  // interval, or the machine was busy) runs the next one at once but never several back to
  // back: catching up would send bursts, and the streams would no longer be paced at all.
  const now = performance.now()
  nextAt = Math.max(nextAt + INTERVAL_MS, now)
  setTimeout(tick, nextAt - now)
}

// Content starts once STREAMS streams are open (role chunks go out at once, as a real server's
// first bytes do): then every client is measured with all of its streams open together. Ticking
// during the ramp-up would also starve this single thread's accept loop (a tick over 1,000
// streams is tens of ms of syscalls), so a client whose requests arrive a little later would
// see them trickle in for seconds, some streams ending before the last began. A client that
// never opens them all starts anyway after START_WAIT_MS.
let startTimer = null
function start() {
  clearTimeout(startTimer)
  startTimer = null
  running = true
  nextAt = performance.now() + INTERVAL_MS
  setTimeout(tick, INTERVAL_MS)
}

let requests = 0
const server = http.createServer({ noDelay: true }, async (req, res) => {
  for await (const _ of req); // drain the request body
  if (req.method === 'GET' && req.url === '/stats') {
    const cpu = process.cpuUsage(stats.cpu)
    const rampMs = stats.lastAt - stats.firstAt // first to last stream request: the ramp-up
    const { intervals, intervalSumMs, maxIntervalMs, maxTickMs, maxOpen } = stats
    const meanIntervalMs = intervals ? intervalSumMs / intervals : null
    res.end(
      JSON.stringify({
        ticks: intervals + 1,
        meanIntervalMs,
        maxIntervalMs,
        maxTickMs,
        maxOpen,
        rampMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
      }),
    )
    stats = fresh()
    return
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end('{"error":{"message":"not found","type":"invalid_request_error"}}')
    return
  }
  requests++
  stats.lastAt = performance.now()
  stats.firstAt ??= stats.lastAt
  const id = `chatcmpl-${String(requests).padStart(29, '0')}`
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': `req_${randomString(32)}`,
    'openai-processing-ms': '120',
  })
  res.write(event(id, choice({ role: 'assistant', content: '', refusal: null })))
  const s = { id, res, sent: 0, closed: false, ...contentTemplate(id) }
  res.on('close', () => (s.closed = true))
  open.add(s)
  // Peak concurrency: proves the client's HTTP pool really held every stream open at once.
  stats.maxOpen = Math.max(stats.maxOpen, open.size)
  if (!running) {
    if (open.size >= STREAMS) start()
    else startTimer ??= setTimeout(start, START_WAIT_MS)
  }
})
// Up to 1,000 connections arrive at once: the default backlog (511) would drop SYNs and make
// some clients wait a second for the retransmit.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(
    JSON.stringify({
      port: server.address().port,
      chunksPerStream: CHUNKS,
      intervalMs: INTERVAL_MS,
      contentSuffix: CONTENT_SUFFIX,
      streamBytes: streamBytes(),
    }),
  )
})
