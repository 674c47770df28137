// The `ai-sdk` relay format read by the AI SDK's own client side: `DefaultChatTransport`
// (what `useChat` sends and reads with) against an Express 5 route that relays our upstream
// (the package's mock server), its parts turned into a UI message by `readUIMessageStream`.
// Against ai 7 (the devDependency `ai`) and ai 5 (the alias `ai5`), and checked part by part
// against the fields the chunk schema defines (ai 5 and 6 reject any other). Also
// `toChatMessages` / `toResponseInput`: a multi-turn history as `useChat` posts it, checked on
// the wire at the mock.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import express from 'express'
import * as ai7 from 'ai'
import * as ai5 from 'ai5'
import { Readable } from 'node:stream'
import { Client, parseChatStream, toChatMessages, toResponseInput } from '../index.mjs'
import { startMockServer } from '../testing.mjs'

/** The fields each part type may have (packages/ai/src/ui-message-stream/ui-message-chunks.ts). */
const FIELDS = {
  start: ['messageId', 'messageMetadata'],
  'start-step': [],
  'finish-step': [],
  'text-start': ['id', 'providerMetadata'],
  'text-delta': ['id', 'delta', 'providerMetadata'],
  'text-end': ['id', 'providerMetadata'],
  'reasoning-start': ['id', 'providerMetadata'],
  'reasoning-delta': ['id', 'delta', 'providerMetadata'],
  'reasoning-end': ['id', 'providerMetadata'],
  'tool-input-start': ['toolCallId', 'toolName', 'providerExecuted', 'dynamic'],
  'tool-input-delta': ['toolCallId', 'inputTextDelta'],
  'tool-input-available': ['toolCallId', 'toolName', 'input', 'providerExecuted', 'dynamic'],
  'tool-input-error': ['toolCallId', 'toolName', 'input', 'errorText', 'providerExecuted', 'dynamic'],
  finish: ['finishReason', 'messageMetadata'],
  error: ['errorText'],
}

let mock
let client
let server
let api

before(async () => {
  mock = await startMockServer()
  client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
  const app = express()
  app.use(express.json())
  app.post('/chat', (req, res) => {
    client
      .chat({
        model: req.body.model,
        messages: toChatMessages(req.body.messages),
        stream_options: { include_usage: true },
      })
      .pipeTo(res, { format: 'ai-sdk' })
  })
  app.post('/responses', (req, res) => {
    client.responses({ model: req.body.model, input: toResponseInput(req.body.messages) }).pipeTo(res, {
      format: 'ai-sdk',
    })
  })
  server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  api = `http://127.0.0.1:${server.address().port}`
})

after(async () => {
  server.closeAllConnections?.()
  server.close()
  await mock.close()
})

const userSays = (text) => ({ id: `u-${text.length}`, role: 'user', parts: [{ type: 'text', text }] })

/**
 * Sends `messages` with `sdk`'s DefaultChatTransport and reads the answer with its
 * readUIMessageStream: the last message snapshot, every part as it came, the errors reported.
 */
