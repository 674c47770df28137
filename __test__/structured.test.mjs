// Structured streaming through real local servers: objects() and the `object` event (snapshots
// built from the engine's patches, with structural sharing), `parsed` / `output_parsed` in
// final(), `partial` on tool call deltas (`partialJson: true`), and the `schema` option.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { Client, ParseError } from '../index.mjs'
import { startMockServer } from '../testing.mjs'

const API_KEY = 'sk-test-structured-0123456789'
const JSON_FORMAT = { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' } } }
const CHAT_BODY = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], response_format: JSON_FORMAT }

async function mock(t, scripts) {
  const server = await startMockServer({ scripts })
  t.after(() => server.close())
  return new Client({ baseURL: server.url, apiKey: API_KEY })
}

/** A chat server the test drives: each `send(piece)` writes one content chunk. */
async function drivenChat(t) {
  let res
  let connected
  const ready = new Promise((resolve) => {
    connected = resolve
  })
  const server = await startServer((_req, response) => {
    res = response
    startSse(res)
    connected()
  })
  t.after(() => server.close())
  return {
    client: new Client({ baseURL: server.url, apiKey: API_KEY }),
    ready,
    send: (piece) => sseChunk(res, chatChunk({ content: piece })),
    end: () => {
      sseChunk(res, chatChunk({}, { finish: 'stop' }))
      res.end('data: [DONE]\n\n')
    },
  }
}

test('objects(): one snapshot per batch that changed the value, under the snapshot rules', async (t) => {
  const chat = await drivenChat(t)
  const stream = chat.client.chat(CHAT_BODY)
  const it = stream.objects()
  const first = it.next()
  await chat.ready
  const pieces = ['{"name":"Al', 'ice","ag', 'e":3', '0,"tags":["x', '"],"n', 'ested":{"k":tr', 'ue}}']
  const expected = [
    { name: 'Al' },
    { name: 'Alice' },
    null, // `"age":3` shows nothing new: the key shows with a complete value only
    { name: 'Alice', age: 30, tags: ['x'] },
    null, // an unfinished key is not shown
    { name: 'Alice', age: 30, tags: ['x'], nested: {} },
    { name: 'Alice', age: 30, tags: ['x'], nested: { k: true } },
  ]
  const seen = []
  let pending = first
  for (let i = 0; i < pieces.length; i++) {
    chat.send(pieces[i])
    if (expected[i] === null) continue
    const { value, done } = await pending
    assert.equal(done, false)
    assert.deepEqual(value, expected[i], `after piece ${i}`)
    seen.push([value, structuredClone(value)])
    pending = it.next()
  }
  chat.end()
  assert.deepEqual(await pending, { value: undefined, done: true })
  // Snapshots handed out never change, and what did not change is shared.
  for (const [value, copy] of seen) assert.deepEqual(value, copy)
  const last = seen.at(-1)[0]
  const before = seen.at(-2)[0]
  assert.notEqual(last, before)
  assert.equal(last.tags, before.tags)
  const final = await stream.final()
  assert.deepEqual(final.choices[0].message.parsed, last)
  assert.equal(final.choices[0].message.content, pieces.join(''))
})

test('objects() of one-character deltas ends with the whole value; the object event sees the same', async (t) => {
  const doc = {
    title: 'caf\u00e9 \ud83d\ude00 "quoted" \\ back',
    items: Array.from({ length: 30 }, (_, i) => ({
      id: i,
      ok: i % 2 === 0,
      score: i / 4,
      tags: ['a', 'b'],
      none: null,
    })),
    nested: { a: { b: { c: [[1], [2, [3]]] } } },
  }
  const text = JSON.stringify(doc, null, 1)
  const client = await mock(t, { 'gpt-test': { text: [...text] } })
  const snapshots = []
  for await (const value of client.chat(CHAT_BODY).objects()) snapshots.push([value, structuredClone(value)])
  assert.ok(snapshots.length >= 1)
  assert.deepEqual(snapshots.at(-1)[0], doc)
  for (const [value, copy] of snapshots) assert.deepEqual(value, copy)

  const events = []
  const stream = client.chat(CHAT_BODY)
  stream.on('object', (value, choice) => events.push([value, choice]))
  const final = await stream.final()
  assert.deepEqual(events.at(-1), [doc, 0])
  assert.deepEqual(final.choices[0].message.parsed, doc)
})

