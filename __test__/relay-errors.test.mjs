// Relay arguments and relay failures (issue 13, items 1 and 4): bad relay options throw a
// TypeError synchronously and close the upstream request; what a browser is told about a
// failure is short and safe by default and `onError` changes it; `text` signals a failure
// without writing it into the answer; no message is prefixed twice.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import { WebSocketServer, WebSocket } from 'ws'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { waitFor } from './helpers/sse.mjs'
import { refusedURL } from './helpers/faults.mjs'
import { Client, AbortError } from '../index.mjs'

const KEY = 'sk-relay-errors-SECRET-91c2'
const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }

async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

const clientFor = (url, options = {}) => new Client({ baseURL: url, apiKey: KEY, maxRetries: 0, ...options })

/** Listens on 127.0.0.1 and stops (with every connection) when the test ends. */
async function listen(t, server) {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections?.()
    return new Promise((resolve) => server.close(() => resolve()))
  })
  return `http://127.0.0.1:${server.address().port}`
}

/** An upstream that streams a word every 10 ms until its socket closes; `state.closed` says it did. */
function streamForever(state) {
  Object.assign(state, { requests: 0, closed: false })
  return (req, res) => {
    state.requests++
    req.socket.once('close', () => {
      state.closed = true
    })
    startSse(res)
    sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
    const timer = setInterval(() => {
      if (!res.destroyed) sseChunk(res, chatChunk({ content: 'word ' }))
    }, 10)
    res.on('close', () => clearInterval(timer))
  }
}

/** Text, then a provider error event after the first byte. */
function writeTextThenError(res) {
  startSse(res)
  sseChunk(res, chatChunk({ role: 'assistant', content: 'Hello' }))
  sseChunk(res, chatChunk({ content: ' wor' }))
  res.end(
    `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request. Contact us at https://help.example.com/ with req_123.', type: 'server_error', code: 'overloaded' } })}\n\n`,
  )
}

const jsonError =
  (status, error, headers = {}) =>
  (req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify({ error }))
  }

/** Reads a fetch body piece by piece: the text that arrived, and the error that ended it (if any). */
async function readAll(response) {
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return { text, error: null }
      text += decoder.decode(value, { stream: true })
    }
  } catch (error) {
    return { text, error }
  }
}

// ---- item 1: bad relay arguments -------------------------------------------------------------

