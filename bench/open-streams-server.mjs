// The open-streams benchmark's server, in its own process so its CPU and memory never count
// against a client. POST /v1/chat/completions answers the headers, the role chunk and one
// content chunk at once, then holds the stream open: a model that has started answering and is
// thinking about its next token. POST /release ends every held stream (a finish chunk, a usage
// chunk and [DONE]) so the client can check it got each one whole. GET /stats reports how many
// streams are held. Prints one JSON line: { port, firstText }.
import http from 'node:http'

const FIRST_TEXT = 'Once upon a time é東🙂'
const created = 1767225600
const model = 'gpt-4o-mini-2024-07-18'
const event = (id, choices, extra = {}) =>
  `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_open', choices, ...extra })}\n\n`
const choice = (delta, finish_reason = null) => [{ index: 0, delta, logprobs: null, finish_reason }]
const usage = { prompt_tokens: 21, completion_tokens: 1, total_tokens: 22 }

const held = new Set()
let requests = 0
const server = http.createServer({ noDelay: true }, async (req, res) => {
  for await (const _ of req); // drain the request body
  if (req.method === 'GET' && req.url === '/stats') return res.end(JSON.stringify({ held: held.size, requests }))
  if (req.method === 'POST' && req.url === '/release') {
    const released = held.size
    for (const s of held) s.res.end(event(s.id, choice({}, 'stop')) + event(s.id, [], { usage }) + 'data: [DONE]\n\n')
    held.clear()
    return res.end(JSON.stringify({ released }))
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' })
    return res.end('{"error":{"message":"not found","type":"invalid_request_error"}}')
  }
  requests++
  const id = `chatcmpl-${String(requests).padStart(29, '0')}`
  // connection: close, so that no client sends a held stream on the warm-up stream's socket:
  // fetch + eventsource-parser sent its first held stream on it in every attempt and got
  // "other side closed" (UND_ERR_SOCKET), so that peer never had all 10,000 streams open.
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'close',
  })
  res.write(
    event(id, choice({ role: 'assistant', content: '', refusal: null })) + event(id, choice({ content: FIRST_TEXT })),
  )
  const s = { id, res }
  held.add(s)
  res.on('close', () => held.delete(s))
})
// 10,000 connections arrive at once: the default backlog (511) would drop SYNs.
server.listen({ port: 0, host: '127.0.0.1', backlog: 16384 }, () => {
  console.log(JSON.stringify({ port: server.address().port, firstText: FIRST_TEXT }))
})
// No socket timeout: a held stream idles for as long as the client measures.
server.requestTimeout = 0
server.headersTimeout = 0
server.keepAliveTimeout = 5000
