// Every public error class (API.md, "Errors") produced from real bytes on a real socket, and
// observed through each consumption path: the iterator, final() and the 'error' event.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import util from 'node:util'

import {
  Client,
  APIError,
  AuthenticationError,
  RateLimitError,
  ConnectionError,
  TimeoutError,
  StreamError,
  ParseError,
  IncompleteStreamError,
} from 'streamdelta'
import { sseChunk, chatChunk, writeChatStream } from './helpers/server.mjs'
import {
  serve,
  settle,
  checkAllPaths,
  errorViaFinal,
  errorViaIterator,
  errorViaEvent,
  assertPartialText,
  assertNoPartial,
  writeTextChunks,
  jsonError,
} from './helpers/observe.mjs'

const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }

function client(server, options = {}) {
  return new Client({
    baseURL: server.url,
    apiKey: 'sk-test',
    maxRetries: 0,
    timeout: 5000,
    idleTimeout: 5000,
    ...options,
  })
}

function assertClass(err, Class, code) {
  assert.ok(err instanceof Class, `expected ${Class.name}, got ${err?.name}: ${err?.message}`)
  assert.ok(err instanceof Error)
  assert.equal(err.code, code)
  assert.equal(err.name, Class.name)
}

describe('APIError (non-2xx answers)', () => {
  test('a 400 JSON error becomes APIError with status, type, param, apiCode, requestId and headers', async (t) => {
    const server = await serve(t, (req, res) =>
      jsonError(
        res,
        400,
        { message: 'bad', type: 'invalid_request_error', param: 'messages', code: 'x' },
        { 'X-Request-Id': 'req_400', 'X-Custom-Thing': 'yes' },
      ),
    )
    const c = client(server)
    await checkAllPaths(
      () => c.chat(BODY),
      (err) => {
        assertClass(err, APIError, 'ERR_API')
        assert.ok(!(err instanceof AuthenticationError) && !(err instanceof RateLimitError))
        assert.equal(err.status, 400)
        assert.equal(err.type, 'invalid_request_error')
        assert.equal(err.param, 'messages')
        assert.equal(err.apiCode, 'x')
        assert.equal(err.requestId, 'req_400')
        assert.match(err.message, /bad/)
        assert.equal(Object.getPrototypeOf(err.headers), Object.prototype, 'headers is a plain object')
        for (const name of Object.keys(err.headers))
          assert.equal(name, name.toLowerCase(), `header name '${name}' is lower-case`)
        assert.equal(err.headers['x-request-id'], 'req_400')
        assert.equal(err.headers['x-custom-thing'], 'yes')
        assert.equal(err.headers['content-type'], 'application/json')
        assertNoPartial(err)
      },
    )
    assert.equal(server.requests.length, 3, 'one request per path, a 400 is not retried')
  })

  test('an integer error code becomes a string apiCode', async (t) => {
    const server = await serve(t, (req, res) =>
      jsonError(res, 400, { message: 'too long', type: null, param: null, code: 4001 }),
    )
    const err = await errorViaFinal(client(server).chat(BODY))
    assertClass(err, APIError, 'ERR_API')
    assert.equal(err.apiCode, '4001')
    assert.equal(err.type, null)
    assert.equal(err.param, null)
  })

  test('a 500 with a text/plain body becomes APIError carrying the text in its message', async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('upstream exploded: model worker died')
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, APIError, 'ERR_API')
        assert.equal(err.status, 500)
        assert.match(err.message, /upstream exploded: model worker died/)
        assert.equal(err.apiCode, null)
        assertNoPartial(err)
      },
    )
  })

  for (const status of [401, 403]) {
    test(`a ${status} becomes AuthenticationError, which extends APIError`, async (t) => {
      const server = await serve(t, (req, res) =>
        jsonError(
          res,
          status,
          {
            message: 'Incorrect API key provided',
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
          { 'x-request-id': `req_${status}` },
        ),
      )
      await checkAllPaths(
        () => client(server).chat(BODY),
        (err) => {
          assertClass(err, AuthenticationError, 'ERR_AUTH')
          assert.ok(err instanceof APIError)
          assert.equal(err.status, status)
          assert.equal(err.apiCode, 'invalid_api_key')
          assert.equal(err.type, 'invalid_request_error')
          assert.equal(err.requestId, `req_${status}`)
          assert.match(err.message, /Incorrect API key provided/)
          assertNoPartial(err)
        },
      )
    })
  }
})

