// client.runTools(): a chat across tool-calling steps, against the mock server (scripted per
// request by what the conversation holds so far) and, for aborts, a node:http server that
// sees its request close. What the runner sends back is checked on the wire.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { Client, AbortError, ToolRunStream } from '../index.mjs'
import { startMockServer } from '../testing.mjs'

const API_KEY = 'sk-test-tools-0123456789'
const BODY = { model: 'gpt-test', messages: [{ role: 'user', content: 'Weather in Paris and Rome?' }] }
const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
}

/** A mock server whose answer depends on the conversation: `answer(messages, request)`. */
async function conversation(t, answer) {
  const mock = await startMockServer({ script: (request) => answer(request.body.messages, request) })
  t.after(() => mock.close())
  return { mock, client: new Client({ baseURL: mock.url, apiKey: API_KEY, maxRetries: 0 }) }
}

const toolMessages = (messages) => messages.filter((m) => m.role === 'tool')

test('runTools: parallel calls run at once, results go back as tool messages, final() has every message', async (t) => {
  const { mock, client } = await conversation(t, (messages) =>
    toolMessages(messages).length === 0
      ? {
          toolCalls: [
            { id: 'call_paris', name: 'weather', arguments: { city: 'Paris' } },
            { id: 'call_rome', name: 'weather', arguments: { city: 'Rome' } },
          ],
        }
      : { text: ['Paris 18, ', 'Rome 25.'] },
  )
  const spans = []
  const run = client.runTools(BODY, {
    tools: {
      weather: {
        description: 'The weather in a city',
        parameters: WEATHER,
        run: async ({ city }, { signal, toolCallId }) => {
          assert.ok(signal instanceof AbortSignal)
          const span = { city, toolCallId, start: performance.now() }
          spans.push(span)
          await sleep(150)
          span.end = performance.now()
          return { city, celsius: city === 'Paris' ? 18 : 25 }
        },
      },
    },
  })
  assert.ok(run instanceof ToolRunStream)
  const results = []
  const steps = []
  run.on('toolResult', (r) => results.push(r))
  run.on('step', (s) => steps.push(s.step))
  const types = []
  let text = ''
  for await (const delta of run) {
    types.push(delta.type)
    if (delta.type === 'text') text += delta.text
  }
  assert.equal(text, 'Paris 18, Rome 25.')
  assert.equal(types.filter((type) => type === 'toolCall').length, 2, 'the Deltas span both steps')
  // The two calls overlapped in time.
  assert.equal(spans.length, 2)
  const [a, b] = spans
  assert.ok(b.start < a.end && a.start < b.end, `overlap: ${JSON.stringify(spans)}`)
  assert.deepEqual(
    results.map((r) => [r.id, r.content]),
    [
      ['call_paris', '{"city":"Paris","celsius":18}'],
      ['call_rome', '{"city":"Rome","celsius":25}'],
    ],
  )
  assert.deepEqual(steps, [1, 2])

  const final = await run.final()
  assert.equal(final.stopReason, 'stop')
  assert.equal(final.steps.length, 2)
  assert.equal(final.steps[0].toolResults.length, 2)
  assert.equal(final.completion.choices[0].message.content, 'Paris 18, Rome 25.')
  assert.deepEqual(
    final.messages.map((m) => [m.role, m.tool_call_id ?? m.tool_calls?.map((c) => c.id).join(',') ?? m.content]),
    [
      ['user', 'Weather in Paris and Rome?'],
      ['assistant', 'call_paris,call_rome'],
      ['tool', 'call_paris'],
      ['tool', 'call_rome'],
      ['assistant', 'Paris 18, Rome 25.'],
    ],
  )
  // On the wire: the tools as functions, then the assistant turn and both results sent back.
  assert.equal(mock.requests.length, 2)
  const first = mock.requests[0].body
  assert.deepEqual(first.tools, [
    { type: 'function', function: { name: 'weather', description: 'The weather in a city', parameters: WEATHER } },
  ])
  const second = mock.requests[1].body
  assert.deepEqual(second.messages, final.messages.slice(0, 4))
  assert.deepEqual(second.messages[1].tool_calls[0], {
    id: 'call_paris',
    type: 'function',
    function: { name: 'weather', arguments: '{"city":"Paris"}' },
  })
})

