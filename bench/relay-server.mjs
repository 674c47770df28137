// The relay under test: `node bench/relay-server.mjs <mode> <upstreamOrigin>`.
// An Express 5 app on 127.0.0.1 (a free port) whose POST /chat streams a chat completion from
// the upstream (bench/server.mjs) and relays it to its own client as SSE, the way an app
// between a browser and OpenAI does. Each mode is written as a careful user of that library
// would write it: SSE headers, backpressure ('drain'), the upstream cancelled when the client
// leaves. Its CPU and memory are read from /proc by the load generator (a request for them
// would queue behind the saturated event loop). Prints one JSON line: { port }.
import express from 'express'
import { requireNodeForPeers } from './node.mjs'

const [mode, origin] = process.argv.slice(2)
const baseURL = `${origin}/v1`
const MODEL = 'gpt-4o-mini'
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }

/** The upstream request a browser's prompt becomes. */
const chatBody = (prompt) => ({ model: MODEL, messages: [{ role: 'user', content: prompt }] })

/** Resolves when `res` can take more bytes, or when the client is gone (no 'drain' will come). */
function drained(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** An AbortSignal that fires when the client disconnects before the response is complete. */
function clientGone(res) {
  const controller = new AbortController()
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'))
  })
  return controller.signal
}

/** A failure before or after the first byte: a 502, or an in-band error event and the end. */
function fail(res, error, signal) {
  if (signal?.aborted) return // the client left; nobody to tell
  console.error(`relay ${mode}: ${error?.message ?? error}`)
  const body = { error: { message: String(error?.message ?? error), type: 'upstream_error', code: null } }
  if (!res.headersSent) res.status(502).json(body)
  else if (!res.writableEnded) res.end(`data: ${JSON.stringify(body)}\n\n`)
}

// Each mode builds its client once and returns the Express handler for POST /chat.
const modes = {
  async streamdelta() {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (req, res) => {
      // pipeTo does the headers, backpressure, disconnects and errors; it never rejects.
      const result = await client.chat(chatBody(req.body.prompt)).pipeTo(res)
      if (!result.ok && result.error?.name !== 'AbortError')
        console.error(`relay streamdelta: ${result.error?.message}`)
    }
  },

  // The AI SDK's UI message stream, rendered by the engine: the row to set against 'ai-sdk'.
  async 'streamdelta-ai-sdk'() {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (req, res) => {
      const result = await client.chat(chatBody(req.body.prompt)).pipeTo(res, { format: 'ai-sdk' })
      if (!result.ok && result.error?.name !== 'AbortError')
        console.error(`relay streamdelta-ai-sdk: ${result.error?.message}`)
    }
  },

  // The plain relay made resumable: every batch also XADDed to Redis (REDIS_URL), one relay id
  // per request, as a chat app would use its chat ids.
  async 'streamdelta-resumable'() {
    const { Client, RelayStore } = await import('../index.mjs')
    const { randomUUID } = await import('node:crypto')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    const store = new RelayStore({ url: process.env.REDIS_URL, ttl: 120, prefix: 'bench:' })
    return async (req, res) => {
      const resumable = { store, id: randomUUID() }
      const result = await client.chat(chatBody(req.body.prompt)).pipeTo(res, { format: 'openai', resumable })
      if (!result.ok && result.error?.name !== 'AbortError')
        console.error(`relay streamdelta-resumable: ${result.error?.message}`)
    }
  },

  async openai() {
    const { default: OpenAI } = await import('openai')
    const openai = new OpenAI({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (req, res) => {
      const signal = clientGone(res)
      try {
        const stream = await openai.chat.completions.create({ ...chatBody(req.body.prompt), stream: true }, { signal })
        res.writeHead(200, SSE_HEADERS)
        for await (const chunk of stream) {
          if (signal.aborted) break
          if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`)) await drained(res)
        }
        if (!signal.aborted) res.end('data: [DONE]\n\n')
      } catch (error) {
        fail(res, error, signal)
      }
    }
  },

  async 'ai-sdk'() {
    const { streamText, toUIMessageStream, pipeUIMessageStreamToResponse } = await import('ai')
    const { createOpenAI } = await import('@ai-sdk/openai')
    const provider = createOpenAI({ baseURL, apiKey: 'sk-bench' })
    return async (req, res) => {
      // As ai v7's docs write an Express route (docs/02-getting-started/08-angular.mdx): the
      // UI message stream (SSE `data: {"type":"text-delta",...}` parts, then `data: [DONE]`)
      // through the standalone helpers; result.pipeUIMessageStreamToResponse(res) is the same
      // code path, deprecated in v7. The helper handles drain and client disconnects.
      const result = streamText({ model: provider.chat(MODEL), prompt: req.body.prompt, maxRetries: 0 })
      await pipeUIMessageStreamToResponse({ response: res, stream: toUIMessageStream({ stream: result.stream }) })
    }
  },

  async 'fetch-eventsource-parser'() {
    const { createParser } = await import('eventsource-parser')
    return async (req, res) => {
      const signal = clientGone(res)
      try {
        const upstream = await fetch(`${baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
          body: JSON.stringify({ ...chatBody(req.body.prompt), stream: true }),
          signal,
        })
        if (!upstream.ok) throw new Error(`upstream answered ${upstream.status}`)
        res.writeHead(200, SSE_HEADERS)
        let full = false
        const parser = createParser({
          onEvent(event) {
            // Parsed and re-serialised: the hand-rolled relay that looks at (or could edit) each
            // chunk, and never forwards a line that is not JSON.
            const data = event.data === '[DONE]' ? '[DONE]' : JSON.stringify(JSON.parse(event.data))
            if (!res.write(`data: ${data}\n\n`)) full = true
          },
        })
        // stream: true keeps a multi-byte character split across two reads whole.
        const decoder = new TextDecoder()
        for await (const bytes of upstream.body) {
          parser.feed(decoder.decode(bytes, { stream: true }))
          // One read can hold many events: stop reading the upstream until the client caught up.
          if (full) {
            full = false
            await drained(res)
          }
          if (signal.aborted) break
        }
        parser.feed(decoder.decode())
        if (!signal.aborted) res.end()
      } catch (error) {
        fail(res, error, signal)
      }
    }
  },
}

requireNodeForPeers()
if (!modes[mode] || !origin) {
  console.error(`usage: node bench/relay-server.mjs <${Object.keys(modes).join('|')}> <upstreamOrigin>`)
  process.exit(2)
}

const app = express()
app.post('/chat', express.json(), await modes[mode]())
const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })))
process.on('SIGTERM', () => process.exit(0))
