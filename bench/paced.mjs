// Paced benchmark: STREAMS concurrent chat streams (1,000 by default), each sending one chunk
// every 20 ms, consumed by streamdelta (three styles: text(), text listeners, the Delta
// iterator), the openai package, the AI SDK and two fetch baselines. It measures what matters
// for a server that relays many slow streams: CPU, event-loop delay (how long everything else
// in the process waits), memory, and the latency from the server's write to the JS callback.
//   node bench/paced.mjs      (Node >= 22; env STREAMS=1000 CHUNKS_PER_STREAM=100 ROUNDS=5)
// As in chat-100k.mjs: the server and every client run in their own process, clients run
// interleaved round after round, and we report medians. Writes bench/results/paced.md and the
// medians to bench/results/paced.json.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import os from 'node:os'
import { requireNodeForPeers, runNode } from './node.mjs'
import { writeResults } from './report.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const STREAMS = Number(process.env.STREAMS ?? 1000)
const CHUNKS_PER_STREAM = Number(process.env.CHUNKS_PER_STREAM ?? 100)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const ALL_CLIENTS = [
  'streamdelta-text',
  'streamdelta-events',
  'streamdelta-deltas',
  'openai',
  'ai-sdk',
  'fetch-eventsource-parser',
  'fetch-bytes',
]
// STREAMDELTA_BASE=<dir of another checkout>: base-text, base-events and base-deltas run streamdelta from
// there, beside this checkout's, for a before/after comparison within one run.
if (process.env.STREAMDELTA_BASE) ALL_CLIENTS.splice(3, 0, 'base-text', 'base-events', 'base-deltas')
// CLIENTS=streamdelta-text,openai runs a subset (a bar whose peer did not run says "no figure").
const CLIENTS = process.env.CLIENTS
  ? ALL_CLIENTS.filter((name) => process.env.CLIENTS.split(',').includes(name))
  : ALL_CLIENTS
const STREAMDELTA = CLIENTS.filter((name) => name.startsWith('streamdelta'))

requireNodeForPeers()

// The server: wait for its one JSON line.
const server = spawn(process.execPath, [path.join(here, 'paced-server.mjs')], {
  env: { ...process.env, STREAMS: String(STREAMS), CHUNKS_PER_STREAM: String(CHUNKS_PER_STREAM) },
  stdio: ['ignore', 'pipe', 'inherit'],
})
const info = await new Promise((resolve, reject) => {
  let out = ''
  server.stdout.on('data', (d) => {
    out += d
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]))
  })
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
})
const url = `http://127.0.0.1:${info.port}`
// What the server did since the last call (CPU, ramp, pace kept); also resets its counters.
const serverStats = async () => (await fetch(`${url}/stats`)).json()
const env = {
  STREAMS: String(STREAMS),
  CHUNKS_PER_STREAM: String(CHUNKS_PER_STREAM),
  CONTENT_SUFFIX: info.contentSuffix,
  STREAM_BYTES: String(info.streamBytes),
}
console.error(`server on ${url}: ${STREAMS} streams x ${CHUNKS_PER_STREAM} chunks, one per ${info.intervalMs} ms`)

const results = Object.fromEntries(CLIENTS.map((name) => [name, []]))
const failures = Object.fromEntries(CLIENTS.map((name) => [name, 0]))
try {
  await serverStats()
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no client always runs first (or right after another).
    const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length])
    for (const name of order) {
      // One retry: the native addon may be rebuilt while we run, which can crash one client. A
      // client that fails twice is counted as failed for this round, and the others go on.
      let result
      for (let attempt = 1; attempt <= 2 && !result; attempt++) {
        try {
          result = JSON.parse(await runNode('paced-client.mjs', [name, url], env))
        } catch (error) {
          console.error(
            `round ${round + 1}/${ROUNDS} ${name}: attempt ${attempt} failed: ${error.message.slice(0, 500)}`,
          )
        }
        const stats = await serverStats()
        if (result) result.server = stats
      }
      if (!result) {
        failures[name]++
        continue
      }
      results[name].push(result)
      const ms = (x) => (x == null ? '  -  ' : x.toFixed(1).padStart(6))
      console.error(
        `round ${round + 1}/${ROUNDS} ${name.padEnd(24)} main ${result.mainCpuMs.toFixed(0).padStart(5)} ms  wall ${result.wallMs.toFixed(0).padStart(5)} ms` +
          `  loop p99 ${ms(result.eventLoopDelayP99Ms)}  latency p50 ${ms(result.latencyP50Ms)} p99 ${ms(result.latencyP99Ms)}` +
          `  server: ${result.server.maxOpen} open, cpu ${result.server.cpuMs.toFixed(0)} ms ramp ${result.server.rampMs.toFixed(0)} ms pace ${result.server.meanIntervalMs?.toFixed(1)} ms (max ${result.server.maxIntervalMs.toFixed(0)})`,
      )
    }
  }
} finally {
  server.kill()
}