describe('RateLimitError and retries', () => {
  test('a 429 with retry-after-ms becomes RateLimitError (extends APIError) with retryAfterMs', async (t) => {
    const server = await serve(t, (req, res) =>
      jsonError(
        res,
        429,
        { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' },
        { 'retry-after-ms': '1234' },
      ),
    )
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, RateLimitError, 'ERR_RATE_LIMIT')
        assert.ok(err instanceof APIError)
        assert.equal(err.status, 429)
        assert.equal(err.retryAfterMs, 1234)
        assert.equal(err.apiCode, 'rate_limit_exceeded')
        assert.equal(err.headers['retry-after-ms'], '1234')
        assertNoPartial(err)
      },
    )
  })

  test('retry-after in seconds becomes retryAfterMs', async (t) => {
    const server = await serve(t, (req, res) => jsonError(res, 429, { message: 'slow down' }, { 'retry-after': '3' }))
    const err = await errorViaFinal(client(server).chat(BODY))
    assertClass(err, RateLimitError, 'ERR_RATE_LIMIT')
    assert.equal(err.retryAfterMs, 3000)
  })

  test('with maxRetries 1 a 429 (retry-after-ms: 50) then a 200 succeeds after 2 requests', async (t) => {
    const server = await serve(t, (req, res) => {
      if (server.requests.length === 1)
        return jsonError(res, 429, { message: 'Rate limit reached' }, { 'retry-after-ms': '50' })
      writeChatStream(res, ['Hel', 'lo'])
    })
    const final = await client(server, { maxRetries: 1 }).chat(BODY).final()
    assert.equal(final.choices[0].message.content, 'Hello')
    assert.equal(server.requests.length, 2)
  })

  test('a 429 still answered after every retry becomes RateLimitError with attempts', async (t) => {
    const server = await serve(t, (req, res) =>
      jsonError(res, 429, { message: 'Rate limit reached' }, { 'retry-after-ms': '10' }),
    )
    const err = await errorViaFinal(client(server).chat(BODY, { maxRetries: 1 }))
    assertClass(err, RateLimitError, 'ERR_RATE_LIMIT')
    assert.equal(err.attempts, 2)
    assert.equal(server.requests.length, 2)
  })

  test('a 500 three times with maxRetries 2 becomes APIError after 3 attempts', async (t) => {
    // Default backoff (0.5 s then 1 s): no retry-after header, so the engine's own schedule runs.
    const server = await serve(t, (req, res) => jsonError(res, 500, { message: 'internal', type: 'server_error' }))
    const err = await errorViaFinal(client(server, { maxRetries: 2 }).chat(BODY))
    assertClass(err, APIError, 'ERR_API')
    assert.equal(err.status, 500)
    assert.equal(err.attempts, 3)
    assert.equal(server.requests.length, 3)
    assertNoPartial(err)
  })
})

describe('ConnectionError', () => {
  test('a refused connection becomes ConnectionError with a cause and no partial', async () => {
    const probe = http.createServer()
    probe.listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const { port } = probe.address()
    probe.close()
    await once(probe, 'close')
    const c = new Client({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test', maxRetries: 0, timeout: 5000 })
    await checkAllPaths(
      () => c.chat(BODY),
      (err) => {
        assertClass(err, ConnectionError, 'ERR_CONNECTION')
        assert.ok(err.cause instanceof Error, 'cause is an Error')
        assert.ok(err.cause.message.length > 0)
        assertNoPartial(err)
      },
    )
  })

  test('a socket destroyed right after the headers, before any body byte, is a ConnectionError without partial', async (t) => {
    // The product reports this as ConnectionError (the body read failed before any byte:
    // src/stream.rs `read_failure` with nothing_read). IncompleteStreamError would also be
    // acceptable by API.md; either way nothing arrived, so no partial.
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.flushHeaders()
      setImmediate(() => res.socket.destroy())
    })
    let stream
    await checkAllPaths(
      () => (stream = client(server).chat(BODY)),
      async (err) => {
        // The headers really arrived: this is the body-read failure, not a failed request.
        assert.equal((await stream.response).status, 200)
        assert.ok(
          err instanceof ConnectionError || err instanceof IncompleteStreamError,
          `got ${err?.name}: ${err?.message}`,
        )
        assert.ok(err instanceof Error)
        assert.equal(err.code, err instanceof ConnectionError ? 'ERR_CONNECTION' : 'ERR_INCOMPLETE')
        if (err instanceof ConnectionError) assert.ok(err.cause instanceof Error)
        assertNoPartial(err)
      },
    )
  })
})

