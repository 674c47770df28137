// Arguments checked before any request (issue 13, items 2 and 3): request bodies per endpoint,
// `stream: false`, unknown option names with "did you mean", options the contract names that
// are not built yet, the new per-request options, the mock's 400 for a missing parameter, and
// a baseURL that carries a query.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { startServer, writeChatStream } from './helpers/server.mjs'
import { settle } from './helpers/observe.mjs'
import { Client, SseParser, parseChatStream } from '../index.mjs'
import { startMockServer } from '../testing.mjs'

const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }

async function serve(t, handler = (req, res) => writeChatStream(res, ['ok'])) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

/** Asserts `fn` throws a TypeError whose message matches `pattern`. */
function throwsType(fn, pattern) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof TypeError, `a TypeError, got ${err?.name}: ${err?.message}`)
    assert.match(err.message, pattern)
    return true
  })
}

describe('request bodies are checked per endpoint, before any request is made', () => {
  const cases = [
    ['chat(undefined)', (c) => c.chat(undefined), /body must be an object/],
    ['chat without messages', (c) => c.chat({ model: 'm' }), /body\.messages is required/],
    [
      'chat with messages not an array',
      (c) => c.chat({ model: 'm', messages: 'hi' }),
      /body\.messages must be an array/,
    ],
    [
      'chat with a message that is not an object',
      (c) => c.chat({ model: 'm', messages: ['hi'] }),
      /body\.messages\[0\]/,
    ],
    [
      'chat with stream: false',
      (c) => c.chat({ ...BODY, stream: false }),
      /stream: false is not supported.*only streams/,
    ],
    ["chat with stream: 'yes'", (c) => c.chat({ ...BODY, stream: 'yes' }), /body\.stream must be true or absent/],
    ['responses without input', (c) => c.responses({ model: 'm' }), /body\.input is required/],
    ['responses with input a number', (c) => c.responses({ model: 'm', input: 5 }), /body\.input must be a string/],
    ['responses with stream: false', (c) => c.responses({ model: 'm', input: 'x', stream: false }), /only streams/],
    ['completions without prompt', (c) => c.completions({ model: 'm' }), /body\.prompt is required/],
    ['completions with prompt an object', (c) => c.completions({ model: 'm', prompt: {} }), /body\.prompt must be/],
  ]
  for (const [name, call, pattern] of cases) {
    test(name, async (t) => {
      const server = await serve(t)
      const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxRetries: 0 })
      throwsType(() => call(client), pattern)
      await settle()
      assert.equal(server.requests.length, 0, 'no request was made')
    })
  }

  test('responses without input are fine with previous_response_id, prompt or conversation', async (t) => {
    const mock = await startMockServer({})
    t.after(() => mock.close())
    const client = new Client({ baseURL: mock.url, apiKey: 'sk-x', maxRetries: 0 })
    for (const extra of [
      { previous_response_id: 'resp_1' },
      { prompt: { id: 'pmpt_1' } },
      { conversation: 'conv_1' },
    ]) {
      const text = await client.responses({ model: 'm', ...extra }).finalText()
      assert.ok(text.length > 0)
    }
    assert.equal(mock.requests.length, 3)
  })

  test('valid bodies of every endpoint still stream (stream: true may be given)', async (t) => {
    const mock = await startMockServer({ script: { text: 'yes' } })
    t.after(() => mock.close())
    const client = new Client({ baseURL: mock.url, apiKey: 'sk-x', maxRetries: 0 })
    assert.equal(await client.chat({ ...BODY, stream: true }).finalText(), 'yes')
    assert.equal(await client.responses({ model: 'm', input: [{ role: 'user', content: 'x' }] }).finalText(), 'yes')
    assert.equal(await client.completions({ model: 'm', prompt: ['a', 'b'] }).finalText(), 'yes')
  })
})

