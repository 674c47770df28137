// streamdelta + Express 5: a chat completion relayed to the browser as it streams.
//
//   npm run example:express                          a built-in local upstream, no key needed
//   OPENAI_API_KEY=sk-... npm run example:express    the real API (OPENAI_MODEL, OPENAI_BASE_URL)
//   REDIS_URL=redis://127.0.0.1:6379 ...             answers survive reloads and dropped connections
//
// then open http://127.0.0.1:3000 (PORT changes the port). Two pages:
// - `/` (index.html) reads `POST /chat/:id` with `streamdelta/browser` (`readRelay`): the
//   route relays `client.chat(...)` with `pipeTo(res, { format: 'events' })`. With REDIS_URL
//   the relay is resumable (a RelayStore): the page reconnects through `GET /chat/:id/stream`
//   with Last-Event-ID when its connection drops, picks an answer up again after a reload, and
//   Stop cancels it with `POST /chat/:id/cancel`.
// - `/ai-sdk` (ai-sdk.html + ai-sdk-page.jsx, bundled with esbuild on first request) is a
//   React page with the AI SDK's `useChat`: `POST /api/chat` relays in the `ai-sdk` format,
//   and `GET /api/chat/:id/stream` is what its `resume: true` asks for (204 when there is
//   nothing to resume, always so without REDIS_URL).
// `GET /chat?prompt=...` and `POST /chat` with `{ "prompt": "..." }` relay the same events
// for EventSource, curl and fetch readers.
import http from 'node:http'
import { once } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import express from 'express'
import { Client, RelayStore, toChatMessages } from 'streamdelta'

const HERE = fileURLToPath(new URL('.', import.meta.url))
/** The package's page module, served to the page as it ships (plain ESM, no bundler needed). */
const BROWSER_MODULE = fileURLToPath(import.meta.resolve('streamdelta/browser'))
/** Chat ids are made by the pages: a few safe characters, so that they are fine as Redis keys. */
const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Starts the example app.
 * @param {object} [options]
 * @param {number} [options.port] default 3000; 0 picks a free port
 * @param {string} [options.host] default '127.0.0.1'
 * @param {string} [options.upstreamURL] an OpenAI-compatible base URL (`.../v1`) to relay from;
 *   without it: the real API when OPENAI_API_KEY is set, else a built-in local upstream
 * @param {string} [options.apiKey] the upstream key (default: OPENAI_API_KEY)
 * @param {string} [options.model] default: OPENAI_MODEL or 'gpt-4o-mini'
 * @param {string | null} [options.redisUrl] default: REDIS_URL; with it the relays are resumable
 * @returns {Promise<{ url: string, upstreamURL: string, resumable: boolean, close(): Promise<void> }>}
 */
export async function start({
  port = 3000,
  host = '127.0.0.1',
  upstreamURL,
  apiKey,
  model,
  redisUrl = process.env.REDIS_URL || null,
} = {}) {
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
  // One store per process; every instance behind a load balancer points at the same Redis.
  const store = redisUrl ? new RelayStore({ url: redisUrl, ttl: 3600 }) : null

  const app = express()
  app.get('/', (req, res) => res.sendFile('index.html', { root: HERE }))
  app.get('/streamdelta-browser.mjs', (req, res) => res.type('text/javascript').sendFile(BROWSER_MODULE))
  app.get('/ai-sdk', (req, res) => res.sendFile('ai-sdk.html', { root: HERE }))
  app.get('/ai-sdk.js', async (req, res) => {
    try {
      res.type('text/javascript').send(await aiSdkBundle())
    } catch (error) {
      res.status(500).type('text/plain').send(`could not bundle ai-sdk-page.jsx: ${error.message}`)
    }
  })
  // What the pages may know: whether answers are resumable here.
  app.get('/config.json', (req, res) => res.json({ resumable: store !== null }))

  const badRequest = (res, message) =>
    res.status(400).json({ error: { message, type: 'invalid_request_error', code: null } })
  const chatBody = (messages) => ({ model: chatModel, messages, stream_options: { include_usage: true } })
  const report = (result) => {
    if (!result.ok && result.error?.name !== 'AbortError') console.error(`relay failed: ${result.error?.message}`)
  }

  // The relay: one line of streamdelta. pipeTo never rejects; it resolves { ok, final?, error? }.
  async function relay(prompt, res, id = null) {
    if (typeof prompt !== 'string' || prompt.trim() === '') return badRequest(res, 'prompt is required')
    const stream = client.chat(chatBody([{ role: 'user', content: prompt }]))
    const resumable = store && id ? { store, id } : undefined
    report(await stream.pipeTo(res, { format: 'events', resumable }))
  }
  app.get('/chat', (req, res) => relay(req.query.prompt, res))
  app.post('/chat', express.json(), (req, res) => relay(req.body?.prompt, res))
  app.post('/chat/:id', express.json(), (req, res) => {
    if (!CHAT_ID.test(req.params.id)) return badRequest(res, 'bad chat id')
    return relay(req.body?.prompt, res, req.params.id)
  })
  // Where the page reconnects (Last-Event-ID) or picks an answer up after a reload.
  app.get('/chat/:id/stream', (req, res) => resumeRoute(req, res, 'events'))
  app.post('/chat/:id/cancel', async (req, res) => {
    if (!store || !CHAT_ID.test(req.params.id)) return res.status(404).json({ cancelled: false })
    res.json({ cancelled: await store.cancel(req.params.id).catch(() => false) })
  })

  // useChat: it posts { id, messages, trigger, messageId }; the server picks the model.
  app.post('/api/chat', express.json({ limit: '1mb' }), (req, res) => {
    let messages
    try {
      messages = toChatMessages(req.body?.messages)
    } catch (error) {
      return badRequest(res, error.message)
    }
    const id = typeof req.body?.id === 'string' && CHAT_ID.test(req.body.id) ? req.body.id : null
    const resumable = store && id ? { store, id } : undefined
    client.chat(chatBody(messages)).pipeTo(res, { format: 'ai-sdk', resumable }).then(report)
  })
  // useChat's `resume: true` GETs this on mount: 204 when there is nothing to resume.
  app.get('/api/chat/:id/stream', (req, res) => resumeRoute(req, res, 'ai-sdk'))

  function resumeRoute(req, res, format) {
    if (!CHAT_ID.test(req.params.id)) return badRequest(res, 'bad chat id')
    if (!store) return res.status(204).end()
    store.resume(req.params.id, res, { format, lastEventId: req.get('last-event-id') ?? null }).then(report)
  }

  const server = http.createServer(app)
  try {
    server.listen(port, host)
    await once(server, 'listening')
  } catch (error) {
    await local?.close()
    await store?.close()
    throw error
  }
  const address = server.address()
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    upstreamURL: client.baseURL,
    resumable: store !== null,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve()))
      await store?.close()
      await local?.close()
    },
  }
}

/** The React page, bundled once with esbuild (a dev dependency: install it to serve /ai-sdk). */
let bundle = null
function aiSdkBundle() {
  bundle ??= (async () => {
    const esbuild = await import('esbuild')
    const result = await esbuild.build({
      entryPoints: [fileURLToPath(new URL('ai-sdk-page.jsx', import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      minify: true,
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    })
    return result.outputFiles[0].text
  })().catch((error) => {
    bundle = null // a later request tries again
    throw error
  })
  return bundle
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