describe('bad relay options throw a TypeError synchronously, naming the option, and close the upstream', () => {
  const badOptions = [
    [{ format: 'sse' }, /format must be one of 'openai', 'events', 'text', 'ndjson', got 'sse'/],
    [{ heartbeat: -5 }, /heartbeat must be a positive number/],
    [{ fromat: 'text' }, /unknown relay option 'fromat' \(did you mean 'format'\?\)/],
    [{ Heartbeat: 10 }, /unknown relay option 'Heartbeat' \(did you mean 'heartbeat'\?\)/],
    [{ onError: 'oops' }, /onError must be a function/],
    // Built now (RelayStore): without a store it is still refused, naming what it needs.
    [{ resumable: { id: 'x' } }, /relay option resumable must be \{ store: RelayStore, id: string \}/],
    ['text', /relay options must be an object/],
  ]

  for (const [options, message] of badOptions) {
    test(`pipeTo(res, ${JSON.stringify(options)}) in a node:http server`, async (t) => {
      const state = {}
      const upstream = await serve(t, streamForever(state))
      const client = clientFor(upstream.url)
      const thrown = []
      const unhandled = []
      const onUnhandled = (reason) => unhandled.push(reason)
      process.on('unhandledRejection', onUnhandled)
      t.after(() => process.off('unhandledRejection', onUnhandled))
      const url = await listen(
        t,
        http.createServer(async (req, res) => {
          const stream = client.chat(BODY)
          await waitFor(() => state.requests > 0, 2000)
          try {
            stream.pipeTo(res, /** @type {any} */ (options))
          } catch (error) {
            thrown.push({ error, stream })
            res.writeHead(500).end('bad relay options')
          }
        }),
      )
      const response = await fetch(`${url}/chat`)
      assert.equal(response.status, 500)
      await response.text()
      assert.equal(thrown.length, 1, 'pipeTo threw synchronously')
      const [{ error, stream }] = thrown
      assert.ok(error instanceof TypeError, `a TypeError, got ${error?.name}`)
      assert.match(error.message, message)
      assert.ok(await waitFor(() => state.closed, 2000), 'the upstream saw its socket close')
      await assert.rejects(stream.final(), AbortError)
      assert.deepEqual(unhandled, [], 'no unhandled rejection')
    })
  }

  test('pipeTo with something that is not a ServerResponse throws a TypeError and aborts', async (t) => {
    const state = {}
    const upstream = await serve(t, streamForever(state))
    const client = clientFor(upstream.url)
    for (const res of [undefined, null, {}, new Writable({ write: (c, e, cb) => cb() }), new Response('x')]) {
      state.closed = false
      const before = state.requests
      const stream = client.chat(BODY)
      await waitFor(() => state.requests > before, 2000)
      assert.throws(
        () => stream.pipeTo(/** @type {any} */ (res)),
        (err) => err instanceof TypeError && /pipeTo needs a Node http\.ServerResponse \(res\)/.test(err.message),
      )
      assert.ok(await waitFor(() => state.closed, 2000), 'the upstream saw its socket close')
    }
  })

  test('toReadableStream, toNodeStream and pipeToWebSocket throw the same way and close the upstream', async (t) => {
    const state = {}
    const upstream = await serve(t, streamForever(state))
    const client = clientFor(upstream.url)
    const fakeSocket = { send() {}, close() {}, bufferedAmount: 0, on() {}, off() {} }
    const calls = [
      [(s) => s.toReadableStream({ format: 'sse' }), /relay option format/],
      [(s) => s.toNodeStream({ heartbat: 5 }), /unknown relay option 'heartbat' \(did you mean 'heartbeat'\?\)/],
      [(s) => s.pipeToWebSocket(fakeSocket, { format: 'text' }), /format must be one of 'events', 'ndjson'/],
      [(s) => s.pipeToWebSocket(fakeSocket, { heartbeat: 10 }), /unknown relay option 'heartbeat'/],
      [(s) => s.pipeToWebSocket({}, {}), /pipeToWebSocket needs a WebSocket/],
    ]
    for (const [call, message] of calls) {
      state.closed = false
      const before = state.requests
      const stream = client.chat(BODY)
      await waitFor(() => state.requests > before, 2000)
      assert.throws(
        () => call(stream),
        (err) => err instanceof TypeError && message.test(err.message),
      )
      assert.ok(await waitFor(() => state.closed, 2000), `${message}: the upstream saw its socket close`)
    }
  })

  test('good options (onError included) still relay', async (t) => {
    const upstream = await serve(t, (req, res) => {
      startSse(res)
      sseChunk(res, chatChunk({ role: 'assistant', content: 'fine' }))
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end('data: [DONE]\n\n')
    })
    const client = clientFor(upstream.url)
    const url = await listen(
      t,
      http.createServer((req, res) =>
        client.chat(BODY).pipeTo(res, { format: 'text', heartbeat: 50, onError: () => ({}) }),
      ),
    )
    const response = await fetch(url)
    assert.equal(await response.text(), 'fine')
  })
})

// ---- item 4: what the browser is told --------------------------------------------------------

/** A node:http relay of `open()` with `options`; `results` gets what pipeTo resolved. */
async function relay(t, open, options, results = []) {
  return listen(
    t,
    http.createServer(async (req, res) => results.push(await open().pipeTo(res, options))),
  )
}

