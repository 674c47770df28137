// An Express relay at saturation: streamdelta's pipeTo(res) against the peers' relays.
//   node bench/relay.mjs      (ROUNDS=5, CONCURRENCY=32, CHUNKS=2000, WARMUP=2, DURATION=8)
// Rows: streamdelta (the openai format) against openai's SDK and a hand-written relay;
// streamdelta-ai-sdk (pipeTo format 'ai-sdk') against the AI SDK's own UI message stream relay
// of the same upstream (ai-sdk); streamdelta-resumable (the openai format recorded in Redis: a
// redis-server started here, persistence off) against plain streamdelta.
// One upstream (bench/server.mjs, prebuilt bytes, as fast as it is read) for the whole run;
// then, round after round, each relay (bench/relay-server.mjs <mode>) in a fresh process under
// the same load (bench/relay-load.mjs, its own process): as many chunks per second as the
// relay can deliver. Modes run interleaved, rotated each round, and we report medians.
// Writes bench/results/relay.md (the Markdown section) and bench/results/relay.json (medians).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import os from 'node:os'
import { requireNodeForPeers } from './node.mjs'
import { median, writeResults } from './report.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)
const CHUNKS = Number(process.env.CHUNKS ?? 2000)
const WARMUP = Number(process.env.WARMUP ?? 2)
const DURATION = Number(process.env.DURATION ?? 8)
const MODES = (
  process.env.MODES ?? 'streamdelta,openai,ai-sdk,fetch-eventsource-parser,streamdelta-ai-sdk,streamdelta-resumable'
).split(',')
const BAR = 3 // streamdelta must deliver at least 3x the openai relay's chunks per second
const AI_SDK_BAR = 3 // streamdelta's ai-sdk format: at least 3x the AI SDK's own relay's chunks/s
const RESUMABLE_BAR = 0.5 // resumable: at least 0.5x the plain relay's chunks/s ...
const RESUMABLE_CPU_BAR = 1.5 // ... and at most 1.5x its main-thread CPU per chunk
const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p))

requireNodeForPeers()

