// The benchmark's server, run in its own process so its CPU never counts against a client.
// POST /v1/chat/completions answers with one pre-built SSE stream of N content chunks shaped
// like OpenAI's (ids, obfuscation padding, logprobs: null, a role chunk, a finish chunk, a
// usage chunk, [DONE]). The bytes are built once at start so the server does no per-request
// JSON work and cannot be the bottleneck.
// Prints one JSON line to stdout: { port, chunks, bodyBytes, textSha256 }.
import http from 'node:http'
import { createHash } from 'node:crypto'

const N = Number(process.env.CHUNKS ?? 100_000)
// Writes of this size, waiting for 'drain' when the socket is full: the stream goes as fast as
// the client reads, and multi-byte characters get split across reads now and then.
const WRITE_BYTES = 16 * 1024

// A small deterministic PRNG (mulberry32) so every run sends the same bytes.
let seed = 42
function random() {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
function randomString(length) {
  let s = ''
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)]
  return s
}

// Tokens as a tokenizer emits them: mostly ASCII words with a leading space, some
// punctuation and newlines, and multi-byte text (2-, 3- and 4-byte UTF-8) plus JSON escapes.
const TOKENS = [
  ' the', ' of', ' and', ' to', ' a', ' in', ' stream', ' token', 'ing', ',', '.', '\n\n',
  ' héllo', ' café', ' naïve', ' 日本', '語', ' 東京', ' 🙂', '🚀', ' "quoted"', ' tab\t', ' back\\slash',
  ' Rust', ' Node', '.js', ' model', ' response', ' because', ' however', ' 12', '34',
]

const id = `chatcmpl-${randomString(29)}`
const created = 1767225600 // 2026-01-01T00:00:00Z
const model = 'gpt-4o-mini-2024-07-18'
const fingerprint = 'fp_' + randomString(10).toLowerCase()

/** One chunk, with OpenAI's key order; `obfuscation` pads it as OpenAI does. */
function chunk(choices, extra = {}) {
  return JSON.stringify({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: fingerprint,
    choices,
    ...extra,
    obfuscation: randomString(2 + Math.floor(random() * 14)),
  })
}
const choice = (delta, finish_reason = null) => [{ index: 0, delta, logprobs: null, finish_reason }]

const events = [chunk(choice({ role: 'assistant', content: '', refusal: null }))]
let text = ''
for (let i = 0; i < N; i++) {
  const token = TOKENS[Math.floor(random() * TOKENS.length)]
  text += token
  events.push(chunk(choice({ content: token })))
}
events.push(chunk(choice({}, 'stop')))
events.push(
  chunk([], {
    usage: {
      prompt_tokens: 21,
      completion_tokens: N,
      total_tokens: N + 21,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
  }),
)
const body = Buffer.from(events.map((e) => `data: ${e}\n\n`).join('') + 'data: [DONE]\n\n', 'utf8')

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
    'x-request-id': `req_${randomString(32)}`,
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
