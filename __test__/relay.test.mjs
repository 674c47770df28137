// Relaying a stream to clients (API.md, "Piping to clients"): every format through every kind
// of server, read back by real clients (fetch, the official `openai` SDK, our own Client,
// `eventsource`, `ws` and Node's WebSocket), over real sockets on 127.0.0.1. Also what
// happens at the edges: a client that stops reading, one that leaves, a silent upstream and an
// upstream that fails before or after the first byte.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import fs from 'node:fs'
import { once } from 'node:events'
import { Readable, pipeline } from 'node:stream'
import express from 'express'
import Fastify from 'fastify'
import { WebSocketServer, WebSocket as WsWebSocket } from 'ws'
import { EventSource } from 'eventsource'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { sleep, waitFor } from './helpers/sse.mjs'
import { Client, SseParser, StreamError, AbortError } from '../index.mjs'

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const NEEDS_NODE_22 = NODE_MAJOR < 22 ? `needs Node >= 22 (running ${process.version})` : false

const KEY = 'sk-relay-test-SECRET-7f3a9c'
const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }
const FORMATS = ['openai', 'events', 'text', 'ndjson']
const CONTENT_TYPES = {
  openai: 'text/event-stream; charset=utf-8',
  events: 'text/event-stream; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
}
const MB = 1024 * 1024

// ---- the upstream: one well-known stream with text, a tool call, finish and usage ----------

// Payload text that would break a naive relay: a blank line plus a `data:` field, a lone CR,
// non-ASCII and markup.
const TEXTS = ['Hello', ', "world"\n\ndata: x', '\r and a lone CR', ' naïve 🚀 </script><b>bold</b>']
const TEXT = TEXTS.join('')
const TOOL_ARGS = ['{"city":', '"Paris"}']
const TOOL_CALL = { id: 'call_relay_1', name: 'get_weather', arguments: TOOL_ARGS.join('') }
/** The `toolCall` Delta for TOOL_CALL. */
const WHOLE_TOOL_CALL = { type: 'toolCall', choice: 0, index: 0, ...TOOL_CALL, kind: 'function' }
const FINISH = 'tool_calls'
const USAGE = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }

const UPSTREAM_CHUNKS = [
  chatChunk({ role: 'assistant', content: TEXTS[0] }),
  ...TEXTS.slice(1).map((content) => chatChunk({ content })),
  chatChunk({
    tool_calls: [
      { index: 0, id: TOOL_CALL.id, type: 'function', function: { name: TOOL_CALL.name, arguments: TOOL_ARGS[0] } },
    ],
  }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: TOOL_ARGS[1] } }] }),
  chatChunk({}, { finish: FINISH }),
  {
    id: 'chatcmpl-test',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'test-model',
    choices: [],
    usage: USAGE,
  },
]
const UPSTREAM_EVENTS = [...UPSTREAM_CHUNKS.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n']
const UPSTREAM_BODY = UPSTREAM_EVENTS.join('')

/** Serves the well-known stream, one event per write with an event-loop turn in between. */
async function writeKnownStream(res) {
  startSse(res)
  for (const event of UPSTREAM_EVENTS) {
    if (res.destroyed) return
    res.write(event)
    await new Promise((resolve) => setImmediate(resolve))
  }
  res.end()
}

/** Text, then an error event from the provider after the first byte. */
const MID_ERROR = {
  message: 'The server had an error while processing your request.',
  type: 'server_error',
  code: 'overloaded',
}
function writeTextThenError(res) {
  startSse(res)
  sseChunk(res, chatChunk({ role: 'assistant', content: 'Hello' }))
  sseChunk(res, chatChunk({ content: ' wor' }))
  res.end(`data: ${JSON.stringify({ error: MID_ERROR })}\n\n`)
}

/**
 * Streams `word<n> ` every `interval` ms until the client goes away; `state` records what the
 * upstream saw: `sent`, `closed`, `closedAt` (performance.now() of its socket's 'close').
 */
function streamForever(state, { interval = 10 } = {}) {
  Object.assign(state, { sent: 0, closed: false, closedAt: null, requests: 0 })
  return (req, res) => {
    state.requests++
    req.socket.once('close', () => {
      state.closed = true
      state.closedAt = performance.now()
    })
    startSse(res)
    sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
    const timer = setInterval(() => {
      if (res.destroyed) return
      sseChunk(res, chatChunk({ content: `word${state.sent++} ` }))
    }, interval)
    res.on('close', () => clearInterval(timer))
  }
}

async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

function clientFor(url, options = {}) {
  return new Client({ baseURL: url, apiKey: KEY, maxRetries: 0, ...options })
}

// ---- relay servers: one per target -----------------------------------------------------------

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

/** Copies a web `Response` onto a Node ServerResponse: the adapter a framework would be. */
function sendWebResponse(response, res) {
  res.writeHead(response.status, Object.fromEntries(response.headers))
  pipeline(Readable.fromWeb(response.body), res, () => {})
}

/**
 * The targets. Each starts a server whose every request relays `open()` (a new ChatStream) in
 * `options.format`, and returns its base URL. `results` collects what pipeTo resolved with.
 */
const TARGETS = {
  async 'node:http pipeTo'(t, open, options, results = []) {
    return listen(
      t,
      http.createServer(async (req, res) => results.push(await open(req).pipeTo(res, options))),
    )
  },
  async 'Express 5 pipeTo'(t, open, options, results = []) {
    const app = express()
    app.use(async (req, res) => results.push(await open(req).pipeTo(res, options)))
    return listen(t, http.createServer(app))
  },
  async 'Fastify reply.raw'(t, open, options, results = []) {
    const fastify = Fastify({ logger: false, forceCloseConnections: true })
    fastify.route({
      method: ['GET', 'POST'],
      url: '/*',
      handler(request, reply) {
        reply.hijack() // we write reply.raw ourselves: Fastify must not reply too
        return open(request.raw)
          .pipeTo(reply.raw, options)
          .then((result) => results.push(result))
      },
    })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    t.after(() => fastify.close())
    return `http://127.0.0.1:${fastify.server.address().port}`
  },
  async 'web Response'(t, open, options) {
    return listen(
      t,
      http.createServer((req, res) => {
        const response = new Response(open(req).toReadableStream(options), {
          headers: { 'content-type': CONTENT_TYPES[options.format] },
        })
        sendWebResponse(response, res)
      }),
    )
  },
  async 'toNodeStream().pipe(res)'(t, open, options) {
    return listen(
      t,
      http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': CONTENT_TYPES[options.format] })
        open(req).toNodeStream(options).pipe(res)
      }),
    )
  },
}
const PIPE_TO_TARGETS = ['node:http pipeTo', 'Express 5 pipeTo', 'Fastify reply.raw']

