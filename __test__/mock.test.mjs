// The mock server of `streamdelta/testing`: every script field and every fault, observed
// through our own client, through raw bytes (fetch + our SseParser) and through the official
// `openai` package (which needs Node >= 22: those tests skip on older Node).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

import {
  Client,
  SseParser,
  APIError,
  AuthenticationError,
  RateLimitError,
  ConnectionError,
  TimeoutError,
  StreamError,
  ParseError,
  IncompleteStreamError,
  AbortError,
} from 'streamdelta'
import { startMockServer, DEFAULT_SCRIPT, REDACTED, SECRET_HEADERS } from 'streamdelta/testing'
import { collect, sleep, waitFor } from './helpers/sse.mjs'

const require = createRequire(import.meta.url)
const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const OPENAI_SKIP = NODE_MAJOR < 22 ? `openai@7 needs Node >= 22 (this is ${process.version})` : false
const OpenAI = OPENAI_SKIP ? null : (await import('openai')).default

const MESSAGES = [{ role: 'user', content: 'Say hello' }]

/** Starts a mock server that the test's after hook closes. */
async function serve(t, options) {
  const mock = await startMockServer(options)
  t.after(() => mock.close())
  return mock
}

function ours(mock, options = {}) {
  return new Client({
    baseURL: mock.url,
    apiKey: 'sk-test-secret',
    maxRetries: 0,
    timeout: 5000,
    idleTimeout: 5000,
    ...options,
  })
}

function official(mock, options = {}) {
  return new OpenAI({
    baseURL: mock.url,
    apiKey: 'sk-test-secret',
    maxRetries: 0,
    timeout: 5000,
    logLevel: 'off',
    ...options,
  })
}

/** Every event our client yields, and the error it ended with (if any). */
async function deltasOf(stream) {
  const deltas = []
  try {
    for await (const d of stream) deltas.push(d)
    return { deltas, error: null }
  } catch (error) {
    return { deltas, error }
  }
}

/** POSTs `body` with fetch and parses the answer with our SseParser. */
async function rawStream(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const parser = new SseParser()
  const events = []
  let text = ''
  let error = null
  const decoder = new TextDecoder()
  try {
    for await (const piece of res.body) {
      text += decoder.decode(piece, { stream: true })
      events.push(...parser.feed(piece))
    }
  } catch (e) {
    error = e
  }
  events.push(...parser.end())
  const data = []
  const malformed = []
  for (const e of events) {
    if (e.data === '[DONE]') continue
    try {
      data.push(JSON.parse(e.data))
    } catch {
      malformed.push(e)
    }
  }
  return { res, events, text, error, data, malformed }
}

/** Everything the openai package yields from a stream, and the error it threw (if any). */
async function openaiItems(streamPromise) {
  const items = []
  try {
    const stream = await streamPromise
    for await (const item of stream) items.push(item)
    return { items, error: null }
  } catch (error) {
    return { items, error }
  }
}

const textOf = (deltas, choice = 0) =>
  deltas
    .filter((d) => d.type === 'text' && d.choice === choice)
    .map((d) => d.text)
    .join('')
const chatText = (chunks, choice = 0) =>
  chunks.map((c) => c.choices.find((x) => x.index === choice)?.delta?.content ?? '').join('')

// ---------------------------------------------------------------------------------------------

