// The fault matrix (issue 5): one row per way a server or network can fail, each against a
// local node:http server on 127.0.0.1, each observed through the three consumption paths
// (`for await`, `final()`, events). Every row checks the error class and `code` (or a normal
// end), `partial` (its content, or its absence before any body byte), that no unhandled
// rejection occurred, and that the server saw the socket closed.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import {
  Client,
  APIError,
  ConnectionError,
  TimeoutError,
  StreamError,
  ParseError,
  IncompleteStreamError,
} from 'streamdelta'
import { startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import {
  startFaultServer,
  dropConnection,
  resetConnection,
  refusedURL,
  watchUnhandled,
  writeApart,
} from './helpers/faults.mjs'

const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }

/** Headers, a role chunk and one content chunk per string. */
function writeText(res, texts) {
  startSse(res)
  sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
  for (const text of texts) sseChunk(res, chatChunk({ content: text }))
}

function finishAndDone(res) {
  sseChunk(res, chatChunk({}, { finish: 'stop' }))
  res.end('data: [DONE]\n\n')
}

function jsonError(res, status, error, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify({ error }))
}

const later = (ms, fn) => setTimeout(fn, ms)

/**
 * The rows. `options`: client options over the defaults below. `handler(req, res, server)`:
 * the server's answer. `expect`: `{ error, code, partial, requests, attempts, clientCloses }`
 * or `{ text, requests }` for a normal end; `partial: null` means "no partial" (nothing of
 * the body had arrived). `check(outcome, server)`: row-specific assertions.
 */