async function fetchText(url, init) {
  const response = await fetch(url, init)
  return { status: response.status, headers: response.headers, text: await response.text() }
}

// ---- parsing what clients receive --------------------------------------------------------------

/** Every SSE event of `text`, with comments counted: `{ events: [{event, data}], comments }`. */
function parseSse(text) {
  const parser = new SseParser()
  const events = [...parser.feed(text), ...parser.end()].map(({ event, data }) => ({ event, data }))
  const comments = text.split(/\r\n|\r|\n/).filter((line) => line.startsWith(':'))
  return { events, comments }
}

/**
 * What a Delta list says: `{ text, toolCalls: [{id,name,arguments}] (joined from the
 * `toolCallDelta` fragments), wholeCalls (the `toolCall` Deltas), finish, usage }`.
 */
function summarizeDeltas(deltas) {
  const out = { text: '', toolCalls: [], wholeCalls: [], finish: undefined, usage: undefined }
  for (const d of deltas) {
    if (d.type === 'text' && d.choice === 0) out.text += d.text
    else if (d.type === 'toolCallDelta') {
      const call = (out.toolCalls[d.index] ??= { id: null, name: '', arguments: '' })
      if (d.id) call.id = d.id
      if (d.name) call.name = d.name
      call.arguments += d.arguments
    } else if (d.type === 'toolCall') out.wholeCalls.push(d)
    else if (d.type === 'finish') out.finish = d.reason
    else if (d.type === 'usage') out.usage = d.usage
  }
  return out
}

/** The `events` format back into Deltas (and the names of the events, in order). */
function deltasFromEvents(events) {
  const deltas = []
  for (const { event, data } of events) {
    if (event === 'text') deltas.push({ type: 'text', choice: 0, text: JSON.parse(data) })
    else if (event === 'toolCallDelta' || event === 'toolCall') {
      const delta = JSON.parse(data)
      assert.equal(delta.type, event, 'a tool call event carries the Delta of its name')
      deltas.push(delta)
    } else if (event === 'finish') deltas.push({ type: 'finish', ...JSON.parse(data) })
    else if (event === 'usage') deltas.push({ type: 'usage', usage: JSON.parse(data) })
  }
  return deltas
}

function ndjsonLines(text) {
  assert.ok(text === '' || text.endsWith('\n'), 'ndjson ends with a newline')
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line))
}

function assertKnownSummary(summary, where) {
  assert.equal(summary.text, TEXT, `${where}: text`)
  assert.deepEqual(summary.toolCalls, [TOOL_CALL], `${where}: tool calls`)
  // Ours (not the openai SDK's chunks): the fragments, then the whole call once.
  if (summary.wholeCalls) {
    assert.deepEqual(summary.wholeCalls, [WHOLE_TOOL_CALL], `${where}: the whole tool call`)
  }
  assert.equal(summary.finish, FINISH, `${where}: finish reason`)
  assert.deepEqual(summary.usage, USAGE, `${where}: usage`)
}

/** Checks `text` is the well-known stream in `format` (what the format promises). */
function assertKnownStream(format, text) {
  switch (format) {
    case 'openai':
      // The provider's chunks, relayed as they came, then [DONE].
      assert.equal(text, UPSTREAM_BODY)
      break
    case 'events': {
      const { events } = parseSse(text)
      assert.ok(!events.some((e) => e.event === 'message'), 'no unnamed event: payload text injected no SSE field')
      assert.deepEqual(events.at(-1), { event: 'done', data: '{}' })
      assert.deepEqual(
        [...new Set(events.map((e) => e.event))],
        ['text', 'toolCallDelta', 'toolCall', 'finish', 'usage', 'done'],
      )
      assertKnownSummary(summarizeDeltas(deltasFromEvents(events)), 'events')
      break
    }
    case 'text':
      assert.equal(text, TEXT)
      break
    case 'ndjson': {
      const lines = ndjsonLines(text)
      for (const line of lines) assert.equal(typeof line.type, 'string', 'every line is a Delta')
      assertKnownSummary(summarizeDeltas(lines), 'ndjson')
      break
    }
  }
}

function assertRelayHeaders(headers, format) {
  assert.equal(headers.get('content-type'), CONTENT_TYPES[format])
  assert.equal(headers.get('cache-control'), 'no-cache, no-transform')
  assert.equal(headers.get('x-accel-buffering'), 'no')
}

// ---- each format through each target -------------------------------------------------------

