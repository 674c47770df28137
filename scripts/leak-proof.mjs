// The leak proof (issue 5): 10,000 streams against a local server, each stopped at a random
// point (before headers, mid-stream, after the end) by a random means (`break`, `abort()`,
// an `AbortSignal`). Passes when, after a warm-up of 10,000 more such streams (RSS reaches
// its plateau there: allocator and V8 heap sizing, ~20-30 MB on Node 24, not a leak):
//   - RSS ends within 20 MB of where it was after the warm-up (after a GC), and the JS heap
//     used after a GC within 5 MB,
//   - the server sees no open socket (idle keep-alive sockets are closed by the server as it
//     counts; a socket with a response still in flight never is),
//   - no unhandled rejection occurred and every stream ended the way its stop point implies,
//   - the client process exits by itself once its work is done (no process.exit()).
//
//   node scripts/leak-proof.mjs [--streams 10000] [--warmup 10000] [--concurrency 32] [--seed n]
//                               [--only <point>/<means>] [--trace] [--samples n] [--json]
//                               [--time-limit seconds]
// --samples n: every n streams (warm-up included), a full GC and then RSS, V8's heap and their
// difference (native memory: the engine, allocators, buffers) into the result's `samples`;
// bench/native-memory.mjs reads them with --json, which prints the client's result line.
//
// Three processes, one file: this one orchestrates (and enforces the time limits), a child
// runs the server (`--server`) so its memory does not count, another child runs the
// streams (`--client <url>`, with --expose-gc) and prints one JSON result line.
import http from 'node:http'
import { fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'

const SELF = fileURLToPath(import.meta.url)
const RSS_LIMIT_MB = 20
/** The JS heap after a GC must not grow either (a JS-side leak shows here first). */
const HEAP_LIMIT_MB = 5
const TOTAL_TIME_LIMIT_MS = option('time-limit', 240) * 1000
const EXIT_GRACE_MS = 10_000
const MB = 1024 * 1024
// The young generation starts at its full size: V8 otherwise grows it (by up to ~30 MB of
// RSS) whenever the allocation rate climbs, which is heap sizing, not a leak.
const V8_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16']

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}

const role = process.argv.includes('--server') ? server : process.argv.includes('--client') ? client : orchestrate
await role()

// ---- the server -----------------------------------------------------------------------------

/**
 * `x-scenario` picks the answer: `forever` streams a content chunk every 2 ms until the client
 * goes away; `slow-headers` waits 20 ms before doing the same; `short` sends a whole stream.
 * `GET /__sockets` reports the open sockets (not counting its own) and responses in flight.
 */