const ROWS = [
  {
    name: '429 with retry-after, then 200: succeeds after waiting',
    options: { maxRetries: 2 },
    handler(req, res, server) {
      if (server.requests.length === 1)
        return jsonError(
          res,
          429,
          { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
          { 'retry-after': '1' },
        )
      writeText(res, ['Hel', 'lo'])
      finishAndDone(res)
    },
    expect: { text: 'Hello', requests: 2 },
    check(outcome, server) {
      const waited = server.requests[1].at - server.requests[0].at
      // retry-after: 1 (seconds) wins over the 0.5 s default backoff.
      assert.ok(waited >= 950, `waited ${waited.toFixed(0)} ms, expected about 1000 (retry-after: 1)`)
      assert.ok(waited < 3000, `waited ${waited.toFixed(0)} ms, expected about 1000`)
    },
  },
  {
    name: '500 three times: APIError after 3 attempts',
    options: { maxRetries: 2 },
    handler(req, res) {
      jsonError(res, 500, { message: 'internal', type: 'server_error' })
    },
    expect: { error: APIError, code: 'ERR_API', partial: null, requests: 3, attempts: 3 },
    check({ error }, server) {
      assert.equal(error.status, 500)
      assert.match(error.message, /3 attempts/, 'the final error says how many attempts were made')
      // Default backoff min(0.5 * 2^n, 8) s less up to 25 % jitter: 0.375-0.5 s, then 0.75-1 s.
      const [a, b, c] = server.requests.map((r) => r.at)
      assert.ok(b - a >= 350 && b - a < 1500, `first wait ${(b - a).toFixed(0)} ms, expected 375-500`)
      assert.ok(c - b >= 700 && c - b < 2500, `second wait ${(c - b).toFixed(0)} ms, expected 750-1000`)
    },
  },
  {
    name: 'connection refused: ConnectionError',
    options: { maxRetries: 1 },
    refused: true,
    expect: { error: ConnectionError, code: 'ERR_CONNECTION', partial: null, attempts: 2 },
    check({ error }) {
      assert.ok(error.cause instanceof Error, 'cause is an Error')
      assert.match(error.message, /2 attempts/)
    },
  },
  {
    name: 'reset after headers, before any data: retried (no body byte reached the caller), then ConnectionError',
    options: { maxRetries: 1 },
    handler(req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.flushHeaders()
      // Late enough for the client to have read the headers, so the reset hits the body read.
      later(30, () => resetConnection(res))
    },
    expect: { error: ConnectionError, code: 'ERR_CONNECTION', partial: null, requests: 2, attempts: 2 },
  },
  {
    name: 'drop after 3 chunks: IncompleteStreamError with partial',
    handler(req, res) {
      writeText(res, ['Hel', 'lo', ' there'])
      later(30, () => dropConnection(res))
    },
    expect: { error: IncompleteStreamError, code: 'ERR_INCOMPLETE', partial: 'Hello there', requests: 1 },
  },
  {
    name: "stall after 2 chunks: TimeoutError 'idle' with partial",
    options: { idleTimeout: 200 },
    handler(req, res) {
      writeText(res, ['Hel', 'lo'])
      // then silence, connection kept open
    },
    expect: { error: TimeoutError, code: 'ERR_TIMEOUT', partial: 'Hello', requests: 1, clientCloses: true },
    check({ error }) {
      assert.equal(error.phase, 'idle')
    },
  },
  {
    name: "no headers at all: TimeoutError 'headers'",
    options: { timeout: 150, maxRetries: 0 },
    handler() {
      // never answers
    },
    expect: { error: TimeoutError, code: 'ERR_TIMEOUT', partial: null, requests: 1, clientCloses: true },
    check({ error }) {
      assert.equal(error.phase, 'headers')
    },
  },
  {
    name: 'malformed JSON chunk: ParseError with the line and partial',
    handler(req, res) {
      writeText(res, ['Hel', 'lo'])
      res.write('data: {"choices":[{"index":0,"delta":{"content":"x"}}\n\n')
      finishAndDone(res)
    },
    expect: { error: ParseError, code: 'ERR_PARSE', partial: 'Hello', requests: 1 },
    check({ error }) {
      assert.equal(error.line, '{"choices":[{"index":0,"delta":{"content":"x"}}')
    },
  },
  {
    name: '{"error":...} after text: StreamError with partial',
    handler(req, res) {
      writeText(res, ['Hel', 'lo'])
      res.write('data: {"error":{"message":"overloaded","type":"server_error","code":"overloaded"}}\n\n')
      res.end('data: [DONE]\n\n')
    },
    expect: { error: StreamError, code: 'ERR_STREAM', partial: 'Hello', requests: 1 },
    check({ error }) {
      assert.match(error.message, /overloaded/)
      assert.equal(error.type, 'server_error')
      assert.equal(error.apiCode, 'overloaded')
    },
  },
  {
    name: 'event: error: StreamError with partial',
    handler(req, res) {
      writeText(res, ['Par', 'tial'])
      res.end(
        'event: error\ndata: {"error":{"message":"context exceeded","type":"invalid_request_error","param":"messages","code":413}}\n\n',
      )
    },
    expect: { error: StreamError, code: 'ERR_STREAM', partial: 'Partial', requests: 1 },
    check({ error }) {
      assert.match(error.message, /context exceeded/)
      assert.equal(error.param, 'messages')
      assert.equal(error.apiCode, '413')
    },
  },
  {
    name: '200 with text/html: ParseError naming the content type',
    handler(req, res) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><html><body>Captive portal login</body></html>')
    },
    expect: { error: ParseError, code: 'ERR_PARSE', partial: null, requests: 1 },
    check({ error }) {
      assert.match(error.message, /text\/html/)
      assert.match(error.line, /Captive portal/)
    },
  },
  {
    name: '200 with an empty body: IncompleteStreamError',
    handler(req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end()
    },
    expect: { error: IncompleteStreamError, code: 'ERR_INCOMPLETE', partial: null, requests: 1 },
  },
  {
    name: '500 with text/plain: APIError carrying the text',
    options: { maxRetries: 0 },
    handler(req, res) {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('upstream exploded: model worker died')
    },
    expect: { error: APIError, code: 'ERR_API', partial: null, requests: 1, attempts: 1 },
    check({ error }) {
      assert.equal(error.status, 500)
      assert.match(error.message, /upstream exploded: model worker died/)
      assert.equal(error.apiCode, null)
    },
  },
  {
    name: 'invalid UTF-8 in content: U+FFFD in the text and a normal end',
    async handler(req, res) {
      startSse(res)
      const head = 'data: {"choices":[{"index":0,"delta":{"content":"'
      const tail = '"}}]}\n\n'
      await writeApart(res, [
        Buffer.concat([Buffer.from(head), Buffer.from([0x61, 0xff, 0x62]), Buffer.from(tail)]), // a, invalid byte, b
        Buffer.concat([Buffer.from(head), Buffer.from([0xe2, 0x82]), Buffer.from(tail)]), // a truncated 3-byte sequence
        Buffer.concat([Buffer.from(head), Buffer.from([0xc3])]), // a valid é split across two writes
        Buffer.concat([Buffer.from([0xa9]), Buffer.from(tail)]),
      ])
      finishAndDone(res)
    },
    expect: { text: 'a\uFFFDb\uFFFD\u00e9', requests: 1 },
  },
  {
    name: 'a 200 that never sends [DONE] but finished every choice: completes normally',
    handler(req, res) {
      writeText(res, ['Hel', 'lo'])
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end()
    },
    expect: { text: 'Hello', requests: 1 },
  },
]