describe('the server', () => {
  test('listens on 127.0.0.1 with a /v1 base URL; close() ends open streams and resolves; twice is fine', async () => {
    const mock = await startMockServer({ script: { text: 'a b', fault: { stallAfter: 1 } } })
    assert.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    assert.equal(mock.url, `http://127.0.0.1:${mock.port}/v1`)
    const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
    const result = deltasOf(stream)
    assert.ok(await waitFor(() => mock.requests[0]?.status === 200), 'the stream started')
    assert.equal(mock.connections, 1)
    await mock.close()
    await mock.close()
    assert.equal(mock.connections, 0)
    const { error } = await result
    assert.ok(error instanceof IncompleteStreamError || error instanceof ConnectionError, `got ${error?.name}`)
    assert.equal(mock.requests[0].clientClosed, false, 'close() is not the client closing')
  })

  test('the ESM and CommonJS entries give the same functions', () => {
    const cjs = require('streamdelta/testing')
    assert.equal(cjs.startMockServer, startMockServer)
    assert.equal(cjs.DEFAULT_SCRIPT, DEFAULT_SCRIPT)
    assert.ok(Object.isFrozen(DEFAULT_SCRIPT))
  })

  test('records method, path, query, headers with secrets redacted, and the parsed body', async (t) => {
    const mock = await serve(t, {})
    const client = ours(mock, {
      headers: { 'x-api-key': 'xk-1', cookie: 'session=1', 'x-trace': 't-1' },
      query: { foo: 'bar' },
    })
    await client.chat({ model: 'gpt-4o-mini', messages: MESSAGES, temperature: 0 }).final()
    const [r] = mock.requests
    assert.equal(r.index, 0)
    assert.equal(r.method, 'POST')
    assert.equal(r.path, '/v1/chat/completions')
    assert.deepEqual(r.query, { foo: 'bar' })
    assert.equal(r.endpoint, 'chat')
    assert.equal(r.model, 'gpt-4o-mini')
    assert.equal(r.status, 200)
    assert.equal(r.clientClosed, false)
    assert.deepEqual(r.body, { model: 'gpt-4o-mini', messages: MESSAGES, temperature: 0, stream: true })
    assert.equal(r.headers.authorization, REDACTED)
    assert.equal(r.headers['x-api-key'], REDACTED)
    assert.equal(r.headers.cookie, REDACTED)
    assert.equal(r.headers['x-trace'], 't-1')
    assert.doesNotMatch(JSON.stringify(mock.requests), /sk-test-secret|xk-1|session=1/)
    assert.deepEqual(SECRET_HEADERS.sort(), ['api-key', 'authorization', 'cookie', 'proxy-authorization', 'x-api-key'])
    // `closed` is there to await, but not part of the record's data.
    await r.closed
    assert.ok(!Object.keys(r).includes('closed'))
  })

  test('an Azure deployment path is served, its deployment is the model and the api-key header is redacted', async (t) => {
    const mock = await serve(t, { scripts: { 'my-deployment': { text: 'from azure' } } })
    const client = new Client({
      baseURL: `http://127.0.0.1:${mock.port}`,
      apiKey: 'az-secret',
      maxRetries: 0,
      azure: { apiVersion: '2024-10-21', deployment: 'my-deployment' },
    })
    assert.equal(await client.chat({ messages: MESSAGES }).finalText(), 'from azure')
    const [r] = mock.requests
    assert.equal(r.path, '/openai/deployments/my-deployment/chat/completions')
    assert.deepEqual(r.query, { 'api-version': '2024-10-21' })
    assert.equal(r.model, 'my-deployment')
    assert.equal(r.headers['api-key'], REDACTED)
  })

  test('apiKey: a wrong key gets 401 invalid_api_key (AuthenticationError); the right one streams', async (t) => {
    const mock = await serve(t, { apiKey: 'sk-right' })
    const { error } = await deltasOf(ours(mock, { apiKey: 'sk-wrong' }).chat({ model: 'm', messages: MESSAGES }))
    assert.ok(error instanceof AuthenticationError, `got ${error?.name}`)
    assert.equal(error.status, 401)
    assert.equal(error.apiCode, 'invalid_api_key')
    assert.doesNotMatch(error.message, /sk-wrong/)
    assert.equal(
      await ours(mock, { apiKey: 'sk-right' }).chat({ model: 'm', messages: MESSAGES }).finalText(),
      DEFAULT_SCRIPT.text,
    )
  })

  test('unknown URLs are 404, bodies without stream: true and non-JSON bodies 400, with OpenAI error bodies', async (t) => {
    const mock = await serve(t, { scripts: { 'gpt-a': {}, 'gpt-b': {}, default: {} } })
    const post = (path, body) =>
      fetch(mock.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    let res = await post('/embeddings', '{}')
    assert.equal(res.status, 404)
    assert.equal((await res.json()).error.code, 'unknown_url')
    res = await post('/chat/completions', JSON.stringify({ model: 'm', messages: MESSAGES }))
    assert.equal(res.status, 400)
    assert.match((await res.json()).error.message, /stream: true/)
    res = await post('/chat/completions', '{not json')
    assert.equal(res.status, 400)
    assert.equal((await res.json()).error.type, 'invalid_request_error')
    res = await fetch(mock.url + '/models')
    assert.deepEqual(
      (await res.json()).data.map((m) => m.id),
      ['gpt-a', 'gpt-b'],
    )
    assert.deepEqual(
      mock.requests.map((r) => r.status),
      [404, 400, 400, 200],
    )
    assert.equal(mock.requests[2].body, '{not json')
  })

  test('malformed options and scripts throw a TypeError naming the field', async () => {
    await assert.rejects(startMockServer({ prot: 1 }), { name: 'TypeError', message: /unknown option 'prot'/ })
    await assert.rejects(startMockServer({ scripts: { m: { txt: 'typo' } } }), {
      name: 'TypeError',
      message: /scripts\["m"\] has an unknown key 'txt'/,
    })
    await assert.rejects(startMockServer({ script: { ttftMs: -1 } }), {
      name: 'TypeError',
      message: /options\.script\.ttftMs/,
    })
    await assert.rejects(startMockServer({ script: { fault: { dropAfter: 1, stallAfter: 2 } } }), {
      name: 'TypeError',
      message: /exactly one of/,
    })
    await assert.rejects(startMockServer({ script: { fault: { status: 200 } } }), {
      name: 'TypeError',
      message: /fault\.status must be an HTTP error status/,
    })
    await assert.rejects(startMockServer({ script: { toolCalls: [{ arguments: '{}' }] } }), {
      name: 'TypeError',
      message: /toolCalls\[0\]\.name/,
    })
    await assert.rejects(startMockServer({ script: { text: 'a', choices: [{ text: 'b' }] } }), {
      name: 'TypeError',
      message: /both 'choices' and 'text'/,
    })
    await assert.rejects(startMockServer({ script: {}, scripts: { default: {} } }), {
      name: 'TypeError',
      message: /keep one/,
    })
  })
})

describe('choosing the script', () => {
  test('x-mock-script header, then script(request), then scripts[model], then scripts.default, then the built-in answer', async (t) => {
    const seen = []
    const mock = await serve(t, {
      scripts: { 'gpt-a': { text: 'model a' }, default: { text: 'default' } },
      script: (request) => {
        seen.push(request.model)
        return request.model === 'fn' ? { text: 'from function' } : undefined
      },
    })
    const client = ours(mock)
    const ask = (model, options) => client.chat({ model, messages: MESSAGES }, options).finalText()
    assert.equal(
      await ask('gpt-a', { headers: { 'x-mock-script': JSON.stringify({ text: 'from header' }) } }),
      'from header',
    )
    assert.equal(await ask('fn'), 'from function')
    assert.equal(await ask('gpt-a'), 'model a')
    assert.equal(await ask('other'), 'default')
    assert.deepEqual(seen, ['fn', 'gpt-a', 'other'], 'the function sees every request the header did not script')
    // mock.scripts is live.
    delete mock.scripts.default
    mock.scripts['gpt-new'] = { text: 'added later' }
    assert.equal(await ask('gpt-new'), 'added later')
    assert.equal(await ask('other'), DEFAULT_SCRIPT.text)
  })

  test('a script object for every request; a bad x-mock-script header is a 400 naming the problem', async (t) => {
    const mock = await serve(t, { script: { text: 'same for all' } })
    assert.equal(await ours(mock).chat({ model: 'x', messages: MESSAGES }).finalText(), 'same for all')
    const bad = await deltasOf(
      ours(mock).chat({ model: 'x', messages: MESSAGES }, { headers: { 'x-mock-script': '{"text": 1}' } }),
    )
    assert.ok(bad.error instanceof APIError)
    assert.equal(bad.error.status, 400)
    assert.match(bad.error.message, /x-mock-script\.text must be a string/)
    const notJson = await deltasOf(
      ours(mock).chat({ model: 'x', messages: MESSAGES }, { headers: { 'x-mock-script': 'nope' } }),
    )
    assert.match(notJson.error.message, /x-mock-script header is not JSON/)
  })

  test('a script function that throws answers 500 mock_error', async (t) => {
    const mock = await serve(t, {
      script: () => {
        throw new Error('boom in script')
      },
    })
    const { error } = await deltasOf(ours(mock).chat({ model: 'x', messages: MESSAGES }))
    assert.ok(error instanceof APIError)
    assert.equal(error.status, 500)
    assert.match(error.message, /boom in script/)
  })
})

// ---------------------------------------------------------------------------------------------

describe('chat scripts through our client', () => {
  test('text: word tokens keep their leading space; chunks look like OpenAI’s; [DONE] ends the stream', async (t) => {
    const mock = await serve(t, { script: { text: 'Hello big world\n\nBye 🙂' } })
    const stream = ours(mock).chat({ model: 'gpt-4o-mini', messages: MESSAGES })
    const chunks = await collect(stream.chunks())
    assert.deepEqual(
      chunks.slice(1, -1).map((c) => c.choices[0].delta.content),
      ['Hello', ' big', ' world', '\n\nBye', ' 🙂'],
    )
    const [role, , , , , , finish] = chunks
    assert.equal(chunks.length, 7)
    assert.deepEqual(role.choices[0], {
      index: 0,
      delta: { role: 'assistant', content: '', refusal: null },
      logprobs: null,
      finish_reason: null,
    })
    assert.deepEqual(finish.choices[0], { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' })
    for (const chunk of chunks) {
      assert.match(chunk.id, /^chatcmpl-[A-Za-z0-9]{29}$/)
      assert.equal(chunk.id, chunks[0].id)
      assert.equal(chunk.object, 'chat.completion.chunk')
      assert.equal(typeof chunk.created, 'number')
      assert.equal(chunk.model, 'gpt-4o-mini')
      assert.match(chunk.system_fingerprint, /^fp_[0-9a-f]{10}$/)
      assert.ok(!('usage' in chunk), 'no usage fields unless usage is sent')
    }
    const raw = await rawStream(`${mock.url}/chat/completions`, { model: 'm', stream: true, messages: MESSAGES })
    assert.equal(raw.res.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.match(raw.res.headers.get('x-request-id'), /^req_[0-9a-f]{32}$/)
    assert.ok(raw.text.endsWith('data: [DONE]\n\n'))
  })

  test('text as an array is sent one element per chunk', async (t) => {
    const mock = await serve(t, { script: { text: ['Hel', 'lo', ' wor', 'ld'] } })
    const { deltas } = await deltasOf(ours(mock).chat({ model: 'm', messages: MESSAGES }))
    assert.deepEqual(deltas, [
      { type: 'text', choice: 0, text: 'Hel' },
      { type: 'text', choice: 0, text: 'lo' },
      { type: 'text', choice: 0, text: ' wor' },
      { type: 'text', choice: 0, text: 'ld' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ])
  })

  test('ttftMs delays the first chunk and intervalMs spaces the chunks (lower bounds only)', async (t) => {
    const mock = await serve(t, { script: { text: ['a', 'b', 'c', 'd'], ttftMs: 120, intervalMs: 30 } })
    const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
    const arrivals = []
    const started = performance.now()
    for await (const d of stream) if (d.type === 'text') arrivals.push(performance.now() - started)
    assert.ok(stream.stats.ttftMs >= 110, `ttft ${stream.stats.ttftMs}`)
    assert.ok(arrivals[0] >= 110, `first text at ${arrivals[0]}`)
    // role, a, b, c, d, finish: 5 intervals of 30 ms after the first chunk.
    assert.ok(stream.stats.durationMs >= 120 + 5 * 30 - 15, `duration ${stream.stats.durationMs}`)
    // The server spaces its writes; a loaded client may still read two of them at once (one
    // batch), so only the spread of the whole answer is a lower bound here, not each gap.
    assert.ok(arrivals.at(-1) - arrivals[0] >= 30, `spread ${arrivals.at(-1) - arrivals[0]}`)
  })

  test('headersDelayMs holds the headers back: a client timeout fires in the headers phase', async (t) => {
    const mock = await serve(t, { script: { text: 'late', headersDelayMs: 3000 } })
    const { error } = await deltasOf(ours(mock, { timeout: 100 }).chat({ model: 'm', messages: MESSAGES }))
    assert.ok(error instanceof TimeoutError, `got ${error?.name}`)
    assert.equal(error.phase, 'headers')
    assert.ok(await waitFor(() => mock.requests.length === 1), 'the request was recorded')
    await mock.requests[0].closed
    assert.equal(mock.requests[0].status, null, 'no status was ever sent')
    assert.equal(mock.requests[0].clientClosed, true)
  })

  test('toolCalls: a head with id and name, argument fragments, finish tool_calls; toolCall events are whole', async (t) => {
    const mock = await serve(t, {
      script: {
        toolCalls: [
          { name: 'get_weather', arguments: { city: 'Paris', unit: 'C' } },
          { name: 'get_time', arguments: '{"tz":"CET"}', id: 'call_fixed' },
        ],
      },
    })
    const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
    const calls = []
    stream.on('toolCall', (call) => calls.push(call))
    const chunks = []
    stream.on('chunk', (c) => chunks.push(c))
    const final = await stream.final()
    assert.equal(calls.length, 2)
    assert.equal(calls[0].name, 'get_weather')
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris', unit: 'C' })
    assert.match(calls[0].id, /^call_[A-Za-z0-9]{24}$/)
    assert.deepEqual(calls[1], {
      type: 'toolCall',
      choice: 0,
      index: 1,
      id: 'call_fixed',
      name: 'get_time',
      arguments: '{"tz":"CET"}',
      kind: 'function',
    })
    assert.equal(chunks[0].choices[0].delta.content, null, 'a tool-only answer has content: null in its role chunk')
    assert.deepEqual(chunks[1].choices[0].delta.tool_calls, [
      { index: 0, id: calls[0].id, type: 'function', function: { name: 'get_weather', arguments: '' } },
    ])
    assert.ok(
      chunks.filter((c) => c.choices[0]?.delta?.tool_calls?.[0]?.index === 0).length > 3,
      'arguments come in several fragments',
    )
    assert.equal(final.choices[0].finish_reason, 'tool_calls')
    assert.equal(final.choices[0].message.tool_calls.length, 2)
  })

  test("reasoning goes in delta.reasoning_content, or delta.reasoning with reasoningField: 'reasoning'", async (t) => {
    const mock = await serve(t, {
      scripts: {
        a: { reasoning: 'Let me think', text: '4' },
        b: { reasoning: ['Hm', 'm'], text: '5', reasoningField: 'reasoning' },
      },
    })
    for (const [model, field, thought, answer] of [
      ['a', 'reasoning_content', 'Let me think', '4'],
      ['b', 'reasoning', 'Hmm', '5'],
    ]) {
      const stream = ours(mock).chat({ model, messages: MESSAGES })
      const chunks = []
      stream.on('chunk', (c) => chunks.push(c))
      const { deltas } = await deltasOf(stream)
      assert.equal(
        deltas
          .filter((d) => d.type === 'reasoning')
          .map((d) => d.text)
          .join(''),
        thought,
      )
      assert.equal(textOf(deltas), answer)
      assert.ok(chunks.some((c) => field in c.choices[0].delta))
    }
  })

  test('refusal text streams as refusal deltas', async (t) => {
    const mock = await serve(t, { script: { refusal: "I can't help with that." } })
    const final = await ours(mock).chat({ model: 'm', messages: MESSAGES }).final()
    assert.equal(final.choices[0].message.refusal, "I can't help with that.")
  })

  test('usage: sent when the request asks, forced with true, replaced by an object, suppressed with false', async (t) => {
    const given = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }
    const mock = await serve(t, {
      scripts: {
        plain: { text: 'one two three' },
        forced: { text: 'x y', reasoning: 'r', usage: true },
        given: { text: 'x', usage: given },
        never: { text: 'x', usage: false },
      },
    })
    const usageOf = async (model, body = {}) => {
      const stream = ours(mock).chat({ model, messages: MESSAGES, ...body })
      const chunks = []
      stream.on('chunk', (c) => chunks.push(c))
      const { deltas } = await deltasOf(stream)
      return { usage: deltas.find((d) => d.type === 'usage')?.usage, chunks }
    }
    assert.equal((await usageOf('plain')).usage, undefined)
    const asked = await usageOf('plain', { stream_options: { include_usage: true } })
    assert.equal(asked.usage.completion_tokens, 3)
    assert.equal(asked.usage.total_tokens, asked.usage.prompt_tokens + 3)
    const last = asked.chunks.at(-1)
    assert.deepEqual(last.choices, [])
    assert.ok(
      asked.chunks.slice(0, -1).every((c) => c.usage === null),
      'every other chunk carries usage: null',
    )
    const forced = (await usageOf('forced')).usage
    assert.equal(forced.completion_tokens, 3)
    assert.equal(forced.completion_tokens_details.reasoning_tokens, 1)
    assert.deepEqual((await usageOf('given')).usage, given)
    assert.equal((await usageOf('never', { stream_options: { include_usage: true } })).usage, undefined)
  })

  test('n: the request’s n makes interleaved choices; choices[] gives each its own answer', async (t) => {
    const mock = await serve(t, {
      scripts: {
        same: { text: 'a b' },
        own: { choices: [{ text: 'first' }, { text: 'second one', finishReason: 'length' }] },
        forced: { text: 'x', n: 3 },
      },
    })
    const stream = ours(mock).chat({ model: 'same', n: 2, messages: MESSAGES })
    const order = []
    stream.on('chunk', (c) => order.push(c.choices[0].index))
    const final = await stream.final()
    assert.deepEqual(
      final.choices.map((c) => c.message.content),
      ['a b', 'a b'],
    )
    assert.deepEqual(order, [0, 1, 0, 1, 0, 1, 0, 1], 'role, a, b, finish of each choice, interleaved')
    const own = await ours(mock).chat({ model: 'own', messages: MESSAGES }).final()
    assert.deepEqual(
      own.choices.map((c) => [c.message.content, c.finish_reason]),
      [
        ['first', 'stop'],
        ['second one', 'length'],
      ],
    )
    assert.equal((await ours(mock).chat({ model: 'forced', messages: MESSAGES }).final()).choices.length, 3)
  })

  test('finishReason, model, id and headers are the script’s', async (t) => {
    const mock = await serve(t, {
      script: {
        text: 'cut',
        finishReason: 'length',
        model: 'gpt-real-name',
        id: 'chatcmpl-fixed',
        headers: { 'x-request-id': 'req_custom', 'x-extra': 1 },
      },
    })
    const stream = ours(mock).chat({ model: 'alias', messages: MESSAGES })
    const final = await stream.final()
    assert.equal(final.choices[0].finish_reason, 'length')
    assert.equal(final.model, 'gpt-real-name')
    assert.equal(final.id, 'chatcmpl-fixed')
    const response = await stream.response
    assert.equal(response.requestId, 'req_custom')
    assert.equal(response.headers['x-extra'], '1')
  })

  test('repeat sends the text tokens many times (a long stream from a short script)', async (t) => {
    const mock = await serve(t, { script: { text: ['ab', 'c'], repeat: 5000 } })
    const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
    const text = await stream.finalText()
    assert.equal(text, 'abc'.repeat(5000))
    assert.equal(stream.stats.chunks, 10_002)
  })

  test('raw events are sent as given: the deviations of other servers', async (t) => {
    const chunk = (delta, finish_reason = null) => ({
      id: 'x',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'llama',
      choices: [{ index: 0, delta, finish_reason }],
    })
    const mock = await serve(t, {
      script: { raw: [chunk({ role: 'assistant', content: null }), ': ping\n\n', chunk({ content: 'Hi' }, 'stop')] },
    })
    const raw = await rawStream(`${mock.url}/chat/completions`, { model: 'm', stream: true, messages: MESSAGES })
    assert.ok(!raw.text.includes('[DONE]'), 'no end marker is added')
    assert.ok(raw.text.includes(': ping\n\n'))
    assert.equal(await ours(mock).chat({ model: 'm', messages: MESSAGES }).finalText(), 'Hi')
  })

  test('a consumer that breaks out closes the connection: clientClosed and no open connection', async (t) => {
    const mock = await serve(t, { script: { text: ['x'], repeat: 1000, intervalMs: 5 } })
    const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
    for await (const d of stream) if (d.type === 'text') break
    await mock.requests[0].closed
    assert.equal(mock.requests[0].clientClosed, true)
    assert.ok(await waitFor(() => mock.connections === 0), 'the connection closed')
  })

  test('a fast stream of 200,000 chunks arrives whole, with a slow consumer (backpressure)', async (t) => {
    const mock = await serve(t, { script: { text: [' tok', 'en', ' 🙂'], repeat: 66_667 } })
    const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
    let text = ''
    let batches = 0
    for await (const piece of stream.text()) {
      text += piece
      if (++batches % 50 === 0) await sleep(1)
    }
    assert.equal(text, ' token 🙂'.repeat(66_667))
    assert.equal(stream.stats.chunks, 66_667 * 3 + 2)
  })
})

// ---------------------------------------------------------------------------------------------

describe('chat faults through our client', () => {
  const open = (mock, options, model = 'm') => ours(mock, options).chat({ model, messages: MESSAGES })

  test('status 429 with retry-after: RateLimitError with retryAfterMs, OpenAI’s error fields and the headers', async (t) => {
    const mock = await serve(t, { script: { fault: { status: 429, headers: { 'retry-after': '2' } } } })
    const { error } = await deltasOf(open(mock, {}, 'gpt-4o-mini'))
    assert.ok(error instanceof RateLimitError, `got ${error?.name}`)
    assert.equal(error.status, 429)
    assert.equal(error.retryAfterMs, 2000)
    assert.equal(error.type, 'requests')
    assert.equal(error.apiCode, 'rate_limit_exceeded')
    assert.match(error.message, /gpt-4o-mini/)
    assert.equal(error.headers['retry-after'], '2')
    assert.match(error.requestId, /^req_/)
  })

  test('status with times: 1 fails once, then the retry streams (2 requests)', async (t) => {
    const mock = await serve(t, {
      script: { text: 'after retry', fault: { status: 429, headers: { 'retry-after-ms': '10' }, times: 1 } },
    })
    assert.equal(await open(mock, { maxRetries: 1 }).finalText(), 'after retry')
    assert.deepEqual(
      mock.requests.map((r) => r.status),
      [429, 200],
    )
    assert.equal(await open(mock).finalText(), 'after retry', 'the fault stays used up')
  })

  test('status 401 is AuthenticationError; a 500 text body is APIError; error fields are OpenAI’s shape', async (t) => {
    const mock = await serve(t, {
      scripts: {
        auth: { fault: { status: 401 } },
        text: { fault: { status: 500, body: 'upstream exploded' } },
        fields: {
          fault: { status: 400, error: { message: 'too long', param: 'messages', code: 'context_length_exceeded' } },
        },
        json: { fault: { status: 503, body: { error: { message: 'custom body' } } } },
      },
    })
    const auth = (await deltasOf(open(mock, {}, 'auth'))).error
    assert.ok(auth instanceof AuthenticationError)
    assert.equal(auth.apiCode, 'invalid_api_key')
    const text = (await deltasOf(open(mock, {}, 'text'))).error
    assert.ok(text instanceof APIError)
    assert.equal(text.status, 500)
    assert.match(text.message, /upstream exploded/)
    const fields = (await deltasOf(open(mock, {}, 'fields'))).error
    assert.equal(fields.status, 400)
    assert.match(fields.message, /too long/)
    assert.equal(fields.type, 'invalid_request_error')
    assert.equal(fields.param, 'messages')
    assert.equal(fields.apiCode, 'context_length_exceeded')
    const json = (await deltasOf(open(mock, {}, 'json'))).error
    assert.equal(json.status, 503)
    assert.match(json.message, /custom body/)
  })

  test('dropAfter N: IncompleteStreamError carrying the text before the drop; the mock closed it, not the client', async (t) => {
    const mock = await serve(t, { script: { text: ['Hel', 'lo', ' world'], fault: { dropAfter: 3 } } })
    const { deltas, error } = await deltasOf(open(mock))
    assert.ok(error instanceof IncompleteStreamError, `got ${error?.name}: ${error?.message}`)
    assert.equal(textOf(deltas), 'Hello')
    assert.equal(error.partial.choices[0].message.content, 'Hello')
    await mock.requests[0].closed
    assert.equal(mock.requests[0].clientClosed, false)
  })

  test('dropAfter 0 drops right after the headers: no body byte, no partial', async (t) => {
    const mock = await serve(t, { script: { text: 'never', fault: { dropAfter: 0 } } })
    const stream = open(mock)
    const { error } = await deltasOf(stream)
    assert.equal((await stream.response).status, 200)
    assert.ok(error instanceof ConnectionError || error instanceof IncompleteStreamError, `got ${error?.name}`)
    assert.equal(error.partial, undefined)
  })

  test('dropAfter past the last event replaces [DONE]: every choice finished, so the stream ends normally', async (t) => {
    const mock = await serve(t, { script: { text: 'all of it', fault: { dropAfter: 1000 } } })
    const raw = await rawStream(`${mock.url}/chat/completions`, { model: 'm', stream: true, messages: MESSAGES })
    assert.ok(raw.error, 'the body was cut')
    assert.ok(!raw.text.includes('[DONE]'))
    assert.equal(raw.data.at(-1).choices[0].finish_reason, 'stop', 'the finish chunk came before the drop')
    // Our client reports the broken transfer (IncompleteStreamError) but has the whole answer.
    const stream = open(mock)
    const { deltas, error } = await deltasOf(stream)
    assert.equal(textOf(deltas), 'all of it')
    assert.ok(deltas.some((d) => d.type === 'finish'))
    if (error) {
      assert.ok(error instanceof IncompleteStreamError, `got ${error.name}`)
      assert.equal(error.partial.choices[0].message.content, 'all of it')
    }
  })

  test('stallAfter N: silence with the connection open; an idle timeout gets the partial', async (t) => {
    const mock = await serve(t, { script: { text: ['Hel', 'lo', ' world'], fault: { stallAfter: 3 } } })
    const { error } = await deltasOf(open(mock, { idleTimeout: 150 }))
    assert.ok(error instanceof TimeoutError, `got ${error?.name}`)
    assert.equal(error.phase, 'idle')
    assert.equal(error.partial.choices[0].message.content, 'Hello')
    await mock.requests[0].closed
    assert.equal(mock.requests[0].clientClosed, true)
  })

  test('malformedAfter N: a data line that is not JSON (default or given) is ParseError with that line', async (t) => {
    const mock = await serve(t, {
      scripts: {
        cut: { text: ['Hel', 'lo', ' world'], fault: { malformedAfter: 3 } },
        given: { text: 'x', fault: { malformedAfter: 1, line: '{"broken": tru' } },
      },
    })
    const cut = await deltasOf(open(mock, {}, 'cut'))
    assert.ok(cut.error instanceof ParseError, `got ${cut.error?.name}`)
    assert.match(
      cut.error.line,
      /^\{"id":"chatcmpl-[^"]+","object":"chat\.completion\.chunk","choices":\[\{"index":0,"delta":\{"content":"cut sh$/,
    )
    assert.equal(cut.error.partial.choices[0].message.content, 'Hello')
    const given = await deltasOf(open(mock, {}, 'given'))
    assert.equal(given.error.line, '{"broken": tru')
    const raw = await rawStream(`${mock.url}/chat/completions`, { model: 'cut', stream: true, messages: MESSAGES })
    assert.ok(
      raw.text.includes('" world"') && raw.text.endsWith('data: [DONE]\n\n'),
      'the rest of the stream follows the bad line',
    )
  })

  test('errorAfter N: an error payload in the 200 stream is StreamError with its fields and the partial', async (t) => {
    const mock = await serve(t, {
      scripts: {
        given: {
          text: ['Hel', 'lo', ' world'],
          fault: { errorAfter: 3, error: { message: 'overloaded', type: 'server_error', code: 'overloaded' } },
        },
        plain: { text: 'x', fault: { errorAfter: 0 } },
      },
    })
    const { error } = await deltasOf(open(mock, {}, 'given'))
    assert.ok(error instanceof StreamError, `got ${error?.name}`)
    assert.equal(error.message, 'overloaded')
    assert.equal(error.type, 'server_error')
    assert.equal(error.apiCode, 'overloaded')
    assert.equal(error.partial.choices[0].message.content, 'Hello')
    const plain = (await deltasOf(open(mock, {}, 'plain'))).error
    assert.ok(plain instanceof StreamError)
    assert.match(plain.message, /The server had an error/)
    const raw = await rawStream(`${mock.url}/chat/completions`, { model: 'given', stream: true, messages: MESSAGES })
    assert.deepEqual(raw.data.at(-1), {
      error: { message: 'overloaded', type: 'server_error', param: null, code: 'overloaded' },
    })
  })

  test('emptyBody: a 200 event stream with nothing in it is IncompleteStreamError', async (t) => {
    const mock = await serve(t, { script: { text: 'x', fault: { emptyBody: true } } })
    const stream = open(mock)
    const { error } = await deltasOf(stream)
    assert.ok(error instanceof IncompleteStreamError, `got ${error?.name}`)
    assert.equal((await stream.response).headers['content-type'], 'text/event-stream; charset=utf-8')
  })
})

// ---------------------------------------------------------------------------------------------

describe('/responses', () => {
  const body = (extra = {}) => ({ model: 'gpt-5', stream: true, input: 'Say hello', ...extra })

  test('a text answer: created, in_progress, the message item with output_text deltas, completed with usage', async (t) => {
    const mock = await serve(t, { script: { text: 'Hello big world' } })
    const { events, data, text } = await rawStream(`${mock.url}/responses`, body())
    assert.deepEqual(
      data.map((d) => d.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    )
    assert.ok(!text.includes('[DONE]'))
    events.forEach((e, i) => {
      assert.equal(e.event, data[i].type, 'the event name is the type')
      assert.equal(data[i].sequence_number, i)
    })
    assert.deepEqual(
      data.filter((d) => d.type === 'response.output_text.delta').map((d) => d.delta),
      ['Hello', ' big', ' world'],
    )
    const created = data[0].response
    assert.match(created.id, /^resp_[0-9a-f]{48}$/)
    assert.equal(created.status, 'in_progress')
    assert.equal(created.model, 'gpt-5')
    const done = data.at(-1).response
    assert.equal(done.id, created.id)
    assert.equal(done.status, 'completed')
    assert.deepEqual(done.output[0].content, [
      { type: 'output_text', annotations: [], logprobs: [], text: 'Hello big world' },
    ])
    assert.equal(done.usage.output_tokens, 3)
    assert.equal(done.usage.total_tokens, done.usage.input_tokens + 3)
  })

  test('reasoning, refusal and tool calls become reasoning, refusal and function_call items', async (t) => {
    const mock = await serve(t, {
      scripts: {
        tools: {
          reasoning: 'Think first',
          toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' }],
        },
        refuse: { refusal: 'No can do' },
      },
    })
    const { data } = await rawStream(`${mock.url}/responses`, body({ model: 'tools' }))
    const done = data.at(-1).response
    assert.deepEqual(
      done.output.map((o) => o.type),
      ['reasoning', 'function_call'],
    )
    assert.deepEqual(done.output[0].summary, [{ type: 'summary_text', text: 'Think first' }])
    assert.equal(
      data
        .filter((d) => d.type === 'response.reasoning_summary_text.delta')
        .map((d) => d.delta)
        .join(''),
      'Think first',
    )
    const args = data.filter((d) => d.type === 'response.function_call_arguments.delta').map((d) => d.delta)
    assert.ok(args.length > 1)
    assert.equal(args.join(''), '{"city":"Paris"}')
    assert.deepEqual(
      { ...done.output[1], id: undefined },
      {
        id: undefined,
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Paris"}',
        call_id: 'call_1',
        name: 'get_weather',
      },
    )
    const refuse = await rawStream(`${mock.url}/responses`, body({ model: 'refuse' }))
    assert.equal(
      refuse.data
        .filter((d) => d.type === 'response.refusal.delta')
        .map((d) => d.delta)
        .join(''),
      'No can do',
    )
    assert.deepEqual(refuse.data.at(-1).response.output[0].content, [{ type: 'refusal', refusal: 'No can do' }])
  })

  test('finishReason length ends with response.incomplete; a usage object replaces the computed one', async (t) => {
    const usage = { input_tokens: 9, output_tokens: 1, total_tokens: 10 }
    const mock = await serve(t, { script: { text: 'cut', finishReason: 'length', usage } })
    const { data } = await rawStream(`${mock.url}/responses`, body())
    const last = data.at(-1)
    assert.equal(last.type, 'response.incomplete')
    assert.equal(last.response.status, 'incomplete')
    assert.deepEqual(last.response.incomplete_details, { reason: 'max_output_tokens' })
    assert.deepEqual(last.response.usage, usage)
  })

  test('errorAfter: an error event (documented fields and the nested object) then response.failed', async (t) => {
    const mock = await serve(t, {
      script: {
        text: 'a b',
        fault: { errorAfter: 3, error: { message: 'quota', type: 'insufficient_quota', code: 'insufficient_quota' } },
      },
    })
    const { events, data } = await rawStream(`${mock.url}/responses`, body())
    assert.deepEqual(data.map((d) => d.type).slice(-2), ['error', 'response.failed'])
    assert.equal(events.at(-2).event, 'error')
    const error = data.at(-2)
    assert.equal(error.sequence_number, 3)
    assert.equal(error.message, 'quota')
    assert.equal(error.code, 'insufficient_quota')
    assert.equal(error.param, null)
    assert.deepEqual(error.error, {
      message: 'quota',
      type: 'insufficient_quota',
      param: null,
      code: 'insufficient_quota',
    })
    assert.equal(data.at(-1).response.status, 'failed')
    assert.deepEqual(data.at(-1).response.error, { code: 'insufficient_quota', message: 'quota' })
  })

  test('drop, stall, malformed and empty faults on /responses', async (t) => {
    const mock = await serve(t, {
      scripts: {
        drop: { text: 'a b', fault: { dropAfter: 2 } },
        stall: { text: 'a b', fault: { stallAfter: 2 } },
        bad: { text: 'a b', fault: { malformedAfter: 2 } },
        empty: { fault: { emptyBody: true } },
      },
    })
    const drop = await rawStream(`${mock.url}/responses`, body({ model: 'drop' }))
    assert.ok(drop.error, 'the body was cut')
    assert.deepEqual(
      drop.data.map((d) => d.type),
      ['response.created', 'response.in_progress'],
    )

    // Stall: two events, then silence on an open connection until the client leaves.
    const controller = new AbortController()
    const res = await fetch(`${mock.url}/responses`, {
      method: 'POST',
      body: JSON.stringify(body({ model: 'stall' })),
      signal: controller.signal,
    })
    const parser = new SseParser()
    const seen = []
    const reading = (async () => {
      try {
        for await (const piece of res.body) seen.push(...parser.feed(piece))
      } catch {
        // aborted below
      }
    })()
    assert.ok(await waitFor(() => seen.length === 2), 'the two events before the stall arrived')
    await sleep(100)
    assert.equal(seen.length, 2, 'and nothing after them')
    assert.equal(mock.requests.at(-1).clientClosed, false, 'the connection is still open')
    controller.abort()
    await reading
    await mock.requests.at(-1).closed
    assert.equal(mock.requests.at(-1).clientClosed, true)

    const bad = await rawStream(`${mock.url}/responses`, body({ model: 'bad' }))
    assert.equal(bad.malformed.length, 1)
    assert.equal(bad.events[2], bad.malformed[0], 'the third event is the bad one')
    assert.equal(bad.malformed[0].event, 'response.output_text.delta')
    assert.equal(bad.data.at(-1).type, 'response.completed', 'the stream goes on after it')
    const empty = await rawStream(`${mock.url}/responses`, body({ model: 'empty' }))
    assert.equal(empty.res.status, 200)
    assert.equal(empty.text, '')
  })

  test('a background response can be resumed: GET /responses/{id}?stream=true&starting_after=N replays the rest, same ids', async (t) => {
    const mock = await serve(t, { script: { text: 'one two three', toolCalls: [{ name: 'f', arguments: '{}' }] } })
    const first = await rawStream(`${mock.url}/responses`, body({ background: true }))
    const id = first.data[0].response.id
    assert.equal(first.data[0].response.background, true)
    const res = await fetch(`${mock.url}/responses/${id}?stream=true&starting_after=4`)
    assert.equal(res.status, 200)
    const parser = new SseParser()
    const rest = parser.feed(new Uint8Array(await res.arrayBuffer())).map((e) => JSON.parse(e.data))
    assert.deepEqual(rest, first.data.slice(5), 'the same events, ids and all, after sequence number 4')
    assert.equal(mock.requests.at(-1).endpoint, 'resume')
    const unknown = await fetch(`${mock.url}/responses/resp_nope?stream=true`)
    assert.equal(unknown.status, 404)
    const notBackground = await rawStream(`${mock.url}/responses`, body())
    assert.equal((await fetch(`${mock.url}/responses/${notBackground.data[0].response.id}?stream=true`)).status, 404)
  })

  test('through our client: text, reasoning, tool calls, usage and the finish', async (t) => {
    const mock = await serve(t, {
      scripts: {
        all: { reasoning: 'Think', text: 'Hello there', toolCalls: [{ name: 'f', arguments: { a: 1 } }] },
        cut: { text: 'a b', finishReason: 'length' },
      },
    })
    const stream = ours(mock).responses({ model: 'all', input: 'hi' })
    const { deltas, error } = await deltasOf(stream)
    assert.equal(error, null)
    assert.equal(textOf(deltas), 'Hello there')
    assert.equal(
      deltas
        .filter((d) => d.type === 'reasoning')
        .map((d) => d.text)
        .join(''),
      'Think',
    )
    const calls = deltas.filter((d) => d.type === 'toolCallDelta')
    assert.equal(calls.map((d) => d.arguments).join(''), '{"a":1}')
    assert.equal(calls.find((d) => d.name)?.name, 'f')
    const wholes = deltas.filter((d) => d.type === 'toolCall')
    assert.deepEqual(
      wholes.map((d) => [d.name, JSON.parse(d.arguments)]),
      [['f', { a: 1 }]],
    )
    assert.equal(deltas.find((d) => d.type === 'usage').usage.output_tokens, 1 + 2 + 5 + 1)
    assert.ok(deltas.some((d) => d.type === 'finish'))
    const cut = await deltasOf(ours(mock).responses({ model: 'cut', input: 'hi' }))
    assert.equal(cut.deltas.find((d) => d.type === 'finish').reason, 'length')
  })

  test('through our client: a broken background stream resumes from the mock by itself and ends whole', async (t) => {
    const mock = await serve(t, { script: { text: 'one two three four five', fault: { dropAfter: 6 } } })
    const stream = ours(mock, { maxRetries: 1 }).responses({ model: 'gpt-5', input: 'hi', background: true })
    const { deltas, error } = await deltasOf(stream)
    assert.equal(error, null)
    assert.equal(textOf(deltas), 'one two three four five')
    const [post, get] = mock.requests
    assert.equal(post.method, 'POST')
    assert.equal(get.method, 'GET')
    assert.equal(get.endpoint, 'resume')
    assert.equal(get.query.starting_after, '5', 'events 0-5 had arrived')
    assert.equal(mock.requests.length, 2)
  })

  test('through our client: resumeResponse(id, { startingAfter }) gets the rest of a background response', async (t) => {
    const mock = await serve(t, { script: { text: 'one two three' } })
    const first = await rawStream(`${mock.url}/responses`, body({ background: true }))
    const id = first.data[0].response.id
    const deltas = (await deltasOf(ours(mock).resumeResponse(id, { startingAfter: 4 }))).deltas
    assert.equal(textOf(deltas), ' two three', 'the first text delta was event 4')
    assert.deepEqual(mock.requests.at(-1).query, { stream: 'true', starting_after: '4' })
  })

  test('through our client: status, error event, malformed line, stall and empty body faults', async (t) => {
    const mock = await serve(t, {
      scripts: {
        limited: { fault: { status: 429, headers: { 'retry-after': '1' } } },
        err: { text: 'a b', fault: { errorAfter: 4, error: { message: 'quota', code: 'insufficient_quota' } } },
        bad: { text: 'a b', fault: { malformedAfter: 4 } },
        stall: { text: 'a b', fault: { stallAfter: 5 } },
        empty: { fault: { emptyBody: true } },
      },
    })
    const errorOf = async (model, options) =>
      (await deltasOf(ours(mock, options).responses({ model, input: 'hi' }))).error
    const limited = await errorOf('limited')
    assert.ok(limited instanceof RateLimitError)
    assert.equal(limited.retryAfterMs, 1000)
    const err = await errorOf('err')
    assert.ok(err instanceof StreamError, `got ${err?.name}`)
    assert.match(err.message, /quota/)
    assert.equal(err.apiCode, 'insufficient_quota')
    assert.ok((await errorOf('bad')) instanceof ParseError)
    const stall = await errorOf('stall', { idleTimeout: 150 })
    assert.ok(stall instanceof TimeoutError, `got ${stall?.name}`)
    assert.equal(stall.phase, 'idle')
    assert.ok((await errorOf('empty')) instanceof IncompleteStreamError)
  })
})

describe('/completions', () => {
  const body = (extra = {}) => ({ model: 'gpt-3.5-turbo-instruct', stream: true, prompt: 'Say hello', ...extra })

  test('text_completion chunks; the last token carries finish_reason; usage when asked; [DONE]', async (t) => {
    const mock = await serve(t, { script: { text: 'Hello big world', finishReason: 'length' } })
    const plain = await rawStream(`${mock.url}/completions`, body())
    assert.ok(plain.text.endsWith('data: [DONE]\n\n'))
    assert.deepEqual(
      plain.data.map((c) => [c.choices[0].text, c.choices[0].finish_reason]),
      [
        ['Hello', null],
        [' big', null],
        [' world', 'length'],
      ],
    )
    for (const c of plain.data) {
      assert.match(c.id, /^cmpl-[A-Za-z0-9]{29}$/)
      assert.equal(c.object, 'text_completion')
      assert.equal(c.model, 'gpt-3.5-turbo-instruct')
      assert.ok(!('usage' in c))
    }
    const withUsage = await rawStream(`${mock.url}/completions`, body({ stream_options: { include_usage: true } }))
    const last = withUsage.data.at(-1)
    assert.deepEqual(last.choices, [])
    assert.equal(last.usage.completion_tokens, 3)
    assert.ok(withUsage.data.slice(0, -1).every((c) => c.usage === null))
  })

  test('n choices interleave; an empty text sends one finishing chunk; faults apply', async (t) => {
    const mock = await serve(t, {
      scripts: {
        two: { choices: [{ text: 'a b' }, { text: 'c' }] },
        empty: {},
        err: { text: 'a b', fault: { errorAfter: 1 } },
      },
    })
    const two = await rawStream(`${mock.url}/completions`, body({ model: 'two' }))
    assert.deepEqual(
      two.data.map((c) => [c.choices[0].index, c.choices[0].text]),
      [
        [0, 'a'],
        [1, 'c'],
        [0, ' b'],
      ],
    )
    const empty = await rawStream(`${mock.url}/completions`, body({ model: 'empty' }))
    assert.deepEqual(
      empty.data.map((c) => [c.choices[0].text, c.choices[0].finish_reason]),
      [['', 'stop']],
    )
    const err = await rawStream(`${mock.url}/completions`, body({ model: 'err' }))
    assert.equal(err.data.length, 2)
    assert.match(err.data[1].error.message, /The server had an error/)
  })

  test('through our client: text, n choices, finish reasons, usage and faults', async (t) => {
    const mock = await serve(t, {
      scripts: {
        two: { choices: [{ text: 'Hello there' }, { text: 'Bye', finishReason: 'length' }], usage: true },
        err: { text: 'a b c', fault: { errorAfter: 2, error: { message: 'overloaded' } } },
        drop: { text: 'a b c', fault: { dropAfter: 2 } },
        limited: { fault: { status: 429, headers: { 'retry-after-ms': '20' } } },
      },
    })
    const { deltas, error } = await deltasOf(ours(mock).completions({ model: 'two', prompt: 'hi' }))
    assert.equal(error, null)
    assert.equal(textOf(deltas, 0), 'Hello there')
    assert.equal(textOf(deltas, 1), 'Bye')
    assert.deepEqual(
      deltas
        .filter((d) => d.type === 'finish')
        .map((d) => [d.choice, d.reason])
        .sort(),
      [
        [0, 'stop'],
        [1, 'length'],
      ],
    )
    assert.equal(deltas.find((d) => d.type === 'usage').usage.completion_tokens, 3)
    const errorOf = async (model) => (await deltasOf(ours(mock).completions({ model, prompt: 'hi' }))).error
    const err = await errorOf('err')
    assert.ok(err instanceof StreamError)
    assert.equal(err.partial.choices[0].text, 'a b')
    const drop = await errorOf('drop')
    assert.ok(drop instanceof IncompleteStreamError, `got ${drop?.name}`)
    const limited = await errorOf('limited')
    assert.ok(limited instanceof RateLimitError)
    assert.equal(limited.retryAfterMs, 20)
  })
})

// ---------------------------------------------------------------------------------------------

describe('through the official openai package', { skip: OPENAI_SKIP }, () => {
  test('chat: text, reasoning, tool calls and usage accumulate in the SDK’s own stream helper', async (t) => {
    const mock = await serve(t, {
      script: {
        text: 'Hello big world',
        reasoning: 'hmm',
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
        usage: true,
      },
    })
    const completion = await official(mock)
      .chat.completions.stream({ model: 'gpt-4o-mini', messages: MESSAGES })
      .finalChatCompletion()
    const message = completion.choices[0].message
    assert.equal(message.content, 'Hello big world')
    assert.equal(message.tool_calls[0].function.name, 'get_weather')
    assert.equal(message.tool_calls[0].function.arguments, '{"city":"Paris"}')
    assert.equal(completion.choices[0].finish_reason, 'tool_calls')
    assert.equal(completion.usage.completion_tokens, 1 + 3 + 5 + 1)
    assert.equal(mock.requests[0].headers.authorization, REDACTED)
  })

  test('chat: n = 2 choices and ttft/interval pacing through create({ stream: true })', async (t) => {
    const mock = await serve(t, {
      script: { choices: [{ text: 'first' }, { text: 'second' }], ttftMs: 50, intervalMs: 10 },
    })
    const started = performance.now()
    const { items, error } = await openaiItems(
      official(mock).chat.completions.create({ model: 'm', messages: MESSAGES, stream: true }),
    )
    assert.equal(error, null)
    assert.ok(performance.now() - started >= 50 + 5 * 10 - 10)
    assert.equal(chatText(items, 0), 'first')
    assert.equal(chatText(items, 1), 'second')
  })

  test('responses: the SDK’s ResponseStream accepts every event and builds the final response', async (t) => {
    const mock = await serve(t, {
      script: { reasoning: 'Think', text: 'Hello there', toolCalls: [{ name: 'f', arguments: { x: 1 } }] },
    })
    const response = await official(mock).responses.stream({ model: 'gpt-5', input: 'hi' }).finalResponse()
    assert.equal(response.output_text, 'Hello there')
    assert.deepEqual(
      response.output.map((o) => o.type),
      ['reasoning', 'message', 'function_call'],
    )
    assert.equal(response.output[2].arguments, '{"x":1}')
    assert.equal(response.status, 'completed')
    assert.equal(response.usage.output_tokens, 1 + 2 + 5 + 1)
  })

  test('responses: refusal and an incomplete ending', async (t) => {
    const mock = await serve(t, {
      scripts: { refuse: { refusal: 'No' }, cut: { text: 'a b', finishReason: 'length' } },
    })
    const refused = await official(mock).responses.stream({ model: 'refuse', input: 'hi' }).finalResponse()
    assert.deepEqual(
      refused.output[0].content.map(({ type, refusal }) => ({ type, refusal })),
      [{ type: 'refusal', refusal: 'No' }],
    )
    const { items } = await openaiItems(official(mock).responses.create({ model: 'cut', input: 'hi', stream: true }))
    assert.equal(items.at(-1).type, 'response.incomplete')
  })

  test('completions: text chunks and usage', async (t) => {
    const mock = await serve(t, { script: { text: 'Hello there', usage: true } })
    const { items, error } = await openaiItems(
      official(mock).completions.create({ model: 'm', prompt: 'hi', stream: true }),
    )
    assert.equal(error, null)
    assert.equal(items.map((c) => c.choices[0]?.text ?? '').join(''), 'Hello there')
    assert.equal(items.at(-1).usage.completion_tokens, 2)
  })

  test('status faults: RateLimitError with retry-after, AuthenticationError, InternalServerError; times then success with retries', async (t) => {
    const mock = await serve(t, {
      scripts: {
        limited: { fault: { status: 429, headers: { 'retry-after': '2' } } },
        auth: { fault: { status: 401 } },
        broken: { fault: { status: 500, error: { message: 'kaput' } } },
        once: { text: 'ok now', fault: { status: 503, headers: { 'retry-after-ms': '10' }, times: 1 } },
      },
    })
    const client = official(mock)
    const limited = (
      await openaiItems(client.chat.completions.create({ model: 'limited', messages: MESSAGES, stream: true }))
    ).error
    assert.ok(limited instanceof OpenAI.RateLimitError)
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('retry-after'), '2')
    assert.equal(limited.code, 'rate_limit_exceeded')
    assert.ok(
      (await openaiItems(client.responses.create({ model: 'auth', input: 'hi', stream: true }))).error instanceof
        OpenAI.AuthenticationError,
    )
    const broken = (await openaiItems(client.completions.create({ model: 'broken', prompt: 'hi', stream: true }))).error
    assert.ok(broken instanceof OpenAI.InternalServerError)
    assert.match(broken.message, /kaput/)
    const retried = await openaiItems(
      official(mock, { maxRetries: 1 }).chat.completions.create({ model: 'once', messages: MESSAGES, stream: true }),
    )
    assert.equal(retried.error, null)
    assert.equal(chatText(retried.items), 'ok now')
  })

  test('in-stream faults: error event -> APIError, malformed line -> SyntaxError, drop -> a thrown error after the chunks before it', async (t) => {
    const mock = await serve(t, {
      scripts: {
        err: { text: 'a b c', fault: { errorAfter: 2, error: { message: 'overloaded', code: 'overloaded' } } },
        bad: { text: 'a b c', fault: { malformedAfter: 2 } },
        drop: { text: 'a b c', fault: { dropAfter: 3 } },
      },
    })
    const client = official(mock)
    for (const endpoint of ['chat', 'responses', 'completions']) {
      const create = (model) =>
        endpoint === 'chat'
          ? client.chat.completions.create({ model, messages: MESSAGES, stream: true })
          : endpoint === 'responses'
            ? client.responses.create({ model, input: 'hi', stream: true })
            : client.completions.create({ model, prompt: 'hi', stream: true })
      const err = await openaiItems(create('err'))
      assert.ok(err.error instanceof OpenAI.APIError, `${endpoint}: got ${err.error?.constructor.name}`)
      assert.match(err.error.message, /overloaded/)
      assert.equal(err.items.length, 2, endpoint)
      const bad = await openaiItems(create('bad'))
      assert.ok(bad.error instanceof SyntaxError, `${endpoint}: got ${bad.error?.constructor.name}`)
      assert.equal(bad.items.length, 2, endpoint)
      const drop = await openaiItems(create('drop'))
      assert.ok(drop.error instanceof Error, `${endpoint}: the drop is an error`)
      assert.equal(drop.items.length, 3, endpoint)
    }
  })

  test('stall: nothing more arrives until the client gives up; empty body: a stream with no events', async (t) => {
    const mock = await serve(t, {
      scripts: { stall: { text: 'a b c', fault: { stallAfter: 2 } }, empty: { fault: { emptyBody: true } } },
    })
    const controller = new AbortController()
    const stream = await official(mock).chat.completions.create(
      { model: 'stall', messages: MESSAGES, stream: true },
      { signal: controller.signal },
    )
    const items = []
    const done = (async () => {
      try {
        for await (const item of stream) items.push(item)
      } catch (error) {
        return error
      }
    })()
    assert.ok(await waitFor(() => items.length === 2), 'the two events before the stall arrived')
    await sleep(100)
    assert.equal(items.length, 2, 'and nothing after them')
    controller.abort()
    await done
    await mock.requests[0].closed
    assert.equal(mock.requests[0].clientClosed, true)
    const empty = await openaiItems(
      official(mock).chat.completions.create({ model: 'empty', messages: MESSAGES, stream: true }),
    )
    assert.deepEqual(empty.items, [])
  })
})

test('an aborted stream ends with AbortError and the mock sees the client close', async (t) => {
  const mock = await serve(t, { script: { text: 'a b c', fault: { stallAfter: 2 } } })
  const stream = ours(mock).chat({ model: 'm', messages: MESSAGES })
  stream.on('text', () => stream.abort('enough'))
  const { error } = await deltasOf(stream)
  assert.ok(error instanceof AbortError)
  await mock.requests[0].closed
  assert.equal(mock.requests[0].clientClosed, true)
})