async function server() {
  const sockets = new Set()
  let inflight = 0
  let served = 0
  const chunk = (delta, finish = null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-leak', object: 'chat.completion.chunk', created: 1700000000, model: 'leak-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
  const srv = http.createServer(async (req, res) => {
    if (req.url === '/__sockets') {
      // A socket with no request in flight is the client's connection pool, not a leak: one
      // kept alive after a complete response, or one whose connect finished after its request
      // was cancelled (it never carried a request). Close those, as a server's idle timeout
      // would, then count what is left: sockets whose response is still in flight.
      for (const socket of sockets) {
        const idle = (socket.leakProofActive ?? 0) === 0 && (socket.leakProofRequests > 0 || socket.bytesRead === 0)
        if (socket !== req.socket && idle) socket.destroy()
      }
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' })
      const others = [...sockets].filter((socket) => socket !== req.socket)
      const details = others.slice(0, 5).map((socket) => ({
        bytesRead: socket.bytesRead,
        bytesWritten: socket.bytesWritten,
        requests: socket.leakProofRequests ?? 0,
        ageMs: Math.round(performance.now() - socket.leakProofOpenedAt),
      }))
      res.end(JSON.stringify({ open: others.length, inflight, served, peak, details }))
      return
    }
    const socket = req.socket
    socket.leakProofActive = (socket.leakProofActive ?? 0) + 1
    socket.leakProofRequests = (socket.leakProofRequests ?? 0) + 1
    res.on('close', () => socket.leakProofActive--)
    for await (const _ of req) {
      // the request body is not needed
    }
    served++
    inflight++
    let closed = false
    let timer = null
    res.on('close', () => {
      closed = true
      inflight--
      clearTimeout(timer)
      clearInterval(timer)
    })
    const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const forever = () => {
      if (closed) return
      sse()
      res.write(chunk({ role: 'assistant', content: '' }))
      let n = 0
      timer = setInterval(() => res.write(chunk({ content: `w${n++} ` })), 2)
    }
    switch (req.headers['x-scenario']) {
      case 'slow-headers':
        timer = setTimeout(forever, 20)
        break
      case 'forever':
        forever()
        break
      default:
        sse()
        res.write(chunk({ role: 'assistant', content: '' }))
        for (const word of ['The ', 'quick ', 'brown ', 'fox.']) res.write(chunk({ content: word }))
        res.write(chunk({}, 'stop'))
        res.end('data: [DONE]\n\n')
    }
  })
  let peak = 0
  srv.on('connection', (socket) => {
    socket.leakProofOpenedAt = performance.now()
    sockets.add(socket)
    peak = Math.max(peak, sockets.size)
    socket.on('close', () => sockets.delete(socket))
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  process.send({ url: `http://127.0.0.1:${srv.address().port}` })
  process.on('disconnect', () => process.exit(0))
}

// ---- the client -----------------------------------------------------------------------------

async function client() {
  const base = process.argv[process.argv.indexOf('--client') + 1]
  const total = option('streams', 10_000)
  const warmup = option('warmup', 10_000)
  const concurrency = option('concurrency', 32)
  const { Client, AbortError } = createRequire(import.meta.url)('../index.js')

  const unhandled = []
  process.on('unhandledRejection', (reason) => unhandled.push(String(reason?.stack ?? reason)))

  const api = new Client({
    baseURL: `${base}/v1`,
    apiKey: 'sk-leak-proof',
    maxRetries: 0,
    timeout: 10_000,
    idleTimeout: 10_000,
  })
  const BODY = { model: 'leak-model', messages: [{ role: 'user', content: 'hi' }] }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  // A seeded PRNG (mulberry32): a failing run can be repeated with the same --seed.
  let seed = option('seed', Date.now() % 1_000_000) >>> 0
  const usedSeed = seed
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = (list) => list[Math.floor(random() * list.length)]

  // `--only mid-stream/abort` (a point, a means, or both) narrows the mix when hunting a leak.
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split('/') : []
  const POINTS = ['before-headers', 'mid-stream', 'after-end'].filter(
    (p) =>
      !only.length || only.includes(p) || only.every((o) => !['before-headers', 'mid-stream', 'after-end'].includes(o)),
  )
  const MEANS = ['break', 'abort', 'signal'].filter(
    (m) => !only.length || only.includes(m) || only.every((o) => !['break', 'abort', 'signal'].includes(o)),
  )
  const counts = {}
  const unexpected = []

  /** Runs one stream to its stop point; returns 'aborted' or 'completed'. */
  async function one(point, means) {
    const scenario = { 'before-headers': 'slow-headers', 'mid-stream': 'forever', 'after-end': 'short' }[point]
    const controller = means === 'signal' ? new AbortController() : null
    const stream = api.chat(BODY, { headers: { 'x-scenario': scenario }, signal: controller?.signal })
    const stop = () => (means === 'signal' ? controller.abort() : stream.abort())
    const wait = Math.floor(random() * 12) // 0: stop in the same tick the request started
    const deltas = 1 + Math.floor(random() * 20)

    if (point === 'before-headers') {
      if (means === 'break') {
        // `break` calls the iterator's return(), which before the first delta only a direct
        // call can do. (Not with a next() pending: that one would never settle, see the report.)
        const it = pick([() => stream, () => stream.text(), () => stream.chunks()])()[Symbol.asyncIterator]()
        if (wait > 0) await sleep(wait)
        await it.return()
        return 'aborted'
      }
      const final = stream.final()
      if (wait > 0) await sleep(wait)
      stop()
      await final
      return 'completed'
    }

    if (point === 'mid-stream') {
      if (means === 'break') {
        let n = 0
        for await (const _ of pick([() => stream, () => stream.text()])()) if (++n >= deltas) break
        return 'aborted'
      }
      if (random() < 0.5) {
        // From inside an iterator: the next pull rejects with AbortError.
        let n = 0
        for await (const _ of stream) if (++n >= deltas) stop()
        return 'completed'
      }
      // From an event listener, with final() observing the end.
      let n = 0
      stream.on('text', () => {
        if (++n === deltas) stop()
      })
      await stream.final()
      return 'completed'
    }

    // after-end: consume everything, then stop (a no-op that must stay harmless).
    if (means === 'break') {
      if (random() < 0.5) {
        for await (const d of stream) if (d.type === 'finish') break
      } else {
        const it = stream.text()[Symbol.asyncIterator]()
        while (!(await it.next()).done) {
          // drain
        }
        await it.return()
      }
      return 'completed'
    }
    const final = await stream.final()
    if (final.choices[0].message.content !== 'The quick brown fox.')
      throw new Error(`wrong final text: ${final.choices[0].message.content}`)
    stop()
    return 'completed'
  }

  // `--trace`: memory every 1000 streams on stderr.
  const trace = process.argv.includes('--trace')
  const sampleEvery = option('samples', 0)
  const samples = []
  let done = 0
  async function run(count) {
    let next = 0
    async function worker() {
      while (next < count) {
        next++
        const point = pick(POINTS)
        const means = pick(MEANS)
        const key = `${point}/${means}`
        let outcome
        try {
          outcome = await one(point, means)
        } catch (error) {
          outcome = error instanceof AbortError ? 'aborted' : `${error?.name ?? 'Error'}: ${error?.message}`
        }
        const expected = point === 'after-end' ? ['completed'] : ['aborted', 'completed']
        if (!expected.includes(outcome)) {
          if (unexpected.length < 10) unexpected.push(`${key}: ${outcome}`)
          outcome = 'unexpected'
        } else if (point !== 'after-end' && outcome === 'completed') {
          // A stream stopped before its end must not have completed: the server never ends it.
          if (unexpected.length < 10) unexpected.push(`${key}: completed although stopped`)
          outcome = 'unexpected'
        }
        done++
        if (sampleEvery && done % sampleEvery === 0) {
          globalThis.gc?.()
          const m = process.memoryUsage()
          // RssAnon and RssFile (Linux) split RSS: file-backed pages are code (node, the addon,
          // libraries) faulted in as new paths run, not memory anything holds.
          const status = readFileSync('/proc/self/status', 'latin1')
          const kB = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN) / 1024
          // V8's part of RSS is the heap pages it touched (total_physical_size), not the ones it
          // committed (heapTotal): the young generation's 32 MB is committed at start but touched
          // only as JS allocates, page by page over thousands of streams, and RSS less heapTotal
          // counted that as native growth (/proc/self/smaps: V8's 256 KB pages filling in).
          const heapResident = getHeapStatistics().total_physical_size
          samples.push({
            streams: done,
            rssMB: m.rss / MB,
            heapTotalMB: m.heapTotal / MB,
            heapResidentMB: heapResident / MB,
            nativeMB: (m.rss - heapResident) / MB,
            rssAnonMB: kB('RssAnon'),
            rssFileMB: kB('RssFile'),
          })
        }
        if (trace && done % 1000 === 0) {
          const m = process.memoryUsage()
          console.error(
            `  ${done} streams: rss ${(m.rss / MB).toFixed(1)} heapTotal ${(m.heapTotal / MB).toFixed(1)} heapUsed ${(m.heapUsed / MB).toFixed(1)} external ${(m.external / MB).toFixed(1)}`,
          )
        }
        counts[key] ??= {}
        counts[key][outcome] = (counts[key][outcome] ?? 0) + 1
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  }

  async function settledRss() {
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.()
      await sleep(50)
    }
    return process.memoryUsage()
  }

  const started = performance.now()
  await run(warmup)
  for (const key of Object.keys(counts)) delete counts[key]
  const before = await settledRss()
  const rssBefore = before.rss
  let rssMax = rssBefore
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100)
  const measuredFrom = performance.now()
  await run(total)
  const measuredMs = performance.now() - measuredFrom
  clearInterval(sampler)
  const after = await settledRss()
  const rssAfter = after.rss

  // Every socket closed: poll the server (it closes idle keep-alive sockets as it counts).
  let sockets = null
  const deadline = Date.now() + 5000
  do {
    sockets = await new Promise((resolve, reject) => {
      http
        .get(`${base}/__sockets`, { agent: false }, (res) => {
          let text = ''
          res
            .setEncoding('utf8')
            .on('data', (d) => (text += d))
            .on('end', () => resolve(JSON.parse(text)))
        })
        .on('error', reject)
    })
    if (sockets.open === 0 && sockets.inflight === 0) break
    await sleep(50)
  } while (Date.now() < deadline)

  await sleep(50) // late unhandled rejections surface
  const result = {
    streams: total,
    warmup,
    concurrency,
    seed: usedSeed,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    measuredSeconds: Number((measuredMs / 1000).toFixed(1)),
    rssBeforeMB: Number((rssBefore / MB).toFixed(1)),
    rssAfterMB: Number((rssAfter / MB).toFixed(1)),
    rssMaxMB: Number((rssMax / MB).toFixed(1)),
    rssDeltaMB: Number(((rssAfter - rssBefore) / MB).toFixed(1)),
    heapUsedMB: [before.heapUsed, after.heapUsed].map((b) => Number((b / MB).toFixed(1))),
    externalMB: [before.external, after.external].map((b) => Number((b / MB).toFixed(1))),
    gc: typeof globalThis.gc === 'function',
    serverOpenSockets: sockets.open,
    serverInflight: sockets.inflight,
    serverOpenDetails: sockets.details,
    serverRequests: sockets.served,
    serverPeakSockets: sockets.peak,
    unhandled: unhandled.length,
    unhandledFirst: unhandled.slice(0, 3),
    unexpected,
    counts,
    samples,
    nativeAfterMB: (after.rss - getHeapStatistics().total_physical_size) / MB,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  // No process.exit(): the process must end by itself now that nothing is left to do.
}

// ---- the orchestrator -----------------------------------------------------------------------

async function orchestrate() {
  const passThrough = process.argv.slice(2)
  const started = Date.now()
  const serverChild = fork(SELF, ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [{ url }] = await once(serverChild, 'message')

  const clientChild = spawn(process.execPath, ['--expose-gc', ...V8_FLAGS, SELF, '--client', url, ...passThrough], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  let resultAt = null
  let result = null
  clientChild.stdout.setEncoding('utf8').on('data', (data) => {
    stdout += data
    const line = stdout.split('\n').find((l) => l.startsWith('{'))
    if (line && !result) {
      result = JSON.parse(line)
      resultAt = Date.now()
    }
  })
  const failures = []
  const exited = new Promise((resolve) =>
    clientChild.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  )
  const timer = setInterval(() => {
    const now = Date.now()
    if (resultAt !== null && now - resultAt > EXIT_GRACE_MS) {
      failures.push(`the client did not exit by itself within ${EXIT_GRACE_MS / 1000} s of finishing`)
      clientChild.kill('SIGKILL')
    } else if (now - started > TOTAL_TIME_LIMIT_MS) {
      failures.push(`time limit of ${TOTAL_TIME_LIMIT_MS / 1000} s exceeded`)
      clientChild.kill('SIGKILL')
    }
  }, 200)
  const exit = await exited
  clearInterval(timer)
  serverChild.disconnect()

  if (!result) {
    failures.push(`the client gave no result (exit ${exit.code ?? exit.signal})`)
  } else {
    if (!result.gc) failures.push('run without --expose-gc')
    if (Math.abs(result.rssDeltaMB) > RSS_LIMIT_MB)
      failures.push(`RSS moved ${result.rssDeltaMB} MB (limit ${RSS_LIMIT_MB})`)
    const heapDelta = result.heapUsedMB[1] - result.heapUsedMB[0]
    if (heapDelta > HEAP_LIMIT_MB)
      failures.push(`the JS heap grew ${heapDelta.toFixed(1)} MB after GC (limit ${HEAP_LIMIT_MB})`)
    if (result.serverOpenSockets !== 0)
      failures.push(
        `the server still sees ${result.serverOpenSockets} open socket(s): ${JSON.stringify(result.serverOpenDetails)}`,
      )
    if (result.serverInflight !== 0)
      failures.push(`the server still has ${result.serverInflight} response(s) in flight`)
    if (result.unhandled !== 0)
      failures.push(`${result.unhandled} unhandled rejection(s): ${result.unhandledFirst.join(' | ')}`)
    if (result.unexpected.length) failures.push(`unexpected outcomes: ${result.unexpected.join(' | ')}`)
    if (exit.code !== 0 && exit.signal === null) failures.push(`the client exited with code ${exit.code}`)
  }
  const exitMs = result && resultAt ? exit.at - resultAt : null
  if (result) {
    const outcomes = Object.entries(result.counts)
      .sort()
      .map(
        ([key, c]) =>
          `${key} ${Object.entries(c)
            .map(([k, v]) => `${k}:${v}`)
            .join(',')}`,
      )
      .join('; ')
    console.log(`  outcomes: ${outcomes}`)
    console.log(
      `  JS heap used ${result.heapUsedMB.join(' -> ')} MB, external ${result.externalMB.join(' -> ')} MB; the server answered ${result.serverRequests} requests on at most ${result.serverPeakSockets} sockets at a time`,
    )
  }
  const summary = result
    ? `leak-proof: ${result.streams} streams (+${result.warmup} warm-up, ${result.concurrency} at a time, seed ${result.seed}) in ${result.seconds} s; ` +
      `RSS ${result.rssBeforeMB} -> ${result.rssAfterMB} MB (delta ${result.rssDeltaMB >= 0 ? '+' : ''}${result.rssDeltaMB} MB, limit ${RSS_LIMIT_MB}, peak ${result.rssMaxMB}); ` +
      `server open sockets ${result.serverOpenSockets}; unhandled rejections ${result.unhandled}; exited by itself ${exitMs === null ? 'no' : `in ${exitMs} ms`}`
    : 'leak-proof: no result'
  console.log(`${summary}: ${failures.length ? 'FAIL' : 'PASS'}`)
  for (const failure of failures) console.log(`  - ${failure}`)
  if (process.argv.includes('--json') && result) console.log(JSON.stringify({ ...result, failures }))
  process.exitCode = failures.length ? 1 : 0
}