describe('TimeoutError', () => {
  test("no response headers within `timeout` is TimeoutError phase 'headers' without partial", async (t) => {
    const server = await serve(t, () => {
      // never answers
    })
    await checkAllPaths(
      () => client(server, { timeout: 100 }).chat(BODY),
      (err) => {
        assertClass(err, TimeoutError, 'ERR_TIMEOUT')
        assert.equal(err.phase, 'headers')
        assertNoPartial(err)
      },
    )
  })

  test('the per-request timeout option overrides the client one', async (t) => {
    const server = await serve(t, () => {})
    const err = await errorViaFinal(client(server, { timeout: 60_000 }).chat(BODY, { timeout: 100 }))
    assertClass(err, TimeoutError, 'ERR_TIMEOUT')
    assert.equal(err.phase, 'headers')
  })

  test("a stall after 2 text chunks is TimeoutError phase 'idle' with those chunks as partial", async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      // then silence, connection kept open
    })
    await checkAllPaths(
      () => client(server, { idleTimeout: 150 }).chat(BODY),
      (err) => {
        assertClass(err, TimeoutError, 'ERR_TIMEOUT')
        assert.equal(err.phase, 'idle')
        assertPartialText(err, 'Hello')
      },
    )
  })
})

describe('StreamError (the provider reported an error mid-stream)', () => {
  test('a data: {"error":...} payload after some text is StreamError with type, apiCode and the earlier text as partial', async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      res.write('data: {"error":{"message":"overloaded","type":"server_error","code":"overloaded"}}\n\n')
      res.end('data: [DONE]\n\n')
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, StreamError, 'ERR_STREAM')
        assert.match(err.message, /overloaded/)
        assert.equal(err.type, 'server_error')
        assert.equal(err.apiCode, 'overloaded')
        assert.equal(err.param, null)
        assertPartialText(err, 'Hello')
      },
    )
  })

  test('an `event: error` with a JSON data payload is StreamError', async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Par', 'tial'])
      res.write(
        'event: error\ndata: {"error":{"message":"context exceeded","type":"invalid_request_error","param":"messages","code":413}}\n\n',
      )
      res.end()
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, StreamError, 'ERR_STREAM')
        assert.match(err.message, /context exceeded/)
        assert.equal(err.type, 'invalid_request_error')
        assert.equal(err.param, 'messages')
        assert.equal(err.apiCode, '413')
        assertPartialText(err, 'Partial')
      },
    )
  })

  test('an HTTP 200 event stream carrying only an error then [DONE] is StreamError', async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: {"error":{"message":"model is loading","type":"unavailable","code":"loading"}}\n\n')
      res.end('data: [DONE]\n\n')
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, StreamError, 'ERR_STREAM')
        assert.match(err.message, /model is loading/)
        assert.equal(err.apiCode, 'loading')
        // Bytes arrived (the error event) but no text: a partial, if given, holds no content.
        if (err.partial !== undefined) {
          const content = err.partial.choices?.[0]?.message?.content
          assert.ok(content === undefined || content === null || content === '', `no content expected, got ${content}`)
        }
      },
    )
  })
})

describe('ParseError', () => {
  test('a malformed JSON data line after some text is ParseError with the first 200 bytes of the line and the partial', async (t) => {
    const bad = '{"id":"chatcmpl-test","choices":[{"index":0,"delta":{"content":"' + 'x'.repeat(320) + '"}' // not closed
    assert.ok(bad.length > 300)
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      res.write(`data: ${bad}\n\n`)
      res.end('data: [DONE]\n\n')
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, ParseError, 'ERR_PARSE')
        assert.equal(typeof err.line, 'string')
        assert.equal(Buffer.byteLength(err.line), 200, 'line is the first 200 bytes of the bad line')
        assert.ok(
          bad.startsWith(err.line) || `data: ${bad}`.startsWith(err.line),
          `line is a prefix of the bad line: ${err.line}`,
        )
        assertPartialText(err, 'Hello')
      },
    )
  })

  test("a 200 answered with content-type text/html is ParseError naming 'text/html'", async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><html><body>Captive portal login</body></html>')
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, ParseError, 'ERR_PARSE')
        assert.match(err.message, /text\/html/)
        assert.ok(Buffer.byteLength(err.line) <= 200)
        assertNoPartial(err)
      },
    )
  })

  test('a 200 with an application/json {"error":...} body is an APIError with status 200', async (t) => {
    // Observed: the engine keeps the provider's error fields (src/http.rs check_event_stream),
    // so this is a plain APIError (not Parse) carrying status 200.
    const server = await serve(t, (req, res) =>
      jsonError(
        res,
        200,
        { message: 'model not found', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
        { 'x-request-id': 'req_200' },
      ),
    )
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, APIError, 'ERR_API')
        assert.equal(err.status, 200)
        assert.match(err.message, /model not found/)
        assert.equal(err.type, 'invalid_request_error')
        assert.equal(err.param, 'model')
        assert.equal(err.apiCode, 'model_not_found')
        assert.equal(err.requestId, 'req_200')
        assert.equal(err.headers['x-request-id'], 'req_200')
        assertNoPartial(err)
      },
    )
  })
})

