// Hosted tools and remote MCP servers on the Responses API (issue 19): the recorded hosted-tool
// streams (tests/fixtures/ai-sdk) served by a node:http server on 127.0.0.1 at random splits,
// their typed Deltas as events and through the `events`, `ndjson` and `openai` relays read back
// over real sockets; an invented event type mid-stream; the `ai-sdk` relay read by the AI
// SDK's own client (ai 7 and ai 5) against the mock server scripting hosted tools; and an MCP
// approval round trip against the mock.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { once } from 'node:events'
import * as ai7 from 'ai'
import * as ai5 from 'ai5'
import { readRelay } from 'streamdelta/browser'
import { Client } from '../index.mjs'
import { startMockServer } from '../testing.mjs'
import { startServer } from './helpers/server.mjs'
import { FIXTURE_DIR, randomPieces, writePieces } from './helpers/sse.mjs'

const HOSTED_FIXTURES = [
  'openai--responses--openai-mcp-tool.1.chunks.txt',
  'openai--responses--openai-mcp-tool-approval.1.chunks.txt',
  'openai--responses--openai-mcp-tool-approval.2.chunks.txt',
  'openai--responses--openai-mcp-tool-approval.3.chunks.txt',
  'openai--responses--openai-mcp-tool-approval.4.chunks.txt',
  'openai--responses--openai-web-search-tool.1.chunks.txt',
  'openai--responses--openai-image-generation-tool.1.chunks.txt',
  'openai--responses--openai-code-interpreter-tool.1.chunks.txt',
  'openai--responses--openai-custom-tool.1.chunks.txt',
  'openai--responses--openai-file-search-tool.1.chunks.txt',
  'openai--responses--openai-file-search-tool.2.chunks.txt',
  'openai--responses--openai-shell-container.1.chunks.txt',
  'openai--responses--openai-shell-skills.1.chunks.txt',
  'openai--responses--openai-shell-tool.1.chunks.txt',
  'openai--responses--openai-local-shell-tool.1.chunks.txt',
]
const BODY = { model: 'gpt-test', input: 'hi' }
const HOSTED_TYPES = new Set(['toolStatus', 'citation', 'image', 'approval'])
const EVENT_TYPES = ['toolCallDelta', 'toolCall', 'toolStatus', 'citation', 'image', 'approval']

/** The first response stream of a fixture: its event lines. */
function fixtureLines(name) {
  const lines = fs
    .readFileSync(path.join(FIXTURE_DIR, name), 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
  const second = lines.findIndex((l, n) => n > 0 && JSON.parse(l).type === 'response.created')
  return second === -1 ? lines : lines.slice(0, second)
}

/** SSE bytes of event lines, each with its `event:` name. */
function sseOf(lines) {
  return Buffer.from(lines.map((l) => `event: ${JSON.parse(l).type}\ndata: ${l}\n\n`).join(''), 'utf8')
}

/** Parses SSE text into `{ event, data }` frames (data lines joined with \n). */
function parseSse(text) {
  const frames = []
  for (const block of text.split('\n\n')) {
    if (block === '') continue
    const frame = { event: null, data: [] }
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) frame.event = line.slice(7)
      else if (line.startsWith('data: ')) frame.data.push(line.slice(6))
    }
    if (frame.data.length > 0) frames.push({ event: frame.event, data: frame.data.join('\n') })
  }
  return frames
}

async function upstreamServing(t, lines, seed) {
  const bytes = sseOf(lines)
  const server = await startServer((req, res) => writePieces(res, randomPieces(bytes, seed, 97)))
  t.after(() => server.close())
  return new Client({ baseURL: server.url, apiKey: 'sk-test', maxRetries: 0 })
}

/** A relay route on 127.0.0.1 that pipes `open()` to each request in `format`; returns the body read back. */
async function relayed(t, open, format) {
  const route = http.createServer((req, res) => open().pipeTo(res, { format }))
  route.listen(0, '127.0.0.1')
  await once(route, 'listening')
  t.after(() => route.close())
  const response = await fetch(`http://127.0.0.1:${route.address().port}/`, { method: 'POST' })
  return response.text()
}

