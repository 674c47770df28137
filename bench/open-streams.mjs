// Open-streams benchmark: STREAMS (10,000) chat streams that have delivered their first text
// and wait for the next, as a service holds its users' streams while the model thinks. What
// each open stream costs: memory (RSS delta over the level after one warm-up stream, after a
// GC, divided by STREAMS) and CPU per second of idling (main thread and whole process).
// streamdelta (two styles) against openai and fetch + eventsource-parser.
//   node bench/open-streams.mjs      (Node >= 22; env STREAMS=10000 IDLE_MS=5000 ROUNDS=3)
// The server and each client run in their own process (each client a fresh one per run, one
// client object per process, clients interleaved round after round); medians are reported.
// Writes bench/results/open-streams.md and .json.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { requireNodeForPeers } from './node.mjs'
import { machineLines, median, nodeCommand, writeResults } from './report.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const STREAMS = Number(process.env.STREAMS ?? 10_000)
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const ALL_CLIENTS = ['streamdelta-text', 'streamdelta-deltas', 'openai', 'fetch-eventsource-parser']
const CLIENTS = process.env.CLIENTS
  ? ALL_CLIENTS.filter((name) => process.env.CLIENTS.split(',').includes(name))
  : ALL_CLIENTS
const STREAMDELTA = CLIENTS.filter((name) => name.startsWith('streamdelta'))
/** The bar: an open stream holds at most half the memory openai's does. */
const MEMORY_BAR = 0.5

requireNodeForPeers()

/** Runs `node [flags] bench/<script> ...args`; resolves with its stdout. */
function runChild(script, flags, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, path.join(here, script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}`))))
  })
}

const server = spawn(process.execPath, [path.join(here, 'open-streams-server.mjs')], {
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
const env = { STREAMS: String(STREAMS), IDLE_MS: String(IDLE_MS), FIRST_TEXT: info.firstText }
console.error(`server on ${url}: ${STREAMS} streams held open after their first text, ${IDLE_MS} ms idle`)

const results = Object.fromEntries(CLIENTS.map((name) => [name, []]))
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length])
    for (const name of order) {
      // One retry, as in paced.mjs: a client that fails twice counts as failed for this round.
      let r
      for (let attempt = 1; attempt <= 2 && !r; attempt++) {
        try {
          r = JSON.parse(await runChild('open-streams-client.mjs', ['--expose-gc'], [name, url], env))
        } catch (error) {
          console.error(`round ${round + 1}/${ROUNDS} ${name}: attempt ${attempt} failed: ${error.message}`)
          await new Promise((resolve) => setTimeout(resolve, 1000))
        }
      }
      if (r) {
        results[name].push(r)
        console.error(
          `round ${round + 1}/${ROUNDS} ${name.padEnd(26)} ${r.perStreamKB.toFixed(1).padStart(6)} KB/stream (heap ${r.heapPerStreamKB.toFixed(1)})` +
            `  idle main ${r.idleMainCpuMsPerS.toFixed(2)} ms/s process ${r.idleProcessCpuMsPerS.toFixed(2)} ms/s  opened in ${r.openMs.toFixed(0)} ms`,
        )
      }
      // Let the server's sockets close before the next client opens its own.
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
} finally {
  server.kill()
}

const KEYS = ['perStreamKB', 'heapPerStreamKB', 'idleMainCpuMsPerS', 'idleProcessCpuMsPerS', 'openMs', 'baseRssMB']
const rows = CLIENTS.map((name) => {
  const runs = results[name]
  const row = { name, runs: runs.length }
  for (const key of KEYS) row[key] = runs.length ? median(runs.map((r) => r[key])) : null
  return row
})
const byName = Object.fromEntries(rows.map((r) => [r.name, r]))
const f = (x, digits = 1) => (x == null ? '–' : x.toFixed(digits))
const s = STREAMS.toLocaleString('en-US')

const bars = STREAMDELTA.map((name) => {
  const ratio = (byName[name].perStreamKB ?? Number.NaN) / (byName.openai?.perStreamKB ?? Number.NaN)
  return {
    what: `${s} open streams, memory per open stream, ${name}: at most ${MEMORY_BAR}x openai's`,
    measured: `${f(byName[name].perStreamKB)} / ${f(byName.openai?.perStreamKB)} KB = ${f(ratio, 2)}x`,
    ratio,
    limit: MEMORY_BAR,
    ok: ratio <= MEMORY_BAR,
  }
})

const lines = [
  `### ${s} open streams waiting for their next chunk`,
  '',
  ...machineLines(),
  `- command: \`${process.env.STREAMS ? `STREAMS=${STREAMS} ` : ''}${process.env.IDLE_MS ? `IDLE_MS=${IDLE_MS} ` : ''}${nodeCommand(ROUNDS)}\``,
  `- ${s} concurrent chat streams, opened at once by one client object in a fresh process per run; the server (its own process) sends each the role chunk and one content chunk, then holds it open; median of ${ROUNDS} rounds, clients interleaved`,
  '- memory per stream: RSS with every stream open (after a GC, the larger of right then and after the idle period) less RSS after one warm-up stream (after a GC), over the stream count; the JS heap part alone beside it',
  `- idle CPU: over ${IDLE_MS} ms with every stream open and nothing arriving, per second: the main (JS) thread, and the whole process`,
  '',
  '| client | memory per open stream KB | of which JS heap KB | idle main-thread CPU ms/s | idle process CPU ms/s | time to open all ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${f(r.perStreamKB)} | ${f(r.heapPerStreamKB)} | ${f(r.idleMainCpuMsPerS, 2)} | ${f(r.idleProcessCpuMsPerS, 2)} | ${f(r.openMs, 0)} |`,
  ),
  '',
  ...bars.map((b) => `- ${b.ok ? '✅' : '❌'} ${b.what}: ${b.measured}`),
  '',
]
const markdown = lines.join('\n')
console.log(markdown)
writeResults(
  'open-streams',
  markdown,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, streams: STREAMS, idleMs: IDLE_MS, rounds: ROUNDS, medians: rows, bars }, null, 2)}\n`,
)