/** Starts `node <script> ...args` (this same Node) and resolves with it and its first stdout line. */
function startNode(script, args, env = {}, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(here, script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    const onData = (d) => {
      out += d
      if (out.includes('\n')) {
        child.stdout.off('data', onData)
        child.off('exit', onExit)
        resolve({ child, info: JSON.parse(out.split('\n')[0]) })
      }
    }
    const onExit = (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code} before it was ready`))
    child.stdout.on('data', onData)
    child.on('exit', onExit)
    child.on('error', reject)
  })
}

/** Runs relay-load.mjs to its end; resolves with its figures, also when it counted errors (exit 1). */
function runLoad(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'relay-load.mjs'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0 || (code === 1 && out.startsWith('{'))) resolve(JSON.parse(out))
      else reject(new Error(`relay-load.mjs exited with ${code}: ${out.trim()}`))
    })
  })
}

/** Stops a child we started and waits until it is gone. */
function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** A redis-server for the resumable relay (persistence off), and a client to inspect it. */
async function startRedis() {
  if (!REDIS_SERVER) throw new Error('the streamdelta-resumable row needs redis-server (apt-get install redis-server)')
  const port = await freePort()
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (output += d))
  const deadline = Date.now() + 10_000
  while (!/Ready to accept connections/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start:\n${output}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const { createClient } = createRequire(import.meta.url)('redis')
  const client = createClient({ url: `redis://127.0.0.1:${port}` })
  await client.connect()
  return { child, client, url: `redis://127.0.0.1:${port}`, pid: child.pid }
}

/**
 * After a resumable run: how many batches (stream entries less the start and the end) a
 * finished relay recorded, over a sample of its logs; then the logs are dropped, so that every
 * run starts with an empty Redis.
 */
async function recordedBatches(redis) {
  const counts = []
  for await (const keys of redis.client.scanIterator({ MATCH: 'bench:relay:*', COUNT: 200 })) {
    for (const key of [keys].flat()) {
      const [last] = await redis.client.sendCommand(['XREVRANGE', key, '+', '-', 'COUNT', '1'])
      const type = last?.[1]?.[1]
      if (type === 'done') counts.push((await redis.client.xLen(key)) - 2)
      if (counts.length >= 50) break
    }
    if (counts.length >= 50) break
  }
  await redis.client.flushAll()
  return counts.length ? median(counts) : NaN
}

/** One relay in a fresh process under one load run. */
async function measure(mode, upstream) {
  const env = mode === 'streamdelta-resumable' ? { REDIS_URL: redis.url } : {}
  const { child: relay, info } = await startNode('relay-server.mjs', [mode, upstream.origin], env)
  try {
    const env = {
      CONCURRENCY: String(CONCURRENCY),
      CHUNKS: String(CHUNKS),
      WARMUP: String(WARMUP),
      DURATION: String(DURATION),
      EXPECTED_SHA256: upstream.info.textSha256,
      RELAY_PID: String(relay.pid),
      UPSTREAM_PID: String(upstream.child.pid),
      // The engine's ai-sdk format writes one text-delta per batch: counted by bytes (relay-load.mjs).
      COALESCED: mode === 'streamdelta-ai-sdk' ? '1' : '0',
    }
    const result = await runLoad([`http://127.0.0.1:${info.port}`], env)
    if (mode === 'streamdelta-resumable') {
      await stop(relay) // nothing more is recorded once it is gone
      result.batchesPerResponse = await recordedBatches(redis)
    }
    return result
  } finally {
    await stop(relay)
  }
}

const redis = MODES.includes('streamdelta-resumable') ? await startRedis() : null

// server.mjs prebuilds its bytes, so it has written a whole response into the kernel's socket
// buffers long before a slow relay has read it; Node's default 5 s keep-alive timer starts then
// and closes the connection just as the relay sends its next request on it ("other side
// closed", seen with the AI SDK at ~5 s per response). A real upstream writes as it generates,
// so its idle timer starts when the relay is done reading. We switch the timer off for the
// upstream, without touching server.mjs: a preload wraps http.createServer.
const NO_KEEP_ALIVE_TIMEOUT =
  "data:text/javascript,import http from 'node:http'; const create = http.createServer; http.createServer = (...args) => Object.assign(create(...args), { keepAliveTimeout: 0 })"
const upstream = await startNode('server.mjs', [], { CHUNKS: String(CHUNKS) }, ['--import', NO_KEEP_ALIVE_TIMEOUT])
upstream.origin = `http://127.0.0.1:${upstream.info.port}`
console.error(
  `upstream on ${upstream.origin}: ${CHUNKS} chunks (${(upstream.info.bodyBytes / 1e3).toFixed(0)} kB) per response`,
)

const results = Object.fromEntries(MODES.map((mode) => [mode, []]))
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no relay always runs first (or right after another).
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length])
    for (const mode of order) {
      let result
      try {
        result = await measure(mode, upstream)
        if (result.errors) throw new Error(`${result.errors} errors: ${result.failures.join('; ')}`)
      } catch (error) {
        // The native addon may be rebuilt under us now and then: one retry; its errors, if any,
        // go into the report.
        console.error(`round ${round + 1} ${mode}: ${error.message}; once more`)
        result = await measure(mode, upstream)
      }
      results[mode].push(result)
      console.error(
        `round ${round + 1}/${ROUNDS} ${mode.padEnd(24)} ${result.chunksPerSec.toFixed(0).padStart(7)} chunks/s  ` +
          `CPU shares: relay main ${result.relayMainShare.toFixed(2)}, relay ${result.relayProcessShare.toFixed(2)}, ` +
          `load ${result.loadShare.toFixed(2)}, upstream ${result.upstreamShare.toFixed(2)}, machine ${result.machineShare.toFixed(2)}/${os.cpus().length}  (${result.responses} responses, ${result.errors} errors)`,
      )
    }
  }
} finally {
  await stop(upstream.child)
  if (redis) {
    await redis.client.close()
    await stop(redis.child)
  }
}