test('objects() on the Responses API: the output text, and output_parsed in final()', async (t) => {
  const doc = { answer: 42, why: ['because', 'it is'] }
  const client = await mock(t, { 'gpt-test': { text: JSON.stringify(doc).match(/.{1,3}/g) } })
  const body = { model: 'gpt-test', input: 'hi', text: { format: { type: 'json_object' } } }
  const stream = client.responses(body)
  let last
  for await (const value of stream.objects()) last = value
  assert.deepEqual(last, doc)
  assert.deepEqual((await stream.final()).output_parsed, doc)
})

test('content that is not JSON ends objects() with ParseError, the text in partial', async (t) => {
  const client = await mock(t, { 'gpt-test': { text: ['{"a":', ' oops', ' more'] } })
  const stream = client.chat(CHAT_BODY)
  const values = []
  await assert.rejects(
    (async () => {
      for await (const value of stream.objects()) values.push(value)
    })(),
    (error) => {
      assert.ok(error instanceof ParseError)
      assert.equal(error.code, 'ERR_PARSE')
      assert.match(error.message, /not JSON: expected a JSON value \(at byte 6\)/)
      assert.match(error.partial.choices[0].message.content, /^\{"a": oops/)
      return true
    },
  )
  assert.deepEqual(values.at(-1) ?? {}, {})
})

test('prose: objects() fails at once; final() has parsed: null when JSON was asked, no parsed otherwise', async (t) => {
  const client = await mock(t, { 'gpt-test': { text: 'Hello there' } })
  await assert.rejects(async () => {
    for await (const _ of client.chat(CHAT_BODY).objects());
  }, ParseError)
  const asked = await client.chat(CHAT_BODY).final()
  assert.equal(asked.choices[0].message.parsed, null)
  const plain = await client.chat({ model: 'gpt-test', messages: CHAT_BODY.messages }).final()
  assert.equal('parsed' in plain.choices[0].message, false)
  const plainResponse = await client.responses({ model: 'gpt-test', input: 'hi' }).final()
  assert.equal('output_parsed' in plainResponse, false)
})

test('partialJson: true puts the arguments parsed so far on every toolCallDelta', async (t) => {
  const args = { city: 'Paris', days: 3, units: ['c', 'mm'] }
  const server = await startServer((_req, res) => {
    startSse(res)
    const text = JSON.stringify(args)
    sseChunk(
      res,
      chatChunk({
        tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }],
      }),
    )
    for (const c of text) sseChunk(res, chatChunk({ tool_calls: [{ index: 0, function: { arguments: c } }] }))
    sseChunk(res, chatChunk({}, { finish: 'tool_calls' }))
    res.end('data: [DONE]\n\n')
  })
  t.after(() => server.close())
  const client = new Client({ baseURL: server.url, apiKey: API_KEY })
  const partials = []
  const stream = client.chat({ model: 'gpt-test', messages: CHAT_BODY.messages }, { partialJson: true })
  stream.on('toolCallDelta', (d) => partials.push(d.partial))
  await stream.final()
  assert.deepEqual(partials.at(-1), args)
  assert.ok(
    partials.some((p) => p?.city === 'Par'),
    'an unfinished string shows its prefix',
  )
  assert.ok(partials.some((p) => p && p.city === 'Paris' && !('days' in p)))
  // Without the option there is no `partial`.
  const plain = []
  const again = client.chat({ model: 'gpt-test', messages: CHAT_BODY.messages })
  again.on('toolCallDelta', (d) => plain.push('partial' in d))
  await again.final()
  assert.ok(plain.length > 0 && plain.every((has) => !has))
})

test('partialJson on Responses function calls', async (t) => {
  const args = { q: 'streams', limit: 5 }
  const client = await mock(t, { 'gpt-test': { toolCalls: [{ name: 'search', arguments: args }] } })
  let last
  const stream = client.responses({ model: 'gpt-test', input: 'hi' }, { partialJson: true })
  stream.on('toolCallDelta', (d) => {
    last = d.partial
  })
  await stream.final()
  assert.deepEqual(last, args)
})

