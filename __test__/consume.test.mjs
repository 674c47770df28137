// Every way of consuming a ChatStream, against a local HTTP server (real bytes, real sockets),
// plus the bring-your-own-bytes entry points (parseChatStream, SseParser) and the ai-sdk fixtures.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import {
  sseBody,
  writePieces,
  randomPieces,
  bytePieces,
  chatFixtures,
  expectedText,
  collect,
  sleep,
} from './helpers/sse.mjs'
import { Client, ChatStream, parseChatStream, SseParser, AbortError } from '../index.mjs'

const API_KEY = 'sk-test-consume-0123456789'

async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

function clientFor(server, options = {}) {
  return new Client({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0, ...options })
}

/** A handler that writes `chunks` (then `[DONE]`) in one go. */
function replies(chunks, { done = true } = {}) {
  return (req, res) => {
    startSse(res)
    for (const chunk of chunks) sseChunk(res, chunk)
    res.end(done ? 'data: [DONE]\n\n' : '')
  }
}

const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }

/** Drops `undefined` fields, as JSON would. */
const plain = (value) => JSON.parse(JSON.stringify(value))

const usageChunk = (usage) => ({
  id: 'chatcmpl-test',
  object: 'chat.completion.chunk',
  created: 1700000000,
  model: 'test-model',
  choices: [],
  usage,
})

// A stream with every delta kind, in a fixed order.
const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }
const RICH = [
  chatChunk({ role: 'assistant' }),
  chatChunk({ reasoning_content: 'Let me ' }),
  chatChunk({ reasoning: 'think.' }),
  chatChunk({ content: 'Hello' }),
  chatChunk({ content: ', world' }),
  chatChunk({ refusal: 'I would rather not' }),
  chatChunk({
    tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'lookup', arguments: '' } }],
  }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] }),
  chatChunk({
    tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'save', arguments: '{"ok":true}' } }],
  }),
  chatChunk({}, { finish: 'tool_calls' }),
  usageChunk(USAGE),
]
const RICH_DELTAS = [
  { type: 'reasoning', choice: 0, text: 'Let me ' },
  { type: 'reasoning', choice: 0, text: 'think.' },
  { type: 'text', choice: 0, text: 'Hello' },
  { type: 'text', choice: 0, text: ', world' },
  { type: 'refusal', choice: 0, text: 'I would rather not' },
  { type: 'toolCallDelta', choice: 0, index: 0, id: 'call_a', name: 'lookup', arguments: '', kind: 'function' },
  { type: 'toolCallDelta', choice: 0, index: 0, arguments: '{"q":', kind: 'function' },
  { type: 'toolCallDelta', choice: 0, index: 0, arguments: '"x"}', kind: 'function' },
  // call_a is whole once call_b starts (its arguments parse); call_b once the choice finishes.
  { type: 'toolCall', choice: 0, index: 0, id: 'call_a', name: 'lookup', arguments: '{"q":"x"}', kind: 'function' },
  {
    type: 'toolCallDelta',
    choice: 0,
    index: 1,
    id: 'call_b',
    name: 'save',
    arguments: '{"ok":true}',
    kind: 'function',
  },
  { type: 'toolCall', choice: 0, index: 1, id: 'call_b', name: 'save', arguments: '{"ok":true}', kind: 'function' },
  { type: 'finish', choice: 0, reason: 'tool_calls' },
  { type: 'usage', usage: USAGE },
]

// Choice 0 and choice 1 interleaved (n = 2).
const TWO_CHOICES = [
  chatChunk({ role: 'assistant' }, { index: 0 }),
  chatChunk({ role: 'assistant' }, { index: 1 }),
  chatChunk({ content: 'A1' }, { index: 0 }),
  chatChunk({ content: 'B1' }, { index: 1 }),
  chatChunk({ content: 'A2' }, { index: 0 }),
  chatChunk({ content: 'B2' }, { index: 1 }),
  chatChunk({}, { index: 1, finish: 'length' }),
  chatChunk({}, { index: 0, finish: 'stop' }),
]

// Two tool calls one after the other, ending with [DONE] but no finish_reason.
const SEQUENTIAL_CALLS = [
  chatChunk({ role: 'assistant', content: null }),
  chatChunk({
    tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'read', arguments: '{"path":' } }],
  }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"a.txt"}' } }] }),
  chatChunk({
    tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'list', arguments: '{"dir"' } }],
  }),
  chatChunk({ tool_calls: [{ index: 1, function: { arguments: ':"/"}' } }] }),
]