describe('recorded hosted-tool streams', { timeout: 120_000 }, () => {
  for (const [n, name] of HOSTED_FIXTURES.entries()) {
    test(name, async (t) => {
      const lines = fixtureLines(name)
      const client = await upstreamServing(t, lines, 900 + n)

      // Deltas, and every hosted event with the same objects, in the same order.
      const stream = client.responses(BODY)
      const heard = []
      for (const type of EVENT_TYPES) stream.on(type, (delta) => heard.push(delta))
      const deltas = []
      for await (const delta of stream) deltas.push(delta)
      const final = await stream.final()
      assert.deepEqual(
        heard,
        deltas.filter((d) => EVENT_TYPES.includes(d.type)),
        'events are the Deltas of the same names',
      )
      assert.ok(
        deltas.some((d) => HOSTED_TYPES.has(d.type) || d.kind !== undefined),
        'a hosted-tool stream gives hosted Deltas',
      )

      // Text intact and final() the completed Response, hosted items as the provider sent them.
      const events = lines.map((l) => JSON.parse(l))
      const completed = events.find((e) => e.type === 'response.completed').response
      const text = events
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta)
        .join('')
      assert.equal(
        deltas
          .filter((d) => d.type === 'text')
          .map((d) => d.text)
          .join(''),
        text,
      )
      const { output_text: _, ...rest } = final
      assert.deepEqual(rest, completed)
      const hostedItems = completed.output.filter((i) => !['message', 'reasoning', 'function_call'].includes(i.type))
      assert.deepEqual(
        final.output.filter((i) => hostedItems.includes(i) || hostedItems.some((h) => h.id === i.id)),
        hostedItems,
      )

      // ndjson: the same Deltas, one per line.
      const ndjson = await relayed(t, () => client.responses(BODY), 'ndjson')
      const fromNdjson = ndjson
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l))
      assert.deepEqual(fromNdjson, deltas)

      // events: one SSE event per Delta, of the same name, then done.
      const frames = parseSse(await relayed(t, () => client.responses(BODY), 'events'))
      assert.equal(frames.at(-1).event, 'done')
      const named = frames.filter((f) => EVENT_TYPES.includes(f.event))
      assert.deepEqual(
        named.map((f) => ({ event: f.event, data: JSON.parse(f.data) })),
        deltas.filter((d) => EVENT_TYPES.includes(d.type)).map((d) => ({ event: d.type, data: d })),
      )

      // ai-sdk, read by ai 5 (the strictest schema): every whole call a tool part; the calls the
      // provider ran with their outputs; url citations as sources; the image as a file.
      const route = http.createServer((req, res) => {
        req.resume()
        client.responses(BODY).pipeTo(res, { format: 'ai-sdk' })
      })
      route.listen(0, '127.0.0.1')
      await once(route, 'listening')
      t.after(() => route.close())
      const { message } = await readUi(ai5, `http://127.0.0.1:${route.address().port}/`, 'fixture')
      const toolParts = message.parts.filter((p) => p.type.startsWith('tool-'))
      for (const call of deltas.filter((d) => d.type === 'toolCall')) {
        const part = toolParts.find((p) => p.toolCallId === call.id)
        assert.ok(part, `a tool part for ${call.id}`)
        if (call.output !== undefined) {
          assert.equal(part.providerExecuted, true)
          assert.equal(part.state, 'output-available')
          assert.deepEqual(part.output, call.output)
        }
      }
      assert.equal(
        message.parts.filter((p) => p.type === 'source-url').length,
        deltas.filter((d) => d.type === 'citation' && d.kind === 'url').length,
      )
      assert.equal(
        message.parts.filter((p) => p.type === 'file').length,
        deltas.filter((d) => d.type === 'image' && !d.partial).length,
      )
      const answer = message.parts
        .filter((p) => p.type === 'text')
        .map((p) => p.text)
        .join('')
      assert.equal(answer, text)

      // streamdelta/browser reads the events relay back as the same Deltas, events included.
      const page = http.createServer((req, res) => client.responses(BODY).pipeTo(res, { format: 'events' }))
      page.listen(0, '127.0.0.1')
      await once(page, 'listening')
      t.after(() => page.close())
      const reader = readRelay(`http://127.0.0.1:${page.address().port}/`)
      const readerHeard = []
      for (const type of EVENT_TYPES) reader.on(type, (delta) => readerHeard.push(delta))
      const read = []
      for await (const delta of reader) read.push(delta)
      assert.deepEqual(read, deltas)
      assert.deepEqual(readerHeard, heard)

      // openai: the provider's events as they came.
      const raw = parseSse(await relayed(t, () => client.responses(BODY), 'openai'))
      assert.deepEqual(
        raw.filter((f) => f.data !== '[DONE]').map((f) => JSON.parse(f.data)),
        events,
      )
    })
  }
})