test('runTools: a tool that throws sends its error text to the model and is reported in toolError', async (t) => {
  const { mock, client } = await conversation(t, (messages) =>
    toolMessages(messages).length === 0
      ? { toolCalls: [{ id: 'call_1', name: 'lookup', arguments: { q: 'x' } }] }
      : { text: 'Sorry, the lookup failed.' },
  )
  const errors = []
  const run = client.runTools(BODY, {
    tools: {
      lookup: {
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
        run: async () => {
          throw new Error('the index is offline')
        },
      },
    },
  })
  run.on('toolError', (error, call) => errors.push([error.message, call.id, call.name, call.content]))
  const final = await run.final()
  assert.deepEqual(errors, [['the index is offline', 'call_1', 'lookup', 'Error: the index is offline']])
  assert.equal(final.stopReason, 'stop')
  assert.equal(await run.finalText(), 'Sorry, the lookup failed.')
  const sent = mock.requests[1].body.messages.at(-1)
  assert.deepEqual(sent, { role: 'tool', tool_call_id: 'call_1', content: 'Error: the index is offline' })
  assert.ok(final.steps[0].toolResults[0].error instanceof Error)
})

test('runTools: maxSteps ends the run after that many requests (their tools run), stopReason maxSteps', async (t) => {
  let asked = 0
  const { mock, client } = await conversation(t, () => {
    asked++
    return { toolCalls: [{ id: `call_${asked}`, name: 'again', arguments: {} }] }
  })
  let runs = 0
  const run = client.runTools(BODY, {
    tools: { again: { parameters: { type: 'object', properties: {} }, run: () => ++runs } },
    maxSteps: 3,
  })
  const final = await run.final()
  assert.equal(final.stopReason, 'maxSteps')
  assert.equal(mock.requests.length, 3)
  assert.equal(runs, 3)
  assert.equal(final.steps.length, 3)
  assert.deepEqual(final.messages.at(-1), { role: 'tool', tool_call_id: 'call_3', content: '3' })
})

test('runTools: abort mid-step closes the upstream request; the run ends with AbortError', async (t) => {
  let requests = 0
  let closed
  const upstreamClosed = new Promise((resolve) => {
    closed = resolve
  })
  const server = await startServer((req, res) => {
    requests++
    startSse(res)
    if (requests === 1) {
      const call = { index: 0, id: 'call_1', type: 'function', function: { name: 'noop', arguments: '{}' } }
      sseChunk(res, chatChunk({ role: 'assistant', tool_calls: [call] }))
      sseChunk(res, chatChunk({}, { finish: 'tool_calls' }))
      res.end('data: [DONE]\n\n')
      return
    }
    // Step 2: one word, then nothing until the client goes away.
    sseChunk(res, chatChunk({ role: 'assistant', content: 'Thinking' }))
    res.on('close', () => closed(res.writableFinished))
  })
  t.after(() => server.close())
  const client = new Client({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 })
  const run = client.runTools(BODY, { tools: { noop: { parameters: { type: 'object' }, run: () => 'ok' } } })
  const aborts = []
  run.on('abort', (error) => aborts.push(error))
  const seen = []
  await assert.rejects(
    (async () => {
      for await (const delta of run) {
        seen.push(delta.type)
        if (delta.type === 'text') run.abort()
      }
    })(),
    AbortError,
  )
  assert.equal(await upstreamClosed, false, 'the step-2 response was cut, not finished')
  assert.equal(requests, 2)
  assert.ok(seen.includes('toolCall') && seen.includes('text'))
  assert.equal(aborts.length, 1)
  await assert.rejects(run.final(), AbortError)
  assert.ok(run.signal.aborted)
})

test('runTools: abort while tools run fires their signal and ends the run', async (t) => {
  const { mock, client } = await conversation(t, () => ({
    toolCalls: [{ id: 'call_1', name: 'slow', arguments: {} }],
  }))
  let toolSignal
  let begun
  const started = new Promise((resolve) => {
    begun = resolve
  })
  const run = client.runTools(BODY, {
    tools: {
      slow: {
        parameters: { type: 'object' },
        run: (_args, { signal }) => {
          toolSignal = signal
          begun()
          return new Promise(() => {})
        },
      },
    },
  })
  const final = run.final()
  await started
  run.abort()
  await assert.rejects(final, (error) => {
    assert.ok(error instanceof AbortError)
    assert.equal(error.messages.at(-1).role, 'assistant', 'what the run had done is kept')
    return true
  })
  assert.equal(toolSignal.aborted, true)
  assert.equal(mock.requests.length, 1, 'no step after the abort')
})