describe('for await (const d of stream)', { timeout: 60_000 }, () => {
  test('yields toolCallDelta fragments and one whole toolCall per call, its arguments complete', async (t) => {
    const server = await serve(t, replies(SEQUENTIAL_CALLS))
    const deltas = plain(await collect(clientFor(server).chat(BODY)))
    const fragment = (fields) => ({ type: 'toolCallDelta', choice: 0, ...fields, kind: 'function' })
    const whole = (index, id, name, args) => ({
      type: 'toolCall',
      choice: 0,
      index,
      id,
      name,
      arguments: args,
      kind: 'function',
    })
    assert.deepEqual(deltas, [
      fragment({ index: 0, id: 'call_a', name: 'read', arguments: '{"path":' }),
      fragment({ index: 0, arguments: '"a.txt"}' }),
      // Right after call 0's last fragment, as call 1 starts.
      whole(0, 'call_a', 'read', '{"path":"a.txt"}'),
      fragment({ index: 1, id: 'call_b', name: 'list', arguments: '{"dir"' }),
      fragment({ index: 1, arguments: ':"/"}' }),
      // At the end of the stream ([DONE], no finish_reason).
      whole(1, 'call_b', 'list', '{"dir":"/"}'),
    ])
    for (const call of deltas.filter((d) => d.type === 'toolCall')) JSON.parse(call.arguments)
  })

  test('yields interleaved calls whole only at the finish, each once, and a provider without ids gets id ""', async (t) => {
    const server = await serve(
      t,
      replies([
        chatChunk({
          tool_calls: [
            { index: 0, type: 'function', function: { name: 'a', arguments: '{"x"' } },
            { index: 1, type: 'function', function: { name: 'b', arguments: '{"y"' } },
          ],
        }),
        chatChunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
        chatChunk({ tool_calls: [{ index: 1, function: { arguments: ':2}' } }] }),
        chatChunk({}, { finish: 'tool_calls' }),
      ]),
    )
    const deltas = plain(await collect(clientFor(server).chat(BODY)))
    assert.deepEqual(
      deltas.map((d) => d.type),
      ['toolCallDelta', 'toolCallDelta', 'toolCallDelta', 'toolCallDelta', 'toolCall', 'toolCall', 'finish'],
    )
    assert.deepEqual(
      deltas.filter((d) => d.type === 'toolCall'),
      [
        { type: 'toolCall', choice: 0, index: 0, id: '', name: 'a', arguments: '{"x":1}', kind: 'function' },
        { type: 'toolCall', choice: 0, index: 1, id: '', name: 'b', arguments: '{"y":2}', kind: 'function' },
      ],
    )
  })

  test('yields every Delta kind in arrival order', async (t) => {
    const server = await serve(t, replies(RICH))
    const deltas = await collect(clientFor(server).chat(BODY))
    assert.deepEqual(plain(deltas), RICH_DELTAS)
  })

  test('yields text, finish and usage deltas for a plain answer', async (t) => {
    const server = await serve(
      t,
      replies([
        chatChunk({ role: 'assistant' }),
        chatChunk({ content: 'Hi' }),
        chatChunk({ content: ' there' }),
        chatChunk({}, { finish: 'stop' }),
        usageChunk(USAGE),
      ]),
    )
    const deltas = await collect(clientFor(server).chat(BODY))
    assert.deepEqual(plain(deltas), [
      { type: 'text', choice: 0, text: 'Hi' },
      { type: 'text', choice: 0, text: ' there' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: USAGE },
    ])
  })

  test('gives choice 1 deltas `choice: 1` when choices interleave (n = 2)', async (t) => {
    const server = await serve(t, replies(TWO_CHOICES))
    const deltas = await collect(clientFor(server).chat({ ...BODY, n: 2 }))
    assert.deepEqual(plain(deltas), [
      { type: 'text', choice: 0, text: 'A1' },
      { type: 'text', choice: 1, text: 'B1' },
      { type: 'text', choice: 0, text: 'A2' },
      { type: 'text', choice: 1, text: 'B2' },
      { type: 'finish', choice: 1, reason: 'length' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ])
  })
})

describe('text() and chunks()', { timeout: 60_000 }, () => {
  test('text() yields only choice 0 content and joins to the whole text', async (t) => {
    const chunks = [
      ...TWO_CHOICES.slice(0, 3),
      chatChunk({ reasoning_content: 'hidden' }),
      chatChunk({ refusal: 'nope' }),
      ...TWO_CHOICES.slice(3),
    ]
    const server = await serve(t, replies(chunks))
    const texts = await collect(
      clientFor(server)
        .chat({ ...BODY, n: 2 })
        .text(),
    )
    assert.ok(texts.length >= 1)
    for (const text of texts) assert.equal(typeof text, 'string')
    assert.equal(texts.join(''), 'A1A2')
  })

  test('chunks() yields the raw chunk objects, one per data line, without [DONE]', async (t) => {
    const server = await serve(t, replies(RICH))
    const chunks = await collect(clientFor(server).chat(BODY).chunks())
    assert.equal(chunks.length, RICH.length)
    for (const chunk of chunks) assert.equal(chunk.object, 'chat.completion.chunk')
    assert.deepEqual(chunks, RICH)
  })
})

describe('events', { timeout: 60_000 }, () => {
  test("'text' gives (text, snapshot, choice) with a growing snapshot", async (t) => {
    const server = await serve(
      t,
      replies([
        chatChunk({ content: 'a' }),
        chatChunk({ content: 'bc' }),
        chatChunk({ content: 'd' }, { index: 1 }),
        chatChunk({ content: 'e' }),
        chatChunk({}, { finish: 'stop' }),
        chatChunk({}, { index: 1, finish: 'stop' }),
      ]),
    )
    const calls = []
    const stream = clientFor(server).chat(BODY)
    stream.on('text', (text, snapshot, choice) => calls.push([text, snapshot, choice]))
    await stream.final()
    assert.deepEqual(calls, [
      ['a', 'a', 0],
      ['bc', 'abc', 0],
      ['d', 'd', 1],
      ['e', 'abce', 0],
    ])
  })

  test("'refusal' and 'reasoning' give (text, snapshot, choice)", async (t) => {
    const server = await serve(t, replies(RICH))
    const refusals = []
    const reasonings = []
    const stream = clientFor(server).chat(BODY)
    stream.on('refusal', (...args) => refusals.push(args))
    stream.on('reasoning', (...args) => reasonings.push(args))
    await stream.final()
    assert.deepEqual(refusals, [['I would rather not', 'I would rather not', 0]])
    assert.deepEqual(reasonings, [
      ['Let me ', 'Let me ', 0],
      ['think.', 'Let me think.', 0],
    ])
  })

  test("'toolCallDelta' fires for every fragment and 'toolCall' once per call with whole arguments", async (t) => {
    const server = await serve(t, replies(RICH))
    const fragments = []
    const calls = []
    const stream = clientFor(server).chat(BODY)
    stream.on('toolCallDelta', (delta) => fragments.push(plain(delta)))
    stream.on('toolCall', (call) => calls.push(plain(call)))
    await stream.final()
    assert.deepEqual(
      fragments,
      RICH_DELTAS.filter((d) => d.type === 'toolCallDelta'),
    )
    // Each listener gets the Delta itself: the whole call, as the iterator yields it.
    assert.deepEqual(
      calls,
      RICH_DELTAS.filter((d) => d.type === 'toolCall'),
    )
    assert.deepEqual(calls, [
      { type: 'toolCall', choice: 0, index: 0, id: 'call_a', name: 'lookup', arguments: '{"q":"x"}', kind: 'function' },
      { type: 'toolCall', choice: 0, index: 1, id: 'call_b', name: 'save', arguments: '{"ok":true}', kind: 'function' },
    ])
    for (const call of calls) JSON.parse(call.arguments)
  })

  test("'toolCall' fires once with the name once when id and name repeat on every delta", async (t) => {
    const fragment = (args) =>
      chatChunk({
        tool_calls: [{ index: 0, id: 'call_r', type: 'function', function: { name: 'get_weather', arguments: args } }],
      })
    const server = await serve(
      t,
      replies([fragment('{"city"'), fragment(':"Par'), fragment('is"}'), chatChunk({}, { finish: 'tool_calls' })]),
    )
    const calls = []
    const stream = clientFor(server).chat(BODY)
    stream.on('toolCall', (call) => calls.push(plain(call)))
    const final = await stream.final()
    assert.deepEqual(calls, [
      {
        type: 'toolCall',
        choice: 0,
        index: 0,
        id: 'call_r',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        kind: 'function',
      },
    ])
    assert.deepEqual(final.choices[0].message.tool_calls, [
      { id: 'call_r', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ])
  })

  test("'toolCall' fires once per call with whole arguments when two calls' fragments interleave", async (t) => {
    const part = (index, args, head) => ({
      index,
      ...(head ? { id: `call_${index}`, type: 'function' } : {}),
      function: { ...(head ? { name: `fn${index}` } : {}), arguments: args },
    })
    const server = await serve(
      t,
      replies([
        chatChunk({ tool_calls: [part(0, '{"a"', true), part(1, '{"b"', true)] }),
        chatChunk({ tool_calls: [part(0, ':1}')] }),
        chatChunk({ tool_calls: [part(1, ':2}')] }),
        chatChunk({}, { finish: 'tool_calls' }),
      ]),
    )
    const calls = []
    const stream = clientFor(server).chat(BODY)
    stream.on('toolCall', (call) => calls.push(plain(call)))
    await stream.final()
    // Neither is whole while the other streams: both come at the finish, in index order.
    assert.deepEqual(calls, [
      { type: 'toolCall', choice: 0, index: 0, id: 'call_0', name: 'fn0', arguments: '{"a":1}', kind: 'function' },
      { type: 'toolCall', choice: 0, index: 1, id: 'call_1', name: 'fn1', arguments: '{"b":2}', kind: 'function' },
    ])
  })

  test("'toolCall' fires once per call, before 'end', for a stream that ends with [DONE] and no finish_reason", async (t) => {
    const server = await serve(t, replies(SEQUENTIAL_CALLS))
    const seen = []
    const stream = clientFor(server).chat(BODY)
    stream.on('toolCallDelta', (delta) => seen.push(['toolCallDelta', delta.index]))
    stream.on('toolCall', (call) => seen.push(['toolCall', call.index, JSON.parse(call.arguments)]))
    stream.on('end', () => seen.push(['end']))
    const final = await stream.final()
    assert.deepEqual(seen, [
      ['toolCallDelta', 0],
      ['toolCallDelta', 0],
      ['toolCall', 0, { path: 'a.txt' }],
      ['toolCallDelta', 1],
      ['toolCallDelta', 1],
      // No finish_reason came: the end of the stream completes the last call.
      ['toolCall', 1, { dir: '/' }],
      ['end'],
    ])
    assert.equal(final.choices[0].finish_reason, null)
    assert.equal(final.choices[0].message.tool_calls.length, 2)
  })

  test("'finish', 'usage' and 'chunk' give the reason and choice, the usage, the raw chunks", async (t) => {
    const server = await serve(t, replies([...TWO_CHOICES, usageChunk(USAGE)]))
    const finishes = []
    const usages = []
    const chunks = []
    const stream = clientFor(server).chat({ ...BODY, n: 2 })
    stream.on('finish', (reason, choice) => finishes.push([reason, choice]))
    stream.on('usage', (usage) => usages.push(usage))
    stream.on('chunk', (chunk) => chunks.push(chunk))
    await stream.final()
    assert.deepEqual(finishes, [
      ['length', 1],
      ['stop', 0],
    ])
    assert.deepEqual(usages, [USAGE])
    assert.deepEqual(chunks, [...TWO_CHOICES, usageChunk(USAGE)])
  })

  test("'end' gives the final result", async (t) => {
    const server = await serve(t, replies(RICH))
    const stream = clientFor(server).chat(BODY)
    const ended = new Promise((resolve) => stream.on('end', resolve))
    const fromEnd = await ended
    assert.equal(fromEnd.object, 'chat.completion')
    assert.deepEqual(fromEnd, await stream.final())
  })

  test('once() fires a listener only for the first event', async (t) => {
    const server = await serve(
      t,
      replies([
        chatChunk({ content: 'x' }),
        chatChunk({ content: 'y' }),
        chatChunk({ content: 'z' }),
        chatChunk({}, { finish: 'stop' }),
      ]),
    )
    const seen = []
    const stream = clientFor(server).chat(BODY)
    stream.once('text', (text) => seen.push(text))
    await stream.final()
    assert.deepEqual(seen, ['x'])
  })

  test('off() removes a listener', async (t) => {
    const server = await serve(
      t,
      replies([chatChunk({ content: 'x' }), chatChunk({ content: 'y' }), chatChunk({}, { finish: 'stop' })]),
    )
    const kept = []
    const removed = []
    const stream = clientFor(server).chat(BODY)
    const listener = (text) => removed.push(text)
    stream.on('text', listener)
    stream.on('text', (text) => kept.push(text))
    stream.off('text', listener)
    await stream.final()
    assert.deepEqual(removed, [])
    assert.deepEqual(kept, ['x', 'y'])
  })

  test('off() from inside a listener stops later events', async (t) => {
    const server = await serve(
      t,
      replies([
        chatChunk({ content: 'x' }),
        chatChunk({ content: 'y' }),
        chatChunk({ content: 'z' }),
        chatChunk({}, { finish: 'stop' }),
      ]),
    )
    const seen = []
    const stream = clientFor(server).chat(BODY)
    const listener = (text) => {
      seen.push(text)
      if (seen.length === 2) stream.off('text', listener)
    }
    stream.on('text', listener)
    await stream.final()
    assert.deepEqual(seen, ['x', 'y'])
  })

  test('on(), once() and off() return the stream, so calls chain', async (t) => {
    const server = await serve(t, replies([chatChunk({ content: 'x' }), chatChunk({}, { finish: 'stop' })]))
    const stream = clientFor(server).chat(BODY)
    const noop = () => {}
    assert.equal(stream.on('text', noop), stream)
    assert.equal(stream.once('finish', noop), stream)
    assert.equal(stream.off('text', noop), stream)
    const texts = []
    const finishes = []
    await stream
      .on('text', (text) => texts.push(text))
      .on('finish', (reason) => finishes.push(reason))
      .final()
    assert.deepEqual([texts, finishes], [['x'], ['stop']])
  })
})

describe('final() and finalText()', { timeout: 60_000 }, () => {
  test('final() is shaped like a chat.completion', async (t) => {
    const server = await serve(
      t,
      replies([
        chatChunk({ role: 'assistant' }, { id: 'chatcmpl-42' }),
        chatChunk({ content: 'Hello' }, { id: 'chatcmpl-42' }),
        chatChunk({ content: ' there' }, { id: 'chatcmpl-42' }),
        chatChunk({}, { finish: 'stop', id: 'chatcmpl-42' }),
        { ...usageChunk(USAGE), id: 'chatcmpl-42' },
      ]),
    )
    const stream = clientFor(server).chat(BODY)
    const final = await stream.final()
    assert.equal(final.object, 'chat.completion')
    assert.equal(final.id, 'chatcmpl-42')
    assert.equal(final.model, 'test-model')
    assert.equal(final.created, 1700000000)
    assert.equal(final.choices.length, 1)
    assert.equal(final.choices[0].index, 0)
    assert.equal(final.choices[0].message.role, 'assistant')
    assert.equal(final.choices[0].message.content, 'Hello there')
    assert.equal(final.choices[0].finish_reason, 'stop')
    assert.deepEqual(final.usage, USAGE)
  })

  test('final() carries tool_calls with type function, and reasoning and refusal', async (t) => {
    const server = await serve(t, replies(RICH))
    const final = await clientFor(server).chat(BODY).final()
    const message = final.choices[0].message
    assert.deepEqual(message.tool_calls, [
      { id: 'call_a', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
      { id: 'call_b', type: 'function', function: { name: 'save', arguments: '{"ok":true}' } },
    ])
    assert.equal(message.content, 'Hello, world')
    assert.equal(message.refusal, 'I would rather not')
    assert.equal(final.choices[0].finish_reason, 'tool_calls')
    assert.deepEqual(final.usage, USAGE)
  })

  test('final() has one entry per choice for n = 2', async (t) => {
    const server = await serve(t, replies(TWO_CHOICES))
    const final = await clientFor(server)
      .chat({ ...BODY, n: 2 })
      .final()
    const byIndex = Object.fromEntries(final.choices.map((c) => [c.index, c]))
    assert.equal(final.choices.length, 2)
    assert.equal(byIndex[0].message.content, 'A1A2')
    assert.equal(byIndex[0].finish_reason, 'stop')
    assert.equal(byIndex[1].message.content, 'B1B2')
    assert.equal(byIndex[1].finish_reason, 'length')
  })

  test("finalText() resolves with choice 0's whole content", async (t) => {
    const server = await serve(t, replies(TWO_CHOICES))
    assert.equal(
      await clientFor(server)
        .chat({ ...BODY, n: 2 })
        .finalText(),
      'A1A2',
    )
  })

  test('final() called twice resolves with the same result', async (t) => {
    const server = await serve(t, replies(RICH))
    const stream = clientFor(server).chat(BODY)
    const [a, b] = await Promise.all([stream.final(), stream.final()])
    assert.deepEqual(a, b)
    assert.deepEqual(await stream.final(), a)
    assert.equal(server.requests.length, 1)
  })

  test('final() after the iterator finished still resolves', async (t) => {
    const server = await serve(t, replies(RICH))
    const stream = clientFor(server).chat(BODY)
    const deltas = await collect(stream)
    assert.equal(deltas.length, RICH_DELTAS.length)
    const final = await stream.final()
    assert.equal(final.choices[0].message.content, 'Hello, world')
    assert.equal(await stream.finalText(), 'Hello, world')
  })
})

describe('mixing consumers', { timeout: 60_000 }, () => {
  test('an iterator and listeners on one stream both see everything', async (t) => {
    const server = await serve(t, replies(RICH))
    const stream = clientFor(server).chat(BODY)
    const texts = []
    const calls = []
    const chunks = []
    let usage
    let ended
    stream.on('text', (text) => texts.push(text))
    stream.on('toolCall', (call) => calls.push(call.id))
    stream.on('chunk', (chunk) => chunks.push(chunk))
    stream.on('usage', (u) => (usage = u))
    stream.on('end', (final) => (ended = final))
    const deltas = await collect(stream)
    assert.deepEqual(plain(deltas), RICH_DELTAS)
    assert.deepEqual(texts, ['Hello', ', world'])
    assert.deepEqual(calls, ['call_a', 'call_b'])
    assert.equal(chunks.length, RICH.length)
    assert.deepEqual(usage, USAGE)
    assert.equal(ended?.choices[0].message.content, 'Hello, world')
  })

  test('a second iterator while one is active throws a clear error', async (t) => {
    const server = await serve(t, replies(RICH))
    const stream = clientFor(server).chat(BODY)
    const first = stream[Symbol.asyncIterator]()
    assert.equal((await first.next()).done, false)
    assert.throws(() => stream[Symbol.asyncIterator](), /already being iterated/)
    assert.throws(() => stream.text(), /already being iterated/)
    assert.throws(() => stream.chunks(), /already being iterated/)
    // The first iterator is unharmed.
    const rest = await collect(first)
    assert.equal(rest.length, RICH_DELTAS.length - 1)
  })

  test('iterating again after the first iterator finished throws', async (t) => {
    const server = await serve(t, replies(RICH))
    const stream = clientFor(server).chat(BODY)
    await collect(stream)
    assert.throws(() => stream[Symbol.asyncIterator](), /already iterated|one pass/)
    assert.throws(() => stream.text(), /already iterated|one pass/)
  })
})

describe('response and stats', { timeout: 60_000 }, () => {
  test('stream.response resolves { status, headers, requestId }', async (t) => {
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_abc_789', 'x-custom': 'yes' })
      res.end(sseBody([chatChunk({ content: 'x' }), chatChunk({}, { finish: 'stop' })]))
    })
    const stream = clientFor(server).chat(BODY)
    const response = await stream.response
    assert.equal(response.status, 200)
    assert.equal(response.requestId, 'req_abc_789')
    assert.equal(response.headers['content-type'], 'text/event-stream')
    assert.equal(response.headers['x-custom'], 'yes')
    assert.equal(await stream.finalText(), 'x')
  })

  test('stream.stats has ttftMs, chunks, bytes and durationMs after the end', async (t) => {
    const first = sseBody([chatChunk({ content: 'one' })], { done: false })
    const rest = sseBody([chatChunk({ content: ' two' }), chatChunk({}, { finish: 'stop' })])
    const server = await serve(t, async (req, res) => {
      startSse(res)
      await sleep(60)
      res.write(first)
      await sleep(60)
      res.end(rest)
    })
    const stream = clientFor(server).chat(BODY)
    await stream.final()
    const stats = stream.stats
    assert.equal(stats.chunks, 3)
    assert.equal(stats.bytes, first.length + rest.length)
    assert.equal(typeof stats.ttftMs, 'number')
    assert.ok(stats.ttftMs >= 50, `ttftMs ${stats.ttftMs} should include the server's 60 ms delay`)
    assert.ok(
      stats.durationMs >= stats.ttftMs + 50,
      `durationMs ${stats.durationMs} should cover both delays (ttft ${stats.ttftMs})`,
    )
    assert.ok(stats.durationMs < 10_000)
  })

  test('stream.stats before the first byte has no ttft yet', async (t) => {
    let release
    const server = await serve(t, async (req, res) => {
      startSse(res)
      res.flushHeaders()
      await new Promise((r) => (release = r))
      res.end(sseBody([chatChunk({ content: 'x' }), chatChunk({}, { finish: 'stop' })]))
    })
    const stream = clientFor(server).chat(BODY)
    await stream.response
    const early = stream.stats
    assert.equal(early.ttftMs, null)
    assert.equal(early.chunks, 0)
    release()
    await stream.final()
    assert.equal(stream.stats.chunks, 2)
  })
})

describe('the request on the wire', { timeout: 60_000 }, () => {
  test('POST /v1/chat/completions with stream: true, auth, organization, project, headers and query merged', async (t) => {
    const server = await serve(t, replies([chatChunk({ content: 'ok' }), chatChunk({}, { finish: 'stop' })]))
    const client = new Client({
      baseURL: server.url,
      apiKey: API_KEY,
      organization: 'org-123',
      project: 'proj-456',
      headers: { 'x-client-header': 'client' },
      query: { client_q: '1' },
    })
    const body = { ...BODY, temperature: 0.5 }
    await client.chat(body, { headers: { 'x-request-header': 'request' }, query: { request_q: '2' } }).final()
    assert.equal(server.requests.length, 1)
    const [request] = server.requests
    const url = new URL(request.url, 'http://localhost')
    assert.equal(request.method, 'POST')
    assert.equal(url.pathname, '/v1/chat/completions')
    assert.equal(url.searchParams.get('client_q'), '1')
    assert.equal(url.searchParams.get('request_q'), '2')
    assert.equal(request.headers.authorization, `Bearer ${API_KEY}`)
    assert.equal(request.headers['openai-organization'], 'org-123')
    assert.equal(request.headers['openai-project'], 'proj-456')
    assert.equal(request.headers['x-client-header'], 'client')
    assert.equal(request.headers['x-request-header'], 'request')
    assert.match(request.headers['content-type'], /^application\/json/)
    const sent = JSON.parse(request.body)
    assert.equal(sent.stream, true)
    assert.equal(sent.model, 'test-model')
    assert.equal(sent.temperature, 0.5)
    assert.deepEqual(sent.messages, BODY.messages)
    // (stream: false is refused now, issue 13: the body without it must not gain `stream` either)
    assert.equal('stream' in body, false, "the caller's body object is not mutated")
  })

  test('a per-request header overrides the client header of the same name', async (t) => {
    const server = await serve(t, replies([chatChunk({ content: 'ok' }), chatChunk({}, { finish: 'stop' })]))
    const client = new Client({ baseURL: server.url, apiKey: API_KEY, headers: { 'x-shared': 'client' } })
    await client.chat(BODY, { headers: { 'x-shared': 'request' } }).final()
    assert.equal(server.requests[0].headers['x-shared'], 'request')
  })

  test('a per-request query value overrides the client query value of the same name', async (t) => {
    const server = await serve(t, replies([chatChunk({ content: 'ok' }), chatChunk({}, { finish: 'stop' })]))
    const client = new Client({ baseURL: server.url, apiKey: API_KEY, query: { shared: 'client', other: 'kept' } })
    await client.chat(BODY, { query: { shared: 'request' } }).final()
    const params = new URL(server.requests[0].url, 'http://localhost').searchParams
    assert.deepEqual(params.getAll('shared'), ['request'])
    assert.equal(params.get('other'), 'kept')
  })
})

describe('module entry points', { timeout: 60_000 }, () => {
  test("require('streamdelta') and import from index.mjs give the same classes", () => {
    const require = createRequire(import.meta.url)
    const byName = require('streamdelta')
    const byPath = require(fileURLToPath(new URL('..', import.meta.url)))
    assert.equal(byName.Client, Client)
    assert.equal(byPath.Client, Client)
    assert.equal(byName.AbortError, AbortError)
    assert.equal(byName.parseChatStream, parseChatStream)
    assert.equal(typeof Client, 'function')
  })

  test("import('streamdelta') gives the same Client as index.mjs", async () => {
    const mod = await import('streamdelta')
    assert.equal(mod.Client, Client)
    assert.equal(mod.default.Client, Client)
  })
})

describe('parseChatStream(source)', { timeout: 60_000 }, () => {
  const body = sseBody(RICH)
  let reference

  /** Deltas and final of the HTTP client path, for comparison. */
  async function httpReference(t) {
    if (reference) return reference
    const server = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(body)
    })
    const stream = clientFor(server).chat(BODY)
    const deltas = await collect(stream)
    reference = { deltas: plain(deltas), final: await stream.final() }
    assert.deepEqual(reference.deltas, RICH_DELTAS)
    return reference
  }

  async function assertSameAsHttp(t, stream) {
    const expected = await httpReference(t)
    assert.ok(stream instanceof ChatStream)
    const deltas = await collect(stream)
    assert.deepEqual(plain(deltas), expected.deltas)
    assert.deepEqual(await stream.final(), expected.final)
  }

  test('over a fetch() Response from the local server', async (t) => {
    const server = await serve(t, (req, res) =>
      writePieces(res, randomPieces(body, 1, 40), { headers: { 'x-request-id': 'req_fetch' } }),
    )
    const response = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: '{}' })
    const stream = parseChatStream(response)
    await assertSameAsHttp(t, stream)
    const meta = await stream.response
    assert.equal(meta.status, 200)
    assert.equal(meta.requestId, 'req_fetch')
  })

  test('over a web ReadableStream', async (t) => {
    const pieces = randomPieces(body, 2, 50)
    const source = new ReadableStream({
      pull(controller) {
        const piece = pieces.shift()
        if (piece) controller.enqueue(new Uint8Array(piece))
        else controller.close()
      },
    })
    await assertSameAsHttp(t, parseChatStream(source))
  })

  test('over a Node Readable split at every byte', async (t) => {
    await assertSameAsHttp(t, parseChatStream(Readable.from(bytePieces(body))))
  })

  for (const seed of [3, 4, 5, 6]) {
    test(`over a Node Readable split at random offsets (seed ${seed})`, async (t) => {
      await assertSameAsHttp(t, parseChatStream(Readable.from(randomPieces(body, seed, 97))))
    })
  }

  test('over an async generator', async (t) => {
    const pieces = randomPieces(body, 7, 30)
    async function* generate() {
      for (const piece of pieces) {
        await null
        yield new Uint8Array(piece)
      }
    }
    await assertSameAsHttp(t, parseChatStream(generate()))
  })

  test('text(), events and final() work on a parsed stream too', async (t) => {
    const stream = parseChatStream(Readable.from(randomPieces(body, 8, 20)))
    const calls = []
    stream.on('toolCall', (call) => calls.push(call.name))
    const texts = await collect(stream.text())
    assert.equal(texts.join(''), 'Hello, world')
    assert.deepEqual(calls, ['lookup', 'save'])
    assert.equal(await stream.finalText(), 'Hello, world')
  })
})