describe('each format through each target: the same bytes', () => {
  let upstream
  let client
  before(async () => {
    upstream = await startServer((req, res) => writeKnownStream(res))
    client = clientFor(upstream.url)
  })
  after(() => upstream.close())

  for (const format of FORMATS) {
    describe(`format ${format}`, () => {
      /** `toReadableStream` consumed directly: the bytes every target must serve. */
      let reference
      before(async () => {
        reference = await new Response(client.chat(BODY).toReadableStream({ format })).text()
      })

      test('toReadableStream consumed directly holds the upstream stream in this format', () => {
        assertKnownStream(format, reference)
      })

      for (const [name, start] of Object.entries(TARGETS)) {
        test(`${name}: same bytes${PIPE_TO_TARGETS.includes(name) ? ', relay headers, resolves { ok: true, final }' : ''}`, async (t) => {
          const results = []
          const url = await start(t, () => client.chat(BODY), { format }, results)
          // The type is named: Bun's fetch sends a string body without the text/plain type the Fetch
          // standard gives it, and Fastify answers a typeless body with 415.
          const init = { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }
          const { status, headers, text } = await fetchText(`${url}/chat`, init)
          assert.equal(status, 200)
          assert.equal(text, reference)
          assert.equal(headers.get('content-type'), CONTENT_TYPES[format])
          if (PIPE_TO_TARGETS.includes(name)) {
            assertRelayHeaders(headers, format)
            await waitFor(() => results.length === 1)
            assert.equal(results[0].ok, true)
            assert.equal(results[0].final.choices[0].message.content, TEXT)
            assert.equal(results[0].final.choices[0].finish_reason, FINISH)
          }
        })
      }
    })
  }
})

// ---- real clients reading the relay ----------------------------------------------------------

describe('clients of the openai format', () => {
  /** An Express route the way a user writes it: forwards the client's body upstream. */
  async function openaiRoute(t, upstream) {
    const client = clientFor(upstream.url)
    const app = express()
    const results = []
    app.post('/v1/chat/completions', express.json(), async (req, res) => {
      results.push(await client.chat(req.body).pipeTo(res, { format: 'openai' }))
    })
    const url = await listen(t, http.createServer(app))
    return { url: `${url}/v1`, results }
  }

  test('the official openai SDK reads the same text, tool calls, finish reason and usage', {
    skip: NEEDS_NODE_22,
  }, async (t) => {
    const { default: OpenAI } = await import('openai')
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const relay = await openaiRoute(t, upstream)
    const openai = new OpenAI({ baseURL: relay.url, apiKey: 'sk-browser-side-not-the-upstream-key', maxRetries: 0 })
    const stream = await openai.chat.completions.create({
      ...BODY,
      stream: true,
      stream_options: { include_usage: true },
    })
    const summary = { text: '', toolCalls: [], finish: undefined, usage: undefined }
    for await (const chunk of stream) {
      if (chunk.usage) summary.usage = chunk.usage
      for (const choice of chunk.choices) {
        if (choice.delta?.content) summary.text += choice.delta.content
        for (const call of choice.delta?.tool_calls ?? []) {
          const into = (summary.toolCalls[call.index] ??= { id: null, name: '', arguments: '' })
          if (call.id) into.id = call.id
          if (call.function?.name) into.name += call.function.name
          if (call.function?.arguments) into.arguments += call.function.arguments
        }
        if (choice.finish_reason) summary.finish = choice.finish_reason
      }
    }
    assertKnownSummary(summary, 'openai SDK')
    // The route forwarded the SDK's body upstream with our own key, not the SDK's.
    const forwarded = upstream.requests.at(-1)
    assert.equal(JSON.parse(forwarded.body).model, BODY.model)
    assert.equal(forwarded.headers.authorization, `Bearer ${KEY}`)
  })

  test('the official openai SDK surfaces an upstream error sent after the first byte', {
    skip: NEEDS_NODE_22,
  }, async (t) => {
    const { default: OpenAI } = await import('openai')
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const relay = await openaiRoute(t, upstream)
    const openai = new OpenAI({ baseURL: relay.url, apiKey: 'sk-client', maxRetries: 0 })
    const stream = await openai.chat.completions.create({ ...BODY, stream: true })
    let text = ''
    let caught
    try {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    } catch (error) {
      caught = error
    }
    assert.equal(text, 'Hello wor')
    assert.ok(caught, 'the SDK should throw the in-band error')
    assert.match(String(caught.message), /The server had an error/)
  })

  test('our own client.chat pointed at the route gets the same final result as from the upstream', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const relay = await openaiRoute(t, upstream)
    const direct = await clientFor(upstream.url).chat(BODY).final()
    const relayed = clientFor(relay.url).chat(BODY)
    const deltas = []
    for await (const delta of relayed) deltas.push(delta)
    assertKnownSummary(summarizeDeltas(deltas), 'client.chat via the relay')
    assert.deepEqual(await relayed.final(), direct)
    await waitFor(() => relay.results.length === 1)
    assert.equal(relay.results[0].ok, true)
    assert.deepEqual(relay.results[0].final, direct)
  })

  test('our own client.chat gets a StreamError with partial for an upstream error after the first byte', async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const relay = await openaiRoute(t, upstream)
    const error = await clientFor(relay.url)
      .chat(BODY)
      .final()
      .then(
        () => assert.fail('final() should reject'),
        (e) => e,
      )
    assert.ok(error instanceof StreamError, `expected a StreamError, got ${error?.name}: ${error?.message}`)
    assert.match(error.message, /The server had an error/)
    assert.equal(error.partial?.choices[0].message.content, 'Hello wor')
  })
})