const rows = MODES.map((mode) => {
  const runs = results[mode]
  const m = (key) => median(runs.map((r) => r[key]))
  // Per chunk within each run, then the median: a run's CPU and its chunks belong together.
  const perChunk = (key) => median(runs.map((r) => r[key] / r.chunks))
  return {
    mode,
    chunksPerSec: m('chunksPerSec'),
    mainCpuUsPerChunk: perChunk('relayMainCpuUs'),
    processCpuUsPerChunk: perChunk('relayProcessCpuUs'),
    peakRssMB: m('relayPeakRssMB'),
    relayMainShare: m('relayMainShare'),
    relayProcessShare: m('relayProcessShare'),
    loadShare: m('loadShare'),
    upstreamShare: m('upstreamShare'),
    machineShare: m('machineShare'),
    responses: runs.reduce((sum, r) => sum + r.responses, 0),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
  }
})
const byMode = Object.fromEntries(rows.map((r) => [r.mode, r]))
const ratio = byMode.streamdelta && byMode.openai ? byMode.streamdelta.chunksPerSec / byMode.openai.chunksPerSec : NaN
const aiSdkRatio = byMode['streamdelta-ai-sdk']?.chunksPerSec / byMode['ai-sdk']?.chunksPerSec
const resumable = byMode['streamdelta-resumable']
const plain = byMode.streamdelta
const resumableRatio = resumable?.chunksPerSec / plain?.chunksPerSec
const resumableCpuRatio = resumable?.mainCpuUsPerChunk / plain?.mainCpuUsPerChunk
// What recording costs the JS thread per relayed batch (one XADD each): the extra main-thread
// CPU per chunk times the chunks a batch held.
const batchesPerResponse = resumable ? median(results['streamdelta-resumable'].map((r) => r.batchesPerResponse)) : NaN
const recordUsPerBatch = ((resumable?.mainCpuUsPerChunk - plain?.mainCpuUsPerChunk) * CHUNKS) / batchesPerResponse
/** The bars this run checks, each against the row it is set against (absent rows: n/a). */
const bars = [
  {
    what: `Express relay, chunks/s delivered: at least ${BAR}x the openai relay`,
    ratio,
    limit: BAR,
    higherIsBetter: true,
  },
  {
    what: `ai-sdk format, chunks/s delivered: at least ${AI_SDK_BAR}x the AI SDK's own relay (pipeUIMessageStreamToResponse)`,
    ratio: aiSdkRatio,
    limit: AI_SDK_BAR,
    higherIsBetter: true,
  },
  {
    what: `resumable relay (Redis), chunks/s delivered: at least ${RESUMABLE_BAR}x the plain relay`,
    ratio: resumableRatio,
    limit: RESUMABLE_BAR,
    higherIsBetter: true,
  },
  {
    what: `resumable relay (Redis), main-thread CPU per chunk: at most ${RESUMABLE_CPU_BAR}x the plain relay`,
    ratio: resumableCpuRatio,
    limit: RESUMABLE_CPU_BAR,
    higherIsBetter: false,
  },
].map((bar) => ({
  ...bar,
  ok: Number.isFinite(bar.ratio) ? (bar.higherIsBetter ? bar.ratio >= bar.limit : bar.ratio <= bar.limit) : null,
}))

/** Was the relay the limit? What the shares of every run say. */
function saturationNote() {
  const all = Object.values(results).flat()
  const worst = (key) => Math.max(...all.map((r) => r[key]))
  const cores = os.cpus().length
  const fullMachine = all.filter((r) => r.machineShare >= 0.9 * cores).length
  return (
    `Saturation: the load generator used at most ${pct(worst('loadShare'))} of a core and the upstream at most ${pct(worst('upstreamShare'))} in any run: ` +
    'neither was the limit, the relay process was (a JS thread near 100% is saturated; streamdelta also runs its engine thread beside it). ' +
    `The whole machine was ≥ 90% busy in ${fullMachine} of ${all.length} runs` +
    (fullMachine
      ? ': there the relay only got what the neighbours left, so chunks/s moves with them and CPU per chunk is the steadier figure.'
      : '.')
  )
}

