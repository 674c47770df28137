// Resumable relays on a real Redis: a redis-server started here on a free port (persistence
// off), two "instances" (a RelayStore and a node:http server each) on it, the package's mock
// server as the upstream. Skipped, saying why, when redis-server is not installed (.ci/run
// installs Debian's package).
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { DefaultChatTransport, readUIMessageStream } from 'ai'
import { Client, RelayStore } from '../index.js'
import { startMockServer } from '../testing.js'
import { freePort } from './helpers/server.mjs'
import { startRedis, skipWithoutRedis } from './helpers/redis.mjs'

const require = createRequire(import.meta.url)
const skip = skipWithoutRedis
const TTL = 60
const WORDS = Array.from({ length: 40 }, (_, i) => `w${i} `)

let redis // { port, url, process, client }
let mock
const instances = []

/**
 * An instance of the service: its own RelayStore and http server on the shared Redis (or
 * `url`). `takeover`: the store gets the client, to take background responses over.
 * POST /chat/:id relays a chat answer, POST /responses/:id a background Responses answer.
 */
async function startInstance({ format = 'events', prefix, url = redis.url, takeover = false } = {}) {
  const client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
  const store = new RelayStore({
    url,
    ttl: TTL,
    ...(prefix ? { prefix } : {}),
    ...(takeover ? { client } : {}),
  })
  const results = []
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x')
    const [, kind, id, action] = url.pathname.split('/')
    if (req.method === 'POST' && kind === 'responses') {
      const stream = client.responses(
        { model: 'mock', input: 'hi', background: true },
        { headers: { 'x-mock-script': url.searchParams.get('script') } },
      )
      results.push(await stream.pipeTo(res, { format, resumable: { store, id } }))
    } else if (req.method === 'POST' && action === undefined) {
      const script = url.searchParams.get('script')
      const stream = client.chat(
        { model: 'mock', messages: [{ role: 'user', content: 'hi' }] },
        script ? { headers: { 'x-mock-script': script } } : {},
      )
      results.push(await stream.pipeTo(res, { format, resumable: { store, id } }))
    } else if (req.method === 'GET' && action === 'stream') {
      results.push(await store.resume(id, res, { format, lastEventId: req.headers['last-event-id'] ?? null }))
    } else if (req.method === 'POST' && action === 'cancel') {
      const cancelled = await store.cancel(id)
      res.end(JSON.stringify({ cancelled }))
    } else res.writeHead(404).end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const instance = { store, server, results, url: `http://127.0.0.1:${server.address().port}` }
  instances.push(instance)
  return instance
}

/** Parses SSE text into events `{ id, event, data }` (complete events only). */
function parseEvents(text) {
  const events = []
  for (const block of text.split('\n\n').slice(0, -1)) {
    const event = { id: null, event: 'message', data: '' }
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const name = line.slice(0, colon)
      const value = line.slice(colon + 2)
      if (name === 'id') event.id = value
      else if (name === 'event') event.event = value
      else if (name === 'data') event.data = value
    }
    if (event.data !== '' || event.event !== 'message') events.push(event)
  }
  return events
}

/** Reads an SSE response; `until(events)` true stops early (the request aborted). */
async function readSse(url, { method = 'GET', headers = {}, until } = {}) {
  const controller = new AbortController()
  const response = await fetch(url, { method, headers, signal: controller.signal })
  if (response.status !== 200) return { status: response.status, body: await response.text(), events: [] }
  const decoder = new TextDecoder()
  let text = ''
  try {
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true })
      if (until?.(parseEvents(text))) {
        controller.abort()
        break
      }
    }
  } catch (error) {
    if (error.name !== 'AbortError') throw error
  }
  return { status: response.status, text, events: parseEvents(text) }
}

const textOf = (events) =>
  events
    .filter((e) => e.event === 'text')
    .map((e) => JSON.parse(e.data))
    .join('')
const slow = (intervalMs = 25, words = WORDS) => encodeURIComponent(JSON.stringify({ text: words, intervalMs }))

async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** [name, value, name, value, ...] as pairs. */
function chunkPairs(flat) {
  const pairs = []
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([String(flat[i]), String(flat[i + 1])])
  return pairs
}