describe('the eventsource package reads the events format', () => {
  /** Opens an EventSource and collects its events until `done` or an in-band `error`. */
  function collectEventSource(url) {
    return new Promise((resolve, reject) => {
      const source = new EventSource(url)
      const events = []
      let unnamed = 0
      source.onmessage = () => unnamed++
      for (const name of ['text', 'toolCallDelta', 'toolCall', 'finish', 'usage']) {
        source.addEventListener(name, (e) => events.push({ event: name, data: e.data }))
      }
      source.addEventListener('done', () => {
        source.close()
        resolve({ events, unnamed, ending: 'done' })
      })
      source.addEventListener('error', (e) => {
        source.close()
        if (e.data !== undefined) resolve({ events, unnamed, ending: 'error', error: JSON.parse(e.data) })
        else reject(new Error(`EventSource failed: ${e.message ?? e.code ?? 'connection error'}`))
      })
    })
  }

  test('text with "\\n\\ndata: x" and "\\r" arrives unchanged, with tool calls, finish and usage', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const client = clientFor(upstream.url)
    const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format: 'events' })
    const { events, unnamed } = await collectEventSource(`${url}/chat`)
    assert.equal(unnamed, 0, 'payload text must not create unnamed events')
    const summary = summarizeDeltas(deltasFromEvents(events))
    assert.ok(summary.text.includes('\n\ndata: x') && summary.text.includes('\r'))
    assertKnownSummary(summary, 'eventsource')
  })

  test('tool calls arrive as event: toolCallDelta fragments, then one event: toolCall with the whole call', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const client = clientFor(upstream.url)
    const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format: 'events' })
    const { events } = await collectEventSource(`${url}/chat`)
    const names = events.map((e) => e.event)
    assert.deepEqual(
      names.filter((name) => name.startsWith('toolCall')),
      ['toolCallDelta', 'toolCallDelta', 'toolCall'],
    )
    const fragments = events.filter((e) => e.event === 'toolCallDelta').map((e) => JSON.parse(e.data))
    assert.deepEqual(
      fragments.map((f) => f.arguments),
      TOOL_ARGS,
    )
    assert.deepEqual(fragments[0], {
      type: 'toolCallDelta',
      choice: 0,
      index: 0,
      id: TOOL_CALL.id,
      name: TOOL_CALL.name,
      arguments: TOOL_ARGS[0],
      kind: 'function',
    })
    const whole = JSON.parse(events.find((e) => e.event === 'toolCall').data)
    assert.deepEqual(whole, WHOLE_TOOL_CALL)
    assert.deepEqual(JSON.parse(whole.arguments), { city: 'Paris' })
    // After its last fragment, before the finish.
    assert.ok(names.lastIndexOf('toolCallDelta') < names.indexOf('toolCall'))
    assert.ok(names.indexOf('toolCall') < names.indexOf('finish'))
  })

  test('a raw client reads event: toolCallDelta and event: toolCall blocks, one whole call per call', async (t) => {
    const call = (index, id, name, args) => ({ index, id, type: 'function', function: { name, arguments: args } })
    const upstream = await serve(t, (req, res) => {
      startSse(res)
      sseChunk(res, chatChunk({ tool_calls: [call(0, 'call_a', 'read', '{"path":')] }))
      sseChunk(res, chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"a.txt"}' } }] }))
      sseChunk(res, chatChunk({ tool_calls: [call(1, 'call_b', 'list', '{}')] }))
      sseChunk(res, chatChunk({}, { finish: 'tool_calls' }))
      res.end('data: [DONE]\n\n')
    })
    const client = clientFor(upstream.url)
    const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format: 'events' })
    const { status, text } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
    assert.equal(status, 200)
    const whole = (index, id, name, args) =>
      `event: toolCall\ndata: ${JSON.stringify({ type: 'toolCall', choice: 0, index, id, name, arguments: args, kind: 'function' })}\n\n`
    const fragment = (fields) =>
      `event: toolCallDelta\ndata: ${JSON.stringify({ type: 'toolCallDelta', choice: 0, ...fields, kind: 'function' })}\n\n`
    assert.equal(
      text,
      [
        fragment({ index: 0, id: 'call_a', name: 'read', arguments: '{"path":' }),
        fragment({ index: 0, arguments: '"a.txt"}' }),
        // call_a is whole as call_b starts; call_b before the finish.
        whole(0, 'call_a', 'read', '{"path":"a.txt"}'),
        fragment({ index: 1, id: 'call_b', name: 'list', arguments: '{}' }),
        whole(1, 'call_b', 'list', '{}'),
        'event: finish\ndata: {"choice":0,"reason":"tool_calls"}\n\n',
        'event: done\ndata: {}\n\n',
      ].join(''),
    )
  })

  test('an upstream error after the first byte arrives as event: error with a JSON body', async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const client = clientFor(upstream.url)
    const url = await TARGETS['Express 5 pipeTo'](t, () => client.chat(BODY), { format: 'events' })
    const { events, ending, error } = await collectEventSource(`${url}/chat`)
    assert.equal(ending, 'error')
    assert.equal(summarizeDeltas(deltasFromEvents(events)).text, 'Hello wor')
    assert.match(error.message, /The server had an error/)
    assert.equal(error.type, MID_ERROR.type)
    assert.equal(error.code, MID_ERROR.code)
  })
})

// ---- WebSockets ----------------------------------------------------------------------------------

