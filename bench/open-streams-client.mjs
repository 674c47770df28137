// One open-streams client in a fresh process (run with --expose-gc):
//   node --expose-gc bench/open-streams-client.mjs <name> <origin>
// Opens STREAMS chat streams at once against open-streams-server.mjs, waits until every one
// has delivered its first text, then measures what the held streams cost while they wait: the
// RSS they added (after a GC, over the level after one warm-up stream) and the CPU the process
// spends per second while nothing arrives. Then has the server end them all and checks each
// stream's text arrived whole. Env: STREAMS, IDLE_MS, FIRST_TEXT. Prints one JSON line.
import http from 'node:http'
import { mainThreadCpuNs } from './measure.mjs'

const [name, origin] = process.argv.slice(2)
const STREAMS = Number(process.env.STREAMS ?? 10_000)
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000)
const FIRST_TEXT = process.env.FIRST_TEXT ?? ''
const OPEN_LIMIT_MS = 120_000
const baseURL = `${origin}/v1`
const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Write a long story.' }] }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Each entry builds its client (not measured) and returns the function that consumes one
// stream, calling `text(t)` for every piece of content.
const clients = {
  'streamdelta-text': async () => {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (text) => {
      for await (const t of client.chat(body).text()) text(t)
    }
  },
  'streamdelta-deltas': async () => {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (text) => {
      for await (const d of client.chat(body)) if (d.type === 'text' && d.choice === 0) text(d.text)
    }
  },
  openai: async () => {
    const { default: OpenAI } = await import('openai')
    const client = new OpenAI({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (text) => {
      const stream = await client.chat.completions.create({ ...body, stream: true })
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta?.content
        if (content) text(content)
      }
    }
  },
  'fetch-eventsource-parser': async () => {
    const { createParser } = await import('eventsource-parser')
    return async (text) => {
      const parser = createParser({
        onEvent(event) {
          if (event.data === '[DONE]') return
          const content = JSON.parse(event.data).choices[0]?.delta?.content
          if (content) text(content)
        },
      })
      const res = await fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body: JSON.stringify({ ...body, stream: true }),
      })
      const decoder = new TextDecoder()
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }))
      parser.feed(decoder.decode())
    }
  },
}
if (!clients[name] || !origin || typeof globalThis.gc !== 'function') {
  console.error(`usage: node --expose-gc bench/open-streams-client.mjs <${Object.keys(clients).join('|')}> <origin>`)
  process.exit(2)
}
const consumeOne = await clients[name]()

/** The server ends every stream it holds (node:http, loaded anyway: no client's own stack). */
function release() {
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}/release`, { method: 'POST', agent: false }, (res) => {
      res.resume().on('end', resolve)
    })
    req.on('error', reject).end()
  })
}

/** Opens `count` streams; resolves `firstTexts` once each has delivered its first text. */
function open(count) {
  let first = 0
  let allFirst
  const firstTexts = new Promise((resolve) => (allFirst = resolve))
  const texts = []
  const runs = []
  for (let i = 0; i < count; i++) {
    texts.push('')
    runs.push(
      consumeOne((t) => {
        if (texts[i] === '' && ++first === count) allFirst()
        texts[i] += t
      }),
    )
  }
  return { firstTexts, texts, done: Promise.allSettled(runs) }
}

async function settledMemory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await sleep(100)
  }
  return process.memoryUsage()
}

// One warm-up stream: module code, the client's pool and (streamdelta) its engine threads are
// there before the baseline, so the delta is what the held streams add.
const warm = open(1)
await warm.firstTexts
await release()
await warm.done
const before = await settledMemory()

const openedAt = performance.now()
const held = open(STREAMS)
// A client that never gets every stream going (a connection lost in the ramp) fails the run
// with how far it got, rather than hanging the benchmark.
const giveUp = setTimeout(() => {
  const started = held.texts.filter((t) => t !== '').length
  console.error(`${name}: only ${started} of ${STREAMS} streams had their first text after ${OPEN_LIMIT_MS} ms`)
  process.exit(1)
}, OPEN_LIMIT_MS)
await held.firstTexts
clearTimeout(giveUp)
const openMs = performance.now() - openedAt
const heldMemory = await settledMemory()

// Idle: every stream open, nothing arriving. What the process spends keeping them.
const cpu0 = mainThreadCpuNs()
const usage0 = process.cpuUsage()
await sleep(IDLE_MS)
const usage = process.cpuUsage(usage0)
const mainCpuMs = (mainThreadCpuNs() - cpu0) / 1e6
const idleRss = process.memoryUsage().rss

await release()
const outcomes = await held.done
const failed = outcomes.filter((o) => o.status === 'rejected')
for (const f of failed.slice(0, 3)) console.error(`${name}: ${f.reason?.stack ?? f.reason}`)
const whole = held.texts.filter((t) => t === FIRST_TEXT).length
const ok = failed.length === 0 && whole === STREAMS
if (!ok) console.error(`${name}: ${failed.length} failed, ${whole} of ${STREAMS} streams had their text whole`)
const MB = 1024 * 1024
const rssDelta = Math.max(heldMemory.rss, idleRss) - before.rss
console.log(
  JSON.stringify({
    name,
    ok,
    streams: STREAMS,
    openMs,
    baseRssMB: before.rss / MB,
    heldRssMB: heldMemory.rss / MB,
    perStreamKB: rssDelta / STREAMS / 1024,
    heapPerStreamKB: (heldMemory.heapUsed - before.heapUsed) / STREAMS / 1024,
    idleMainCpuMsPerS: mainCpuMs / (IDLE_MS / 1000),
    idleProcessCpuMsPerS: (usage.user + usage.system) / 1000 / (IDLE_MS / 1000),
  }),
)
process.exitCode = ok ? 0 : 1
