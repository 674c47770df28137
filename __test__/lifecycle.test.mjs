// Stopping, aborting, backpressure and process lifetime, observed from the server side of a
// real socket (and from child processes for "does the process exit by itself").
import { test, describe } from 'node:test'
import net from 'node:net'
import { once } from 'node:events'
import assert from 'node:assert/strict'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { collect, sleep, waitFor, rejection } from './helpers/sse.mjs'
import { runNode } from './helpers/child.mjs'
import { Client, AbortError } from '../index.mjs'

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))
const INDEX_MJS = pathToFileURL(fileURLToPath(new URL('../index.mjs', import.meta.url))).href
const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }
const MB = 1024 * 1024

async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

function clientFor(server, options = {}) {
  return new Client({ baseURL: server.url, apiKey: 'sk-test-lifecycle', maxRetries: 0, ...options })
}

/**
 * A handler that streams `word<n> ` every `interval` ms until the client goes away. `state`
 * records what the server saw: `sent` (the text written so far), `closed`, `requests`.
 */
function streamForever(state, { interval = 20 } = {}) {
  Object.assign(state, { sent: '', closed: false, requests: 0 })
  return (req, res) => {
    state.requests++
    startSse(res)
    sseChunk(res, chatChunk({ role: 'assistant' }))
    let n = 0
    const write = () => {
      const text = `word${n++} `
      state.sent += text
      sseChunk(res, chatChunk({ content: text }))
    }
    write()
    const timer = setInterval(write, interval)
    res.on('close', () => {
      clearInterval(timer)
      state.closed = true
    })
  }
}

