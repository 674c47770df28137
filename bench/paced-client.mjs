// One paced-benchmark client in a fresh process: `node bench/paced-client.mjs <name> <origin>`
// (origin = paced-server.mjs's, e.g. http://127.0.0.1:1234). Opens STREAMS concurrent chat
// streams at once and consumes them all. Each content chunk carries the time the server wrote
// it; for every one the client receives it records now - then: the latency from the server's
// write to this process's JS code, through whatever the library does in between.
// Env: STREAMS, CHUNKS_PER_STREAM, CONTENT_SUFFIX and STREAM_BYTES (both printed by the server).
// Prints one JSON line of figures; exits 1 when it did not receive everything.
import { measuredFields, startMeasuring, stopMeasuring } from './measure.mjs'

const [name, origin] = process.argv.slice(2)
const STREAMS = Number(process.env.STREAMS ?? 1000)
const CHUNKS = Number(process.env.CHUNKS_PER_STREAM ?? 100)
const SUFFIX = process.env.CONTENT_SUFFIX ?? 'é東🙂'
const baseURL = `${origin}/v1`
const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Write a long story.' }] }

// Latencies land in one preallocated array: 100,000 of them in a growing JS array would add
// garbage-collection work of our own to every client we measure.
const latencies = new Float64Array(STREAMS * CHUNKS)
let stamps = 0
// A stamp followed by the suffix, whole: a mangled multi-byte character fails the match, so a
// client that decodes UTF-8 wrongly is caught by the count.
const STAMP = new RegExp(`(\\d{13}\\.\\d{3})\\|${SUFFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'g')
let textChars = 0
let bytes = 0 // fetch-bytes only

/** Records every stamp in a piece of content text; a coalescing consumer may pass several. */
function received(text) {
  const now = performance.timeOrigin + performance.now()
  textChars += text.length
  STAMP.lastIndex = 0
  for (let m; (m = STAMP.exec(text)); ) {
    if (stamps < latencies.length) latencies[stamps] = now - Number(m[1])
    stamps++
  }
}

// STREAMDELTA_BASE=<dir of another checkout> makes the base-text and base-deltas clients (see
// paced.mjs) load streamdelta from there: a before/after comparison within one run.
const base = name.startsWith('base-')
const streamdeltaIndex = () => (base ? `${process.env.STREAMDELTA_BASE}/index.mjs` : '../index.mjs')

// Each entry loads its modules and builds its client (not measured), then returns the function
// that consumes one stream. The timed part runs STREAMS of them concurrently.
const clients = {
  'streamdelta-text': async () => {
    const { Client } = await import(streamdeltaIndex())
    // reqwest's pool has no per-host connection cap: 1,000 streams get 1,000 connections.
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      for await (const t of client.chat(body).text()) received(t)
    }
  },
  'streamdelta-deltas': async () => {
    const { Client } = await import(streamdeltaIndex())
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      for await (const d of client.chat(body)) if (d.type === 'text' && d.choice === 0) received(d.text)
    }
  },
  // The EventEmitter style (API.md's Events): a listener per text delta, no promise per chunk.
  'streamdelta-events': async () => {
    const { Client } = await import(streamdeltaIndex())
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      await client
        .chat(body)
        .on('text', (text, _snapshot, choice) => {
          if (choice === 0) received(text)
        })
        .final()
    }
  },
  openai: async () => {
    const { default: OpenAI } = await import('openai')
    // openai@7 calls the global fetch, whose undici Agent has no connection cap by default.
    const client = new OpenAI({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      const stream = await client.chat.completions.create({ ...body, stream: true })
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta?.content
        if (content) received(content)
      }
    }
  },
  'ai-sdk': async () => {
    const { streamText } = await import('ai')
    const { createOpenAI } = await import('@ai-sdk/openai')
    const openai = createOpenAI({ baseURL, apiKey: 'sk-bench' })
    return async () => {
      const result = streamText({ model: openai.chat('gpt-4o-mini'), prompt: 'Write a long story.', maxRetries: 0 })
      for await (const t of result.textStream) received(t)
    }
  },
  'fetch-eventsource-parser': async () => {
    const { createParser } = await import('eventsource-parser')
    return async () => {
      const parser = createParser({
        onEvent(event) {
          if (event.data === '[DONE]') return
          const content = JSON.parse(event.data).choices[0]?.delta?.content
          if (content) received(content)
        },
      })
      const res = await fetch(`${baseURL}/chat/completions`, post())
      // stream: true keeps a multi-byte character split across two reads whole.
      const decoder = new TextDecoder()
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }))
      parser.feed(decoder.decode())
    }
  },
  'fetch-bytes': async () => {
    // The floor: bytes reach JS and are dropped. It sees no content, so it has no latency.
    return async () => {
      const res = await fetch(`${baseURL}/chat/completions`, post())
      for await (const chunk of res.body) bytes += chunk.byteLength
    }
  },
}

function post() {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
    body: JSON.stringify({ ...body, stream: true }),
  }
}

if (!clients[base ? name.replace('base-', 'streamdelta-') : name] || !origin) {
  console.error(`usage: node bench/paced-client.mjs <${Object.keys(clients).join('|')}> <origin>`)
  process.exit(2)
}
const consumeOne = await clients[base ? name.replace('base-', 'streamdelta-') : name]()

const measuring = startMeasuring()
// All streams opened as fast as the client can, then awaited together: the clock runs from the
// first request to the end of the last stream.
const runs = []
for (let i = 0; i < STREAMS; i++) runs.push(consumeOne())
const outcomes = await Promise.allSettled(runs)
const measured = stopMeasuring(measuring)

// Checked after the clock stopped: the check is not part of the work being measured.
const failed = outcomes.filter((o) => o.status === 'rejected')
for (const f of failed.slice(0, 3)) console.error(`${name}: ${f.reason?.stack ?? f.reason}`)
let ok = failed.length === 0
let latency = { p50: null, p99: null, max: null }
if (name === 'fetch-bytes') {
  ok &&= bytes === STREAMS * Number(process.env.STREAM_BYTES)
} else {
  // Every stamp arrived, whole, and nothing else came with them.
  const expected = STREAMS * CHUNKS
  ok &&= stamps === expected && textChars === expected * (17 + 1 + SUFFIX.length)
  if (!ok) console.error(`${name}: ${stamps} stamps and ${textChars} characters, expected ${expected} stamps`)
  const sorted = latencies.subarray(0, Math.min(stamps, latencies.length)).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  if (sorted.length) latency = { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] }
}
console.log(
  JSON.stringify({
    name,
    ok,
    streams: STREAMS,
    failedStreams: failed.length,
    ...measuredFields(measured, [50, 99]),
    latencyP50Ms: latency.p50,
    latencyP99Ms: latency.p99,
    latencyMaxMs: latency.max,
  }),
)
process.exitCode = ok ? 0 : 1