test('an invented event type mid-stream passes through chunks() untouched and breaks nothing', async (t) => {
  const lines = fixtureLines('openai--responses--openai-web-search-tool.1.chunks.txt')
  const invented = [
    { type: 'response.hologram_call.rendering', item_id: 'hg_1', frames: [{ depth: 3 }] },
    { type: 'response.quantum_state.entangled', qubits: 'two', item: 'not an item', delta: { spin: 'up' } },
    { type: 'response.teleport_call.completed', item_id: 'tp_1' },
  ]
  // No sequence numbers on the invented ones: the real ones around them keep theirs.
  const mixed = [...lines.slice(0, 20), ...invented.slice(0, 2).map((e) => JSON.stringify(e)), ...lines.slice(20)]
  mixed.splice(60, 0, JSON.stringify(invented[2]))
  const plainClient = await upstreamServing(t, lines, 1)
  const mixedClient = await upstreamServing(t, mixed, 2)

  const collect = async (client) => {
    const stream = client.responses(BODY)
    const chunks = []
    stream.on('chunk', (c) => chunks.push(c))
    const deltas = []
    for await (const d of stream) deltas.push(d)
    return { deltas, chunks, final: await stream.final() }
  }
  const plain = await collect(plainClient)
  const got = await collect(mixedClient)
  assert.deepEqual(
    got.chunks,
    mixed.map((l) => JSON.parse(l)),
    'every event reaches chunks, the invented ones untouched',
  )
  assert.deepEqual(got.final, plain.final)
  // A progress event of a tool that does not exist yet is still progress; the rest add nothing.
  const teleport = { type: 'toolStatus', choice: 0, id: 'tp_1', tool: 'teleport', status: 'completed' }
  const at = got.deltas.findIndex((d) => d.id === 'tp_1')
  assert.deepEqual(got.deltas[at], teleport)
  assert.deepEqual(got.deltas.toSpliced(at, 1), plain.deltas)
})

// ---- the mock server scripting hosted tools -------------------------------------------------

/** The approval loop's two turns: list tools and ask; after approval, call and answer. */
function approvalScript(request) {
  const input = Array.isArray(request.body?.input) ? request.body.input : []
  const answer = input.find((i) => i?.type === 'mcp_approval_response')
  if (!answer) {
    return {
      hosted: [
        { type: 'mcp_list_tools', server: 'zip', tools: [{ name: 'shorten', input_schema: { type: 'object' } }] },
        {
          type: 'mcp_approval_request',
          id: 'mcpr_1',
          server: 'zip',
          name: 'shorten',
          arguments: { url: 'https://a.example/' },
        },
      ],
    }
  }
  if (!answer.approve) return { text: 'Understood, I did not shorten it.' }
  return {
    hosted: [
      {
        type: 'mcp_call',
        server: 'zip',
        name: 'shorten',
        arguments: { url: 'https://a.example/' },
        output: 'https://z.example/1',
        approvalRequestId: answer.approval_request_id,
      },
      { type: 'web_search', query: 'a.example', sources: ['https://a.example/about'] },
    ],
    text: 'Your link: https://z.example/1 (about: a.example).',
    citations: [{ url: 'https://a.example/about', title: 'About A', start: 33, end: 42 }],
  }
}

