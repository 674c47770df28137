// A local HTTP server on 127.0.0.1 for tests: each test gives a handler, the helper tracks
// requests and sockets so tests can assert what the engine really did on the wire.
import http from 'node:http'
import { once } from 'node:events'

/**
 * @param {(req: http.IncomingMessage, res: http.ServerResponse, body: string) => void} handler
 */
export async function startServer(handler) {
  const sockets = new Set()
  const requests = []
  const closedSockets = []
  const server = http.createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    requests.push({ method: req.method, url: req.url, headers: req.headers, body })
    try {
      await handler(req, res, body)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500)
      res.end(String(error))
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      closedSockets.push(Date.now())
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    sockets,
    closedSockets,
    /** Resolves once no client socket is open (or rejects after `ms`). */
    async waitForNoSockets(ms = 2000) {
      const deadline = Date.now() + ms
      while (sockets.size > 0) {
        if (Date.now() > deadline) throw new Error(`${sockets.size} socket(s) still open after ${ms} ms`)
        await new Promise((r) => setTimeout(r, 5))
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

/** Writes a chat.completion.chunk as SSE. */
export function sseChunk(res, chunk) {
  return res.write(`data: ${JSON.stringify(chunk)}\n\n`)
}

export function chatChunk(delta, { finish = null, index = 0, id = 'chatcmpl-test', usage } = {}) {
  const chunk = {
    id,
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'test-model',
    choices: [{ index, delta, finish_reason: finish }],
  }
  if (usage) chunk.usage = usage
  return chunk
}

export function startSse(res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-request-id': 'req_test_123',
  })
}

/** A complete, well-formed chat stream for `words`. */
export function writeChatStream(res, words, { usage = true } = {}) {
  startSse(res)
  sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
  for (const word of words) sseChunk(res, chatChunk({ content: word }))
  sseChunk(res, chatChunk({}, { finish: 'stop' }))
  if (usage)
    sseChunk(res, {
      id: 'chatcmpl-test',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'test-model',
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length },
    })
  res.end('data: [DONE]\n\n')
}

/** A port on 127.0.0.1 where nothing listens: bound, then released. */
export async function freePort() {
  const probe = http.createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address()
  probe.close()
  await once(probe, 'close')
  return port
}