describe('IncompleteStreamError', () => {
  test('a response that ends after text without [DONE] or finish_reason is IncompleteStreamError with the text as partial', async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      res.end()
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, IncompleteStreamError, 'ERR_INCOMPLETE')
        assertPartialText(err, 'Hello')
      },
    )
  })

  test('a 200 event stream with an empty body is IncompleteStreamError', async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end()
    })
    await checkAllPaths(
      () => client(server).chat(BODY),
      (err) => {
        assertClass(err, IncompleteStreamError, 'ERR_INCOMPLETE')
        // Nothing arrived: no partial, or (observed) an empty one with no choices.
        if (err.partial !== undefined) assert.deepEqual(err.partial.choices, [])
      },
    )
  })

  test('a stream that closes without [DONE] after every choice had finish_reason ends normally', async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end()
    })
    const final = await client(server).chat(BODY).final()
    assert.equal(final.choices[0].message.content, 'Hello')
    assert.equal(final.choices[0].finish_reason, 'stop')

    const texts = []
    for await (const d of client(server).chat(BODY)) if (d.type === 'text') texts.push(d.text)
    assert.equal(texts.join(''), 'Hello')

    const stream = client(server).chat(BODY)
    let errored = null
    stream.on('error', (e) => (errored = e))
    const [ended] = await once(stream, 'end')
    assert.equal(ended.choices[0].message.content, 'Hello')
    await settle()
    assert.equal(errored, null)
  })
})

describe('the API key never leaks through an error', () => {
  const KEY = 'sk-secret-abc123xyz'

  function assertNoKey(err) {
    assert.ok(err instanceof Error)
    const views = {
      'String(err)': String(err),
      'err.message': err.message,
      'JSON.stringify(err)': JSON.stringify(err),
      'err.stack': String(err.stack),
      'JSON.stringify(err.headers)': JSON.stringify(err.headers ?? {}),
      'err.line': String(err.line ?? ''),
      'util.inspect(err)': util.inspect(err, { depth: null }),
    }
    for (const [where, text] of Object.entries(views))
      assert.ok(!text.includes(KEY), `${where} contains the API key: ${text}`)
  }

  function keyClient(server) {
    return new Client({ baseURL: server.url, apiKey: KEY, maxRetries: 0, timeout: 5000, idleTimeout: 5000 })
  }

  test('a 401 echoing the key in its message and in a header', async (t) => {
    const server = await serve(t, (req, res) => {
      const sent = req.headers.authorization.replace(/^Bearer /, '')
      jsonError(
        res,
        401,
        {
          message: `Incorrect API key provided: ${sent}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
        { 'x-echo-key': sent, 'x-echo-auth': `Bearer ${sent}` },
      )
    })
    const err = await errorViaFinal(keyClient(server).chat(BODY))
    assert.equal(
      server.requests[0].headers.authorization,
      `Bearer ${KEY}`,
      'the key was really sent, so the echo is real',
    )
    assertClass(err, AuthenticationError, 'ERR_AUTH')
    assert.match(err.message, /Incorrect API key provided/)
    assert.ok('x-echo-key' in err.headers)
    assertNoKey(err)
  })

  test('a 500 text/plain body containing the key', async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`proxy failure for ${req.headers.authorization}`)
    })
    const err = await errorViaFinal(keyClient(server).chat(BODY))
    assertClass(err, APIError, 'ERR_API')
    assert.match(err.message, /proxy failure for/)
    assertNoKey(err)
  })

  test('a malformed data line containing the key (ParseError line)', async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['ok'])
      res.write(`data: {"debug": "${req.headers.authorization}" oops\n\n`)
      res.end()
    })
    const err = await errorViaFinal(keyClient(server).chat(BODY))
    assertClass(err, ParseError, 'ERR_PARSE')
    assert.match(err.line, /debug/)
    assertNoKey(err)
  })

  test('a non-SSE 200 body containing the key (ParseError line)', async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<p>${req.headers.authorization}</p>`)
    })
    const err = await errorViaFinal(keyClient(server).chat(BODY))
    assertClass(err, ParseError, 'ERR_PARSE')
    assertNoKey(err)
  })

  test('a mid-stream error event echoing the key (StreamError message)', async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['ok'])
      res.write(
        `data: ${JSON.stringify({ error: { message: `key ${req.headers.authorization} was revoked`, type: 'auth', code: 'revoked' } })}\n\n`,
      )
      res.end()
    })
    const err = await errorViaFinal(keyClient(server).chat(BODY))
    assertClass(err, StreamError, 'ERR_STREAM')
    assert.match(err.message, /was revoked/)
    assertNoKey(err)
  })

  test('util.inspect(client) and JSON.stringify(client) do not contain the key', () => {
    const c = new Client({ baseURL: 'http://127.0.0.1:9/v1', apiKey: KEY })
    assert.ok(!util.inspect(c, { depth: null, showHidden: true }).includes(KEY))
    assert.ok(!JSON.stringify(c).includes(KEY))
  })
})