describe('unknown option names throw a TypeError, with "did you mean" for close names', () => {
  const base = { baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-x' }
  const cases = [
    [
      'client: tiemout',
      () => new Client({ ...base, tiemout: 5 }),
      /unknown client option 'tiemout' \(did you mean 'timeout'\?\)/,
    ],
    ['client: baseUrl (case)', () => new Client({ baseUrl: 'http://x/v1' }), /'baseUrl' \(did you mean 'baseURL'\?\)/],
    ['client: maxRetires', () => new Client({ ...base, maxRetires: 1 }), /did you mean 'maxRetries'\?/],
    ['client: something far', () => new Client({ ...base, colour: 'red' }), /unknown client option 'colour'; known: /],
    [
      'client: azure.apiversion',
      () => new Client({ ...base, azure: { apiversion: 'x' } }),
      /azure option 'apiversion' \(did you mean 'apiVersion'\?\)/,
    ],
    [
      'request: tiemout',
      (c) => c.chat(BODY, { tiemout: 5 }),
      /unknown request option 'tiemout' \(did you mean 'timeout'\?\)/,
    ],
    ['request: Signal', (c) => c.chat(BODY, { Signal: null }), /did you mean 'signal'\?/],
    ['request: partialJSON', (c) => c.chat(BODY, { partialJSON: true }), /did you mean 'partialJson'\?/],
    ['request: apiKey not a string', (c) => c.chat(BODY, { apiKey: 5 }), /options\.apiKey must be a string/],
    [
      'request: partialJson not a boolean',
      (c) => c.chat(BODY, { partialJson: 'yes' }),
      /options\.partialJson must be a boolean/,
    ],
    [
      'resumeResponse position: startingafter',
      (c) => c.resumeResponse('resp_1', { startingafter: 1 }),
      /did you mean 'startingAfter'\?/,
    ],
    [
      'resumeResponse options: idletimeout',
      (c) => c.resumeResponse('resp_1', {}, { idletimeout: 1 }),
      /did you mean 'idleTimeout'\?/,
    ],
    [
      'parse: maxEventByte',
      () => parseChatStream(new Response(''), { maxEventByte: 10 }),
      /unknown parse option 'maxEventByte' \(did you mean 'maxEventBytes'\?\)/,
    ],
    ['SseParser: maxeventbytes', () => new SseParser({ maxeventbytes: 10 }), /did you mean 'maxEventBytes'\?/],
  ]
  for (const [name, call, pattern] of cases) {
    test(name, async (t) => {
      const server = await serve(t)
      const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxRetries: 0 })
      throwsType(() => call(client), pattern)
      await settle()
      assert.equal(server.requests.length, 0, 'no request was made')
    })
  }

  // maxConcurrent and queueTimeout were "not supported yet" until issue 20 built them.
  test('maxConcurrent and queueTimeout are accepted, and their values checked', () => {
    new Client({ ...base, maxConcurrent: 1, queueTimeout: 1 })
    new Client({ ...base, maxConcurrent: Number.POSITIVE_INFINITY })
    throwsType(() => new Client({ ...base, maxConcurrent: 0 }), /maxConcurrent must be a positive integer/)
    throwsType(() => new Client({ ...base, maxConcurrent: 1.5 }), /maxConcurrent must be a positive integer/)
    throwsType(() => new Client({ ...base, queueTimeout: -1 }), /queueTimeout must be a non-negative number/)
  })
})

describe('ca and proxy are checked up front', () => {
  const base = { baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-x' }
  const cases = [
    [{ ca: 1 }, /ca must be a PEM string or a Buffer of PEM text, got number/],
    [{ ca: '/etc/ssl/my-ca.pem' }, /ca must be PEM text with at least one '-----BEGIN CERTIFICATE-----' block/],
    [{ ca: Buffer.from([0x30, 0x82, 0x01]) }, /ca must be PEM text/],
    [{ ca: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 7] }, /ca\[1\] must be a PEM string/],
    [
      { ca: '-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----' },
      /ca is not a valid PEM certificate|ca holds no certificate/,
    ],
    [{ proxy: 8080 }, /proxy must be a URL string .* or false, got number/],
    [{ proxy: true }, /proxy must be a URL string/],
    [{ proxy: 'not a url' }, /proxy is not a valid URL/],
    [{ proxy: 'socks5://127.0.0.1:1080' }, /proxy must be an http:\/\/ or https:\/\/ URL/],
    [{ proxy: 'http://127.0.0.1:3128/some/path' }, /proxy must be scheme:\/\/\[user:pass@\]host:port with no path/],
  ]
  for (const [options, pattern] of cases) {
    test(`${JSON.stringify(options)} throws a TypeError`, () => {
      throwsType(() => new Client({ ...base, ...options }), pattern)
    })
  }

  test('a proxy password is never quoted in a TypeError', () => {
    try {
      new Client({ ...base, proxy: 'http://alice:hunter22@exa mple:80' })
      assert.fail('expected a TypeError')
    } catch (error) {
      assert.ok(error instanceof TypeError)
      assert.doesNotMatch(error.message, /hunter22/)
    }
  })

  test('proxy false, a proxy URL and PEM text are accepted', () => {
    new Client({ ...base, proxy: false })
    new Client({ ...base, proxy: 'http://user:pass@127.0.0.1:3128' })
    new Client({ ...base, proxy: 'http://127.0.0.1:3128/' })
  })
})

