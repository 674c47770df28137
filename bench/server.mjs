// The benchmark's server, run in its own process so its CPU never counts against a client.
// POST /v1/chat/completions answers with one pre-built SSE stream of N content chunks shaped
// like OpenAI's (ids, obfuscation padding, logprobs: null, a role chunk, a finish chunk, a
// usage chunk, [DONE]). The bytes are built once at start so the server does no per-request
// JSON work and cannot be the bottleneck.
// Prints one JSON line to stdout: { port, chunks, bodyBytes, textSha256 }.
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { buildChatStream } from './chat-body.mjs'

const N = Number(process.env.CHUNKS ?? 100_000)
// Writes of this size, waiting for 'drain' when the socket is full: the stream goes as fast as
// the client reads, and multi-byte characters get split across reads now and then.
const WRITE_BYTES = 16 * 1024

const { body, text } = buildChatStream(N)

const server = http.createServer(async (req, res) => {
  for await (const _ of req); // drain the request body
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end('{"error":{"message":"not found","type":"invalid_request_error"}}')
    return
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    'openai-processing-ms': '120',
  })
  let closed = false
  res.on('close', () => (closed = true))
  for (let at = 0; at < body.length && !closed; at += WRITE_BYTES) {
    if (!res.write(body.subarray(at, at + WRITE_BYTES))) {
      // Backpressure: wait until the socket has room (or the client went away).
      await new Promise((resolve) => {
        const done = () => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    }
  }
  if (!closed) res.end()
})

server.listen(0, '127.0.0.1', () => {
  const textSha256 = createHash('sha256').update(text).digest('hex')
  console.log(JSON.stringify({ port: server.address().port, chunks: N, bodyBytes: body.length, textSha256 }))
})