test('runTools: a Standard Schema (zod) gives the JSON Schema on the wire and validates the arguments', async (t) => {
  const { mock, client } = await conversation(t, (messages) => {
    const results = toolMessages(messages)
    if (results.length === 0) return { toolCalls: [{ id: 'call_bad', name: 'weather', arguments: { city: 42 } }] }
    if (results.length === 1) return { toolCalls: [{ id: 'call_ok', name: 'weather', arguments: { city: 'Oslo' } }] }
    return { text: 'done' }
  })
  const got = []
  const run = client.runTools(BODY, {
    tools: {
      weather: {
        parameters: z.object({ city: z.string().transform((c) => c.toUpperCase()) }),
        run: ({ city }) => {
          got.push(city)
          return `sunny in ${city}`
        },
      },
    },
  })
  const errors = []
  run.on('toolError', (error) => errors.push(error.message))
  const final = await run.final()
  const parameters = mock.requests[0].body.tools[0].function.parameters
  assert.equal(parameters.type, 'object')
  assert.deepEqual(parameters.properties.city, { type: 'string' })
  assert.equal('$schema' in parameters, false)
  assert.equal(errors.length, 1)
  assert.match(errors[0], /^invalid arguments: city: /)
  assert.deepEqual(got, ['OSLO'], 'the validated output is what run receives')
  assert.deepEqual(
    toolMessages(final.messages).map((m) => m.content),
    [errors[0] && `Error: ${errors[0]}`, 'sunny in OSLO'],
  )
})

test('runTools: bad arguments are synchronous TypeErrors naming the field', async (t) => {
  const { client } = await conversation(t, () => ({ text: 'x' }))
  const tool = { parameters: { type: 'object' }, run: () => 'ok' }
  const cases = [
    [() => client.runTools(BODY), /the second argument must be \{ tools, maxSteps\? \}/],
    [() => client.runTools(BODY, { tools: {} }), /tools must name at least one tool/],
    [() => client.runTools(BODY, { tools: { t: tool }, maxSteps: 0 }), /maxSteps must be an integer >= 1/],
    [() => client.runTools(BODY, { tools: { t: tool }, steps: 2 }), /unknown option 'steps'/],
    [() => client.runTools(BODY, { tools: { 'bad name': tool } }), /tools\["bad name"\]: a tool name is/],
    [() => client.runTools(BODY, { tools: { t: { parameters: {} } } }), /tools\["t"\]\.run must be a function/],
    [() => client.runTools(BODY, { tools: { t: { run: () => 1 } } }), /tools\["t"\]\.parameters is required/],
    [() => client.runTools(BODY, { tools: { t: { ...tool, parameters: 'x' } } }), /tools\["t"\]\.parameters must be/],
    [() => client.runTools(BODY, { tools: { t: { ...tool, description: 3 } } }), /tools\["t"\]\.description/],
    [() => client.runTools(BODY, { tools: { t: { ...tool, extra: 1 } } }), /unknown key 'extra'/],
    [() => client.runTools({ ...BODY, tools: [] }, { tools: { t: tool } }), /body\.tools must not be set/],
    [() => client.runTools({ model: 'm' }, { tools: { t: tool } }), /body\.messages is required/],
    [
      () =>
        client.runTools(BODY, {
          tools: { t: { ...tool, parameters: { '~standard': { version: 1, vendor: 'x', validate: () => ({}) } } } },
        }),
      /Standard Schema without a JSON Schema/,
    ],
  ]
  for (const [call, message] of cases)
    assert.throws(call, (error) => error instanceof TypeError && message.test(error.message))
})

test('runTools: abort before anything read ends the run; final() rejects with AbortError', async (t) => {
  const { client } = await conversation(t, () => ({ text: 'never read' }))
  const run = client.runTools(BODY, { tools: { t: { parameters: { type: 'object' }, run: () => 'ok' } } })
  run.abort()
  // Nothing consumes the run yet: the abort alone makes it end (this listener comes after it).
  const aborted = new Promise((resolve) => run.on('abort', resolve))
  assert.ok((await aborted) instanceof AbortError)
  await assert.rejects(run.final(), AbortError)
})

test('runTools: text() spans the steps; options.signal aborts the run; events forward each step', async (t) => {
  const { client } = await conversation(t, (messages) =>
    toolMessages(messages).length === 0
      ? { text: 'Let me check. ', toolCalls: [{ id: 'c1', name: 'clock', arguments: {} }] }
      : { text: ['It is ', 'noon.'] },
  )
  const tools = { clock: { parameters: { type: 'object', properties: {} }, run: () => '12:00' } }
  const run = client.runTools(BODY, { tools })
  const snapshots = []
  run.on('text', (_text, snapshot) => snapshots.push(snapshot))
  let text = ''
  for await (const piece of run.text()) text += piece
  assert.equal(text, 'Let me check. It is noon.')
  assert.equal(snapshots.at(-1), 'It is noon.', "a text event's snapshot is its step's text")
  assert.equal(run.messages.length, 4)
  assert.throws(() => run.text(), /already being consumed/)

  const controller = new AbortController()
  const slow = {
    clock: {
      parameters: { type: 'object' },
      run: (_args, { signal }) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    },
  }
  const aborted = client.runTools(BODY, { tools: slow }, { signal: controller.signal })
  aborted.on('toolCall', () => setTimeout(() => controller.abort(), 20))
  await assert.rejects(aborted.final(), AbortError)
})