test('schema: a Standard Schema (zod) validates the whole value; its output is parsed', async (t) => {
  const schema = z.object({ name: z.string(), age: z.number().transform((n) => n + 1) })
  const client = await mock(t, { 'gpt-test': { text: ['{"name":"Al', 'ice","age":', '30}'] } })
  const final = await client.chat(CHAT_BODY, { schema }).final()
  assert.deepEqual(final.choices[0].message.parsed, { name: 'Alice', age: 31 })
  // No response_format: the schema alone makes the engine parse the content.
  const body = { model: 'gpt-test', messages: CHAT_BODY.messages }
  const plain = await client.chat(body, { schema }).final()
  assert.deepEqual(plain.choices[0].message.parsed, { name: 'Alice', age: 31 })
})

test('schema: a failure is a ParseError listing the issues, with partial; objects() sees it too', async (t) => {
  const schema = z.object({ name: z.number(), extra: z.string() })
  const client = await mock(t, { 'gpt-test': { text: ['{"name":"Al', 'ice"}'] } })
  const error = await client
    .chat(CHAT_BODY, { schema })
    .final()
    .then(
      () => assert.fail('resolved'),
      (e) => e,
    )
  assert.ok(error instanceof ParseError)
  assert.match(error.message, /does not match the schema: name: .*; extra: /)
  assert.equal(error.issues.length, 2)
  assert.equal(error.partial.choices[0].message.content, '{"name":"Alice"}')
  const snapshots = []
  await assert.rejects(async () => {
    for await (const v of client.chat(CHAT_BODY, { schema }).objects()) snapshots.push(v)
  }, ParseError)
  assert.deepEqual(snapshots.at(-1), { name: 'Alice' })
})

test('schema: an asynchronous validate is awaited; responses too', async (t) => {
  const client = await mock(t, { 'gpt-test': { text: ['{"ok":', 'true}'] } })
  const schema = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: async (value) => (value.ok ? { value: { checked: true } } : { issues: [{ message: 'not ok' }] }),
    },
  }
  const final = await client.responses({ model: 'gpt-test', input: 'hi' }, { schema }).final()
  assert.deepEqual(final.output_parsed, { checked: true })
  const failing = {
    '~standard': { version: 1, vendor: 'test', validate: async () => ({ issues: [{ message: 'no', path: ['ok'] }] }) },
  }
  await assert.rejects(client.chat(CHAT_BODY, { schema: failing }).final(), /does not match the schema: ok: no/)
})

test('schema: anything but a Standard Schema is a TypeError', async (t) => {
  const client = await mock(t, { 'gpt-test': { text: '{}' } })
  assert.throws(() => client.chat(CHAT_BODY, { schema: { type: 'object' } }), TypeError)
  assert.throws(() => client.chat(CHAT_BODY, { schema: 'x' }), /Standard Schema/)
})

test('objects() of a wide array: snapshots never change, finished items are shared, the last is whole', async (t) => {
  const doc = {
    title: 'wide',
    items: Array.from({ length: 3000 }, (_, i) => ({
      id: i,
      name: `item ${i} \u00e9\ud83d\ude00`,
      score: i / 7,
      tags: ['a'],
    })),
  }
  const text = JSON.stringify(doc)
  const client = await mock(t, { 'gpt-test': { text: text.match(/[\s\S]{1,8}/g) } })
  const snapshots = []
  for await (const value of client.chat(CHAT_BODY).objects()) snapshots.push([value, JSON.stringify(value)])
  assert.deepEqual(snapshots.at(-1)[0], doc)
  // Every snapshot still says what it said when it was handed out.
  for (const [value, text] of snapshots) assert.equal(JSON.stringify(value), text)
  // An item finished in one snapshot is the same object in every later one; the array is new.
  for (let i = 1; i < snapshots.length; i++) {
    const [before] = snapshots[i - 1]
    const [after] = snapshots[i]
    const finished = (before.items?.length ?? 0) - 1
    for (let k = 0; k < finished; k++) assert.equal(after.items[k], before.items[k], `item ${k}`)
    if (JSON.stringify(before) !== JSON.stringify(after)) assert.notEqual(after, before)
  }
})