describe('relay errors are short and safe by default; onError changes them', () => {
  test('connection refused: 502 and a generic message, no internal URL or transport text', async (t) => {
    const upstreamURL = await refusedURL()
    const client = clientFor(upstreamURL)
    for (const format of ['openai', 'events', 'text', 'ndjson']) {
      const url = await relay(t, () => client.chat(BODY), { format })
      const response = await fetch(url)
      assert.equal(response.status, 502)
      const raw = await response.text()
      const { error } = JSON.parse(raw)
      assert.equal(error.message, 'Could not reach the AI service. Please try again.')
      assert.equal(error.status, 502)
      assert.ok(!raw.includes('127.0.0.1'), `no internal URL: ${raw}`)
      assert.ok(!/error sending request|tcp|refused/i.test(raw), `no transport text: ${raw}`)
    }
  })

  test('upstream 429: 429, retry-after forwarded, no organization id, link or key in the message', async (t) => {
    const upstream = await serve(
      t,
      jsonError(
        429,
        {
          message: `Rate limit reached for test-model in organization org-AbCdEf123456 on requests per min (RPM): Limit 3. Visit https://platform.openai.com/account/rate-limits to learn more. ${KEY}`,
          type: 'requests',
          code: 'rate_limit_exceeded',
        },
        { 'retry-after': '7' },
      ),
    )
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'events' })
    const response = await fetch(url)
    assert.equal(response.status, 429)
    assert.equal(response.headers.get('retry-after'), '7')
    const raw = await response.text()
    for (const secret of ['org-AbCdEf123456', 'platform.openai.com', KEY]) assert.ok(!raw.includes(secret), raw)
    const { error } = JSON.parse(raw)
    assert.deepEqual(error, {
      message: 'Rate limit reached. Please try again later.',
      type: 'requests',
      code: 'rate_limit_exceeded',
      status: 429,
    })
  })

  test('upstream 429 with only retry-after-ms: the relay answers retry-after in whole seconds', async (t) => {
    const upstream = await serve(t, jsonError(429, { message: 'slow down' }, { 'retry-after-ms': '1500' }))
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'openai' })
    const response = await fetch(url)
    assert.equal(response.status, 429)
    assert.equal(response.headers.get('retry-after'), '2')
  })

  test('upstream 400: its own first sentence (about the request), links removed, param kept', async (t) => {
    const upstream = await serve(
      t,
      jsonError(400, {
        message:
          "Invalid value for 'messages': expected an array. See https://platform.openai.com/docs/api-reference for details.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'invalid_value',
      }),
    )
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'ndjson' })
    const response = await fetch(url)
    assert.equal(response.status, 400)
    const { error } = await response.json()
    assert.deepEqual(error, {
      message: "Invalid value for 'messages': expected an array.",
      type: 'invalid_request_error',
      code: 'invalid_value',
      status: 400,
      param: 'messages',
    })
  })

  test('a mid-stream provider error is reported in-band without its help text and links', async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'events' })
    const text = await (await fetch(url)).text()
    const last = text.trimEnd().split('\n\n').at(-1)
    assert.match(last, /^event: error\ndata: /)
    const error = JSON.parse(last.slice(last.indexOf('data: ') + 6))
    assert.equal(error.message, 'The server had an error while processing your request.')
    assert.equal(error.code, 'overloaded')
    assert.ok(!text.includes('help.example.com') && !text.includes('req_123'), text)
  })

  test('onError sets the status and message before the first byte; retry-after stays for a 429', async (t) => {
    const upstream = await serve(t, jsonError(429, { message: 'Rate limit reached' }, { 'retry-after': '3' }))
    const seen = []
    const results = []
    const onError = (err) => {
      seen.push(err)
      return { status: 503, message: 'Busy, try again in a moment.' }
    }
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'openai', onError }, results)
    const response = await fetch(url)
    assert.equal(response.status, 503)
    assert.equal(response.headers.get('retry-after'), '3')
    const { error } = await response.json()
    assert.equal(error.message, 'Busy, try again in a moment.')
    assert.equal(error.status, 503)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].name, 'RateLimitError', 'onError gets the real error')
    await waitFor(() => results.length === 1)
    assert.equal(results[0].error, seen[0])
  })

  test('onError sets the in-band message after the first byte (events, openai, ndjson, WebSocket)', async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const client = clientFor(upstream.url)
    const onError = () => ({ message: 'Something went wrong, please retry.' })
    for (const format of ['events', 'openai', 'ndjson']) {
      const url = await relay(t, () => client.chat(BODY), { format, onError })
      const text = await (await fetch(url)).text()
      assert.ok(text.includes('Something went wrong, please retry.'), `${format}: ${text}`)
      assert.ok(!text.includes('The server had an error'), `${format}: ${text}`)
    }
    const server = http.createServer()
    const wss = new WebSocketServer({ server })
    wss.on('connection', (ws) => client.chat(BODY).pipeToWebSocket(ws, { onError }))
    const url = (await listen(t, server)).replace('http:', 'ws:')
    t.after(() => wss.close())
    const ws = new WebSocket(url)
    const messages = []
    ws.on('message', (data) => messages.push(JSON.parse(String(data))))
    await once(ws, 'close')
    const error = messages.flat().find((m) => m.type === 'error')
    assert.equal(error?.error?.message, 'Something went wrong, please retry.')
  })

  test('an onError that throws or returns nonsense leaves the default (and pipeTo still resolves)', async (t) => {
    const upstream = await serve(t, jsonError(500, { message: 'internal trace at /srv/app.py:12' }))
    const client = clientFor(upstream.url)
    for (const onError of [
      () => {
        throw new Error('bug in onError')
      },
      () => ({ status: 200, message: 42 }),
      () => 'nope',
    ]) {
      const results = []
      const url = await relay(t, () => client.chat(BODY), { format: 'openai', onError }, results)
      const response = await fetch(url)
      assert.equal(response.status, 502)
      assert.equal((await response.json()).error.message, 'The AI service had an error. Please try again.')
      await waitFor(() => results.length === 1)
      assert.equal(results[0].ok, false)
    }
  })
})