describe('pipeToWebSocket', () => {
  /** A `ws` server relaying each connection's stream; `results` gets what pipeToWebSocket resolved. */
  async function wsRelay(t, open, options) {
    const server = http.createServer()
    const wss = new WebSocketServer({ server })
    const results = []
    wss.on('connection', async (ws) => {
      const result = await open().pipeToWebSocket(ws, options)
      results.push(result)
      if (result.ok) ws.close(1000, 'done')
    })
    const url = await listen(t, server)
    t.after(() => {
      for (const ws of wss.clients) ws.terminate()
      wss.close()
    })
    return { url: url.replace('http:', 'ws:'), results }
  }

  /** Reads messages from a client socket (`ws` or WHATWG) until `[{"type":"done"}]` or close. */
  function readMessages(socket) {
    return new Promise((resolve, reject) => {
      const messages = []
      const onMessage = (data) => {
        const message = JSON.parse(String(data))
        messages.push(message)
        if (Array.isArray(message) && message.length === 1 && message[0].type === 'done') resolve(messages)
      }
      if (typeof socket.on === 'function') {
        socket.on('message', (data) => onMessage(data))
        socket.on('error', reject)
        socket.on('close', () => resolve(messages))
      } else {
        socket.addEventListener('message', (e) => onMessage(e.data))
        socket.addEventListener('error', () => reject(new Error('WebSocket error')))
        socket.addEventListener('close', () => resolve(messages))
      }
    })
  }

  const clients = {
    'the ws package client': { skip: false, open: (url) => new WsWebSocket(url) },
    "Node's global WebSocket": { skip: NEEDS_NODE_22, open: (url) => new globalThis.WebSocket(url) },
  }

  for (const [name, { skip, open }] of Object.entries(clients)) {
    test(`${name} receives the same text, tool calls, finish and usage, then [{"type":"done"}]`, {
      skip,
    }, async (t) => {
      const upstream = await serve(t, (req, res) => writeKnownStream(res))
      const client = clientFor(upstream.url)
      const relay = await wsRelay(t, () => client.chat(BODY), { format: 'events' })
      const socket = open(`${relay.url}/ws`)
      t.after(() => socket.close())
      const messages = await readMessages(socket)
      assert.ok(
        messages.every((m) => Array.isArray(m)),
        'every message is a JSON array of Delta objects',
      )
      assert.deepEqual(messages.at(-1), [{ type: 'done' }])
      const deltas = messages.slice(0, -1).flat()
      assertKnownSummary(summarizeDeltas(deltas), name)
      await waitFor(() => relay.results.length === 1)
      assert.equal(relay.results[0].ok, true)
    })

    test(`${name} closing aborts the upstream (the upstream sees its socket close)`, { skip }, async (t) => {
      const state = {}
      const upstream = await serve(t, streamForever(state))
      const client = clientFor(upstream.url)
      const relay = await wsRelay(t, () => client.chat(BODY), { format: 'events' })
      const socket = open(`${relay.url}/ws`)
      t.after(() => socket.close())
      // Close after the first text arrived.
      await new Promise((resolve) => {
        const onMessage = (data) => {
          if (JSON.parse(String(data)).some((d) => d.type === 'text' && d.text !== '')) resolve()
        }
        if (typeof socket.on === 'function') socket.on('message', onMessage)
        else socket.addEventListener('message', (e) => onMessage(e.data))
      })
      socket.close()
      assert.ok(
        await waitFor(() => state.closed, 3000),
        'the upstream socket should close once the WebSocket client left',
      )
      assert.ok(await waitFor(() => relay.results.length === 1, 3000), 'pipeToWebSocket should resolve')
      assert.equal(relay.results[0].ok, false)
    })
  }

  test('ndjson over a WebSocket: Delta lines, then {"type":"done"}', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const client = clientFor(upstream.url)
    const relay = await wsRelay(t, () => client.chat(BODY), { format: 'ndjson' })
    const socket = new WsWebSocket(`${relay.url}/ws`)
    t.after(() => socket.close())
    const lines = []
    await new Promise((resolve, reject) => {
      socket.on('message', (data) => lines.push(...ndjsonLines(String(data))))
      socket.on('close', resolve)
      socket.on('error', reject)
    })
    assert.deepEqual(lines.at(-1), { type: 'done' })
    assertKnownSummary(summarizeDeltas(lines.slice(0, -1)), 'ws ndjson')
  })

  test('an upstream error after the first byte: an error message, then close 1011', async (t) => {
    const upstream = await serve(t, (req, res) => writeTextThenError(res))
    const client = clientFor(upstream.url)
    const relay = await wsRelay(t, () => client.chat(BODY), { format: 'events' })
    const socket = new WsWebSocket(`${relay.url}/ws`)
    t.after(() => socket.close())
    const messages = []
    const [code] = await new Promise((resolve, reject) => {
      socket.on('message', (data) => messages.push(JSON.parse(String(data))))
      socket.on('close', (...args) => resolve(args))
      socket.on('error', reject)
    })
    assert.equal(code, 1011)
    const last = messages.at(-1)
    assert.equal(last.length, 1)
    assert.equal(last[0].type, 'error', `the error message is {"type":"error",...}: ${JSON.stringify(last[0])}`)
    const error = last[0].error ?? last[0] // the error's own fields, flat or under `error`
    assert.match(error.message, /The server had an error/)
    assert.equal(error.code, MID_ERROR.code)
    assert.equal(summarizeDeltas(messages.slice(0, -1).flat()).text, 'Hello wor')
  })
})

// ---- backpressure and disconnects ------------------------------------------------------------------

/**
 * Bytes the kernel holds on 127.0.0.1 TCP connections, from /proc/net/tcp (Linux), keyed
 * `localPort>remotePort`: `{ tx, rx }` (unacknowledged send queue, unread receive queue).
 * Null where /proc/net/tcp is not readable.
 */
function kernelQueues() {
  let table
  try {
    table = fs.readFileSync('/proc/net/tcp', 'utf8')
  } catch {
    return null
  }
  const out = new Map()
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 5) continue
    const port = (address) => parseInt(address.split(':')[1], 16)
    const [tx, rx] = fields[4].split(':').map((hex) => parseInt(hex, 16))
    out.set(`${port(fields[1])}>${port(fields[2])}`, { tx, rx })
  }
  return out
}