describe('the mock server scripts hosted tools', { timeout: 60_000 }, () => {
  let mock
  let client
  before(async () => {
    mock = await startMockServer({
      script: (request) => (request.model === 'agent' ? approvalScript(request) : undefined),
    })
    client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
  })
  after(() => mock.close())

  test('an MCP approval round trip: approval request, mcp_approval_response, the call and its output', async () => {
    const first = client.responses({ model: 'agent', input: 'Shorten https://a.example/', tools: [{ type: 'mcp' }] })
    const approvals = []
    first.on('approval', (a) => approvals.push(a))
    const statuses = []
    for await (const d of first) if (d.type === 'toolStatus') statuses.push(`${d.tool}:${d.status}`)
    assert.deepEqual(statuses, ['mcp_list_tools:in_progress', 'mcp_list_tools:completed'])
    assert.deepEqual(approvals, [
      {
        type: 'approval',
        choice: 0,
        id: 'mcpr_1',
        server: 'zip',
        name: 'shorten',
        arguments: '{"url":"https://a.example/"}',
      },
    ])
    const firstFinal = await first.final()
    assert.deepEqual(
      firstFinal.output.map((i) => i.type),
      ['mcp_list_tools', 'mcp_approval_request'],
    )
    assert.equal((await first.final()).output_text, '')

    const second = client.responses({
      model: 'agent',
      previous_response_id: firstFinal.id,
      input: [{ type: 'mcp_approval_response', approval_request_id: approvals[0].id, approve: true }],
    })
    const deltas = []
    for await (const d of second) deltas.push(d)
    // The mock saw the approval as the client sent it.
    assert.deepEqual(mock.requests.at(-1).body.input, [
      { type: 'mcp_approval_response', approval_request_id: 'mcpr_1', approve: true },
    ])
    const call = deltas.find((d) => d.type === 'toolCall')
    assert.equal(call.kind, 'mcp')
    assert.equal(call.server, 'zip')
    assert.equal(call.output, 'https://z.example/1')
    assert.equal(
      deltas
        .filter((d) => d.type === 'toolCallDelta')
        .map((d) => d.arguments)
        .join(''),
      '{"url":"https://a.example/"}',
    )
    assert.deepEqual(
      deltas.filter((d) => d.type === 'citation'),
      [
        {
          type: 'citation',
          choice: 0,
          kind: 'url',
          url: 'https://a.example/about',
          title: 'About A',
          start: 33,
          end: 42,
        },
      ],
    )
    assert.equal(await second.finalText(), 'Your link: https://z.example/1 (about: a.example).')
    assert.equal(deltas.find((d) => d.type === 'finish').reason, 'stop', 'nothing left for the caller to run')
    const final = await second.final()
    assert.equal(final.output[0].approval_request_id, 'mcpr_1')
    assert.deepEqual(final.output.at(-1).content[0].annotations[0].url, 'https://a.example/about')
  })

  test('a refused approval gets an answer without the call', async () => {
    const stream = client.responses({
      model: 'agent',
      input: [{ type: 'mcp_approval_response', approval_request_id: 'mcpr_1', approve: false }],
    })
    const deltas = []
    for await (const d of stream) deltas.push(d)
    assert.ok(!deltas.some((d) => d.type === 'toolCall'))
    assert.equal(await stream.finalText(), 'Understood, I did not shorten it.')
  })

  test('an image with partials: each partial, then the result with its media type', async () => {
    mock.scripts.painter = {
      hosted: [{ type: 'image_generation', partials: ['UDE=', 'UDI='], result: 'RklOQUw=', format: 'webp' }],
    }
    const images = []
    const stream = client.responses({ model: 'painter', input: 'paint' })
    stream.on('image', (image) => images.push(image))
    await stream.final()
    assert.deepEqual(
      images.map(({ index, b64, partial, mediaType }) => ({ index, b64, partial, mediaType })),
      [
        { index: 0, b64: 'UDE=', partial: true, mediaType: undefined },
        { index: 1, b64: 'UDI=', partial: true, mediaType: undefined },
        { index: undefined, b64: 'RklOQUw=', partial: false, mediaType: 'image/webp' },
      ],
    )
  })

  test('a malformed hosted step is a TypeError naming the field', async () => {
    await assert.rejects(
      startMockServer({ scripts: { x: { hosted: [{ type: 'mcp_call', server: 'zip' }] } } }),
      (e) => e instanceof TypeError && /hosted\[0\]\.name/.test(e.message),
    )
    await assert.rejects(
      startMockServer({ scripts: { x: { hosted: [{ type: 'teleport' }] } } }),
      (e) => e instanceof TypeError && /hosted\[0\]\.type must be one of/.test(e.message),
    )
    await assert.rejects(
      startMockServer({ scripts: { x: { citations: [{ url: 'https://a/', pages: 3 }] } } }),
      (e) => e instanceof TypeError && /citations\[0\] has an unknown key 'pages'/.test(e.message),
    )
  })
})

// ---- the ai-sdk relay, read by the AI SDK's own client -------------------------------------

/** The fields each part type may have (the UI message chunk schema of ai 5, the strictest). */
const FIELDS = {
  start: ['messageId', 'messageMetadata'],
  'start-step': [],
  'finish-step': [],
  'text-start': ['id', 'providerMetadata'],
  'text-delta': ['id', 'delta', 'providerMetadata'],
  'text-end': ['id', 'providerMetadata'],
  'tool-input-start': ['toolCallId', 'toolName', 'providerExecuted', 'dynamic'],
  'tool-input-delta': ['toolCallId', 'inputTextDelta'],
  'tool-input-available': ['toolCallId', 'toolName', 'input', 'providerExecuted', 'providerMetadata', 'dynamic'],
  'tool-output-available': ['toolCallId', 'output', 'providerExecuted', 'dynamic', 'preliminary'],
  'tool-output-error': ['toolCallId', 'errorText', 'providerExecuted', 'dynamic'],
  'source-url': ['sourceId', 'url', 'title', 'providerMetadata'],
  'source-document': ['sourceId', 'mediaType', 'title', 'filename', 'providerMetadata'],
  file: ['url', 'mediaType', 'providerMetadata'],
  finish: ['finishReason', 'messageMetadata'],
  error: ['errorText'],
}