const median = (values) => {
  const s = values.filter((v) => v != null).sort((a, b) => a - b)
  if (!s.length) return null
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
const KEYS = [
  'mainCpuMs',
  'processCpuMs',
  'wallMs',
  'maxRssMB',
  'eventLoopDelayP50Ms',
  'eventLoopDelayP99Ms',
  'latencyP50Ms',
  'latencyP99Ms',
  'latencyMaxMs',
]
const rows = CLIENTS.map((name) => {
  const runs = results[name]
  const row = { name, runs: runs.length, failedRuns: failures[name] }
  for (const key of KEYS) row[key] = median(runs.map((r) => r[key]))
  row.serverCpuMs = median(runs.map((r) => r.server.cpuMs))
  row.serverRampMs = median(runs.map((r) => r.server.rampMs))
  row.serverPaceMs = median(runs.map((r) => r.server.meanIntervalMs))
  row.serverMinPeakOpen = runs.length ? Math.min(...runs.map((r) => r.server.maxOpen)) : null
  return row
})
const byName = Object.fromEntries(rows.map((r) => [r.name, r]))

const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown'
const knobs = ['STREAMS', 'CHUNKS_PER_STREAM', 'ROUNDS', 'CLIENTS']
  .filter((k) => process.env[k])
  .map((k) => `${k}=${process.env[k]} `)
  .join('')
const command = [
  path.relative(process.cwd(), process.execPath) || process.execPath,
  ...process.execArgv,
  path.relative(process.cwd(), process.argv[1]),
  ...process.argv.slice(2),
].join(' ')
const f = (x, digits = 0) => (x == null ? '–' : x.toFixed(digits))

// The bars of issue 14, each a streamdelta client's figure over a peer's: [label, key, peer,
// limit, wording]. Process CPU is held against fetch reading bytes (the floor any client pays for
// the sockets) and latency against fetch + eventsource-parser (the cheapest client that parses).
const BARS = [
  ['main-thread CPU', 'mainCpuMs', 'openai', 0.1, "at most 0.1x openai's"],
  ['process CPU', 'processCpuMs', 'fetch-bytes', 0.7, "at most 0.7x fetch reading bytes'"],
  ['latency p50', 'latencyP50Ms', 'fetch-eventsource-parser', 1, 'no worse than fetch + eventsource-parser'],
  ['latency p99', 'latencyP99Ms', 'fetch-eventsource-parser', 1, 'no worse than fetch + eventsource-parser'],
  ['peak RSS', 'maxRssMB', 'openai', 0.6, "at most 0.6x openai's"],
  ['event-loop delay p99', 'eventLoopDelayP99Ms', 'openai', 0.25, "at most 1/4 of openai's"],
]

// The same comparisons as data (the README's table of bars, bench/run.mjs) and as lines.
const bars = BARS.flatMap(([label, key, peer, limit, barText]) =>
  STREAMDELTA.map((name) => {
    const ours = byName[name][key]
    const theirs = byName[peer]?.[key]
    const ratio = ours != null && theirs != null ? ours / theirs : Number.NaN
    return {
      what: `${STREAMS.toLocaleString('en-US')} paced streams, ${label}, ${name}: ${barText}`,
      measured: Number.isNaN(ratio) ? 'no figure' : `${f(ours, 1)} / ${f(theirs, 1)} = ${f(ratio, 2)}x`,
      ratio,
      limit,
      ok: ratio <= limit,
    }
  }),
)
const verdictLines = bars.map((bar) => `- ${bar.ok ? '✅' : '❌'} ${bar.what}: ${bar.measured}`)

const s = STREAMS.toLocaleString('en-US')
const lines = [
  `### ${s} streams, one chunk per ${info.intervalMs} ms`,
  '',
  `- date: ${new Date().toISOString()}`,
  `- machine: ${os.machine()}, ${os.cpus().length} cores: ${cpuModel}`,
  `- Node ${process.version}`,
  `- command: \`${knobs}${command}\``,
  `- ${s} concurrent streams of ${CHUNKS_PER_STREAM} content chunks, opened at once by one client process; the server sends each its role chunk at once and starts the content once all ${s} are open; median of ${ROUNDS} rounds, each client a fresh process per run, clients interleaved`,
  '- main-thread CPU is the JS thread only, process CPU adds every other thread (streamdelta parses on its own threads); event-loop delay from `monitorEventLoopDelay({ resolution: 1 })` over the run',
  "- latency: from the server's write (stamp in the chunk's content) to the consumer's loop body, every chunk of every stream; fetch-bytes reads no content, so it has none",
  `- wall ms (first request to last stream's end), server ramp (first to last request arriving) and server pace (mean time between its ticks, each sending one chunk to every open stream: above ${info.intervalMs} ms the machine could not keep the pace) show what each run really was`,
  `- peak streams open at once on the server, lowest over a client's runs: ${CLIENTS.map((n) => `${n} ${byName[n].serverMinPeakOpen ?? '–'}`).join(', ')}` +
    (rows.every((r) => r.serverMinPeakOpen === STREAMS)
      ? ` (every client had all ${s} open at once)`
      : ' (below the stream count: that client could not open them all)'),
  ...(Object.values(failures).some((n) => n)
    ? [
        `- failed runs (after one retry): ${CLIENTS.filter((n) => failures[n])
          .map((n) => `${n} ${failures[n]}`)
          .join(', ')}`,
      ]
    : []),
  '',
  '| client | main-thread CPU ms | process CPU ms | event-loop delay p99 ms | peak RSS MB | latency p50 ms | latency p99 ms | wall ms | server ramp ms | server pace ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) =>
    [
      '',
      r.name,
      f(r.mainCpuMs),
      f(r.processCpuMs),
      f(r.eventLoopDelayP99Ms, 1),
      f(r.maxRssMB),
      f(r.latencyP50Ms, 1),
      f(r.latencyP99Ms, 1),
      f(r.wallMs),
      f(r.serverRampMs),
      f(r.serverPaceMs, 1),
      '',
    ]
      .join(' | ')
      .trim(),
  ),
  '',
  ...verdictLines,
  '',
]
const markdown = lines.join('\n')
console.log(markdown)
writeResults(
  'paced',
  markdown,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      streams: STREAMS,
      chunksPerStream: CHUNKS_PER_STREAM,
      intervalMs: info.intervalMs,
      rounds: ROUNDS,
      medians: rows,
      bars,
    },
    null,
    2,
  ) + '\n',
)
