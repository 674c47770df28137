// streamdelta/browser's reconnection: a resumable relay route (pipeTo with `resumable` on a real
// redis-server) whose connection the server cuts mid-answer; the reader GETs `resumeUrl` with
// Last-Event-ID and yields the whole text exactly once. Node's fetch stands in for a page's.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { readRelay, RelayError } from 'streamdelta/browser'
import { Client, RelayStore } from '../index.mjs'
import { startMockServer } from '../testing.mjs'
import { startRedis, skipWithoutRedis } from './helpers/redis.mjs'

const WORDS = Array.from({ length: 40 }, (_, i) => `w${i} `)
const SCRIPT = JSON.stringify({ text: WORDS, intervalMs: 25 })

let redis
let mock
let store
let server
let base
/** Each request the route saw: method, path, Last-Event-ID. */
const seen = []

describe('streamdelta/browser reconnects to a resumable route', { skip: skipWithoutRedis }, () => {
  before(async () => {
    redis = await startRedis()
    mock = await startMockServer()
    store = new RelayStore({ url: redis.url, ttl: 60 })
    const client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
    server = http.createServer(async (req, res) => {
      for await (const _ of req); // the body is not needed here
      const [, , id, action] = new URL(req.url, 'http://x').pathname.split('/')
      seen.push({ method: req.method, id, action, lastEventId: req.headers['last-event-id'] ?? null })
      if (req.method === 'POST') {
        const stream = client.chat(
          { model: 'mock', messages: [{ role: 'user', content: 'Hi' }] },
          { headers: { 'x-mock-script': SCRIPT } },
        )
        // The network drops mid-answer: the socket is cut while the answer is still coming.
        setTimeout(() => res.socket?.destroy(), 250)
        await stream.pipeTo(res, { format: 'events', resumable: { store, id } })
      } else if (action === 'stream') {
        await store.resume(id, res, { format: 'events', lastEventId: req.headers['last-event-id'] ?? null })
      } else res.writeHead(404).end()
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${server.address().port}`
  })

  after(async () => {
    server?.closeAllConnections()
    server?.close()
    await store?.close()
    await mock?.close()
    await redis?.stop()
  })

  test('the connection cut mid-answer: the reader resumes with Last-Event-ID and yields the whole text once', async () => {
    const reader = readRelay(`${base}/chat/x1`, {
      body: { messages: [] },
      resumeUrl: `${base}/chat/x1/stream`,
      reconnectDelay: 20,
    })
    const texts = []
    let done = null
    reader.on('done', (text) => (done = text))
    for await (const delta of reader) if (delta.type === 'text') texts.push(delta.text)
    assert.equal(texts.join(''), WORDS.join(''), 'every word, none twice')
    assert.equal(done, WORDS.join(''))
    const resumes = seen.filter((r) => r.id === 'x1' && r.action === 'stream')
    assert.ok(resumes.length >= 1, 'it reconnected')
    assert.match(resumes[0].lastEventId, /^\d+-\d+$/, 'with the last SSE id it had')
    // The same text as a full replay of the log, delta for delta: nothing repeated.
    const replay = []
    for await (const delta of readRelay(`${base}/chat/x1/stream`)) if (delta.type === 'text') replay.push(delta.text)
    assert.deepEqual(texts, replay)
  })

  test('without resumeUrl the cut fails the reader, as before', async () => {
    const reader = readRelay(`${base}/chat/x2`, { body: { messages: [] } })
    await assert.rejects(reader.finalText(), (error) => {
      // Node's fetch reports the cut body as a TypeError ('terminated').
      assert.ok(error.name === 'TypeError' || /ended before its done event/.test(error.message), String(error))
      return true
    })
    assert.equal(seen.filter((r) => r.id === 'x2' && r.action === 'stream').length, 0)
  })

  test('a resume route that has no record (204) ends the reader with RelayError not_resumable', async () => {
    const reader = readRelay(`${base}/chat/x3`, {
      body: { messages: [] },
      resumeUrl: `${base}/chat/nobody/stream`,
      reconnectDelay: 20,
    })
    await assert.rejects(reader.finalText(), (error) => {
      assert.ok(error instanceof RelayError)
      assert.equal(error.code, 'not_resumable')
      assert.equal(error.status, 204)
      return true
    })
  })

  test('bad reconnection options throw TypeErrors naming them', () => {
    assert.throws(() => readRelay('/x', { resumeUrl: 5 }), /resumeUrl must be a string or URL/)
    assert.throws(() => readRelay('/x', { maxReconnects: -1 }), /maxReconnects must be a whole number/)
    assert.throws(() => readRelay('/x', { reconnectDelay: 'soon' }), /reconnectDelay must be a number/)
    assert.throws(() => readRelay('/x', { resumeURL: '/y' }), /unknown readRelay option 'resumeURL'/)
  })
})