test('objects(): a wide value whose snapshot waits for more patches still gets it without more data', async (t) => {
  const chat = await drivenChat(t)
  const it = chat.client.chat(CHAT_BODY).objects()
  const first = it.next()
  await chat.ready
  const items = Array.from({ length: 5000 }, (_, i) => i)
  chat.send(`{"items":[${items.join(',')},`)
  const { value } = await first
  assert.equal(value.items.length, 5000)
  // A one-item batch patches little against a 5000-wide array: its snapshot is held back for
  // more patches, then handed out anyway since nothing more comes.
  chat.send('5000,')
  const started = performance.now()
  const next = await it.next()
  assert.equal(next.value.items.length, 5001)
  assert.equal(next.value.items.at(-1), 5000)
  assert.ok(performance.now() - started < 1000)
  assert.equal(value.items.length, 5000, 'the earlier snapshot did not change')
  chat.send('5001]}')
  chat.end()
  const last = await it.next()
  assert.deepEqual(last.value, { items: [...items, 5000, 5001] })
  assert.deepEqual(await it.next(), { value: undefined, done: true })
})

test('objects(): escapes, \\u surrogate pairs and numbers cut at every offset never show half a value', async (t) => {
  // The JSON text as a model writes it: escapes spelled out, a pair as two \u escapes.
  const text = '{"s":"a\\ud83d\\ude00b\\n\\"q\\"\\\\","n":-12.5e+3,"k":[true,null,0.5]}'
  const whole = JSON.parse(text)
  const scripts = {}
  for (let cut = 1; cut < text.length; cut++) scripts[`cut-${cut}`] = { text: [text.slice(0, cut), text.slice(cut)] }
  const client = await mock(t, scripts)
  for (let cut = 1; cut < text.length; cut++) {
    const body = { ...CHAT_BODY, model: `cut-${cut}` }
    const snapshots = []
    for await (const value of client.chat(body).objects()) snapshots.push(value)
    assert.deepEqual(snapshots.at(-1), whole, `cut at ${cut}`)
    for (const snap of snapshots) {
      if ('s' in snap) {
        assert.ok(whole.s.startsWith(snap.s), `cut at ${cut}: ${JSON.stringify(snap.s)} is a prefix`)
        assert.ok(!/[\ud800-\udbff]$/.test(snap.s), `cut at ${cut}: no lone high surrogate`)
      }
      if ('n' in snap) assert.equal(snap.n, -12500, `cut at ${cut}: a number shows only whole`)
      if ('k' in snap) assert.deepEqual(snap.k, whole.k.slice(0, snap.k.length), `cut at ${cut}`)
    }
  }
})

test('objects() on the Responses API with one-character deltas; tool arguments with escapes cut anywhere', async (t) => {
  const doc = { list: [{ a: 'x\u00e9\ud83d\ude00' }, [1, [2]]], done: false }
  const args = { q: 'caf\u00e9 \ud83d\ude00 "x"', n: 3 }
  const client = await mock(t, {
    'gpt-test': { text: [...JSON.stringify(doc)] },
    tools: { toolCalls: [{ name: 'search', arguments: JSON.stringify(args) }] },
  })
  const body = { model: 'gpt-test', input: 'hi', text: { format: { type: 'json_object' } } }
  let last
  let count = 0
  for await (const value of client.responses(body).objects()) {
    last = value
    count++
  }
  assert.deepEqual(last, doc)
  assert.ok(count > 1)
  const partials = []
  const stream = client.chat({ model: 'tools', messages: CHAT_BODY.messages }, { partialJson: true })
  stream.on('toolCallDelta', (d) => partials.push(d.partial))
  await stream.final()
  assert.deepEqual(partials.at(-1), args)
  for (const p of partials) if (p?.q !== undefined) assert.ok(args.q.startsWith(p.q), JSON.stringify(p.q))
})
