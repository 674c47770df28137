// streamdelta + Express 5: a chat completion relayed to the browser as it streams.
//
//   npm run example:express                          a built-in local upstream, no key needed
//   OPENAI_API_KEY=sk-... npm run example:express    the real API (OPENAI_MODEL, OPENAI_BASE_URL)
//
// then open http://127.0.0.1:3000 (PORT changes the port). The page (index.html) opens an
// EventSource on GET /chat?prompt=...; the route relays `client.chat(...)` with
// `pipeTo(res, { format: 'events' })`: named SSE events (`text`, `finish`, `usage`, `error`,
// `done`) with headers, heartbeats and backpressure handled, and the upstream request aborted
// when the browser goes away. POST /chat with `{ "prompt": "..." }` serves fetch readers the
// same events.
import http from 'node:http'
import { once } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import express from 'express'
import { Client } from 'streamdelta'

const HERE = fileURLToPath(new URL('.', import.meta.url))

/**
 * Starts the example app.
 * @param {object} [options]
 * @param {number} [options.port] default 3000; 0 picks a free port
 * @param {string} [options.host] default '127.0.0.1'
 * @param {string} [options.upstreamURL] an OpenAI-compatible base URL (`.../v1`) to relay from;
 *   without it: the real API when OPENAI_API_KEY is set, else a built-in local upstream
 * @param {string} [options.apiKey] the upstream key (default: OPENAI_API_KEY)
 * @param {string} [options.model] default: OPENAI_MODEL or 'gpt-4o-mini'
 * @returns {Promise<{ url: string, upstreamURL: string, close(): Promise<void> }>}
 */
export async function start({ port = 3000, host = '127.0.0.1', upstreamURL, apiKey, model } = {}) {
  let local = null
  let client
  if (upstreamURL) {
    client = new Client({ baseURL: upstreamURL, apiKey: apiKey ?? process.env.OPENAI_API_KEY ?? 'sk-local' })
  } else if (apiKey ?? process.env.OPENAI_API_KEY) {
    client = new Client({ apiKey: apiKey ?? process.env.OPENAI_API_KEY }) // baseURL: OPENAI_BASE_URL or OpenAI
  } else {
    local = await startLocalUpstream()
    client = new Client({ baseURL: local.url, apiKey: 'sk-local' })
  }
  const chatModel = model ?? process.env.OPENAI_MODEL ?? 'gpt-4o-mini'

  const app = express()
  app.get('/', (req, res) => res.sendFile('index.html', { root: HERE }))

  // The relay: one line of streamdelta. pipeTo never rejects; it resolves { ok, final?, error? }.
  async function relay(prompt, res) {
    if (typeof prompt !== 'string' || prompt.trim() === '') {
      return res
        .status(400)
        .json({ error: { message: 'prompt is required', type: 'invalid_request_error', code: null } })
    }
    const body = {
      model: chatModel,
      messages: [{ role: 'user', content: prompt }],
      stream_options: { include_usage: true },
    }
    const result = await client.chat(body).pipeTo(res, { format: 'events' })
    if (!result.ok && result.error?.name !== 'AbortError') console.error(`relay failed: ${result.error?.message}`)
  }
  app.get('/chat', (req, res) => relay(req.query.prompt, res))
  app.post('/chat', express.json(), (req, res) => relay(req.body?.prompt, res))

  const server = http.createServer(app)
  try {
    server.listen(port, host)
    await once(server, 'listening')
  } catch (error) {
    await local?.close()
    throw error
  }
  const address = server.address()
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    upstreamURL: client.baseURL,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve()))
      await local?.close()
    },
  }
}

/** The built-in upstream's answer: a word every 40 ms, so the streaming is visible. */
function localAnswer(prompt) {
  return (
    `You asked: "${prompt}". This answer comes from the example's built-in local upstream, ` +
    'one word every 40 ms, relayed by streamdelta with pipeTo(res, { format: "events" }). ' +
    'Set OPENAI_API_KEY to talk to the real API.'
  )
}

function promptOf(body) {
  const last = Array.isArray(body?.messages) ? body.messages.at(-1)?.content : undefined
  return typeof last === 'string' ? last : ''
}

/**
 * A local OpenAI-compatible upstream: streamdelta's own mock server (`streamdelta/testing`)
 * when the package has it, else a few lines of SSE.
 */
async function startLocalUpstream() {
  let testing = null
  try {
    testing = await import('streamdelta/testing')
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' && error?.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error
  }
  if (testing?.startMockServer) {
    return testing.startMockServer({
      script: (request) => ({ text: localAnswer(promptOf(request.body)), intervalMs: 40, usage: true }),
    })
  }
  return startInlineUpstream()
}

/** The fallback: POST .../chat/completions streams `localAnswer` as chat.completion.chunk SSE. */
async function startInlineUpstream() {
  const server = http.createServer(async (req, res) => {
    let text = ''
    for await (const piece of req) text += piece
    let body = null
    try {
      body = JSON.parse(text)
    } catch {}
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions') || !body) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', code: null } }))
    }
    const words = localAnswer(promptOf(body)).match(/\s*\S+/g)
    const created = Math.floor(Date.now() / 1000)
    const send = (fields) =>
      res.write(
        `data: ${JSON.stringify({ id: 'chatcmpl-local', object: 'chat.completion.chunk', created, model: body.model, ...fields })}\n\n`,
      )
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
    send({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })
    for (const word of words) {
      await new Promise((resolve) => setTimeout(resolve, 40))
      if (res.destroyed) return
      send({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })
    }
    send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
    const promptTokens = Math.ceil(promptOf(body).length / 4)
    send({
      choices: [],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: words.length,
        total_tokens: promptTokens + words.length,
      },
    })
    res.end('data: [DONE]\n\n')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

// `node examples/express/server.mjs`: start on PORT (default 3000) until Ctrl-C.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await start({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
  console.log(`streamdelta Express example: ${app.url}  (upstream: ${app.upstreamURL})`)
  const stop = () => app.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
