// `npm run demo`: streams a chat completion to the terminal. Against a real server when
// OPENAI_API_KEY (and optionally OPENAI_BASE_URL / OPENAI_MODEL) are set; otherwise against a
// small local server started here, so a fresh clone shows tokens flowing with no key.
import http from 'node:http'
import { once } from 'node:events'
import { Client } from '../index.mjs'

const prompt = process.argv.slice(2).join(' ') || 'Explain in two sentences why streaming responses feel faster.'

const ANSWER =
  'Streaming sends each token the moment the model produces it, so the first words appear ' +
  'in a fraction of a second instead of after the whole answer is ready. Your eyes start ' +
  'reading while the rest is still being written, which makes the wait feel much shorter. ✨'

/** A local OpenAI-compatible server that streams ANSWER word by word. */
async function startLocalServer() {
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const base = { id: 'chatcmpl-demo', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: 'demo-model' }
    const send = (choice, extra = {}) => res.write(`data: ${JSON.stringify({ ...base, choices: choice ? [choice] : [], ...extra })}\n\n`)
    const words = ANSWER.split(/(?<= )/)
    send({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null })
    let i = 0
    const timer = setInterval(() => {
      if (i < words.length) return send({ index: 0, delta: { content: words[i++] }, finish_reason: null })
      clearInterval(timer)
      send({ index: 0, delta: {}, finish_reason: 'stop' })
      send(null, { usage: { prompt_tokens: 12, completion_tokens: words.length, total_tokens: 12 + words.length } })
      res.end('data: [DONE]\n\n')
    }, 35)
    res.on('close', () => clearInterval(timer))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, url: `http://127.0.0.1:${server.address().port}/v1` }
}

const useRealServer = Boolean(process.env.OPENAI_API_KEY)
let local = null
let client
if (useRealServer) {
  client = new Client()
  console.error(`streamdelta demo: streaming from ${client.baseURL}`)
} else {
  local = await startLocalServer()
  client = new Client({ baseURL: local.url, apiKey: 'demo' })
  console.error('streamdelta demo: no OPENAI_API_KEY set, streaming from a built-in local server')
}

const stream = client.chat({
  model: process.env.OPENAI_MODEL ?? (useRealServer ? 'gpt-4o-mini' : 'demo-model'),
  messages: [{ role: 'user', content: prompt }],
  stream_options: { include_usage: true },
})
process.once('SIGINT', () => stream.abort('interrupted'))

let finish = null
try {
  stream.on('finish', (reason) => (finish = reason))
  for await (const text of stream.text()) process.stdout.write(text)
  process.stdout.write('\n')
  const { ttftMs, chunks, durationMs } = stream.stats
  const usage = (await stream.final()).usage
  const tokens = usage?.completion_tokens ?? chunks
  const rate = durationMs > 0 ? (tokens / (durationMs / 1000)).toFixed(1) : '?'
  console.error(`\n[first token ${ttftMs?.toFixed(0)} ms · ${tokens} tokens · ${rate} tokens/s · finish: ${finish ?? 'unknown'}]`)
} catch (error) {
  console.error(`\n${error.name} (${error.code}): ${error.message}`)
  process.exitCode = 1
} finally {
  local?.server.close()
}