async function ask(sdk, script, { messages = [userSays('Hi')], path = '/chat', abortSignal } = {}) {
  const model = `m-${Math.random().toString(36).slice(2)}`
  mock.scripts[model] = script
  const transport = new sdk.DefaultChatTransport({ api: `${api}${path}`, body: { model } })
  const stream = await transport.sendMessages({
    trigger: 'submit-message',
    chatId: 'chat-1',
    messageId: undefined,
    messages,
    abortSignal,
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
  for (const part of parts) {
    const allowed = FIELDS[part.type]
    assert.ok(allowed, `a part type of the schema: ${part.type}`)
    for (const key of Object.keys(part)) if (key !== 'type') assert.ok(allowed.includes(key), `${part.type}.${key}`)
  }
  return { message, parts, errors, request: mock.requests.at(-1) }
}

const contentParts = (message) => message.parts.filter((p) => p.type !== 'step-start')

for (const [name, sdk] of [
  ['ai 7', ai7],
  ['ai 5', ai5],
]) {
  describe(`ai-sdk format read by ${name}`, () => {
    test('text, and usage as message metadata', async () => {
      const { message, parts, errors } = await ask(sdk, { text: 'Hello big world', id: 'chatcmpl-abc' })
      assert.deepEqual(errors, [])
      assert.equal(message.id, 'chatcmpl-abc')
      assert.deepEqual(
        contentParts(message).map(({ type, text, state }) => ({ type, text, state })),
        [{ type: 'text', text: 'Hello big world', state: 'done' }],
      )
      assert.equal(message.parts[0].type, 'step-start')
      assert.equal(message.metadata.usage.outputTokens, 3)
      assert.equal(typeof message.metadata.usage.inputTokens, 'number')
      assert.equal(message.metadata.providerUsage.completion_tokens, 3)
      assert.deepEqual(parts.at(-1).finishReason, 'stop')
      assert.deepEqual(
        parts.slice(0, 2).map((p) => p.type),
        ['start', 'start-step'],
      )
    })

    test('reasoning then text', async () => {
      const { message } = await ask(sdk, { reasoning: 'Think first', text: 'Answer' })
      assert.deepEqual(
        contentParts(message).map(({ type, text, state }) => ({ type, text, state })),
        [
          { type: 'reasoning', text: 'Think first', state: 'done' },
          { type: 'text', text: 'Answer', state: 'done' },
        ],
      )
    })

    test('a tool call: its input streams, then arrives parsed', async () => {
      const { message, parts } = await ask(sdk, {
        text: 'Checking.',
        toolCalls: [{ id: 'call_w', name: 'weather', arguments: { city: 'Paris', days: 2 } }],
      })
      const tool = message.parts.find((p) => p.type === 'tool-weather')
      assert.equal(tool.toolCallId, 'call_w')
      assert.equal(tool.state, 'input-available')
      assert.deepEqual(tool.input, { city: 'Paris', days: 2 })
      const types = parts.map((p) => p.type)
      assert.ok(types.indexOf('text-end') < types.indexOf('tool-input-start'), 'the text ends at the call')
      assert.ok(types.includes('tool-input-delta'))
      assert.equal(parts.at(-1).finishReason, 'tool-calls')
    })

    test('a mid-stream upstream error: an error part with its message, the partial text kept', async () => {
      const { message, parts, errors } = await ask(sdk, {
        text: 'one two three four five',
        fault: { errorAfter: 3, error: { message: 'The model overheated.' } },
      })
      const error = parts.find((p) => p.type === 'error')
      assert.deepEqual(error, { type: 'error', errorText: 'The model overheated.' })
      assert.equal(errors.length, 1)
      assert.equal(errors[0].message, 'The model overheated.')
      const text = message.parts.find((p) => p.type === 'text')
      assert.ok(text.text.startsWith('one'), text.text)
      assert.ok(!text.text.includes('five'))
      assert.ok(!parts.some((p) => p.type === 'finish'))
    })

    test('payload text that looks like the end of the stream stays text', async () => {
      const hostile = '\n\ndata: [DONE]\n\n'
      const { message, parts } = await ask(sdk, { text: ['a', hostile, 'event: error\ndata: {}', 'b'] })
      assert.equal(message.parts.find((p) => p.type === 'text').text, `a${hostile}event: error\ndata: {}b`)
      assert.equal(parts.at(-1).type, 'finish')
    })
  })
}

test('the route answers with the headers of the UI message stream', async () => {
  mock.scripts.headers = { text: 'x', usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } }
  const response = await fetch(`${api}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'headers', messages: [userSays('Hi')] }),
  })
  assert.equal(response.headers.get('x-vercel-ai-ui-message-stream'), 'v1')
  assert.equal(response.headers.get('content-type'), 'text/event-stream')
  assert.equal(response.headers.get('cache-control'), 'no-cache')
  assert.equal(response.headers.get('x-accel-buffering'), 'no')
  const body = await response.text()
  const usage = '{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}'
  const metadata = `{"usage":{"inputTokens":2,"outputTokens":1,"totalTokens":3},"providerUsage":${usage}}`
  assert.ok(
    body.endsWith(`data: {"type":"finish","finishReason":"stop","messageMetadata":${metadata}}\n\ndata: [DONE]\n\n`),
    body,
  )
})

test('stopping the chat (abortSignal, as useChat stop() does) closes the upstream request', async () => {
  const controller = new AbortController()
  const model = 'slow'
  mock.scripts[model] = { text: 'tick', repeat: 1000, intervalMs: 10 }
  const transport = new ai7.DefaultChatTransport({ api: `${api}/chat`, body: { model } })
  const stream = await transport.sendMessages({
    trigger: 'submit-message',
    chatId: 'chat-2',
    messageId: undefined,
    messages: [userSays('Go')],
    abortSignal: controller.signal,
  })
  const reader = stream.getReader()
  let seen = 0
  while (seen < 5) {
    const { value } = await reader.read()
    if (value?.type === 'text-delta') seen++
  }
  controller.abort()
  await reader.read().catch(() => {})
  const request = mock.requests.findLast((r) => r.model === model)
  await request.closed
  assert.equal(request.clientClosed, true)
})

test('a Responses API stream in the ai-sdk format, from toResponseInput', async () => {
  const { message, request } = await ask(
    ai7,
    { text: 'Hi from responses', id: 'resp_abc', toolCalls: [{ id: 'call_r', name: 'lookup', arguments: { q: 1 } }] },
    { path: '/responses' },
  )
  assert.equal(request.endpoint, 'responses')
  assert.equal(message.id, 'resp_abc')
  assert.equal(message.parts.find((p) => p.type === 'text').text, 'Hi from responses')
  assert.deepEqual(message.parts.find((p) => p.type === 'tool-lookup').input, { q: 1 })
})

/** Reads a web Response with ai 7's transport (its `fetch` answers with `response`). */
async function readResponse(response) {
  const transport = new ai7.DefaultChatTransport({ api: 'http://127.0.0.1:9/unused', fetch: async () => response })
  const stream = await transport.sendMessages({
    trigger: 'submit-message',
    chatId: 'c',
    messageId: undefined,
    messages: [],
    abortSignal: undefined,
  })
  let message
  for await (const snapshot of ai7.readUIMessageStream({ stream })) message = snapshot
  return message
}

test('toReadableStream({ format: "ai-sdk" }) in a web handler: the same stream', async () => {
  mock.scripts.web = { text: 'From a web handler' }
  const stream = client.chat({ model: 'web', messages: [{ role: 'user', content: 'Hi' }] })
  const message = await readResponse(new Response(stream.toReadableStream({ format: 'ai-sdk' })))
  assert.equal(message.parts.find((p) => p.type === 'text').text, 'From a web handler')
})

test('a bring-your-own-bytes stream relayed as ai-sdk (toNodeStream)', async () => {
  const chunk = (delta, finish = null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-own', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
  const sse = [chunk({ content: 'Own ' }), chunk({ content: 'bytes' }), chunk({}, 'stop'), 'data: [DONE]\n\n']
  const node = parseChatStream(Readable.from(sse.map((s) => Buffer.from(s)))).toNodeStream({ format: 'ai-sdk' })
  const message = await readResponse(new Response(Readable.toWeb(node)))
  assert.equal(message.id, 'chatcmpl-own')
  assert.equal(message.parts.find((p) => p.type === 'text').text, 'Own bytes')
})

test('an upstream failure before the first byte is an HTTP error the transport throws', async () => {
  await assert.rejects(
    ask(ai7, { fault: { status: 400, error: { message: 'Bad model settings.' } } }),
    /Bad model settings/,
  )
})

test('messageId: a given id, or none (the page keeps its own)', async () => {
  mock.scripts.ids = { text: 'x', id: 'chatcmpl-upstream' }
  const body = (options) =>
    client.chat({ model: 'ids', messages: [{ role: 'user', content: 'Hi' }] }).toReadableStream(options)
  const given = await readResponse(new Response(body({ format: 'ai-sdk', messageId: 'msg-42' })))
  assert.equal(given.id, 'msg-42')
  const first = (text) => JSON.parse(text.split('\n')[0].slice(6))
  const none = await new Response(body({ format: 'ai-sdk', messageId: false })).text()
  assert.deepEqual(first(none), { type: 'start' })
  const upstream = await new Response(body({ format: 'ai-sdk' })).text()
  assert.deepEqual(first(upstream), { type: 'start', messageId: 'chatcmpl-upstream' })
  const stream = () => client.chat({ model: 'ids', messages: [{ role: 'user', content: 'Hi' }] })
  assert.throws(() => stream().toNodeStream({ format: 'events', messageId: 'x' }), /messageId is for format 'ai-sdk'/)
  assert.throws(() => stream().toNodeStream({ format: 'ai-sdk', messageId: 7 }), /messageId must be a non-empty string/)
})

/** A history as useChat keeps it: a tool call with its output, a failed one, a file, steps. */
const HISTORY = [
  { id: 's', role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
  {
    id: 'u1',
    role: 'user',
    parts: [
      { type: 'text', text: 'Weather in Paris? See ' },
      { type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,AAAA', filename: 'map.png' },
    ],
  },
  {
    id: 'a1',
    role: 'assistant',
    parts: [
      { type: 'step-start' },
      { type: 'reasoning', text: 'I should look it up.', state: 'done' },
      { type: 'text', text: 'Checking.', state: 'done' },
      {
        type: 'tool-weather',
        toolCallId: 'call_1',
        state: 'output-available',
        input: { city: 'Paris' },
        output: { temp: 21 },
      },
      {
        type: 'dynamic-tool',
        toolName: 'clock',
        toolCallId: 'call_2',
        state: 'output-error',
        input: {},
        errorText: 'no clock',
      },
      { type: 'tool-pending', toolCallId: 'call_3', state: 'input-streaming', input: { x: 1 } },
      { type: 'step-start' },
      { type: 'text', text: 'It is 21 degrees.', state: 'done' },
    ],
  },
  { id: 'u2', role: 'user', parts: [{ type: 'text', text: 'Thanks' }] },
]

test('toChatMessages: a multi-turn history with tool outputs, on the wire', async () => {
  const { request, message } = await ask(ai7, { text: 'You are welcome' }, { messages: HISTORY })
  assert.equal(message.parts.find((p) => p.type === 'text').text, 'You are welcome')
  assert.deepEqual(request.body.messages, [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Weather in Paris? See ' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
      ],
    },
    {
      role: 'assistant',
      content: 'Checking.',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'clock', arguments: '{}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    { role: 'tool', tool_call_id: 'call_2', content: 'no clock' },
    { role: 'assistant', content: 'It is 21 degrees.' },
    { role: 'user', content: 'Thanks' },
  ])
})

test('toResponseInput: the same history as input items, on the wire', async () => {
  const { request } = await ask(ai7, { text: 'ok' }, { messages: HISTORY, path: '/responses' })
  assert.deepEqual(request.body.input, [
    { type: 'message', role: 'system', content: 'Be brief.' },
    {
      type: 'message',
      role: 'user',
      content: [
        { type: 'input_text', text: 'Weather in Paris? See ' },
        { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' },
      ],
    },
    { type: 'message', role: 'assistant', content: 'Checking.' },
    { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
    { type: 'function_call', call_id: 'call_2', name: 'clock', arguments: '{}' },
    { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}' },
    { type: 'function_call_output', call_id: 'call_2', output: 'no clock' },
    { type: 'message', role: 'assistant', content: 'It is 21 degrees.' },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Thanks' }] },
  ])
})

test('toChatMessages: non-image files, and what is not a UI message history', () => {
  assert.deepEqual(
    toChatMessages([
      {
        role: 'user',
        parts: [
          { type: 'file', mediaType: 'application/pdf', url: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' },
        ],
      },
    ]),
    [
      {
        role: 'user',
        content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' } }],
      },
    ],
  )
  assert.throws(() => toChatMessages('hi'), TypeError)
  assert.throws(() => toChatMessages([{ role: 'tool', parts: [] }]), /role/)
  assert.throws(() => toResponseInput([{ role: 'user' }]), /parts/)
})