describe('bad arguments throw a TypeError synchronously, naming the field', () => {
  const cases = [
    ['new Client({ baseURL: "not a url" })', () => new Client({ baseURL: 'not a url' }), /baseURL/],
    ['new Client({ timeout: -1 })', () => new Client({ baseURL: 'http://127.0.0.1:9/v1', timeout: -1 }), /timeout/],
  ]
  for (const [name, fn, field] of cases) {
    test(name, () => {
      assert.throws(fn, (err) => err instanceof TypeError && field.test(err.message))
    })
  }

  const chatCases = [
    ['client.chat(null)', (c) => c.chat(null), /body/],
    ['client.chat({}) (no model)', (c) => c.chat({}), /model/],
    ['client.chat({ model: 5 })', (c) => c.chat({ model: 5 }), /model/],
    [
      "client.chat({ model: 'm' }, { maxRetries: 1.5 })",
      (c) => c.chat({ model: 'm' }, { maxRetries: 1.5 }),
      /maxRetries/,
    ],
  ]
  for (const [name, fn, field] of chatCases) {
    test(`${name}, before any request is made`, async (t) => {
      const server = await serve(t, (req, res) => writeChatStream(res, ['x']))
      const c = client(server)
      assert.throws(
        () => fn(c),
        (err) => err instanceof TypeError && field.test(err.message),
      )
      await settle()
      assert.equal(server.requests.length, 0)
    })
  }
})

describe('an error nobody listens for as an event does not become an unhandled rejection', () => {
  async function withUnhandledWatch(fn) {
    const unhandled = []
    const onUnhandled = (reason) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      await fn()
      await settle()
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    assert.deepEqual(unhandled, [], `unhandled rejections: ${unhandled.map(String).join('; ')}`)
  }

  test('final() awaited, no listeners at all', async (t) => {
    const server = await serve(t, (req, res) => jsonError(res, 400, { message: 'bad' }))
    await withUnhandledWatch(async () => {
      const err = await errorViaFinal(client(server).chat(BODY))
      assertClass(err, APIError, 'ERR_API')
    })
  })

  test("final() awaited with a 'text' listener but no 'error' listener, error mid-stream", async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      res.end()
    })
    await withUnhandledWatch(async () => {
      const stream = client(server).chat(BODY)
      let text = ''
      stream.on('text', (delta) => (text += delta))
      const err = await errorViaFinal(stream)
      assertClass(err, IncompleteStreamError, 'ERR_INCOMPLETE')
      assert.equal(text, 'Hello')
    })
  })

  test("for await with a 'text' listener but no 'error' listener", async (t) => {
    const server = await serve(t, (req, res) => {
      writeTextChunks(res, ['Hel', 'lo'])
      res.end('data: {"error":{"message":"overloaded"}}\n\n')
    })
    await withUnhandledWatch(async () => {
      const stream = client(server).chat(BODY)
      stream.on('text', () => {})
      const err = await errorViaIterator(stream)
      assertClass(err, StreamError, 'ERR_STREAM')
    })
  })

  test("the 'error' event fires once even when final() and an iterator also observe it", async (t) => {
    const server = await serve(t, (req, res) => jsonError(res, 400, { message: 'bad' }))
    const stream = client(server).chat(BODY)
    const viaFinal = errorViaFinal(stream)
    const viaEvent = errorViaEvent(stream)
    const viaIterator = errorViaIterator(stream)
    const [a, b, c] = await Promise.all([viaFinal, viaEvent, viaIterator])
    assert.equal(a, b)
    assert.equal(b, c)
    assertClass(a, APIError, 'ERR_API')
  })
})