/** Resolves once `res` drains or closes, without leaving listeners behind. */
function drainOrClose(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** Takes deltas from `iterator` until `count` text deltas arrived; returns their texts. */
async function takeTexts(iterator, count) {
  const texts = []
  while (texts.length < count) {
    const { value, done } = await iterator.next()
    assert.equal(done, false, 'the stream ended early')
    if (value.type === 'text') texts.push(value.text)
  }
  return texts
}

function assertAbortError(error) {
  assert.ok(error instanceof AbortError, `expected an AbortError, got ${error?.name}: ${error?.message}`)
  assert.ok(error instanceof Error)
  assert.equal(error.name, 'AbortError')
  assert.equal(error.code, 'ABORT_ERR')
}

describe('stopping a stream closes the socket', { timeout: 60_000 }, () => {
  test('break out of for await closes the socket while the server is still streaming', async (t) => {
    const state = {}
    const server = await serve(t, streamForever(state))
    let texts = 0
    for await (const delta of clientFor(server).chat(BODY)) {
      if (delta.type === 'text' && ++texts === 3) break
    }
    assert.equal(texts, 3)
    assert.ok(await waitFor(() => state.closed, 2000), 'the server did not see the request close within 2 s')
    await server.waitForNoSockets(2000)
    assert.equal(state.requests, 1)
  })

  test('break out of text() closes the socket too', async (t) => {
    const state = {}
    const server = await serve(t, streamForever(state))
    for await (const text of clientFor(server).chat(BODY).text()) {
      if (text) break
    }
    assert.ok(await waitFor(() => state.closed, 2000), 'the server did not see the request close within 2 s')
    await server.waitForNoSockets(2000)
  })

  test('after break, final() rejects with AbortError and stream.signal is aborted', async (t) => {
    const state = {}
    const server = await serve(t, streamForever(state))
    const stream = clientFor(server).chat(BODY)
    for await (const delta of stream) {
      if (delta.type === 'text') break
    }
    assertAbortError(await rejection(stream.final(), 2000))
    assert.equal(stream.signal.aborted, true)
  })
})

describe('stream.abort()', { timeout: 60_000 }, () => {
  test('mid-stream: iterator and final() reject with AbortError, abort fires, signal aborted, socket closed', async (t) => {
    const state = {}
    const server = await serve(t, streamForever(state))
    const stream = clientFor(server).chat(BODY)
    const aborts = []
    stream.on('abort', (error) => aborts.push(error))
    const iterator = stream[Symbol.asyncIterator]()
    const seen = (await takeTexts(iterator, 2)).join('')
    const final = stream.final()
    assert.equal(stream.signal.aborted, false)

    stream.abort()

    const error = await rejection(iterator.next(), 2000)
    assertAbortError(error)
    assertAbortError(await rejection(final, 2000))
    assert.equal(aborts.length, 1)
    assertAbortError(aborts[0])
    assert.equal(stream.signal.aborted, true)
    assert.ok(await waitFor(() => state.closed, 2000), 'the server did not see the request close within 2 s')
    await server.waitForNoSockets(2000)

    // What arrived before the abort is not lost.
    assert.ok(error.partial, 'the AbortError has no partial')
    const partialText = error.partial.choices[0].message.content
    assert.ok(
      partialText.startsWith(seen),
      `partial ${JSON.stringify(partialText)} should start with ${JSON.stringify(seen)}`,
    )
    assert.ok(state.sent.startsWith(partialText), 'partial holds only text the server sent')
  })

  test('abort() before any byte arrived rejects with AbortError and closes the socket', async (t) => {
    let closed = false
    const server = await serve(t, (req, res) => {
      res.on('close', () => (closed = true))
      // Never answers.
    })
    const stream = clientFor(server).chat(BODY)
    const final = stream.final()
    assert.ok(await waitFor(() => server.requests.length === 1, 2000), 'the request never reached the server')
    stream.abort()
    assertAbortError(await rejection(final, 2000))
    assert.ok(await waitFor(() => closed, 2000), 'the server did not see the request close within 2 s')
  })

  test('abort() when the end was taken from the engine but not yet read still carries the partial', async (t) => {
    // The engine frees a stream's decoder once JS has taken its end. Here the JS thread (the
    // server's too) is busy while the engine reads the text and then, in a read of its own, the
    // end, so one wake-up takes both batches: the text goes to the waiting consumer and the end
    // waits in JS, unread, when abort() comes. The server waits for the engine's counters, not
    // for a time (the engine thread may be late on a loaded machine), and is a raw socket:
    // node:http would hold the response's first bytes until the handler returned.
    /** Spins the JS thread until the engine has decoded `chunks` chunks, then a little more. */
    const busyUntilDecoded = (chunks) => {
      const giveUp = Date.now() + 5000
      while (stream.stats.chunks < chunks && Date.now() < giveUp) {}
      const settle = Date.now() + 100
      while (Date.now() < settle) {}
    }
    const event = (chunk) => `data: ${JSON.stringify(chunk)}\n\n`
    const server = net.createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n')
        socket.write(event(chatChunk({ content: 'Hello' })))
        busyUntilDecoded(1)
        socket.write(`${event(chatChunk({}, { finish: 'stop' }))}data: [DONE]\n\n`)
        busyUntilDecoded(2)
        socket.end()
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => server.close())
    const stream = clientFor({ url: `http://127.0.0.1:${server.address().port}/v1` }).chat(BODY)
    const iterator = stream.text()[Symbol.asyncIterator]()
    assert.deepEqual(await iterator.next(), { value: 'Hello', done: false })

    stream.abort()

    const error = await rejection(iterator.next(), 2000)
    assertAbortError(error)
    assert.ok(error.partial, 'the AbortError has no partial')
    assert.equal(error.partial.choices[0].message.content, 'Hello')
  })

  test('abort() after the end changes nothing', async (t) => {
    const server = await serve(t, (req, res) => {
      startSse(res)
      sseChunk(res, chatChunk({ content: 'done' }))
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end('data: [DONE]\n\n')
    })
    const stream = clientFor(server).chat(BODY)
    const aborts = []
    stream.on('abort', (e) => aborts.push(e))
    const text = await stream.finalText()
    stream.abort()
    assert.equal(text, 'done')
    assert.equal(await stream.finalText(), 'done')
    assert.equal(stream.signal.aborted, false)
    assert.equal(aborts.length, 0)
  })
})