/** Each consumption path returns `{ error }` or `{ final, text }`, never throws. */
const PATHS = {
  async iterator(stream) {
    let text = ''
    try {
      for await (const delta of stream) if (delta.type === 'text' && delta.choice === 0) text += delta.text
      return { text, final: null }
    } catch (error) {
      return { error, text }
    }
  },
  async final(stream) {
    try {
      const final = await stream.final()
      return { final, text: final.choices.find((c) => c.index === 0)?.message?.content ?? '' }
    } catch (error) {
      return { error }
    }
  },
  async events(stream) {
    const fired = { error: 0, end: 0 }
    let text = ''
    const outcome = await new Promise((resolve) => {
      stream.on('text', (piece, snapshot, choice) => {
        if (choice === 0) text += piece
      })
      stream.on('error', (error) => {
        fired.error++
        resolve({ error })
      })
      stream.on('end', (final) => {
        fired.end++
        resolve({ final })
      })
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(
      fired.error + fired.end,
      1,
      `exactly one of 'error'/'end' fires once (error ${fired.error}, end ${fired.end})`,
    )
    return { ...outcome, text }
  },
}

function assertOutcome(row, outcome) {
  const { expect } = row
  if (expect.error) {
    const { error } = outcome
    assert.ok(error, `expected ${expect.error.name}, but the stream ended normally`)
    assert.ok(
      error instanceof expect.error,
      `expected ${expect.error.name}, got ${error?.name} (${error?.code}): ${error?.message}`,
    )
    assert.ok(error instanceof Error)
    assert.equal(error.name, expect.error.name)
    assert.equal(error.code, expect.code)
    if (expect.partial === null) {
      assert.equal(
        error.partial,
        undefined,
        `no body byte arrived, so no partial (got ${JSON.stringify(error.partial)})`,
      )
    } else {
      assert.ok(error.partial, 'partial is kept')
      assert.equal(error.partial.object, 'chat.completion')
      assert.equal(error.partial.choices.find((c) => c.index === 0)?.message?.content, expect.partial)
    }
    if (expect.attempts !== undefined) assert.equal(error.attempts, expect.attempts, 'attempts')
  } else {
    assert.equal(
      outcome.error,
      undefined,
      `expected a normal end, got ${outcome.error?.name}: ${outcome.error?.message}`,
    )
    assert.equal(outcome.text, expect.text)
    if (outcome.final) {
      assert.equal(outcome.final.choices[0].message.content, expect.text)
      assert.equal(outcome.final.choices[0].finish_reason, 'stop')
    }
  }
}

describe('fault matrix', () => {
  for (const row of ROWS) {
    describe(row.name, () => {
      for (const [pathName, observe] of Object.entries(PATHS)) {
        test(pathName, async (t) => {
          const server = row.refused ? null : await startFaultServer(row.handler)
          if (server) t.after(() => server.close())
          const baseURL = server ? server.url : await refusedURL()
          const client = new Client({
            baseURL,
            apiKey: 'sk-test-faults',
            timeout: 5000,
            idleTimeout: 5000,
            maxRetries: 0,
            ...row.options,
          })

          const unhandled = watchUnhandled()
          const outcome = await observe(client.chat(BODY))
          const seen = await unhandled.stop()

          assertOutcome(row, outcome)
          if (row.check) await row.check(outcome, server)
          assert.deepEqual(seen, [], 'no unhandled rejection or uncaught exception')
          if (server) {
            if (row.expect.requests !== undefined)
              assert.equal(server.requests.length, row.expect.requests, 'requests the server saw')
            await server.waitForNoSockets(2000)
            if (row.expect.clientCloses) {
              for (const r of server.requests)
                assert.ok(
                  r.closedEarly && !r.serverClosed,
                  'the client closed the connection of the unfinished response',
                )
            }
          }
        })
      }
    })
  }
})