/**
 * Posts to an ai-sdk relay route with `sdk`'s DefaultChatTransport and reads the answer with its
 * readUIMessageStream: the last message snapshot and every part, each checked against the
 * schema's fields; no part may be rejected.
 */
async function readUi(sdk, api, model) {
  const transport = new sdk.DefaultChatTransport({ api, body: { model } })
  const stream = await transport.sendMessages({
    trigger: 'submit-message',
    chatId: 'c',
    messageId: undefined,
    messages: [{ id: 'u', role: 'user', parts: [{ type: 'text', text: 'go' }] }],
  })
  const [forParts, forMessage] = stream.tee()
  const parts = []
  const reading = (async () => {
    for await (const part of forParts) parts.push(part)
  })()
  const errors = []
  let message
  for await (const snapshot of sdk.readUIMessageStream({ stream: forMessage, onError: (e) => errors.push(e) }))
    message = snapshot
  await reading
  assert.deepEqual(errors, [])
  for (const part of parts) {
    const allowed = FIELDS[part.type]
    assert.ok(allowed, `a part type of the schema: ${part.type}`)
    for (const key of Object.keys(part)) if (key !== 'type') assert.ok(allowed.includes(key), `${part.type}.${key}`)
  }
  return { message, parts }
}

describe('the ai-sdk relay renders hosted tools', { timeout: 60_000 }, () => {
  let mock
  let client
  let route
  let api
  before(async () => {
    mock = await startMockServer({
      scripts: {
        hosted: {
          hosted: [
            { type: 'mcp_list_tools', server: 'zip', tools: [{ name: 'shorten' }] },
            {
              type: 'mcp_call',
              server: 'zip',
              name: 'shorten',
              arguments: { url: 'https://a.example/' },
              output: 'https://z.example/1',
            },
            { type: 'mcp_call', server: 'zip', name: 'stats', arguments: {}, error: { message: 'no stats today' } },
            { type: 'web_search', query: 'a.example', sources: ['https://a.example/about'] },
            { type: 'image_generation', partials: ['UDE='], result: 'RklOQUw=', format: 'png' },
          ],
          text: 'Short: https://z.example/1.',
          citations: [
            { url: 'https://a.example/about', title: 'About A', start: 7, end: 26 },
            { fileId: 'file-1', filename: 'notes.pdf', index: 3 },
          ],
        },
      },
    })
    client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
    route = http.createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += chunk
      const { model } = JSON.parse(body)
      client.responses({ model, input: 'go' }).pipeTo(res, { format: 'ai-sdk' })
    })
    route.listen(0, '127.0.0.1')
    await once(route, 'listening')
    api = `http://127.0.0.1:${route.address().port}/`
  })
  after(async () => {
    route.close()
    await mock.close()
  })

  for (const [name, sdk] of [
    ['ai 7', ai7],
    ['ai 5', ai5],
  ]) {
    test(`read by ${name}: provider-executed tool parts with outputs, sources, the image as a file`, async () => {
      const { message, parts } = await readUi(sdk, api, 'hosted')

      const shorten = message.parts.find((p) => p.type === 'tool-shorten')
      assert.equal(shorten.state, 'output-available')
      assert.equal(shorten.providerExecuted, true)
      assert.deepEqual(shorten.input, { url: 'https://a.example/' })
      assert.equal(shorten.output, 'https://z.example/1')
      const stats = message.parts.find((p) => p.type === 'tool-stats')
      assert.equal(stats.state, 'output-error')
      assert.equal(stats.errorText, 'no stats today')
      const search = message.parts.find((p) => p.type === 'tool-web_search')
      assert.equal(search.state, 'output-available')
      assert.equal(search.providerExecuted, true)
      assert.ok(!message.parts.some((p) => p.type === 'tool-mcp_list_tools'), 'a tool listing is no call')

      assert.deepEqual(
        message.parts.filter((p) => p.type === 'source-url').map(({ url, title }) => ({ url, title })),
        [{ url: 'https://a.example/about', title: 'About A' }],
      )
      const document = message.parts.find((p) => p.type === 'source-document')
      assert.equal(document.title, 'notes.pdf')
      assert.equal(document.filename, 'notes.pdf')
      const files = message.parts.filter((p) => p.type === 'file')
      assert.deepEqual(
        files.map(({ url, mediaType }) => ({ url, mediaType })),
        [{ url: 'data:image/png;base64,RklOQUw=', mediaType: 'image/png' }],
        'the finished image only',
      )
      assert.equal(message.parts.find((p) => p.type === 'text').text, 'Short: https://z.example/1.')
      assert.equal(parts.at(-1).finishReason, 'stop')
    })
  }
})