describe('a client that stops reading', () => {
  test('a paused client socket while the upstream sends 50 MB: bounded RSS, upstream writes blocked', {
    timeout: 120_000,
  }, async (t) => {
    const TOTAL = 50 * MB
    const piece = `data: ${JSON.stringify(chatChunk({ content: 'x'.repeat(16 * 1024) }))}\n\n`
    const up = { written: 0, done: false, lastProgress: performance.now(), port: 0, peerPort: 0 }
    const upstream = await serve(t, async (req, res) => {
      up.peerPort = req.socket.remotePort
      startSse(res)
      sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
      while (up.written < TOTAL && !res.destroyed) {
        up.written += piece.length
        up.lastProgress = performance.now()
        if (!res.write(piece))
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
      if (res.destroyed) return
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end('data: [DONE]\n\n')
      up.done = true
    })
    up.port = Number(new URL(upstream.url).port)
    const client = clientFor(upstream.url)
    const results = []
    let relaySocket = null
    const url = new URL(
      await listen(
        t,
        http.createServer(async (req, res) => {
          relaySocket = res.socket
          results.push(await client.chat(BODY).pipeTo(res, { format: 'openai' }))
        }),
      ),
    )

    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20)
    t.after(() => clearInterval(sampler))

    // A raw client: sends the request, then reads nothing.
    const socket = net.connect(Number(url.port), '127.0.0.1')
    t.after(() => socket.destroy())
    socket.pause()
    await once(socket, 'connect')
    socket.write(
      `POST /chat HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    )

    // Wait until the upstream's writes stop making progress (blocked on backpressure).
    const stalled = await waitFor(() => up.written > 0 && performance.now() - up.lastProgress > 1000, 60_000, 50)
    clearInterval(sampler)
    const rssGrowth = rssPeak - rssBefore
    assert.ok(
      stalled && !up.done,
      `the upstream should block on backpressure, but it wrote ${(up.written / MB).toFixed(1)} MB${up.done ? ' (all of it)' : ''}`,
    )

    // Most of what the upstream wrote sits in kernel socket buffers (sizes the kernel tunes);
    // what the relay process itself holds is the rest: upstream bytes neither still queued on
    // the upstream connection nor already handed to the client's socket.
    const queues = kernelQueues()
    const upstreamTx = queues?.get(`${up.port}>${up.peerPort}`)?.tx ?? 0
    const relayRx = queues?.get(`${up.peerPort}>${up.port}`)?.rx ?? 0
    const handedToClient = relaySocket.bytesWritten - relaySocket.writableLength // bytesWritten counts queued writes too
    const heldByRelay = up.written - upstreamTx - relayRx - handedToClient
    const mb = (n) => `${(n / MB).toFixed(1)} MB`
    t.diagnostic(
      `upstream wrote ${mb(up.written)} before blocking (kernel: ${queues ? `${mb(upstreamTx + relayRx)} on the upstream connection` : 'not measurable'}, ` +
        `${mb(handedToClient)} handed to the client socket; held by the relay: ${queues ? mb(heldByRelay) : 'n/a'}); relay RSS growth ${mb(rssGrowth)}`,
    )
    assert.ok(
      up.written < 0.8 * TOTAL,
      `the upstream wrote ${mb(up.written)} of ${mb(TOTAL)}: its reads were not paused`,
    )
    if (queues)
      assert.ok(
        heldByRelay < 8 * MB,
        `the relay holds ${mb(heldByRelay)} of upstream data for a client that reads nothing`,
      )
    assert.ok(rssGrowth < 150 * MB, `relay RSS grew ${mb(rssGrowth)}`)

    // Resuming the client lets everything through: paused, not dropped.
    let received = 0
    let tail = ''
    socket.on('data', (data) => {
      received += data.length
      tail = (tail + data.toString('latin1')).slice(-64)
    })
    socket.resume()
    assert.ok(await waitFor(() => results.length === 1, 60_000), 'pipeTo should finish once the client reads again')
    assert.equal(results[0].ok, true)
    assert.ok(up.done)
    assert.ok(await waitFor(() => tail.includes('data: [DONE]\n\n'), 5000), 'the client gets the whole stream')
    assert.ok(received > TOTAL, `the client read ${received} bytes`)
  })
})

describe('a client that disconnects', () => {
  /**
   * One try: a raw HTTP client reads the first body bytes, then destroys its socket. Returns
   * the ms from destroy() to the upstream socket's 'close', and what pipeTo resolved with.
   */
  async function disconnectOnce(t, startTarget) {
    const state = {}
    const upstream = await serve(t, streamForever(state))
    const client = clientFor(upstream.url)
    const results = []
    const url = await startTarget(t, () => client.chat(BODY), { format: 'openai' }, results)
    const request = http.request(`${url}/chat`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json' },
    })
    request.end('{}')
    const [response] = await once(request, 'response')
    assert.equal(response.statusCode, 200)
    await once(response, 'data')
    assert.ok(await waitFor(() => state.sent >= 2), 'the upstream should be streaming')
    const destroyedAt = performance.now()
    request.destroy()
    const closed = await waitFor(() => state.closed, 3000, 1)
    assert.ok(closed, 'the upstream socket should close after the client left')
    return { ms: state.closedAt - destroyedAt, results }
  }

  test('pipeTo: upstream closed within 100 ms of the client leaving; resolves { ok: false }; nothing unhandled', async (t) => {
    const unhandled = []
    const onUnhandled = (reason) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    t.after(() => process.off('unhandledRejection', onUnhandled))

    const measured = []
    for (let i = 0; i < 3; i++) {
      const { ms, results } = await disconnectOnce(t, TARGETS['node:http pipeTo'])
      measured.push(ms)
      assert.ok(await waitFor(() => results.length === 1, 3000), 'pipeTo should resolve')
      assert.equal(results[0].ok, false)
      assert.ok(results[0].error instanceof AbortError, `expected an AbortError, got ${results[0].error}`)
      if (ms < 100) break
    }
    t.diagnostic(`client destroy -> upstream socket close: ${measured.map((ms) => ms.toFixed(1)).join(', ')} ms`)
    assert.ok(
      Math.min(...measured) < 100,
      `upstream closed ${Math.min(...measured).toFixed(1)} ms after the client left`,
    )
    await sleep(50)
    assert.deepEqual(unhandled, [])
  })

  test('pipeTo: a client that leaves before the upstream answered aborts the upstream request', async (t) => {
    const state = { closed: false, closedAt: null }
    const upstream = await serve(t, (req) => {
      // Never answers; notes when the relay's connection closes.
      req.socket.once('close', () => {
        state.closed = true
        state.closedAt = performance.now()
      })
    })
    const client = clientFor(upstream.url)
    const results = []
    const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format: 'events' }, results)
    const request = http.request(`${url}/chat`, { method: 'POST', agent: false })
    request.on('error', () => {})
    request.end('{}')
    assert.ok(await waitFor(() => upstream.requests.length === 1), 'the upstream should get the request')
    const destroyedAt = performance.now()
    request.destroy()
    assert.ok(await waitFor(() => state.closed, 3000, 1), 'the upstream socket should close after the client left')
    t.diagnostic(
      `client destroy -> upstream socket close (before headers): ${(state.closedAt - destroyedAt).toFixed(1)} ms`,
    )
    assert.ok(await waitFor(() => results.length === 1, 3000), 'pipeTo should resolve')
    assert.equal(results[0].ok, false)
  })

  for (const name of ['Express 5 pipeTo', 'Fastify reply.raw']) {
    test(`${name}: the upstream closes when the client leaves; resolves { ok: false }`, async (t) => {
      const { results } = await disconnectOnce(t, TARGETS[name])
      assert.ok(await waitFor(() => results.length === 1, 3000), 'pipeTo should resolve')
      assert.equal(results[0].ok, false)
    })
  }

  test('web Response and toNodeStream (through stream.pipeline): the upstream closes when the client leaves', async (t) => {
    const targets = {
      'web Response': TARGETS['web Response'],
      'toNodeStream + pipeline': (t, open, options) =>
        listen(
          t,
          http.createServer((req, res) => {
            res.writeHead(200, { 'content-type': CONTENT_TYPES[options.format] })
            pipeline(open(req).toNodeStream(options), res, () => {})
          }),
        ),
    }
    for (const [name, start] of Object.entries(targets)) {
      await t.test(name, async (t) => {
        await disconnectOnce(t, start)
      })
    }
  })
})

// ---- heartbeat -------------------------------------------------------------------------------------

describe('heartbeat', () => {
  /** First chunk, 300 ms of silence, then the rest. */
  async function silentUpstream(t) {
    return serve(t, async (req, res) => {
      startSse(res)
      res.write(UPSTREAM_EVENTS[0])
      await sleep(300)
      res.end(UPSTREAM_EVENTS.slice(1).join(''))
    })
  }

  for (const format of ['openai', 'events']) {
    test(`${format}: upstream silent for 300 ms with heartbeat 50 -> the client sees ": ping" comments`, async (t) => {
      const upstream = await silentUpstream(t)
      const client = clientFor(upstream.url)
      const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format, heartbeat: 50 })
      const { text } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
      const { comments } = parseSse(text)
      t.diagnostic(`${comments.length} ping comment(s) in 300 ms of silence`)
      assert.ok(comments.length >= 1, 'at least one ": ping" comment')
      assert.ok(
        comments.every((c) => c === ': ping'),
        `only ": ping" comments: ${JSON.stringify(comments)}`,
      )
      // The pings come between whole events and change nothing else.
      assertKnownStream(format, text.replaceAll(': ping\n\n', ''))
      assert.ok(text.indexOf(': ping') > text.indexOf('\n\n'), 'the first ping comes after the first event')
    })
  }

  for (const format of ['text', 'ndjson']) {
    test(`${format}: no comments in a content-only format, even with heartbeat 50`, async (t) => {
      const upstream = await silentUpstream(t)
      const client = clientFor(upstream.url)
      const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format, heartbeat: 50 })
      const { text } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
      assert.ok(!text.includes(': ping'))
      assertKnownStream(format, text)
    })
  }
})

// ---- errors -------------------------------------------------------------------------------------------

describe('errors before the first byte become an HTTP status and a JSON body', () => {
  const jsonError =
    (status, error, headers = {}) =>
    (req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify({ error }))
    }

  /** Relays `client.chat` in each format and checks the answer; returns the bodies. */
  async function checkEveryFormat(t, client, expected) {
    const bodies = []
    for (const format of FORMATS) {
      const results = []
      const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format }, results)
      const response = await fetch(`${url}/chat`, { method: 'POST', body: '{}' })
      const raw = await response.text()
      assert.equal(response.status, expected.status, `${format}: status`)
      assert.match(response.headers.get('content-type'), /^application\/json/, `${format}: content-type`)
      for (const [name, value] of Object.entries(expected.headers ?? {}))
        assert.equal(response.headers.get(name), value, `${format}: ${name}`)
      assert.ok(!raw.includes(KEY), `${format}: the body must not contain the API key: ${raw}`)
      assert.ok(
        ![...response.headers.values()].some((v) => v.includes(KEY)),
        `${format}: no header may contain the API key`,
      )
      const body = JSON.parse(raw)
      assert.equal(typeof body.error, 'object', `${format}: { error: {...} }`)
      assert.equal(typeof body.error.message, 'string')
      assert.ok('type' in body.error && 'code' in body.error, `${format}: error has message, type and code: ${raw}`)
      await waitFor(() => results.length === 1)
      assert.equal(results[0].ok, false)
      assert.ok(results[0].error instanceof Error)
      bodies.push(body)
    }
    return bodies
  }

  test('upstream 429 with retry-after -> 429 with the same retry-after', async (t) => {
    const error = {
      message: 'Rate limit reached for test-model.',
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    }
    const upstream = await serve(t, jsonError(429, error, { 'retry-after': '7' }))
    const bodies = await checkEveryFormat(t, clientFor(upstream.url), { status: 429, headers: { 'retry-after': '7' } })
    for (const body of bodies) {
      assert.match(body.error.message, /Rate limit reached/)
      assert.equal(body.error.type, 'requests')
      assert.equal(body.error.code, 'rate_limit_exceeded')
    }
  })

  test('upstream 400 JSON error -> 400 with its message, type and code', async (t) => {
    const error = {
      message: "Invalid value for 'messages'.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'invalid_value',
    }
    const upstream = await serve(t, jsonError(400, error))
    const bodies = await checkEveryFormat(t, clientFor(upstream.url), { status: 400 })
    for (const body of bodies) {
      assert.match(body.error.message, /Invalid value for 'messages'/)
      assert.equal(body.error.type, 'invalid_request_error')
      assert.equal(body.error.code, 'invalid_value')
    }
  })

  test("upstream 401 -> 502 (our credentials, not the client's), never the API key", async (t) => {
    // Providers echo (part of) the key: the relay must not pass it on.
    const error = {
      message: `Incorrect API key provided: ${KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    }
    const upstream = await serve(t, jsonError(401, error, { 'www-authenticate': `Bearer realm="${KEY}"` }))
    await checkEveryFormat(t, clientFor(upstream.url), { status: 502 })
  })

  test('upstream 500 -> 502', async (t) => {
    const upstream = await serve(
      t,
      jsonError(500, { message: 'The server had an error.', type: 'server_error', param: null, code: null }),
    )
    await checkEveryFormat(t, clientFor(upstream.url), { status: 502 })
  })

  test('connection refused -> 502', async (t) => {
    const probe = net.createServer()
    probe.listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const { port } = probe.address()
    await new Promise((resolve) => probe.close(resolve))
    const bodies = await checkEveryFormat(t, clientFor(`http://127.0.0.1:${port}/v1`), { status: 502 })
    for (const body of bodies) assert.ok(body.error.message.length > 0)
  })

  test('upstream timeout (no response headers) -> 504', async (t) => {
    const upstream = await serve(t, () => {
      // Never answer.
    })
    await checkEveryFormat(t, clientFor(upstream.url, { timeout: 150 }), { status: 504 })
  })
})

describe('errors after the first byte are reported in-band, then the stream ends', () => {
  const checks = {
    events(text) {
      const { events } = parseSse(text)
      assert.equal(summarizeDeltas(deltasFromEvents(events)).text, 'Hello wor')
      assert.equal(events.at(-1).event, 'error')
      assert.ok(!events.some((e) => e.event === 'done'), 'no done after an error')
      return JSON.parse(events.at(-1).data)
    },
    openai(text) {
      const { events } = parseSse(text)
      assert.ok(!events.some((e) => e.data === '[DONE]'), 'no [DONE] after an error')
      const payloads = events.map((e) => JSON.parse(e.data))
      assert.equal(payloads.filter((p) => p.error).length, 1, 'exactly one error event')
      assert.ok(payloads.at(-1).error, 'the error is the last event')
      assert.equal(payloads.map((p) => p.choices?.[0]?.delta?.content ?? '').join(''), 'Hello wor')
      return payloads.at(-1).error
    },
    ndjson(text) {
      const lines = ndjsonLines(text)
      assert.equal(summarizeDeltas(lines).text, 'Hello wor')
      const last = lines.at(-1)
      assert.equal(last.type, 'error', `the last line is a {"type":"error"} line: ${JSON.stringify(last)}`)
      // The error's own fields, flat or under `error` (the discriminator keeps `type`).
      return last.error ?? last
    },
  }

  // `text` has no in-band error (it would read as answer text): see relay-errors.test.mjs.
  for (const format of FORMATS.filter((f) => f !== 'text')) {
    test(`${format}: the text so far, then the error, then the end`, async (t) => {
      const upstream = await serve(t, (req, res) => writeTextThenError(res))
      const client = clientFor(upstream.url)
      const results = []
      const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format }, results)
      const { status, text } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
      assert.equal(status, 200)
      const error = checks[format](text)
      assert.match(error.message, /The server had an error/)
      if (format !== 'ndjson') assert.equal(error.type, MID_ERROR.type)
      assert.equal(error.code, MID_ERROR.code)
      await waitFor(() => results.length === 1)
      assert.equal(results[0].ok, false)
      assert.ok(results[0].error instanceof StreamError)
    })
  }
})

