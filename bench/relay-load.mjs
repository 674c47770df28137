// The load generator: `node bench/relay-load.mjs <relayOrigin>`. Keeps CONCURRENCY POST /chat
// requests in flight against a relay (bench/relay-server.mjs), each streaming a whole upstream
// response through it, for WARMUP + DURATION seconds; the rate is measured over the last
// DURATION seconds only (the relay's JIT and pools warm up first). At the end the requests
// still in flight are dropped: their bytes up to then count, they do not count as responses.
//
// It must stay cheaper than the relay, so it does not parse what it receives: it counts SSE
// event boundaries (`\n\n`; no payload of the four formats holds a raw newline) and checks that
// every response ends with `data: [DONE]` and has as many events as a verified one. A sample of
// responses (every worker's first, then one in SAMPLE_EVERY) is parsed whole after it ended:
// choice 0's content (OpenAI chunks) or the text-delta parts (the AI SDK's UI message stream)
// must hash to EXPECTED_SHA256, in exactly CHUNKS content events.
//
// A relay that coalesces (COALESCED=1: streamdelta's ai-sdk format writes one text-delta part
// per batch, not per upstream chunk) has no fixed count of events per response: there every
// response's share of the window is counted by bytes instead (the bytes it received in the
// window over its whole length, times CHUNKS), and only the sampled responses' text is checked.
//
// Env: CONCURRENCY (32), WARMUP (2 s), DURATION (8 s), CHUNKS and EXPECTED_SHA256 (from
// server.mjs), SAMPLE_EVERY (10), RELAY_PID, UPSTREAM_PID (to report its CPU share), COALESCED.
// Prints one JSON line: responses, chunks and chunksPerSec (content events in the window),
// errors, and the window's CPU figures of the relay, this process and the upstream.
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'

const origin = process.argv[2]
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)
const WARMUP = Number(process.env.WARMUP ?? 2)
const DURATION = Number(process.env.DURATION ?? 8)
const CHUNKS = Number(process.env.CHUNKS)
const EXPECTED_SHA256 = process.env.EXPECTED_SHA256
const SAMPLE_EVERY = Number(process.env.SAMPLE_EVERY ?? 10)
const RELAY_PID = Number(process.env.RELAY_PID)
const UPSTREAM_PID = Number(process.env.UPSTREAM_PID ?? 0)
const COALESCED = process.env.COALESCED === '1'
if (!origin || !CHUNKS || !EXPECTED_SHA256 || !RELAY_PID) {
  console.error(
    'usage: CHUNKS=<n> EXPECTED_SHA256=<hex> RELAY_PID=<pid> [UPSTREAM_PID=<pid>] node bench/relay-load.mjs <relayOrigin>',
  )
  process.exit(2)
}
const { hostname, port } = new URL(origin)
// One keep-alive socket per worker, as browsers behind a proxy would reuse theirs.
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
const REQUEST_BODY = JSON.stringify({ prompt: 'Write a long story.' })
const LF = 0x0a
const DONE = Buffer.from('data: [DONE]\n\n')

let events = 0 // SSE events received, all responses together
let responses = 0 // complete responses that passed the checks
let errors = 0
const failures = new Set() // distinct error messages, for the report
let eventsPerResponse = 0 // from the first response verified by hash
let stopping = false
const inFlight = new Set()
/** COALESCED: per response { bytes, atStart, atEnd, total }, for the byte count of the window. */
const tracked = new Set()
let phase = 'warmup' // then 'measuring', then 'over'

function failed(message) {
  errors++
  failures.add(message)
}

/** Parses a whole relayed body: the content events and text of choice 0. */
function contentOf(body) {
  let count = 0
  let text = ''
  for (let block of body.toString('utf8').split('\n\n')) {
    // A resumable relay's events start with their SSE id.
    if (block.startsWith('id: ')) block = block.slice(block.indexOf('\n') + 1)
    if (!block.startsWith('data: ') || block === 'data: [DONE]') continue
    const part = JSON.parse(block.slice(6))
    let piece
    if (part.type !== undefined)
      piece = part.type === 'text-delta' ? part.delta : undefined // AI SDK UI message stream
    else piece = part.choices?.find((c) => c.index === 0)?.delta?.content // chat.completion.chunk
    if (piece) {
      count++
      text += piece
    }
  }
  return { count, sha256: createHash('sha256').update(text).digest('hex') }
}

