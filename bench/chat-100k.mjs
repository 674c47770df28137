// Side-by-side benchmark: 100,000 chat.completion.chunk events from a local server, consumed by
// streamdelta (three styles), the openai package, and two fetch baselines.
//   node bench/chat-100k.mjs            (ROUNDS=5 by default; needs Node >= 22 for openai@7)
// The server and every client run in their own process, so no client pays for another's
// warm-up, garbage or JIT state; clients run interleaved, round after round, so drift on the
// machine (other load, CPU frequency) spreads over all of them; we report medians.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { requireNodeForPeers, runNode } from './node.mjs'
import { machineLines, median, nodeCommand, writeResults } from './report.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const CLIENTS = [
  'streamdelta-text',
  'streamdelta-deltas',
  'streamdelta-events',
  'openai',
  'ai-sdk',
  'fetch-bytes',
  'fetch-eventsource-parser',
]

requireNodeForPeers()

// The server: wait for its one JSON line (it builds the body before listening).
const server = spawn(process.execPath, [path.join(here, 'server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] })
const info = await new Promise((resolve, reject) => {
  let out = ''
  server.stdout.on('data', (d) => {
    out += d
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]))
  })
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
})
const url = `http://127.0.0.1:${info.port}`
const env = { EXPECTED_SHA256: info.textSha256, EXPECTED_BYTES: String(info.bodyBytes) }
console.error(`server on ${url}: ${info.chunks} chunks, ${(info.bodyBytes / 1e6).toFixed(1)} MB`)

const results = Object.fromEntries(CLIENTS.map((name) => [name, []]))
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no client always runs first (or right after another).
    const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length])
    for (const name of order) {
      const result = JSON.parse(await runNode('client.mjs', [name, url], env))
      results[name].push(result)
      console.error(
        `round ${round + 1}/${ROUNDS} ${name.padEnd(24)} main ${result.mainCpuMs.toFixed(0).padStart(5)} ms  wall ${result.wallMs.toFixed(0).padStart(5)} ms`,
      )
    }
  }
} finally {
  server.kill()
}

const rows = CLIENTS.map((name) => {
  const runs = results[name]
  const m = (key) => median(runs.map((r) => r[key]))
  return {
    name,
    mainCpuMs: m('mainCpuMs'),
    processCpuMs: m('processCpuMs'),
    wallMs: m('wallMs'),
    maxRssMB: m('maxRssMB'),
    eventLoopDelayP99Ms: m('eventLoopDelayP99Ms'),
  }
})
const by = Object.fromEntries(rows.map((r) => [r.name, r]))
const text = by['streamdelta-text']
const floor = by['fetch-bytes']
const openai = by.openai

// The bar, as ratios from this one run.
const bars = [
  ['text iteration, main-thread CPU <= 1/20 of openai', text.mainCpuMs / openai.mainCpuMs, 1 / 20],
  ['text iteration, main-thread CPU <= 1/2 of fetch reading bytes only', text.mainCpuMs / floor.mainCpuMs, 1 / 2],
  ['text iteration, process CPU (all threads) <= fetch reading bytes only', text.processCpuMs / floor.processCpuMs, 1],
  ['Delta iteration, main-thread CPU <= 1/5 of openai', by['streamdelta-deltas'].mainCpuMs / openai.mainCpuMs, 1 / 5],
].map(([what, ratio, limit]) => ({ what, ratio, limit, ok: ratio <= limit }))

const f = (x, digits = 0) => x.toFixed(digits)
const lines = [
  `### One stream of ${info.chunks.toLocaleString('en-US')} chat chunks (${(info.bodyBytes / 1e6).toFixed(1)} MB of SSE), as fast as the client reads`,
  '',
  ...machineLines(),
  `- command: \`${nodeCommand(ROUNDS)}\``,
  `- median of ${ROUNDS} rounds, each client a fresh process per run, clients interleaved; main-thread CPU is the JS thread only (schedstat), process CPU adds every other thread (streamdelta's Rust engine runs on its own); every run's text is checked by SHA-256`,
  '',
  '| client | main-thread CPU ms | µs/chunk (main) | vs openai | vs fetch-bytes | process CPU ms | wall ms | peak RSS MB | event-loop delay p99 ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) =>
    [
      '',
      r.name,
      f(r.mainCpuMs),
      f((r.mainCpuMs * 1000) / info.chunks, 2),
      `${f(r.mainCpuMs / openai.mainCpuMs, 2)}x`,
      `${f(r.mainCpuMs / floor.mainCpuMs, 2)}x`,
      f(r.processCpuMs),
      f(r.wallMs),
      f(r.maxRssMB),
      f(r.eventLoopDelayP99Ms, 1),
      '',
    ]
      .join(' | ')
      .trim(),
  ),
  '',
  ...bars.map((b) => `- bar: ${b.what}: ${f(b.ratio, 3)} ${b.ok ? '✅' : '❌'}`),
  '',
]
const markdown = lines.join('\n')
console.log(markdown)
writeResults('chat-100k', markdown, JSON.stringify({ rows, bars }, null, 2))
