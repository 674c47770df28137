// streamdelta/browser (browser.mjs) read against a real relay route: node:http with
// `pipeTo(res, { format: 'events' })` over the package's mock upstream. Node's fetch stands in
// for a page's (the module uses only fetch, TextDecoder and AbortController).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { readRelay, RelayError } from 'streamdelta/browser'
import { Client } from '../index.mjs'
import { startMockServer } from '../testing.mjs'

let mock
let server
let url

before(async () => {
  mock = await startMockServer()
  const client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
  server = http.createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const { model } = JSON.parse(body || '{}')
    client
      .chat({ model, messages: [{ role: 'user', content: 'Hi' }], stream_options: { include_usage: true } })
      .pipeTo(res, { format: 'events' })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${server.address().port}/chat`
})

after(async () => {
  server.closeAllConnections()
  server.close()
  await mock.close()
})

function read(script, options = {}) {
  const model = `m-${Math.random().toString(36).slice(2)}`
  mock.scripts[model] = script
  return { reader: readRelay(url, { body: { model }, ...options }), model }
}

test('text, a tool call, the finish and usage as the Delta union', async () => {
  const { reader } = read({
    text: 'Hello there',
    toolCalls: [{ id: 'call_1', name: 'weather', arguments: { city: 'Paris' } }],
  })
  const snapshots = []
  reader.on('text', (_text, snapshot) => snapshots.push(snapshot))
  const deltas = []
  for await (const delta of reader) deltas.push(delta)
  assert.equal(
    deltas
      .filter((d) => d.type === 'text')
      .map((d) => d.text)
      .join(''),
    'Hello there',
  )
  assert.equal(snapshots.at(-1), 'Hello there')
  const call = deltas.find((d) => d.type === 'toolCall')
  assert.equal(call.id, 'call_1')
  assert.equal(JSON.parse(call.arguments).city, 'Paris')
  assert.ok(deltas.some((d) => d.type === 'toolCallDelta'))
  assert.deepEqual(
    deltas.find((d) => d.type === 'finish'),
    { type: 'finish', choice: 0, reason: 'tool_calls' },
  )
  assert.equal(typeof deltas.find((d) => d.type === 'usage').usage.total_tokens, 'number')
  assert.equal(await reader.finalText(), 'Hello there')
})

test('an upstream error mid-stream: RelayError with its message, after the text so far', async () => {
  const { reader } = read({ text: 'one two three four', fault: { errorAfter: 3, error: { message: 'It broke.' } } })
  const texts = []
  await assert.rejects(
    (async () => {
      for await (const text of reader.text()) texts.push(text)
    })(),
    (error) => error instanceof RelayError && error.message === 'It broke.',
  )
  assert.ok(texts.join('').startsWith('one'))
  await assert.rejects(reader.finalText(), RelayError)
})

test('an HTTP error answer is a RelayError with its status', async () => {
  const { reader } = read({ fault: { status: 400, error: { message: 'Bad settings.' } } })
  await assert.rejects(reader.finalText(), (error) => error instanceof RelayError && error.status === 400)
})

test('abort() closes the request, and the route aborts its upstream', async () => {
  const { reader, model } = read({ text: 'tick', repeat: 1000, intervalMs: 10 })
  let n = 0
  await assert.rejects(
    (async () => {
      for await (const delta of reader) if (delta.type === 'text' && ++n === 3) reader.abort()
    })(),
    { name: 'AbortError' },
  )
  const request = mock.requests.findLast((r) => r.model === model)
  await request.closed
  assert.equal(request.clientClosed, true)
})