describe('an AbortSignal in the request options', { timeout: 60_000 }, () => {
  test('AbortController.abort() mid-stream aborts like stream.abort()', async (t) => {
    const state = {}
    const server = await serve(t, streamForever(state))
    const controller = new AbortController()
    const stream = clientFor(server).chat(BODY, { signal: controller.signal })
    const aborts = []
    stream.on('abort', (e) => aborts.push(e))
    const iterator = stream[Symbol.asyncIterator]()
    await takeTexts(iterator, 1)
    controller.abort()
    assertAbortError(await rejection(iterator.next(), 2000))
    assertAbortError(await rejection(stream.final(), 2000))
    assert.equal(aborts.length, 1)
    assert.equal(stream.signal.aborted, true)
    assert.ok(await waitFor(() => state.closed, 2000), 'the server did not see the request close within 2 s')
  })

  test('AbortSignal.timeout(50) aborts a stream that would never end', async (t) => {
    const state = {}
    const server = await serve(t, streamForever(state))
    const stream = clientFor(server).chat(BODY, { signal: AbortSignal.timeout(50) })
    const error = await rejection(collect(stream), 3000)
    assertAbortError(error)
    assert.equal(stream.signal.aborted, true)
    assert.ok(await waitFor(() => state.closed, 2000), 'the server did not see the request close within 2 s')
  })

  test('an already-aborted signal gives AbortError and makes no request', async (t) => {
    const server = await serve(t, (req, res) => {
      startSse(res)
      res.end('data: [DONE]\n\n')
    })
    let connections = 0
    const controller = new AbortController()
    controller.abort()
    const stream = clientFor(server).chat(BODY, { signal: controller.signal })
    assertAbortError(await rejection(collect(stream), 2000))
    assertAbortError(await rejection(stream.final(), 2000))
    assert.equal(stream.signal.aborted, true)
    await sleep(200)
    connections = server.sockets.size + server.closedSockets.length
    assert.equal(server.requests.length, 0)
    assert.equal(connections, 0, 'a connection was opened')
  })
})

describe('backpressure', { timeout: 60_000 }, () => {
  test('a paused consumer stops the server writing and keeps memory bounded', async (t) => {
    const TOTAL = 50 * MB
    const state = { written: 0, finished: false, closed: false }
    const payload = Buffer.from(`data: ${JSON.stringify(chatChunk({ content: 'x'.repeat(4000) }))}\n\n`)
    const server = await serve(t, async (req, res) => {
      res.on('close', () => (state.closed = true))
      startSse(res)
      while (state.written < TOTAL && !res.destroyed) {
        state.written += payload.length
        if (!res.write(payload)) await drainOrClose(res)
      }
      if (!res.destroyed) {
        state.finished = true
        res.end('data: [DONE]\n\n')
      }
    })
    const rssBefore = process.memoryUsage().rss
    const stream = clientFor(server).chat(BODY)
    const iterator = stream[Symbol.asyncIterator]()
    const first = await iterator.next()
    assert.equal(first.value.type, 'text')

    await sleep(1500)
    const writtenWhilePaused = state.written
    const rssGrowth = process.memoryUsage().rss - rssBefore
    assert.equal(state.finished, false, 'the server wrote all 50 MB to a consumer that was not reading')
    assert.ok(writtenWhilePaused < TOTAL, `server wrote ${writtenWhilePaused} bytes`)
    assert.ok(rssGrowth < 100 * MB, `rss grew by ${(rssGrowth / MB).toFixed(1)} MB while paused`)

    stream.abort()
    assertAbortError(await rejection(iterator.next(), 2000))
    assert.ok(await waitFor(() => state.closed, 2000), 'the server did not see the request close within 2 s')
    await server.waitForNoSockets(2000)
    assert.equal(state.finished, false)
  })
})