function compareIds(a, b) {
  const [am, as] = a.split('-').map(BigInt)
  const [bm, bs] = b.split('-').map(BigInt)
  return am === bm ? Number(as - bs) : Number(am - bm)
}

describe('resumable relays (Redis)', { skip }, () => {
  let a
  let b
  before(async () => {
    redis = await startRedis()
    mock = await startMockServer()
    a = await startInstance()
    b = await startInstance()
  })
  after(async () => {
    for (const instance of instances) {
      instance.server.close()
      await instance.store.close()
    }
    await redis?.client.close()
    await mock?.close()
    if (redis) {
      redis.process.kill('SIGTERM')
      await once(redis.process, 'exit')
    }
  })

  test('a client that drops off A resumes on B with Last-Event-ID and gets exactly the rest', async () => {
    const first = await readSse(`${a.url}/chat/c1?script=${slow()}`, {
      method: 'POST',
      until: (events) => events.filter((e) => e.event === 'text').length >= 8,
    })
    assert.ok(
      first.events.every((e) => e.id !== null),
      'every event carries an SSE id',
    )
    const lastId = first.events.at(-1).id
    const before = await redis.client.sendCommand(['CLIENT', 'LIST'])
    const rest = await readSse(`${b.url}/chat/c1/stream`, { headers: { 'last-event-id': lastId } })
    assert.equal(rest.status, 200)
    assert.equal(textOf(first.events) + textOf(rest.events), WORDS.join(''), 'the whole text, no gap, no repeat')
    assert.equal(rest.events.at(-1).event, 'done')
    assert.ok(compareIds(rest.events[0].id, lastId) > 0)
    // The upstream was not aborted when the client left.
    const request = mock.requests.at(-1)
    await request.closed
    assert.equal(request.clientClosed, false)
    // B's blocking reader is closed once the resume ended.
    await waitFor(
      async () => (await redis.client.sendCommand(['CLIENT', 'LIST'])).split('\n').length <= before.split('\n').length,
      2000,
      'the resumer connection to close',
    )
  })

  test('resume without Last-Event-ID replays everything, ids increasing, after the end too', async () => {
    const live = await readSse(`${a.url}/chat/c2?script=${slow(5)}`, { method: 'POST' })
    const replay = await readSse(`${b.url}/chat/c2/stream`)
    assert.deepEqual(replay.events, live.events)
    assert.equal(textOf(replay.events), WORDS.join(''))
    for (let i = 1; i < replay.events.length; i++)
      assert.ok(compareIds(replay.events[i].id, replay.events[i - 1].id) > 0)
    assert.equal(a.results.at(-1).ok, true)
  })

  test('Last-Event-ID inside a batch of several events resumes right after that event', async () => {
    // intervalMs 0: the mock writes everything at once, so batches hold several events.
    const live = await readSse(`${a.url}/chat/c3?script=${slow(0)}`, { method: 'POST' })
    assert.equal(textOf(live.events), WORDS.join(''))
    for (const k of [0, 1, 5, 17, live.events.length - 2, live.events.length - 1]) {
      const rest = await readSse(`${b.url}/chat/c3/stream`, { headers: { 'last-event-id': live.events[k].id } })
      assert.deepEqual(rest.events, live.events.slice(k + 1), `after event ${k}`)
    }
  })

  test('a long answer to a client that stalls: the live bytes (ids written into reused buffers) equal the replay', async () => {
    // 40,000 events as fast as the mock can write them, to a client that reads nothing for
    // 300 ms: the relay's writes queue up behind the full socket, so a buffer reused before
    // its write was done would show here as corrupted or repeated events.
    const script = encodeURIComponent(JSON.stringify({ text: WORDS, intervalMs: 0, repeat: 1000 }))
    const { status, text } = await new Promise((resolve, reject) => {
      const request = http.request(`${a.url}/chat/c-long?script=${script}`, { method: 'POST' }, (response) => {
        response.pause()
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk) => (body += chunk))
        response.on('end', () => resolve({ status: response.statusCode, text: body }))
        response.on('error', reject)
        setTimeout(() => response.resume(), 300)
      })
      request.on('error', reject)
      request.end()
    })
    assert.equal(status, 200)
    const live = parseEvents(text)
    assert.equal(textOf(live), WORDS.join('').repeat(1000))
    assert.ok(
      live.every((e) => e.id !== null),
      'every event carries an SSE id',
    )
    for (let i = 1; i < live.length; i++) assert.ok(compareIds(live[i].id, live[i - 1].id) > 0, `id ${i} increases`)
    const replay = await readSse(`${b.url}/chat/c-long/stream`)
    assert.equal(replay.text, text, 'the live client got exactly the bytes the log replays')
    assert.equal(a.results.at(-1).ok, true)
  })

  test('an unknown id answers 204 with no body', async () => {
    const response = await fetch(`${b.url}/chat/nobody/stream`)
    assert.equal(response.status, 204)
    assert.equal(await response.text(), '')
    assert.equal(b.results.at(-1).found, false)
  })

  test('the same id twice while the first is live is refused with a clear error', async () => {
    const first = readSse(`${a.url}/chat/c4?script=${slow(20)}`, { method: 'POST' })
    await waitFor(async () => (await redis.client.exists('streamdelta:relay-live:c4')) === 1, 2000, 'the marker')
    const second = await fetch(`${b.url}/chat/c4?script=${slow(20)}`, { method: 'POST' })
    assert.equal(second.status, 409)
    const body = await second.json()
    assert.match(body.error.message, /relay 'c4' is already live/)
    assert.equal(b.results.at(-1).error.code, 'ERR_RELAY_LIVE')
    const done = await first
    assert.equal(textOf(done.events), WORDS.join(''), 'the first relay is unharmed')
  })

  test('cancel from B aborts the upstream on A within 1 s and ends every resumer', async () => {
    const many = Array.from({ length: 400 }, (_, i) => `x${i} `)
    const live = readSse(`${a.url}/chat/c5?script=${slow(25, many)}`, { method: 'POST' })
    await waitFor(async () => (await redis.client.xLen('streamdelta:relay:c5').catch(() => 0)) > 4, 3000, 'events')
    const resumer = readSse(`${b.url}/chat/c5/stream`)
    await new Promise((r) => setTimeout(r, 100))
    const request = mock.requests.at(-1)
    const started = Date.now()
    const answer = await (await fetch(`${b.url}/chat/c5/cancel`, { method: 'POST' })).json()
    assert.deepEqual(answer, { cancelled: true })
    await request.closed
    assert.ok(Date.now() - started < 1000, `upstream closed after ${Date.now() - started} ms`)
    assert.equal(request.clientClosed, true, 'the mock saw the client close the socket')
    for (const result of [await live, await resumer]) {
      const last = result.events.at(-1)
      assert.equal(last.event, 'error')
      assert.equal(JSON.parse(last.data).code, 'cancelled')
    }
    const cancelledAgain = await (await fetch(`${b.url}/chat/c5/cancel`, { method: 'POST' })).json()
    assert.deepEqual(cancelledAgain, { cancelled: false }, 'nothing live to cancel any more')
  })

  test('every key the store writes has an expiry, while live and after the end', async () => {
    const live = readSse(`${a.url}/chat/c6?script=${slow(20)}`, { method: 'POST' })
    await waitFor(async () => (await redis.client.xLen('streamdelta:relay:c6').catch(() => 0)) > 3, 3000, 'events')
    await fetch(`${b.url}/chat/c6/stream`, { headers: { 'last-event-id': '0-0' } }).then((r) => r.body.cancel())
    const check = async () => {
      const keys = await redis.client.keys('streamdelta:*')
      assert.ok(keys.length > 0)
      for (const key of keys) {
        const ttl = await redis.client.pTTL(key)
        assert.ok(ttl > 0 && ttl <= TTL * 1000, `${key} has a TTL (${ttl} ms)`)
      }
      return keys
    }
    const keys = await check()
    assert.ok(keys.includes('streamdelta:relay-live:c6'))
    await live
    await check()
    assert.equal(await redis.client.exists('streamdelta:relay-live:c6'), 0, 'the marker is released at the end')
  })

  test('Redis unreachable at the start: the live client is still served and told it is not resumable', async () => {
    const store = new RelayStore({ url: `redis://127.0.0.1:${await freePort()}`, ttl: TTL })
    const client = new Client({ baseURL: mock.url, apiKey: 'sk-test' })
    const server = http.createServer((req, res) => {
      client.chat({ model: 'mock', messages: [] }).pipeTo(res, { format: 'openai', resumable: { store, id: 'x' } })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const result = await readSse(`http://127.0.0.1:${server.address().port}/`)
      assert.match(result.text, /^: not resumable/m)
      assert.equal(result.events.at(-1).data, '[DONE]')
    } finally {
      server.close()
      await store.close()
    }
  })

  test('the producer killed (SIGKILL) mid-answer: resumers end with an error event, no hang', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => `k${i} `)
    const source = `
      const http = require('node:http')
      const { Client, RelayStore } = require(${JSON.stringify(require.resolve('../index.js'))})
      const store = new RelayStore({ url: ${JSON.stringify(redis.url)}, ttl: ${TTL} })
      const client = new Client({ baseURL: ${JSON.stringify(mock.url)}, apiKey: 'sk-test' })
      const server = http.createServer((req, res) => {
        const stream = client.chat({ model: 'mock', messages: [] }, { headers: { 'x-mock-script': ${JSON.stringify(JSON.stringify({ text: many, intervalMs: 20 }))} } })
        stream.pipeTo(res, { format: 'events', resumable: { store, id: 'k1' } })
      })
      server.listen(0, '127.0.0.1', () => console.log(server.address().port))
    `
    const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [line] = await once(child.stdout.setEncoding('utf8'), 'data')
    const port = Number(String(line).trim())
    await readSse(`http://127.0.0.1:${port}/`, { until: (events) => events.length >= 5 })
    const resumer = readSse(`${b.url}/chat/k1/stream`)
    await new Promise((r) => setTimeout(r, 200))
    const killed = Date.now()
    child.kill('SIGKILL')
    await once(child, 'exit')
    const result = await resumer
    const elapsed = Date.now() - killed
    assert.ok(elapsed < 6000, `ended ${elapsed} ms after the kill`)
    const last = result.events.at(-1)
    assert.equal(last.event, 'error')
    assert.equal(JSON.parse(last.data).code, 'relay_interrupted')
    assert.ok(textOf(result.events).startsWith('k0 k1 '), 'what was recorded came first')
  })

  test('Redis restarted mid-answer: the live client gets all of it, told in-band it is no longer resumable; the store reconnects', async () => {
    const own = await startRedis()
    const c = await startInstance({ url: own.url })
    let again
    try {
      const live = readSse(`${c.url}/chat/r1?script=${slow(30)}`, { method: 'POST' })
      await waitFor(async () => (await own.client.xLen('streamdelta:relay:r1').catch(() => 0)) > 5, 3000, 'events')
      // A resumer following during the restart: its connection to Redis breaks.
      const follower = readSse(`${c.url}/chat/r1/stream`).catch((error) => ({ cut: error }))
      await new Promise((r) => setTimeout(r, 100))
      own.process.kill('SIGKILL')
      await once(own.process, 'exit')
      own.client.destroy()
      const killed = Date.now()
      again = await startRedis(own.port)
      const result = await live
      assert.equal(textOf(result.events), WORDS.join(''), 'the live client got the whole text')
      assert.equal(result.events.at(-1).event, 'done')
      assert.match(result.text, /^: no longer resumable/m, 'told in-band')
      assert.equal(result.events.at(-1).id, null, 'events after the failure carry no id (nothing to resume from)')
      const followed = await follower
      assert.ok(Date.now() - killed < 6000, 'the follower did not hang')
      assert.ok(
        followed.cut !== undefined || followed.events.at(-1).event === 'error',
        'the follower was cut (to reconnect) or told the answer is interrupted',
      )
      // The restarted Redis lost the log (no persistence): nothing to resume, not a hang.
      const lost = await fetch(`${c.url}/chat/r1/stream`)
      assert.equal(lost.status, 204)
      // The same store reconnected: a new relay is recorded and resumable again.
      const next = await readSse(`${c.url}/chat/r2?script=${slow(0)}`, { method: 'POST' })
      assert.ok(next.events.every((e) => e.id !== null))
      assert.ok((await again.client.xLen('streamdelta:relay:r2')) > 2)
      const replay = await readSse(`${c.url}/chat/r2/stream`)
      assert.deepEqual(replay.events, next.events)
    } finally {
      c.server.close()
      await c.store.close()
      instances.splice(instances.indexOf(c), 1)
      if (again) {
        await again.client.close()
        again.process.kill('SIGTERM')
        await once(again.process, 'exit')
      }
    }
  })

  test('background takeover: the producer killed, a resume on an instance with a client finishes the answer upstream', async () => {
    const c = await startInstance({ takeover: true })
    const many = Array.from({ length: 150 }, (_, i) => `b${i} `)
    const script = JSON.stringify({ text: many, intervalMs: 20 })
    const source = `
      const http = require('node:http')
      const { Client, RelayStore } = require(${JSON.stringify(require.resolve('../index.js'))})
      const store = new RelayStore({ url: ${JSON.stringify(redis.url)}, ttl: ${TTL} })
      const client = new Client({ baseURL: ${JSON.stringify(mock.url)}, apiKey: 'sk-test' })
      const server = http.createServer((req, res) => {
        const stream = client.responses({ model: 'mock', input: 'hi', background: true }, { headers: { 'x-mock-script': ${JSON.stringify(script)} } })
        stream.pipeTo(res, { format: 'events', resumable: { store, id: 'bg1' } })
      })
      server.listen(0, '127.0.0.1', () => console.log(server.address().port))
    `
    const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [line] = await once(child.stdout.setEncoding('utf8'), 'data')
    const port = Number(String(line).trim())
    // The page leaves after a few words; the producer keeps recording.
    const first = await readSse(`http://127.0.0.1:${port}/`, {
      until: (events) => events.filter((e) => e.event === 'text').length >= 10,
    })
    const resumer = readSse(`${c.url}/chat/bg1/stream`, { headers: { 'last-event-id': first.events.at(-1).id } })
    await new Promise((r) => setTimeout(r, 200))
    child.kill('SIGKILL')
    await once(child, 'exit')
    const rest = await resumer
    assert.equal(rest.status, 200)
    assert.equal(textOf(first.events) + textOf(rest.events), many.join(''), 'the whole text, no gap, no repeat')
    assert.equal(rest.events.at(-1).event, 'done')
    for (let i = 1; i < rest.events.length; i++) assert.ok(compareIds(rest.events[i].id, rest.events[i - 1].id) > 0)
    await waitFor(() => c.results.length === 1, 2000, 'the resume to resolve')
    const [result] = c.results
    assert.equal(result.ok, true)
    assert.equal(result.takenOver, true)
    // The takeover asked upstream for what came after the last recorded sequence number.
    const resumed = mock.requests.filter((r) => r.method === 'GET' && r.path.includes('/responses/')).at(-1)
    assert.ok(resumed, 'a GET /responses/{id} reached the mock')
    assert.ok(Number(resumed.query.starting_after) > 10, `starting_after ${resumed.query.starting_after}`)
    // The taken-over part records its position too (it could be taken over again).
    const entries = await redis.client.sendCommand(['XRANGE', 'streamdelta:relay:bg1', '-', '+'])
    const data = entries.map(([, flat]) => Object.fromEntries(chunkPairs(flat))).filter((f) => f.t === 'data')
    assert.ok(Number(data.at(-1).q) > Number(resumed.query.starting_after))
    assert.ok(data.every((f) => f.r === data[0].r && f.r.length > 0))
    // The log now holds the whole answer: a later resume on an instance without a client replays it.
    const replay = await readSse(`${b.url}/chat/bg1/stream`)
    assert.equal(textOf(replay.events), many.join(''))
    assert.equal(replay.events.at(-1).event, 'done')
  })

  test('background takeover in the ai-sdk format: reconnectToStream gets the whole message, the rest as a new step', async () => {
    const c = await startInstance({ takeover: true, format: 'ai-sdk' })
    const many = Array.from({ length: 150 }, (_, i) => `a${i} `)
    const script = JSON.stringify({ text: many, intervalMs: 20 })
    const source = `
      const http = require('node:http')
      const { Client, RelayStore } = require(${JSON.stringify(require.resolve('../index.js'))})
      const store = new RelayStore({ url: ${JSON.stringify(redis.url)}, ttl: ${TTL} })
      const client = new Client({ baseURL: ${JSON.stringify(mock.url)}, apiKey: 'sk-test' })
      const server = http.createServer((req, res) => {
        const stream = client.responses({ model: 'mock', input: 'hi', background: true }, { headers: { 'x-mock-script': ${JSON.stringify(script)} } })
        stream.pipeTo(res, { format: 'ai-sdk', resumable: { store, id: 'bg2' } })
      })
      server.listen(0, '127.0.0.1', () => console.log(server.address().port))
    `
    const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [line] = await once(child.stdout.setEncoding('utf8'), 'data')
    const port = Number(String(line).trim())
    await readSse(`http://127.0.0.1:${port}/`, { until: (events) => events.length >= 12 })
    child.kill('SIGKILL')
    await once(child, 'exit')
    const transport = new DefaultChatTransport({ api: `${c.url}/chat` })
    const stream = await transport.reconnectToStream({ chatId: 'bg2' })
    let message
    for await (const snapshot of readUIMessageStream({ stream })) message = snapshot
    const texts = message.parts.filter((p) => p.type === 'text').map((p) => p.text)
    assert.equal(texts.join(''), many.join(''), 'the whole text, no gap, no repeat')
    assert.equal(texts.length, 2, 'what the takeover relayed is a second text part')
    assert.equal(message.parts.filter((p) => p.type === 'step-start').length, 2, 'in a second step')
    await waitFor(() => c.results.length === 1, 2000, 'the resume to resolve')
    assert.equal(c.results[0].takenOver, true)
    assert.equal(c.results[0].ok, true)
  })

  test("ai-sdk format: useChat's reconnectToStream (DefaultChatTransport) reads the whole answer after a drop", async () => {
    const c = await startInstance({ format: 'ai-sdk' })
    const first = await readSse(`${c.url}/chat/u1?script=${slow()}`, {
      method: 'POST',
      until: (events) => events.length >= 8,
    })
    assert.ok(
      first.events.every((e) => e.id !== null),
      'every part carries an SSE id',
    )
    const transport = new DefaultChatTransport({ api: `${c.url}/chat` })
    const stream = await transport.reconnectToStream({ chatId: 'u1' })
    assert.ok(stream, 'a stream, not null')
    let message
    for await (const snapshot of readUIMessageStream({ stream })) message = snapshot
    const text = message.parts
      .filter((p) => p.type === 'text')
      .map((p) => p.text)
      .join('')
    assert.equal(text, WORDS.join(''))
    assert.equal(await transport.reconnectToStream({ chatId: 'nobody' }), null, '204: nothing to resume')
    // Last-Event-ID works for ai-sdk parts too: the rest after the first part read.
    const deltas = (events) =>
      events
        .filter((e) => e.data.startsWith('{'))
        .map((e) => JSON.parse(e.data))
        .filter((p) => p.type === 'text-delta')
        .map((p) => p.delta)
        .join('')
    const rest = await readSse(`${c.url}/chat/u1/stream`, { headers: { 'last-event-id': first.events.at(-1).id } })
    assert.equal(deltas(first.events) + deltas(rest.events), WORDS.join(''))
    assert.equal(rest.events.at(-1).data, '[DONE]')
  })

  test('bad arguments throw TypeErrors naming them', async () => {
    assert.throws(() => new RelayStore({ url: redis.url }), /ttl must be a whole number/)
    assert.throws(() => new RelayStore({ url: 'http://x', ttl: 1 }), /url must be a redis:\/\//)
    assert.throws(() => new RelayStore({ url: redis.url, ttl: 1, tll: 2 }), /unknown RelayStore option 'tll'/)
    const res = new http.ServerResponse(new http.IncomingMessage(/** @type {any} */ (null)))
    assert.throws(() => a.store.resume('x', res, { format: 'text' }), /format must be 'events', 'openai' or 'ai-sdk'/)
    assert.throws(
      () => new RelayStore({ url: redis.url, ttl: 1, client: {} }),
      /option client must be a streamdelta Client/,
    )
    assert.throws(() => a.store.resume('', res), /relay id must be a non-empty string/)
    const client = new Client({ baseURL: mock.url, apiKey: 'sk-test' })
    const stream = client.chat({ model: 'mock', messages: [] })
    assert.throws(
      () => stream.pipeTo(res, { format: 'text', resumable: { store: a.store, id: 'x' } }),
      /a resumable relay needs format 'events', 'openai' or 'ai-sdk'/,
    )
    const other = client.chat({ model: 'mock', messages: [] })
    assert.throws(() => other.toNodeStream({ resumable: { store: a.store, id: 'x' } }), /only for pipeTo/)
  })
})