/** One request through the relay; resolves when it ended, whichever way. */
function oneResponse(sample) {
  return new Promise((resolve) => {
    let count = 0 // events in this response
    let lastByte = 0 // the previous read's last byte: a boundary can straddle two reads
    let tail = Buffer.alloc(0) // the last bytes, to see the [DONE]
    const kept = sample ? [] : null
    const track = COALESCED ? { bytes: 0, atStart: phase === 'warmup' ? null : 0, atEnd: null, total: null } : null
    if (track) tracked.add(track)
    const req = http.request({
      hostname,
      port,
      path: '/chat',
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(REQUEST_BODY) },
    })
    inFlight.add(req)
    const finish = () => {
      inFlight.delete(req)
      resolve() // more than once is harmless: 'close' follows 'end' and 'error'
    }
    req.on('error', (error) => {
      if (!stopping) failed(`request: ${error.message}`)
      finish()
    })
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        failed(`status ${res.statusCode}`)
        res.resume()
        res.on('end', finish)
        return
      }
      res.on('data', (buf) => {
        let n = lastByte === LF && buf[0] === LF ? 1 : 0
        for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n', i + 2)) n++
        count += n
        events += n
        lastByte = buf[buf.length - 1]
        if (track) track.bytes += buf.length
        tail = buf.length >= DONE.length ? buf : Buffer.concat([tail, buf]).subarray(-DONE.length)
        kept?.push(buf)
      })
      let ended = false
      res.on('close', () => {
        // Also after our own drop at the end, which may say nothing more.
        if (!ended && !stopping) failed('the relay closed the response before its end')
        finish()
      })
      res.on('error', (error) => {
        if (!stopping) failed(`response: ${error.message}`)
        finish()
      })
      res.on('end', () => {
        ended = true
        if (stopping && !res.complete) return finish()
        if (track) track.total = track.bytes
        if (!tail.subarray(-DONE.length).equals(DONE)) failed('no data: [DONE] at the end')
        else if (COALESCED) {
          if (kept) {
            const { sha256 } = contentOf(Buffer.concat(kept))
            if (sha256 !== EXPECTED_SHA256) failed(`sampled response: text sha256 ${sha256.slice(0, 12)}...`)
            else responses++
          } else responses++
          eventsPerResponse = CHUNKS // the count is by bytes (see chunksInWindow)
        } else if (kept) {
          const { count: content, sha256 } = contentOf(Buffer.concat(kept))
          if (content !== CHUNKS || sha256 !== EXPECTED_SHA256)
            failed(`sampled response: ${content} content events, text sha256 ${sha256.slice(0, 12)}...`)
          else if (eventsPerResponse && count !== eventsPerResponse)
            failed(`sampled response: ${count} events, others ${eventsPerResponse}`)
          else {
            eventsPerResponse = count
            responses++
          }
        } else if (count !== eventsPerResponse) failed(`${count} events, a verified response has ${eventsPerResponse}`)
        else responses++
        finish()
      })
    })
    req.end(REQUEST_BODY)
  })
}

async function worker() {
  for (let i = 0; !stopping; i++) await oneResponse(i % SAMPLE_EVERY === 0)
}

// The relay's and the upstream's figures are read from /proc, from outside: a GET to a busy
// relay waits behind its saturated event loop (0.3-0.7 s here), which would skew the window.
/** CPU seconds (utime + stime, every thread, live or exited) of a process, from /proc/<pid>/stat. */
function processCpuSec(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // the name may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / 100 // fields 14 and 15 of proc(5), in USER_HZ ticks
}
/** CPU seconds of a process's main (JS) thread, whose task id is its pid, in ns precision. */
const mainThreadCpuSec = (pid) =>
  Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'latin1').split(' ')[0]) / 1e9

/** CPU seconds every core of the machine spent busy (not idle or waiting on I/O), from /proc/stat. */
function machineBusySec() {
  const [, ...ticks] = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).map(Number)
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / 100 // minus idle and iowait
}

/** What is true now: events so far, and the CPU used so far by the relay, this process, the upstream. */
function snapshot() {
  return {
    at: performance.now(),
    events,
    relayMain: mainThreadCpuSec(RELAY_PID),
    relayProcess: processCpuSec(RELAY_PID),
    load: processCpuSec(process.pid),
    upstream: UPSTREAM_PID ? processCpuSec(UPSTREAM_PID) : NaN,
    machine: machineBusySec(), // ours and everybody else's: is the machine itself the limit?
  }
}

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000))
const workers = Array.from({ length: CONCURRENCY }, worker)
await sleep(WARMUP)
const start = snapshot()
phase = 'measuring'
for (const track of tracked) track.atStart = track.bytes
await sleep(DURATION)
const end = snapshot()
phase = 'over'
for (const track of tracked) track.atEnd = track.bytes
const relayPeakRssMB = Number(readFileSync(`/proc/${RELAY_PID}/status`, 'latin1').match(/^VmHWM:\s*(\d+)/m)[1]) / 1024
stopping = true
for (const req of inFlight) req.destroy()
await Promise.all(workers)
agent.destroy()

const seconds = (end.at - start.at) / 1000
// Events carry a few non-content events per response (role, finish, usage, [DONE]; the AI SDK's
// start/step/text-start/... parts): scale by the share a verified response has.
const contentShare = eventsPerResponse ? CHUNKS / eventsPerResponse : NaN
/** COALESCED: each response's bytes in the window over its length, times CHUNKS. */
function chunksInWindow() {
  const totals = [...tracked].filter((t) => t.total !== null).map((t) => t.total)
  totals.sort((a, b) => a - b)
  const typical = totals[totals.length >> 1] // for responses cut at the end, their length unknown
  let sum = 0
  for (const t of tracked) {
    if (t.atStart === null || t.atEnd === null) continue // ended before the window, or started after it
    const length = t.total ?? typical
    sum += ((t.atEnd - t.atStart) / length) * CHUNKS
  }
  return Math.round(sum)
}
const chunks = COALESCED ? chunksInWindow() : Math.round((end.events - start.events) * contentShare)
const share = (key) => (end[key] - start[key]) / seconds
console.log(
  JSON.stringify({
    responses,
    chunks,
    chunksPerSec: chunks / seconds,
    errors,
    failures: [...failures].slice(0, 5),
    windowSec: seconds,
    eventsPerResponse,
    relayMainCpuUs: (end.relayMain - start.relayMain) * 1e6,
    relayProcessCpuUs: (end.relayProcess - start.relayProcess) * 1e6,
    relayPeakRssMB,
    // Shares of one core over the window: a relay at ~1.0 on its main thread is saturated there.
    relayMainShare: share('relayMain'),
    relayProcessShare: share('relayProcess'),
    loadShare: share('load'),
    upstreamShare: share('upstream'),
    machineShare: share('machine'),
  }),
)
process.exitCode = errors ? 1 : 0