describe('text format: a failure is never written into the answer', () => {
  test('after bytes were sent, pipeTo cuts the transfer: the client gets the text so far and a network error', async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const results = []
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'text' }, results)
    const response = await fetch(url)
    assert.equal(response.status, 200)
    const { text, error } = await readAll(response)
    assert.equal(text, 'Hello wor', 'only the answer text, no [error] line')
    assert.ok(error, 'reading the body fails: the answer is known to be incomplete')
    await waitFor(() => results.length === 1)
    assert.equal(results[0].ok, false)
    assert.equal(results[0].error.name, 'StreamError')
  })

  test('before any byte (upstream 200 that fails at once), an HTTP error status with a JSON body', async (t) => {
    const upstream = await serve(t, (req, res) => {
      startSse(res)
      sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
      res.end(
        `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error', code: 'overloaded' } })}\n\n`,
      )
    })
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'text' })
    const response = await fetch(url)
    assert.equal(response.status, 502)
    assert.match(response.headers.get('content-type'), /^application\/json/)
    const { error } = await response.json()
    assert.equal(error.message, 'overloaded')
    assert.equal(error.code, 'overloaded')
  })

  test('toNodeStream and toReadableStream fail instead of ending as if complete', { timeout: 5000 }, async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const client = clientFor(upstream.url)
    const node = client.chat(BODY).toNodeStream({ format: 'text' })
    let nodeText = ''
    node.setEncoding('utf8').on('data', (d) => (nodeText += d))
    const [nodeError] = await once(node, 'error')
    assert.equal(nodeText, 'Hello wor')
    assert.equal(nodeError.name, 'StreamError')

    const { text, error } = await readAll(new Response(client.chat(BODY).toReadableStream({ format: 'text' })))
    assert.equal(text, 'Hello wor')
    assert.equal(error?.name, 'StreamError')
  })
})

describe('no doubled prefixes', () => {
  test('a Client reading a streamdelta relay of an upstream 400 says "400 ..." once', async (t) => {
    const upstream = await serve(
      t,
      jsonError(400, {
        message: "Invalid value for 'messages'.",
        type: 'invalid_request_error',
        code: 'invalid_value',
      }),
    )
    const url = await relay(t, () => clientFor(upstream.url).chat(BODY), { format: 'openai' })
    const downstream = new Client({ baseURL: url, apiKey: 'sk-browser', maxRetries: 0 })
    const err = await downstream
      .chat(BODY)
      .final()
      .catch((e) => e)
    assert.equal(err.name, 'APIError')
    assert.equal(err.message, "400 Invalid value for 'messages'.")
  })

  test("a stream aborted through another stream's signal says 'The stream was aborted' once", async (t) => {
    const state = {}
    const upstream = await serve(t, streamForever(state))
    const client = clientFor(upstream.url)
    const first = client.chat(BODY)
    const second = client.chat(BODY, { signal: first.signal })
    first.abort('the user left')
    const err = await second.final().catch((e) => e)
    assert.equal(err.name, 'AbortError')
    assert.equal(err.message, 'The stream was aborted: the user left')
  })
})