describe('process lifetime', { timeout: 60_000 }, () => {
  const WORDS = ['The ', 'quick ', 'brown ', 'fox ', 'jumps ', 'over ', 'the ', 'lazy ', 'dog.']

  /** Streams WORDS with `delay` ms between chunks, then finishes properly. */
  function slowAnswer(delay = 30) {
    return async (req, res) => {
      startSse(res)
      sseChunk(res, chatChunk({ role: 'assistant' }))
      for (const word of WORDS) {
        await sleep(delay)
        if (res.destroyed) return
        sseChunk(res, chatChunk({ content: word }))
      }
      await sleep(delay)
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end('data: [DONE]\n\n')
    }
  }

  test('a top-level chat().on("text") script prints the whole answer and exits 0 by itself', async (t) => {
    const server = await serve(t, slowAnswer())
    const script = `
      const { Client } = require(${JSON.stringify(PACKAGE_DIR)})
      new Client({ baseURL: process.env.BASE_URL, apiKey: 'sk-child' })
        .chat({ model: 'test-model', messages: [] })
        .on('text', (t) => process.stdout.write(t))
    `
    const result = await runNode(script, { env: { BASE_URL: server.url }, cwd: PACKAGE_DIR })
    assert.equal(result.timedOut, false, `the child did not exit within 10 s; stdout: ${result.stdout}`)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, WORDS.join(''))
  })

  for (const [name, handler] of [
    [
      'keeps writing',
      (req, res) => {
        startSse(res)
        sseChunk(res, chatChunk({ content: 'x' }))
        const timer = setInterval(() => sseChunk(res, chatChunk({ content: 'x' })), 30)
        res.on('close', () => clearInterval(timer))
      },
    ],
    [
      'stays silent',
      (req, res) => {
        startSse(res)
        sseChunk(res, chatChunk({ content: 'x' }))
      },
    ],
  ]) {
    test(`a script that never consumes its stream exits by itself while the server ${name}`, async (t) => {
      const server = await serve(t, handler)
      const script = `
        const { Client } = require(${JSON.stringify(PACKAGE_DIR)})
        new Client({ baseURL: process.env.BASE_URL, apiKey: 'sk-child' }).chat({ model: 'test-model', messages: [] })
        process.stdout.write('started')
      `
      const result = await runNode(script, { env: { BASE_URL: server.url }, cwd: PACKAGE_DIR, timeout: 5000 })
      assert.equal(result.stdout, 'started')
      assert.equal(result.timedOut, false, 'the child was still alive after 5 s')
      assert.equal(result.code, 0, result.stderr)
      await server.waitForNoSockets(2000)
    })
  }

  test('an ESM script with await stream.final() prints the final text and exits 0', async (t) => {
    const server = await serve(t, slowAnswer())
    const script = `
      import { Client } from ${JSON.stringify(INDEX_MJS)}
      const stream = new Client({ baseURL: process.env.BASE_URL, apiKey: 'sk-child' }).chat({ model: 'test-model', messages: [] })
      const final = await stream.final()
      process.stdout.write(final.choices[0].message.content)
    `
    const result = await runNode(script, { module: true, env: { BASE_URL: server.url }, cwd: PACKAGE_DIR })
    assert.equal(result.timedOut, false, 'the child did not exit within 10 s')
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, WORDS.join(''))
  })

  test('an ESM script that only awaits stream.response stays alive until the headers come, then exits 0', async (t) => {
    // The response is settled from the engine's ready list (no promise of N-API's own, which
    // kept the process up by itself): the wait for it must keep the process up too.
    const server = await serve(t, async (req, res) => {
      await sleep(300)
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req-late' })
      sseChunk(res, chatChunk({ role: 'assistant' }))
    })
    const script = `
      import { Client } from ${JSON.stringify(INDEX_MJS)}
      const stream = new Client({ baseURL: process.env.BASE_URL, apiKey: 'sk-child' }).chat({ model: 'test-model', messages: [] })
      const response = await stream.response
      process.stdout.write(response.status + ' ' + response.requestId)
    `
    const result = await runNode(script, { module: true, env: { BASE_URL: server.url }, cwd: PACKAGE_DIR })
    assert.equal(result.timedOut, false, 'the child did not exit within 10 s')
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, '200 req-late')
  })

  test('an ESM script with for await over the stream prints every delta and exits 0', async (t) => {
    const server = await serve(t, slowAnswer())
    const script = `
      import { Client } from ${JSON.stringify(INDEX_MJS)}
      const stream = new Client({ baseURL: process.env.BASE_URL, apiKey: 'sk-child' }).chat({ model: 'test-model', messages: [] })
      for await (const d of stream) if (d.type === 'text') process.stdout.write(d.text)
    `
    const result = await runNode(script, { module: true, env: { BASE_URL: server.url }, cwd: PACKAGE_DIR })
    assert.equal(result.timedOut, false, 'the child did not exit within 10 s')
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, WORDS.join(''))
  })
})

