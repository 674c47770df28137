// One benchmark client, one request, in a fresh process: `node bench/client.mjs <name> <url>`
// (url = the server's origin, e.g. http://127.0.0.1:1234). The expected text hash comes in
// EXPECTED_SHA256 (and the body size in EXPECTED_BYTES, for fetch-bytes), both printed by
// server.mjs. Prints one JSON line of figures; exits 1 when it received the wrong text.
import { createHash } from 'node:crypto'
import { measuredFields, startMeasuring, stopMeasuring } from './measure.mjs'

const [name, origin] = process.argv.slice(2)
const baseURL = `${origin}/v1`
const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Write a long story.' }] }

// Each entry loads its modules and builds its client (not measured), then returns the function
// that is timed: it makes the request and returns what it received (the text, or for
// fetch-bytes the byte count).
const clients = {
  'streamdelta-text': async () => {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      let text = ''
      for await (const t of client.chat(body).text()) text += t
      return { text }
    }
  },
  'streamdelta-deltas': async () => {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      let text = ''
      for await (const d of client.chat(body)) if (d.type === 'text' && d.choice === 0) text += d.text
      return { text }
    }
  },
  'streamdelta-events': async () => {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      let text = ''
      const stream = client.chat(body).on('text', (t, _snapshot, choice) => {
        if (choice === 0) text += t
      })
      await stream.final()
      return { text }
    }
  },
  openai: async () => {
    const { default: OpenAI } = await import('openai')
    const client = new OpenAI({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async () => {
      let text = ''
      const stream = await client.chat.completions.create({ ...body, stream: true })
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
      return { text }
    }
  },
  'ai-sdk': async () => {
    const { streamText } = await import('ai')
    const { createOpenAI } = await import('@ai-sdk/openai')
    const openai = createOpenAI({ baseURL, apiKey: 'sk-bench' })
    return async () => {
      let text = ''
      const result = streamText({ model: openai.chat('gpt-4o-mini'), prompt: 'Write a long story.', maxRetries: 0 })
      for await (const t of result.textStream) text += t
      return { text }
    }
  },
  'fetch-bytes': async () => {
    return async () => {
      // The floor: bytes reach JS and are dropped. Counting them is the proof they all came.
      let bytes = 0
      const res = await fetch(`${baseURL}/chat/completions`, post())
      for await (const chunk of res.body) bytes += chunk.byteLength
      return { bytes }
    }
  },
  'fetch-eventsource-parser': async () => {
    const { createParser } = await import('eventsource-parser')
    return async () => {
      let text = ''
      const parser = createParser({
        onEvent(event) {
          if (event.data === '[DONE]') return
          text += JSON.parse(event.data).choices[0]?.delta?.content ?? ''
        },
      })
      const res = await fetch(`${baseURL}/chat/completions`, post())
      // stream: true keeps a multi-byte character split across two reads whole.
      const decoder = new TextDecoder()
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }))
      parser.feed(decoder.decode())
      return { text }
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

if (!clients[name] || !origin) {
  console.error(`usage: node bench/client.mjs <${Object.keys(clients).join('|')}> <url>`)
  process.exit(2)
}
const run = await clients[name]()

const measuring = startMeasuring()
const received = await run()
const measured = stopMeasuring(measuring)

// Checked after the clock stopped: the check is not part of the work being measured.
let ok
if ('bytes' in received) ok = received.bytes === Number(process.env.EXPECTED_BYTES)
else ok = createHash('sha256').update(received.text).digest('hex') === process.env.EXPECTED_SHA256
console.log(
  JSON.stringify({
    name,
    ok,
    ...measuredFields(measured, [99]),
  }),
)
process.exitCode = ok ? 0 : 1
