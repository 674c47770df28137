// Paced floor: what the paced scenario's consumer costs the main thread with no client at all.
// STREAMS (1,000) in-process streams, each handed one chunk every 20 ms for CHUNKS_PER_STREAM
// (100) chunks, the chunk's string made when it is handed over (the stamp and suffix the paced
// server writes) and consumed by the same `received()` work as bench/paced-client.mjs. No
// socket, no HTTP, no SSE, no JSON: what is left is JavaScript's own cost of the two consuming
// styles, so no library's figure in paced.mjs can be below it.
// - for-await: a `for await` loop per stream over an async iterator (one promise per chunk), as
//   `text()` and the Delta iterator are consumed;
// - listener: a callback per chunk with the stream's snapshot (`on('text', ...)`).
//   node bench/paced-floor.mjs      (env STREAMS=1000 CHUNKS_PER_STREAM=100 ROUNDS=5)
// Each style runs in a fresh process, round after round; medians are reported, next to
// openai's main-thread figure from bench/results/paced.json when paced.mjs ran first.
// Writes bench/results/paced-floor.md and .json.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { mainThreadCpuNs } from './measure.mjs'
import { machineLines, median, nodeCommand, writeResults } from './report.mjs'

const STREAMS = Number(process.env.STREAMS ?? 1000)
const CHUNKS = Number(process.env.CHUNKS_PER_STREAM ?? 100)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const INTERVAL_MS = 20
/** The hand-over timer's period: each tick serves the streams whose 20 ms slot it is. */
const TICK_MS = 2
const SUFFIX = 'é東🙂'
const STYLES = ['for-await', 'listener']

const [style] = process.argv.slice(2)
if (style) {
  console.log(JSON.stringify(await consume(style)))
  process.exit(0)
}

const here = path.dirname(fileURLToPath(import.meta.url))
const runs = Object.fromEntries(STYLES.map((s) => [s, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const s of STYLES) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), s], { encoding: 'utf8' })
    if (child.status !== 0) throw new Error(`paced-floor ${s} exited with ${child.status}: ${child.stderr}`)
    const result = JSON.parse(child.stdout)
    if (!result.ok) throw new Error(`paced-floor ${s}: ${result.stamps} of ${STREAMS * CHUNKS} chunks consumed`)
    runs[s].push(result.mainCpuMs)
  }
}
const pacedJson = path.join(here, 'results', 'paced.json')
const openaiMs = existsSync(pacedJson)
  ? JSON.parse(readFileSync(pacedJson, 'utf8')).medians?.find((r) => r.name === 'openai')?.mainCpuMs
  : undefined
const rows = STYLES.map((s) => ({ style: s, mainCpuMs: median(runs[s]), runs: runs[s] }))
const ratio = (ms) => (openaiMs ? `${(ms / openaiMs).toFixed(3)}x` : '–')
const markdown = [
  `### Paced floor: ${STREAMS.toLocaleString('en-US')} streams x ${CHUNKS} chunks consumed in plain JavaScript`,
  '',
  `\`${nodeCommand(ROUNDS)}\`, median of ${ROUNDS} runs, each style in a fresh process. No I/O at all:`,
  'each chunk is a string made in-process and handed to the same `received()` work as the paced',
  "clients, one per stream every 20 ms. The bar of the paced scenario is 0.1x openai's main thread.",
  '',
  ...machineLines(),
  '',
  "| style | main-thread CPU ms | of openai's in paced.json |",
  '| --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.style} | ${r.mainCpuMs.toFixed(0)} | ${ratio(r.mainCpuMs)} |`),
  '',
].join('\n')
writeResults('paced-floor', markdown, JSON.stringify({ openaiMainCpuMs: openaiMs ?? null, rows, bars: [] }, null, 2))
console.log(markdown)

/** One style in this process: the figures of the timed part. */
async function consume(kind) {
  const STAMP = new RegExp(`(\\d{13}\\.\\d{3})\\|${SUFFIX}`, 'g')
  let stamps = 0
  const latencies = new Float64Array(STREAMS * CHUNKS)
  // As in paced-client.mjs.
  function received(text) {
    const now = performance.timeOrigin + performance.now()
    STAMP.lastIndex = 0
    for (let m; (m = STAMP.exec(text)); ) {
      if (stamps < latencies.length) latencies[stamps] = now - Number(m[1])
      stamps++
    }
  }
  const streams = Array.from({ length: STREAMS }, () => ({ left: CHUNKS, ...consumer(kind) }))
  const cpu0 = mainThreadCpuNs()
  const ends = streams.map((s) => s.run(received))
  let tick = 0
  const slots = INTERVAL_MS / TICK_MS
  const timer = setInterval(() => {
    const now = performance.timeOrigin + performance.now()
    for (let i = tick % slots; i < STREAMS; i += slots) {
      const s = streams[i]
      if (s.left === 0) continue
      s.left--
      s.hand(`${now.toFixed(3)}|${SUFFIX}`, s.left === 0)
    }
    if (++tick >= CHUNKS * slots) clearInterval(timer)
  }, TICK_MS)
  await Promise.all(ends)
  const mainCpuMs = (mainThreadCpuNs() - cpu0) / 1e6
  return { style: kind, ok: stamps === STREAMS * CHUNKS, stamps, mainCpuMs }
}

/** A stream's two ends: `hand(text, last)` from the timer, `run(received)` the consumer. */
function consumer(kind) {
  if (kind === 'listener') {
    let listener = null
    let finished = null
    let snapshot = ''
    return {
      hand(text, last) {
        snapshot += text
        listener(text, snapshot, 0)
        if (last) finished()
      },
      run(received) {
        listener = (text, _snapshot, choice) => {
          if (choice === 0) received(text)
        }
        return new Promise((resolve) => (finished = resolve))
      },
    }
  }
  // for-await: a minimal async iterator, a queue and the pending next()'s resolve.
  const queue = []
  let waiting = null
  let over = false
  const iterator = {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift(), done: false })
      if (over) return Promise.resolve({ value: undefined, done: true })
      return new Promise((resolve) => (waiting = resolve))
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
  const settle = (result) => {
    const resolve = waiting
    waiting = null
    resolve(result)
  }
  return {
    hand(text, last) {
      if (waiting !== null) settle({ value: text, done: false })
      else queue.push(text)
      if (last) {
        over = true
        if (waiting !== null) settle({ value: undefined, done: true })
      }
    },
    async run(received) {
      for await (const text of iterator) received(text)
    },
  }
}