describe('SseParser', { timeout: 60_000 }, () => {
  const events = (parser, input) => [...parser.feed(input), ...parser.end()]

  test('feed() returns { event, data, id, retry } with multi-line data joined by \\n', () => {
    const parser = new SseParser()
    const got = parser.feed('event: update\ndata: first\ndata: second\nid: 7\nretry: 1500\n\n')
    assert.deepEqual(plain(got), [{ event: 'update', data: 'first\nsecond', id: '7', retry: 1500 }])
  })

  test("the event type defaults to 'message' and the id persists until a block changes it", () => {
    const got = events(
      new SseParser(),
      'data: a\n\nid: 1\ndata: b\n\ndata: c\n\nid: 2\nevent: x\ndata: d\n\nid\ndata: e\n\n',
    )
    assert.deepEqual(
      got.map(({ event, data, id }) => ({ event, data, id })),
      [
        { event: 'message', data: 'a', id: '' },
        { event: 'message', data: 'b', id: '1' },
        { event: 'message', data: 'c', id: '1' },
        { event: 'x', data: 'd', id: '2' },
        { event: 'message', data: 'e', id: '' },
      ],
    )
  })

  test('retry is set only by an all-digit value in the same block', () => {
    const got = events(new SseParser(), 'retry: 20\ndata: a\n\ndata: b\n\nretry: 3x\ndata: c\n\n')
    assert.deepEqual(
      got.map((e) => [e.data, e.retry]),
      [
        ['a', 20],
        ['b', undefined],
        ['c', undefined],
      ],
    )
  })

  test('comments, empty-data blocks and unknown fields dispatch nothing; one leading space is stripped', () => {
    const got = events(new SseParser(), ': ping\n\nevent: lonely\n\nfoo: bar\ndata:nospace\n\ndata:  two spaces\n\n')
    assert.deepEqual(
      got.map((e) => [e.event, e.data]),
      [
        ['message', 'nospace'],
        ['message', ' two spaces'],
      ],
    )
  })

  test('CRLF, CR and LF line endings are all line ends', () => {
    const got = events(new SseParser(), 'data: a\r\n\r\ndata: b\r\rdata: c\n\n')
    assert.deepEqual(
      got.map((e) => e.data),
      ['a', 'b', 'c'],
    )
  })

  test('end() discards an unterminated last event', () => {
    const parser = new SseParser()
    assert.deepEqual(
      parser.feed('data: whole\n\ndata: partial').map((e) => e.data),
      ['whole'],
    )
    assert.deepEqual(parser.end(), [])
    const other = new SseParser()
    assert.deepEqual(other.feed('data: line but no blank line\n'), [])
    assert.deepEqual(other.end(), [])
  })

  test('many events per feed keep each their own type, id, retry and data, whatever the piece sizes', () => {
    // Values the engine packs into one CR-separated buffer per feed: empty data, multi-line
    // data, multi-byte text, ids that change mid-feed, a retry on some events only.
    const want = []
    let input = ''
    for (let i = 0; i < 300; i++) {
      const event = i % 7 === 0 ? `type${i % 3}` : 'message'
      const data = i % 11 === 0 ? '' : i % 5 === 0 ? `line ${i}\nnext ☃ ${i}` : `{"n":${i},"t":"日本🙂"}`
      const id = i < 100 ? '' : String(Math.floor(i / 10))
      const retry = i % 13 === 0 ? i * 10 : undefined
      input += `${event === 'message' ? '' : `event: ${event}\n`}${i >= 100 && i % 10 === 0 ? `id: ${id}\n` : ''}${retry === undefined ? '' : `retry: ${retry}\n`}`
      input +=
        data
          .split('\n')
          .map((line) => `data: ${line}\n`)
          .join('') + '\n'
      want.push(retry === undefined ? { event, data, id } : { event, data, id, retry })
    }
    const bytes = Buffer.from(input)
    assert.deepEqual(plain(events(new SseParser(), bytes)), want)
    for (const size of [1, 7, 64, 1000]) {
      const parser = new SseParser()
      const got = []
      for (let at = 0; at < bytes.length; at += size) got.push(...parser.feed(bytes.subarray(at, at + size)))
      got.push(...parser.end())
      assert.deepEqual(plain(got), want, `pieces of ${size} bytes`)
    }
  })

  test('feed() accepts Uint8Array and string input alike', () => {
    const text = 'event: e\ndata: héllo\n\n'
    assert.deepEqual(plain(new SseParser().feed(Buffer.from(text))), plain(new SseParser().feed(text)))
    assert.deepEqual(plain(new SseParser().feed(new TextEncoder().encode(text))), [
      { event: 'e', data: 'héllo', id: '' },
    ])
  })

  describe('bytes split anywhere give the same events', { timeout: 60_000 }, () => {
    const input = Buffer.from(
      ': comment\r\nid: 1\r\nevent: greet\r\ndata: héllo wörld 🚀\r\ndata: 二行目\r\n\r\nretry: 250\ndata: {"a":[1,2]}\n\ndata: cr only\r\rid: 2\ndata: last\n\n',
      'utf8',
    )
    const whole = plain(events(new SseParser(), input))

    test('the reference parse has every event', () => {
      assert.deepEqual(whole, [
        { event: 'greet', data: 'héllo wörld 🚀\n二行目', id: '1' },
        { event: 'message', data: '{"a":[1,2]}', id: '1', retry: 250 },
        { event: 'message', data: 'cr only', id: '1' },
        { event: 'message', data: 'last', id: '2' },
      ])
    })

    test('one byte at a time', () => {
      const parser = new SseParser()
      const got = []
      for (const piece of bytePieces(input)) got.push(...parser.feed(piece))
      got.push(...parser.end())
      assert.deepEqual(plain(got), whole)
    })

    test('every single split point', () => {
      for (let at = 0; at <= input.length; at++) {
        const parser = new SseParser()
        const got = [...parser.feed(input.subarray(0, at)), ...parser.feed(input.subarray(at)), ...parser.end()]
        assert.deepEqual(plain(got), whole, `split at byte ${at}`)
      }
    })

    test('random splits', () => {
      for (let seed = 100; seed < 140; seed++) {
        const parser = new SseParser()
        const got = []
        for (const piece of randomPieces(input, seed, 9)) got.push(...parser.feed(piece))
        got.push(...parser.end())
        assert.deepEqual(plain(got), whole, `seed ${seed}`)
      }
    })
  })
})

describe('ai-sdk chat fixtures served in random-sized writes', { timeout: 60_000 }, () => {
  const fixtures = chatFixtures()

  test('the fixture set was found', () => {
    assert.ok(fixtures.some((f) => f.name.endsWith('.sse')))
    assert.ok(fixtures.length >= 15, `found ${fixtures.length} chat fixtures`)
  })

  for (const [i, fixture] of fixtures.entries()) {
    test(fixture.name, async (t) => {
      const server = await serve(t, (req, res) => writePieces(res, randomPieces(fixture.body, 1000 + i, 200)))
      const stream = clientFor(server).chat(BODY)
      const texts = await collect(stream.text())
      assert.equal(texts.join(''), expectedText(fixture.chunks))
      const final = await stream.final()
      assert.equal(final.object, 'chat.completion')
      const finish = fixture.chunks.flatMap((c) => c.choices ?? []).find((c) => c.finish_reason)?.finish_reason
      assert.equal(final.choices.find((c) => c.index === 0).finish_reason, finish)
      const usage = fixture.chunks.findLast((c) => c.usage)?.usage
      if (usage) assert.equal(final.usage?.total_tokens, usage.total_tokens)
      assert.equal(stream.stats.chunks, fixture.chunks.length)
    })
  }
})