// ---- headers and flush ----------------------------------------------------------------------------

describe('headers and res.flush', () => {
  test('content-type per format, cache-control: no-cache, no-transform, x-accel-buffering: no', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const client = clientFor(upstream.url)
    for (const format of FORMATS) {
      const url = await TARGETS['node:http pipeTo'](t, () => client.chat(BODY), { format })
      const { headers } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
      assertRelayHeaders(headers, format)
    }
  })

  /** Wraps `res` so calls to write and flush are recorded in order. */
  function instrument(res, calls) {
    const write = res.write
    res.write = function (...args) {
      calls.push('write')
      return write.apply(this, args)
    }
    res.flush = () => calls.push('flush')
  }

  test('res.flush (as the compression middleware adds) is called after every write: node:http', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const client = clientFor(upstream.url)
    const calls = []
    const url = await listen(
      t,
      http.createServer((req, res) => {
        instrument(res, calls)
        return client.chat(BODY).pipeTo(res, { format: 'events' })
      }),
    )
    const { text } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
    assertKnownStream('events', text)
    assert.ok(calls.length >= 2, 'at least one write')
    assert.match(calls.join(' '), /^(write flush ?)+$/, `every write is followed by a flush: ${calls.join(' ')}`)
  })

  test('res.flush is called after every write: Express with a middleware that adds flush', async (t) => {
    const upstream = await serve(t, (req, res) => writeKnownStream(res))
    const client = clientFor(upstream.url)
    const calls = []
    const app = express()
    app.use((req, res, next) => {
      instrument(res, calls)
      next()
    })
    app.post('/chat', (req, res) => client.chat(BODY).pipeTo(res, { format: 'openai', heartbeat: 20 }))
    const url = await listen(t, http.createServer(app))
    const { text } = await fetchText(`${url}/chat`, { method: 'POST', body: '{}' })
    assertKnownStream('openai', text.replaceAll(': ping\n\n', ''))
    assert.match(calls.join(' '), /^(write flush ?)+$/, `every write is followed by a flush: ${calls.join(' ')}`)
  })
})