const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown'
const settings = ['ROUNDS', 'CONCURRENCY', 'CHUNKS', 'WARMUP', 'DURATION', 'MODES']
  .filter((k) => process.env[k])
  .map((k) => `${k}=${process.env[k]} `)
const command = [
  path.relative(process.cwd(), process.execPath) || process.execPath,
  ...process.execArgv,
  path.relative(process.cwd(), process.argv[1]),
  ...process.argv.slice(2),
].join(' ')
const f = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a')
const pct = (x) => `${f(x * 100)}%`
const lines = [
  '### Express relay at saturation',
  '',
  `- date: ${new Date().toISOString()}`,
  `- machine: ${os.machine()}, ${os.cpus().length} cores: ${cpuModel} (upstream, relay and load generator share them)`,
  `- Node ${process.version}`,
  `- command: \`${settings.join('')}${command}\``,
  `- setup: ${CONCURRENCY} concurrent POST /chat requests into one Express 5 relay process, each relaying a whole ` +
    `${CHUNKS.toLocaleString('en-US')}-chunk upstream response (${(upstream.info.bodyBytes / 1e3).toFixed(0)} kB of SSE) as SSE; ` +
    `${WARMUP} s warm-up, then ${DURATION} s measured; median of ${ROUNDS} rounds, modes interleaved, each relay a fresh process; ` +
    'the upstream is bench/server.mjs with its keep-alive timeout off (see relay.mjs)',
  '- chunks/s: content chunks the load generator received in the window (every response checked complete, a sample checked by text hash); ' +
    "CPU per chunk: the relay's CPU in the window over those chunks (main thread = the JS thread; process = every thread)",
  '',
  '| relay | chunks/s delivered | vs openai | relay main-thread CPU µs/chunk | relay process CPU µs/chunk | relay peak RSS MB |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.mode}${r.errors ? ` (${r.errors} errors)` : ''} | ${f(r.chunksPerSec)} | ${f(r.chunksPerSec / byMode.openai?.chunksPerSec, 2)}x | ${f(r.mainCpuUsPerChunk, 2)} | ${f(r.processCpuUsPerChunk, 2)} | ${f(r.peakRssMB)} |`,
  ),
  '',
  ...bars.map(
    (bar) => `- Bar: ${bar.what}: ${f(bar.ratio, 2)}x ${bar.ok === null ? '(row not run)' : bar.ok ? '✅' : '❌'}`,
  ),
  '',
  ...(resumable
    ? [
        `Recording in Redis (npm \`redis\` client, one pipelined XADD per batch): ${f(batchesPerResponse)} batches per ${CHUNKS}-chunk response, ` +
          `so ${f(recordUsPerBatch, 1)} µs of main-thread CPU per recorded batch (the resumable row's extra CPU per chunk × chunks per batch).`,
        '',
      ]
    : []),
  `Who was busy (median share of one core over the window; the machine has ${os.cpus().length * 100}%, and its total counts everybody's work, not only this benchmark's):`,
  '',
  '| relay | relay main thread | relay process | load generator | upstream | whole machine |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.mode} | ${pct(r.relayMainShare)} | ${pct(r.relayProcessShare)} | ${pct(r.loadShare)} | ${pct(r.upstreamShare)} | ${pct(r.machineShare)} |`,
  ),
  '',
  saturationNote(),
  '',
  `Responses completed and checked: ${rows.map((r) => `${r.mode} ${r.responses}`).join(', ')}; errors: ${rows.reduce((s, r) => s + r.errors, 0)}.`,
  '',
]
const markdown = lines.join('\n')
console.log(markdown)
writeResults(
  'relay',
  markdown,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      chunks: CHUNKS,
      warmup: WARMUP,
      duration: DURATION,
      ratio,
      bar: BAR,
      bars: bars.filter((bar) => bar.ok !== null),
      batchesPerResponse,
      recordUsPerBatch,
      medians: rows,
      runs: results,
    },
    null,
    2,
  ) + '\n',
)