describe('per-request apiKey and partialJson', () => {
  test('are accepted and passed to the engine as apiKey / partialJson; the request still streams', async (t) => {
    const { NativeClient } = createRequire(import.meta.url)('../binding.js')
    const open = NativeClient.prototype.open
    const seen = []
    NativeClient.prototype.open = function (...args) {
      seen.push(args[4])
      return open.apply(this, args)
    }
    t.after(() => {
      NativeClient.prototype.open = open
    })
    const server = await serve(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-client', maxRetries: 0 })
    const stream = client.chat(BODY, { apiKey: 'sk-request', partialJson: true })
    assert.equal(await stream.finalText(), 'ok')
    assert.equal(server.requests.length, 1)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].apiKey, 'sk-request')
    assert.equal(seen[0].partialJson, true)
    await client.chat(BODY).final()
    assert.ok(!('apiKey' in seen[1]) && !('partialJson' in seen[1]), 'absent unless given')
  })
})

describe('the mock answers 400 like OpenAI when a required parameter is missing', () => {
  test('chat without messages, responses without input', async (t) => {
    const mock = await startMockServer({})
    t.after(() => mock.close())
    const post = (path, body) =>
      fetch(mock.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    let res = await post('/chat/completions', { model: 'm', stream: true })
    assert.equal(res.status, 400)
    assert.deepEqual((await res.json()).error, {
      message: "Missing required parameter: 'messages'.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'missing_required_parameter',
    })
    res = await post('/responses', { model: 'm', stream: true })
    assert.equal(res.status, 400)
    assert.deepEqual((await res.json()).error, {
      message: "Missing required parameter: 'input'.",
      type: 'invalid_request_error',
      param: 'input',
      code: 'missing_required_parameter',
    })
    res = await post('/responses', { model: 'm', stream: true, previous_response_id: 'resp_1' })
    assert.equal(res.status, 200)
    await res.text()
  })
})

describe('a baseURL with a query', () => {
  test('its pairs join the client query: the path stays /v1/chat/completions', async (t) => {
    const server = await serve(t)
    const client = new Client({ baseURL: `${server.url}?key=abc&region=eu`, apiKey: 'sk-x', maxRetries: 0 })
    assert.equal(client.baseURL, server.url)
    await client.chat(BODY).final()
    const url = new URL(server.requests[0].url, 'http://localhost')
    assert.equal(url.pathname, '/v1/chat/completions')
    assert.deepEqual(
      [...url.searchParams],
      [
        ['key', 'abc'],
        ['region', 'eu'],
      ],
    )
  })

  test("the client's query option wins over the URL's; a request's query wins over both", async (t) => {
    const server = await serve(t)
    const client = new Client({
      baseURL: `${server.url}/?key=from-url&region=eu&keep=1`,
      query: { key: 'from-option', extra: 'x' },
      apiKey: 'sk-x',
      maxRetries: 0,
    })
    await client.chat(BODY).final()
    await client.chat(BODY, { query: { region: 'us', key: 'from-request' } }).final()
    const [first, second] = server.requests.map((r) => new URL(r.url, 'http://localhost'))
    assert.equal(first.pathname, '/v1/chat/completions')
    assert.equal(first.searchParams.get('key'), 'from-option')
    assert.equal(first.searchParams.get('region'), 'eu')
    assert.equal(first.searchParams.get('keep'), '1')
    assert.equal(first.searchParams.get('extra'), 'x')
    assert.deepEqual(first.searchParams.getAll('key'), ['from-option'])
    assert.equal(second.pathname, '/v1/chat/completions')
    assert.deepEqual(second.searchParams.getAll('key'), ['from-request'])
    assert.deepEqual(second.searchParams.getAll('region'), ['us'])
    assert.equal(second.searchParams.get('keep'), '1')
  })

  test('a baseURL with a #fragment is refused', () => {
    throwsType(
      () => new Client({ baseURL: 'http://127.0.0.1:9/v1#x', apiKey: 'sk-x' }),
      /baseURL must not have a #fragment/,
    )
  })
})