describe('errors observed by a consumer', { timeout: 60_000 }, () => {
  /** A stream whose third data line is not JSON: it fails with a ParseError after some text. */
  function brokenStream(req, res) {
    startSse(res)
    sseChunk(res, chatChunk({ content: 'before ' }))
    sseChunk(res, chatChunk({ content: 'the error' }))
    res.end('data: {this is not json\n\n')
  }

  /** Runs `body` while recording process 'unhandledRejection' events, then waits a little for late ones. */
  async function unhandledDuring(body) {
    const unhandled = []
    const onUnhandled = (reason) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      await body()
      await new Promise((r) => setImmediate(r))
      await sleep(100)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    return unhandled
  }

  test('an error with no error listener, observed by an iterator, is not an unhandled rejection', async (t) => {
    const server = await serve(t, brokenStream)
    const unhandled = await unhandledDuring(async () => {
      const stream = clientFor(server).chat(BODY)
      const texts = []
      stream.on('text', (text) => texts.push(text))
      const error = await rejection(collect(stream), 2000)
      assert.equal(error.code, 'ERR_PARSE')
      assert.equal(texts.join(''), 'before the error')
    })
    assert.deepEqual(unhandled, [])
  })

  test('an error with no error listener, observed by final(), is not an unhandled rejection', async (t) => {
    const server = await serve(t, brokenStream)
    const unhandled = await unhandledDuring(async () => {
      const stream = clientFor(server).chat(BODY)
      stream.on('text', () => {})
      const error = await rejection(stream.final(), 2000)
      assert.equal(error.code, 'ERR_PARSE')
    })
    assert.deepEqual(unhandled, [])
  })

  test("an 'error' listener receives the error that the iterator rejects with", async (t) => {
    const server = await serve(t, brokenStream)
    const stream = clientFor(server).chat(BODY)
    const errors = []
    stream.on('error', (error) => errors.push(error))
    const error = await rejection(collect(stream), 2000)
    assert.deepEqual(errors, [error])
  })
})

describe('many streams ready at once', { timeout: 60_000 }, () => {
  // One wake-up of the engine hands JS the ids of every ready stream in a reused array of 256
  // (lib/client.js EngineHub): past that, the rest stay listed and the array grows. Here the JS
  // thread is kept busy while 700 answers arrive whole, so they are all ready at its next turn.
  test('700 streams that all finish while the JS thread is busy each get their whole text', async (t) => {
    const STREAMS = 700
    const held = []
    const server = await serve(t, (req, res, body) => {
      startSse(res)
      sseChunk(res, chatChunk({ role: 'assistant' }))
      held.push({ res, i: Number(JSON.parse(body).messages[0].content) })
    })
    const client = clientFor(server)
    const streams = Array.from({ length: STREAMS }, (_, i) => ({
      expected: `answer ${i}: ${'é東🙂'.repeat(i % 7)}`,
      stream: client.chat({ ...BODY, messages: [{ role: 'user', content: String(i) }] }),
    }))
    const texts = streams.map(({ stream }) => collect(stream.text()).then((parts) => parts.join('')))
    await waitFor(() => held.length === STREAMS, 20_000)
    held.forEach(({ res, i }) => {
      const { expected } = streams[i]
      // Two chunks and the end, each its own write.
      sseChunk(res, chatChunk({ content: expected.slice(0, 8) }))
      sseChunk(res, chatChunk({ content: expected.slice(8) }))
      res.end('data: [DONE]\n\n')
    })
    // Busy, not waiting: the engine reads all 700 on its own threads meanwhile.
    const until = Date.now() + 400
    while (Date.now() < until);
    const got = await Promise.all(texts)
    for (let i = 0; i < STREAMS; i++) assert.equal(got[i], streams[i].expected, `stream ${i}`)
  })
})
