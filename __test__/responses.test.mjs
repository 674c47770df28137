// The Responses API, legacy completions, background resume and Azure, over real sockets: a local
// node:http server on 127.0.0.1 serves recorded (ai-sdk) and crafted streams, whole and split at
// seeded random byte offsets, and the bring-your-own-bytes parsers must agree with the HTTP path.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import { startServer, startSse, writeChatStream } from './helpers/server.mjs'
import { randomPieces, writePieces, collect, sleep } from './helpers/sse.mjs'
import {
  Client,
  ResponseStream,
  CompletionStream,
  ChatStream,
  parseResponseStream,
  parseCompletionStream,
  StreamError,
  ParseError,
  IncompleteStreamError,
} from '../index.mjs'

// Recorded provider streams inside the repository: resolve from this file, never from the cwd.
const FIXTURE_DIR = fileURLToPath(new URL('../tests/fixtures/ai-sdk/', import.meta.url))
const COMPLETION_FIXTURE = 'openai--completion--openai-completion-text.chunks.txt'

const API_KEY = 'sk-test-responses-0123456789'
const RESPONSES_BODY = { model: 'gpt-test', input: 'Say hello' }
const COMPLETIONS_BODY = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hello' }
const CHAT_BODY = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }

// ---- small utilities -------------------------------------------------------------------

async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

function clientFor(server, options = {}) {
  return new Client({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0, ...options })
}

/** Drops `undefined` fields and class identity, as JSON would. */
const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)))

/** What a test can compare about an error, deterministically. */
function describeError(error) {
  if (!error) return null
  return plain({
    name: error.name,
    code: error.code,
    message: error.message,
    line: error.line,
    type: error.type,
    apiCode: error.apiCode,
    param: error.param,
    partial: error.partial ?? null,
  })
}

/**
 * Consumes two streams from `open()`: the first with `for await` then `final()`, the second
 * with `text()`. Returns everything observable, plain.
 */
async function consume(open) {
  const first = open()
  const deltas = []
  let error = null
  try {
    for await (const delta of first) deltas.push(delta)
  } catch (e) {
    error = e
  }
  let final = null
  let finalError = null
  try {
    final = await first.final()
  } catch (e) {
    finalError = e
  }
  const second = open()
  const textParts = []
  let textError = null
  try {
    for await (const text of second.text()) textParts.push(text)
  } catch (e) {
    textError = e
  }
  for (const text of textParts) assert.equal(typeof text, 'string')
  return {
    deltas: plain(deltas),
    text: textParts.join(''),
    final: plain(final),
    error: describeError(error),
    finalError: describeError(finalError),
    textError: describeError(textError),
  }
}

/** Writes SSE headers then `body` in one write. */
function writeWhole(res, body) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_whole' })
  res.end(body)
}

/** Writes everything, waits until it left, then destroys the socket: a dropped connection. */
async function writeThenDrop(res, text) {
  if (!res.headersSent) startSse(res)
  await new Promise((resolve) => res.write(text, resolve))
  await sleep(30)
  res.socket?.destroy()
}

const texts = (deltas) =>
  deltas
    .filter((d) => d.type === 'text' && d.choice === 0)
    .map((d) => d.text)
    .join('')

// ---- Responses SSE -------------------------------------------------------------------

/** The event type of a payload line: its JSON `type`, or read off the text for broken JSON. */
function typeOf(line) {
  try {
    const type = JSON.parse(line).type
    if (typeof type === 'string') return type
  } catch {
    // fall through
  }
  return /"type"\s*:\s*"([^"]+)"/.exec(line)?.[1] ?? null
}

/** One Responses event as SSE; `eventLine` adds `event: <type>` as OpenAI does. */
function sseEvent(payload, { eventLine = true } = {}) {
  const line = typeof payload === 'string' ? payload : JSON.stringify(payload)
  const type = typeOf(line)
  return `${eventLine && type ? `event: ${type}\n` : ''}data: ${line}\n\n`
}

function sseEvents(payloads, options) {
  return payloads.map((p) => sseEvent(p, options)).join('')
}

/**
 * The Responses fixtures: one entry per response stream. A file that recorded several requests
 * holds one stream per `response.created` (sequence numbers restart there).
 */
function responsesFixtures() {
  const out = []
  for (const name of fs.readdirSync(FIXTURE_DIR).sort()) {
    const text = fs.readFileSync(path.join(FIXTURE_DIR, name), 'utf8')
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '')
    const firstType = lines.length > 0 ? typeOf(lines[0]) : null
    if (!firstType || !(firstType.startsWith('response.') || firstType === 'error')) continue
    const streams = []
    for (const line of lines) {
      if (streams.length === 0 || (typeOf(line) === 'response.created' && streams.at(-1).length > 0)) streams.push([])
      streams.at(-1).push(line)
    }
    streams.forEach((stream, index) => {
      out.push({ name, index, count: streams.length, lines: stream })
    })
  }
  return out
}

function tryParse(line) {
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

/** A call item's kind, the name its calls get, and whether the provider runs it (null: not a call). */
function callKindOf(item) {
  switch (item?.type) {
    case 'function_call':
      return { kind: 'function', name: item.name, hosted: false }
    case 'custom_tool_call':
      return { kind: 'custom', name: item.name, hosted: false }
    case 'mcp_call':
      return { kind: 'mcp', name: item.name, hosted: true }
    case 'code_interpreter_call':
      return { kind: 'code_interpreter', name: 'code_interpreter', hosted: true }
    case 'shell_call':
      return { kind: 'shell', name: 'shell', hosted: Boolean(item.environment?.type?.startsWith('container')) }
    case 'local_shell_call':
      return { kind: 'local_shell', name: 'local_shell', hosted: false }
    default:
      return null
  }
}

/** A done call item's whole input, as its fragments should add up. */
function callInputOf(kind, item) {
  switch (kind) {
    case 'custom':
      return item.input
    case 'code_interpreter':
      return item.code
    case 'shell':
      return (item.action?.commands ?? []).join('\n')
    case 'local_shell':
      return JSON.stringify(item.action)
    default:
      return item.arguments
  }
}

const TOOL_STATUSES = new Set(['in_progress', 'searching', 'interpreting', 'generating', 'completed', 'failed'])

/**
 * The hosted-tool Deltas (toolStatus, citation, image, approval) a stream should give, in
 * order, computed from the fixture's JSON on its own.
 */
function expectedHosted(lines) {
  const want = []
  const shells = new Map()
  for (const line of lines) {
    const event = tryParse(line)
    if (event === undefined) break
    const item = event.item
    const [prefix, tool, status, more] = String(event.type).split('.')
    if (event.type === 'response.output_text.annotation.added') {
      const a = event.annotation
      const fields = [
        ['url', 'url'],
        ['title', 'title'],
        ['file_id', 'fileId'],
        ['filename', 'filename'],
        ['container_id', 'containerId'],
        ['start_index', 'start'],
        ['end_index', 'end'],
        ['index', 'index'],
      ]
      const citation = { type: 'citation', choice: 0, kind: a.type.replace(/_citation$/, '') }
      for (const [from, to] of fields) if (a[from] != null) citation[to] = a[from]
      want.push(citation)
    } else if (event.type === 'response.image_generation_call.partial_image') {
      want.push({
        type: 'image',
        choice: 0,
        id: event.item_id,
        index: event.partial_image_index,
        b64: event.partial_image_b64,
        partial: true,
      })
    } else if (event.type === 'response.output_item.done' && item?.type === 'image_generation_call' && item.result) {
      const mediaType = `image/${item.output_format ?? 'png'}`
      want.push({ type: 'image', choice: 0, id: item.id, b64: item.result, partial: false, mediaType })
    } else if (event.type === 'response.output_item.done' && item?.type === 'mcp_approval_request') {
      const { id, server_label: server, name, arguments: args } = item
      want.push({ type: 'approval', choice: 0, id, server, name, arguments: args })
    } else if (
      event.type === 'response.output_item.added' &&
      item?.type === 'shell_call' &&
      item.environment?.type?.startsWith('container')
    ) {
      shells.set(item.call_id, item.id)
      want.push({ type: 'toolStatus', choice: 0, id: item.id, tool: 'shell', status: 'in_progress' })
    } else if (event.type === 'response.output_item.done' && item?.type === 'shell_call_output') {
      const id = shells.get(item.call_id)
      if (id) want.push({ type: 'toolStatus', choice: 0, id, tool: 'shell', status: 'completed' })
    } else if (
      prefix === 'response' &&
      more === undefined &&
      TOOL_STATUSES.has(status) &&
      (tool.endsWith('_call') || tool === 'mcp_list_tools')
    ) {
      want.push({ type: 'toolStatus', choice: 0, id: event.item_id, tool: tool.replace(/_call$/, ''), status })
    }
    if (['response.completed', 'response.incomplete', 'response.failed', 'error'].includes(event.type)) break
  }
  return want
}

/** What a Responses stream should produce, computed from the fixture's JSON on its own. */
function expectedResponses(lines) {
  const want = { text: '', reasoning: '', calls: [], bad: [], terminal: null, error: null, functionCalls: false }
  for (const [position, line] of lines.entries()) {
    const event = tryParse(line)
    if (event === undefined) {
      want.bad.push(position)
      continue
    }
    const delta = typeof event.delta === 'string' ? event.delta : ''
    switch (event.type) {
      case 'response.output_text.delta':
        want.text += delta
        break
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        want.reasoning += delta
        break
      case 'response.output_item.added': {
        const kind = callKindOf(event.item)
        if (kind) {
          // Only calls the caller runs make the finish `tool_calls`.
          if (!kind.hosted) want.functionCalls = true
          want.calls.push({
            ...kind,
            itemId: event.item.id,
            outputIndex: event.output_index,
            id: event.item.call_id ?? event.item.id,
            server: event.item.server_label,
            arguments: null,
          })
        }
        break
      }
      case 'response.output_item.done': {
        const call = callKindOf(event.item) && want.calls.find((c) => c.itemId === event.item.id)
        if (call) {
          call.arguments ??= callInputOf(call.kind, event.item)
          call.output = (call.kind === 'code_interpreter' ? event.item.outputs : event.item.output) ?? undefined
          call.error = event.item.error ?? undefined
        }
        break
      }
      case 'response.function_call_arguments.delta':
        want.functionCalls = true
        break
      case 'response.function_call_arguments.done':
      case 'response.mcp_call_arguments.done':
      case 'response.custom_tool_call_input.done':
      case 'response.code_interpreter_call_code.done': {
        const call =
          want.calls.find((c) => c.itemId === event.item_id) ??
          want.calls.findLast((c) => c.outputIndex === event.output_index)
        if (call) call.arguments = event.arguments ?? event.input ?? event.code
        break
      }
      case 'response.completed':
      case 'response.incomplete':
        want.terminal = event
        return want
      case 'error':
        want.error = event.error && typeof event.error === 'object' ? event.error : event
        return want
      case 'response.failed':
        want.error = event.response?.error ?? {}
        return want
    }
  }
  return want
}

/** openai-node's `output_text`: the output_text parts of the message items, joined. */
function outputTextOf(output) {
  const parts = (output ?? []).filter((i) => i?.type === 'message').flatMap((m) => m.content ?? [])
  const found = parts.filter((p) => p?.type === 'output_text' && typeof p.text === 'string')
  return found.length > 0 ? found.map((p) => p.text).join('') : null
}

// ---- Responses fixtures ----------------------------------------------------------------

describe('ai-sdk Responses fixtures: random chunk boundaries, with and without event lines', {
  timeout: 240_000,
}, () => {
  const fixtures = responsesFixtures()

  test('the fixture set was found and multi-response files are split per response', () => {
    const files = new Set(fixtures.map((f) => f.name))
    assert.ok(files.size >= 40, `found ${files.size} Responses fixture files`)
    const countOf = (name) => fixtures.find((f) => f.name === name)?.count
    assert.equal(countOf('azure--azure-reasoning-encrypted-content.1.chunks.txt'), 4)
    assert.equal(countOf('openai--responses--openai-reasoning-encrypted-content.1.chunks.txt'), 4)
    assert.equal(countOf('openai--responses--openai-shell-tool.1.chunks.txt'), 2)
    assert.ok(files.has('openai--responses--parallel-tool-call-wrapper.1.chunks.txt'))
    for (const fixture of fixtures) {
      // Sequence numbers, where present, restart at each response and only grow within one.
      let highest = -1
      for (const line of fixture.lines) {
        const seq = tryParse(line)?.sequence_number
        if (typeof seq !== 'number') continue
        assert.ok(seq > highest, `${fixture.name} #${fixture.index}: sequence ${seq} after ${highest}`)
        highest = seq
      }
    }
  })

  for (const [i, fixture] of fixtures.entries()) {
    const label =
      fixture.count > 1 ? `${fixture.name} (response ${fixture.index + 1} of ${fixture.count})` : fixture.name
    test(label, async (t) => {
      const withEvents = Buffer.from(sseEvents(fixture.lines, { eventLine: true }), 'utf8')
      const withoutEvents = Buffer.from(sseEvents(fixture.lines, { eventLine: false }), 'utf8')
      const seed = 4000 + i
      // Pieces of 1..max bytes; max grows with the fixture so that no run costs more than
      // about 1500 writes (each write is a separate turn of the server's event loop).
      const capped = (max) => Math.max(max, Math.ceil((2 * withEvents.length) / 1500))
      const coarse = capped(160)
      const fine = capped(5)
      const variants = {
        whole: (res) => writeWhole(res, withEvents),
        split: (res) => writePieces(res, randomPieces(withEvents, seed, coarse)),
        small: (res) => writePieces(res, randomPieces(withEvents, seed + 1, fine)),
        wholePlain: (res) => writeWhole(res, withoutEvents),
      }
      const server = await serve(t, (req, res) => variants[req.headers['x-variant']](res))
      const client = clientFor(server)
      const run = (variant) => consume(() => client.responses(RESPONSES_BODY, { headers: { 'x-variant': variant } }))

      const reference = await run('whole')
      for (const variant of ['split', 'small', 'wholePlain']) {
        const got = await run(variant)
        assert.deepEqual(got, reference, `${variant} differs from the whole bytes`)
      }
      // The same bytes through parseResponseStream over a Node Readable, with and without
      // event lines, split at other random offsets.
      for (const [body, s] of [
        [withEvents, seed + 3],
        [withoutEvents, seed + 4],
      ]) {
        const parsed = await consume(() => parseResponseStream(Readable.from(randomPieces(body, s, 100))))
        assert.deepEqual(parsed, reference, 'parseResponseStream differs from the HTTP path')
      }
      // Every request was a POST /v1/responses with stream: true.
      for (const request of server.requests) {
        assert.equal(request.method, 'POST')
        assert.equal(request.url, '/v1/responses')
        assert.equal(JSON.parse(request.body).stream, true)
      }

      // Independently of the engine: what the fixture's JSON says.
      const want = expectedResponses(fixture.lines)
      if (want.bad.length > 0) {
        // Broken JSON (a brace missing in upstream's capture): the first bad line ends the
        // stream with a ParseError quoting it, the same for every split.
        const bad = fixture.lines[want.bad[0]]
        assert.equal(reference.error?.code, 'ERR_PARSE', 'a ParseError')
        assert.equal(reference.error.name, 'ParseError')
        assert.equal(reference.error.line, bad.slice(0, 200))
        assert.equal(reference.finalError.code, 'ERR_PARSE')
        assert.equal(reference.textError.code, 'ERR_PARSE')
        assert.ok(reference.error.partial, 'bytes had arrived: the error carries partial')
        assert.equal(reference.error.partial.object, 'response')
        if (want.bad[0] === 0) assert.deepEqual(reference.deltas, [])
        return
      }
      if (want.error) {
        assert.equal(reference.error?.code, 'ERR_STREAM', 'a StreamError')
        assert.equal(reference.error.message, want.error.message)
        assert.equal(reference.error.apiCode, want.error.code ?? null)
        assert.equal(reference.finalError.code, 'ERR_STREAM')
        assert.equal(reference.textError.code, 'ERR_STREAM')
        assert.ok(reference.error.partial, 'the StreamError carries partial')
        assert.equal(reference.error.partial.object, 'response')
        assert.equal(reference.text, want.text)
        return
      }
      assert.equal(reference.error, null, `no error expected, got ${reference.error?.message}`)
      assert.ok(want.terminal, 'the fixture ends with a terminal event')
      assert.equal(reference.text, want.text, 'text() is the output_text deltas joined')
      assert.equal(texts(reference.deltas), want.text)
      const reasoning = reference.deltas
        .filter((d) => d.type === 'reasoning')
        .map((d) => d.text)
        .join('')
      assert.equal(reasoning, want.reasoning)

      const response = want.terminal.response
      const outputText = 'output_text' in response ? response.output_text : (outputTextOf(response.output) ?? want.text)
      assert.deepEqual(
        reference.final,
        { ...response, output_text: outputText },
        'final() is the terminal response object',
      )

      const finishes = reference.deltas.filter((d) => d.type === 'finish')
      assert.equal(finishes.length, 1)
      if (want.terminal.type === 'response.completed') {
        assert.equal(finishes[0].reason, want.functionCalls ? 'tool_calls' : 'stop')
      }
      if (response.usage && typeof response.usage === 'object') {
        assert.deepEqual(reference.deltas.at(-1), { type: 'usage', usage: response.usage })
      }

      // Tool calls: numbered in order of appearance, id and name on the first delta, the
      // argument fragments joined are the whole arguments.
      const calls = new Map()
      for (const d of reference.deltas.filter((d) => d.type === 'toolCallDelta')) {
        assert.equal(d.kind, want.calls[d.index]?.kind)
        assert.equal(d.choice, 0)
        if (!calls.has(d.index)) calls.set(d.index, { id: d.id, name: d.name, arguments: '' })
        else assert.ok(d.id === undefined && d.name === undefined, 'id and name only on the first delta')
        calls.get(d.index).arguments += d.arguments
      }
      assert.deepEqual(
        [...calls.keys()],
        [...calls.keys()].map((_, n) => n),
      )
      for (const [n, call] of want.calls.entries()) {
        assert.equal(calls.get(n)?.id, call.id)
        assert.equal(calls.get(n)?.name, call.name)
        if (call.arguments === null) continue
        if (call.kind === 'local_shell') {
          // The action as JSON: the same value, whatever its spacing.
          assert.deepEqual(JSON.parse(calls.get(n)?.arguments), JSON.parse(call.arguments))
        } else {
          assert.equal(calls.get(n)?.arguments, call.arguments)
        }
      }
      // One whole `toolCall` per streamed call, with the joined arguments, after the call's
      // last fragment and before the finish.
      const wholes = reference.deltas.filter((d) => d.type === 'toolCall')
      assert.deepEqual(
        wholes.map((d) => d.index).sort((a, b) => a - b),
        [...calls.keys()],
        'one whole call per call',
      )
      const finishAt = reference.deltas.findIndex((d) => d.type === 'finish')
      for (const whole of wholes) {
        const call = calls.get(whole.index)
        const wanted = want.calls[whole.index]
        const hosted = { server: wanted.server, output: wanted.output, error: wanted.error }
        for (const key of Object.keys(hosted)) if (hosted[key] === undefined) delete hosted[key]
        assert.deepEqual(whole, {
          type: 'toolCall',
          choice: 0,
          index: whole.index,
          id: call.id ?? '',
          name: call.name ?? '',
          arguments: call.arguments,
          kind: wanted.kind,
          ...hosted,
        })
        const at = reference.deltas.indexOf(whole)
        const lastFragment = reference.deltas.findLastIndex(
          (d) => d.type === 'toolCallDelta' && d.index === whole.index,
        )
        assert.ok(lastFragment < at && at < finishAt, 'whole after its fragments, before the finish')
      }

      // Hosted tools: one typed Delta per progress event, annotation, image and approval
      // request, in order, with the raw events' fields.
      const hostedTypes = new Set(['toolStatus', 'citation', 'image', 'approval'])
      assert.deepEqual(
        reference.deltas.filter((d) => hostedTypes.has(d.type)),
        expectedHosted(fixture.lines),
        'hosted-tool deltas',
      )
    })
  }
})

// ---- the completions fixture --------------------------------------------------------

describe('ai-sdk legacy completions fixture', { timeout: 60_000 }, () => {
  test(COMPLETION_FIXTURE, async (t) => {
    const lines = fs
      .readFileSync(path.join(FIXTURE_DIR, COMPLETION_FIXTURE), 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
    const chunks = lines.map((l) => JSON.parse(l))
    const body = Buffer.from(lines.map((l) => `data: ${l}\n\n`).join('') + 'data: [DONE]\n\n', 'utf8')
    const variants = {
      whole: (res) => writeWhole(res, body),
      split: (res) => writePieces(res, randomPieces(body, 77, 120)),
      small: (res) => writePieces(res, randomPieces(body, 78, 4)),
    }
    const server = await serve(t, (req, res) => variants[req.headers['x-variant']](res))
    const client = clientFor(server)
    const run = (variant) => consume(() => client.completions(COMPLETIONS_BODY, { headers: { 'x-variant': variant } }))

    const reference = await run('whole')
    for (const variant of ['split', 'small']) assert.deepEqual(await run(variant), reference, variant)
    const parsed = await consume(() => parseCompletionStream(Readable.from(randomPieces(body, 79, 50))))
    assert.deepEqual(parsed, reference, 'parseCompletionStream differs from the HTTP path')

    for (const request of server.requests) {
      assert.equal(request.method, 'POST')
      assert.equal(request.url, '/v1/completions')
      const sent = JSON.parse(request.body)
      assert.equal(sent.stream, true)
      assert.equal(sent.prompt, COMPLETIONS_BODY.prompt)
    }

    // Independently, from the chunks.
    const text = chunks
      .flatMap((c) => c.choices ?? [])
      .map((c) => c.text)
      .join('')
    const usage = chunks.findLast((c) => c.usage)?.usage
    assert.ok(text.startsWith('The holiday'), text)
    assert.equal(reference.error, null)
    assert.equal(reference.text, text)
    assert.equal(texts(reference.deltas), text)
    assert.deepEqual(reference.deltas.slice(-2), [
      { type: 'finish', choice: 0, reason: 'length' },
      { type: 'usage', usage },
    ])
    assert.equal(reference.final.object, 'text_completion')
    assert.equal(reference.final.id, chunks[0].id)
    assert.equal(reference.final.model, chunks[0].model)
    assert.equal(reference.final.created, chunks[0].created)
    assert.equal(reference.final.choices.length, 1)
    assert.equal(reference.final.choices[0].index, 0)
    assert.equal(reference.final.choices[0].text, text)
    assert.equal(reference.final.choices[0].finish_reason, 'length')
    assert.deepEqual(reference.final.usage, usage)
  })
})

// ---- crafted Responses streams ------------------------------------------------------

const RESP_ID = 'resp_test_0123'
const USAGE = { input_tokens: 9, output_tokens: 4, total_tokens: 13 }
const WORDS = ['Hel', 'lo', ' wor', 'ld']
const HELLO = WORDS.join('')

function responseObject(status, extra = {}) {
  return {
    id: RESP_ID,
    object: 'response',
    created_at: 1760000000,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    model: 'gpt-test-2025',
    output: [],
    usage: null,
    ...extra,
  }
}

function messageItem(text, status = 'completed') {
  return {
    id: 'msg_1',
    type: 'message',
    status,
    role: 'assistant',
    content: text === null ? [] : [{ type: 'output_text', text, annotations: [] }],
  }
}

/**
 * A complete answer as OpenAI streams it, numbered 0..11: created, in_progress, item added,
 * part added, four text deltas (seq 4..7), text done, part done, item done, completed.
 */
function helloEvents({ terminal = 'completed', words = WORDS } = {}) {
  const text = words.join('')
  const events = [
    { type: 'response.created', response: responseObject('in_progress') },
    { type: 'response.in_progress', response: responseObject('in_progress') },
    { type: 'response.output_item.added', output_index: 0, item: messageItem(null, 'in_progress') },
    {
      type: 'response.content_part.added',
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    },
    ...words.map((delta) => ({
      type: 'response.output_text.delta',
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      delta,
      logprobs: [],
    })),
    { type: 'response.output_text.done', item_id: 'msg_1', output_index: 0, content_index: 0, text, logprobs: [] },
    {
      type: 'response.content_part.done',
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text, annotations: [] },
    },
    { type: 'response.output_item.done', output_index: 0, item: messageItem(text) },
  ]
  if (terminal === 'completed') {
    events.push({
      type: 'response.completed',
      response: responseObject('completed', { output: [messageItem(text)], usage: USAGE }),
    })
  } else if (terminal === 'incomplete') {
    events.push({
      type: 'response.incomplete',
      response: responseObject('incomplete', {
        incomplete_details: { reason: 'max_output_tokens' },
        output: [messageItem(text, 'incomplete')],
        usage: USAGE,
      }),
    })
  }
  return events.map((event, n) => ({ ...event, sequence_number: n }))
}

/** Terminal events: checked on their own in chunks() (see 'chunks() ends with the terminal event'). */
const TERMINAL_TYPES = new Set(['response.completed', 'response.incomplete'])
const nonTerminal = (list) => list.filter((c) => !TERMINAL_TYPES.has(typeof c === 'string' ? c : c.type))

const withoutSequence = (events) => events.map(({ sequence_number, ...rest }) => rest)
const completedOf = (events) =>
  events.find((e) => e.type === 'response.completed' || e.type === 'response.incomplete').response

const HELLO_DELTAS = [
  ...WORDS.map((text) => ({ type: 'text', choice: 0, text })),
  { type: 'finish', choice: 0, reason: 'stop' },
  { type: 'usage', usage: USAGE },
]

describe('Responses deviations on the wire', { timeout: 60_000 }, () => {
  /** Serves `body` for every request; returns the consumed result. */
  async function served(t, body, open = (client) => client.responses(RESPONSES_BODY)) {
    const server = await serve(t, (req, res) => writeWhole(res, body))
    const client = clientFor(server)
    return { server, result: await consume(() => open(client)) }
  }

  test('with event: lines: deltas, text() and final() of a complete answer', async (t) => {
    const events = helloEvents()
    const { result, server } = await served(t, sseEvents(events))
    assert.deepEqual(result.deltas, HELLO_DELTAS)
    assert.equal(result.text, HELLO)
    assert.deepEqual(result.final, { ...completedOf(events), output_text: HELLO })
    assert.equal(result.error, null)
    assert.equal(server.requests[0].method, 'POST')
    assert.equal(server.requests[0].url, '/v1/responses')
    assert.equal(server.requests[0].headers.authorization, `Bearer ${API_KEY}`)
    assert.deepEqual(JSON.parse(server.requests[0].body), { ...RESPONSES_BODY, stream: true })
  })

  test('without event: lines (the type only inside the JSON) gives identical results', async (t) => {
    const events = helloEvents()
    const a = await served(t, sseEvents(events, { eventLine: true }))
    const b = await served(t, sseEvents(events, { eventLine: false }))
    assert.deepEqual(b.result, a.result)
  })

  test('without sequence_number gives identical results', async (t) => {
    const events = helloEvents()
    const a = await served(t, sseEvents(events))
    const b = await served(t, sseEvents(withoutSequence(events)))
    const c = await served(t, sseEvents(withoutSequence(events), { eventLine: false }))
    assert.deepEqual(b.result, a.result)
    assert.deepEqual(c.result, a.result)
  })

  test('keepalive events (with and without data) change nothing', async (t) => {
    const events = helloEvents()
    let body = ''
    for (const [n, event] of events.entries()) {
      body += sseEvent(event)
      if (n % 3 === 1) body += 'event: keepalive\ndata: {"type":"keepalive"}\n\n'
      if (n % 3 === 2) body += 'event: keepalive\ndata:\n\n'
      if (n === 5) body += 'data: {"type":"keepalive"}\n\n: ping\n\n'
    }
    const plainRun = await served(t, sseEvents(events))
    const keepalive = await served(t, body)
    assert.deepEqual(keepalive.result, plainRun.result)
    assert.deepEqual(keepalive.result.deltas, HELLO_DELTAS)
  })

  test('a stray data: [DONE] after response.completed ends the stream normally', async (t) => {
    const events = helloEvents()
    for (const eventLine of [true, false]) {
      const { result } = await served(t, sseEvents(events, { eventLine }) + 'data: [DONE]\n\n')
      assert.equal(result.error, null)
      assert.deepEqual(result.deltas, HELLO_DELTAS)
      assert.deepEqual(result.final, { ...completedOf(events), output_text: HELLO })
    }
  })

  test('response.incomplete (max_output_tokens) finishes with `length` and final() is the incomplete response', async (t) => {
    const events = helloEvents({ terminal: 'incomplete' })
    const { result } = await served(t, sseEvents(events))
    assert.equal(result.error, null)
    assert.deepEqual(result.deltas, [
      ...WORDS.map((text) => ({ type: 'text', choice: 0, text })),
      { type: 'finish', choice: 0, reason: 'length' },
      { type: 'usage', usage: USAGE },
    ])
    assert.equal(result.final.status, 'incomplete')
    assert.deepEqual(result.final.incomplete_details, { reason: 'max_output_tokens' })
    assert.deepEqual(result.final, { ...completedOf(events), output_text: HELLO })
  })

  test("the 'finish' event reports `length` for response.incomplete", async (t) => {
    const server = await serve(t, (req, res) => writeWhole(res, sseEvents(helloEvents({ terminal: 'incomplete' }))))
    const stream = clientFor(server).responses(RESPONSES_BODY)
    const finishes = []
    stream.on('finish', (reason, choice) => finishes.push([reason, choice]))
    const final = await stream.final()
    assert.deepEqual(finishes, [['length', 0]])
    assert.equal(await stream.finalText(), HELLO)
    assert.equal(final.output_text, HELLO)
  })

  test('unknown event types pass through chunks() without failing', async (t) => {
    const events = helloEvents()
    const unknown = [
      { type: 'response.future_feature.delta', sequence_number: 0, foo: { bar: [1, 2] } },
      { type: 'vendor.stats', tokens_per_second: 42 },
      {
        type: 'response.output_text.annotation.added',
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        annotation_index: 0,
        annotation: { type: 'url_citation', url: 'https://example.com' },
      },
    ]
    const mixed = [...events.slice(0, 5), unknown[0], unknown[1], ...events.slice(5, 7), unknown[2], ...events.slice(7)]
    // Sequence numbers must keep growing: renumber, keeping the unknown ones without one where they had none.
    let seq = 0
    const numbered = mixed.map((e) => ('sequence_number' in e ? { ...e, sequence_number: seq++ } : e))
    const server = await serve(t, (req, res) => writeWhole(res, sseEvents(numbered)))
    const client = clientFor(server)

    const chunks = await collect(client.responses(RESPONSES_BODY).chunks())
    assert.deepEqual(nonTerminal(chunks.map((c) => c.type)), nonTerminal(numbered.map((e) => e.type)))
    assert.deepEqual(chunks[5], numbered[5])
    assert.deepEqual(chunks[6], unknown[1])

    const result = await consume(() => client.responses(RESPONSES_BODY))
    assert.equal(result.error, null)
    // Issue 19: the annotation is no longer unknown: it is a `citation` Delta, the rest unchanged.
    const citation = { type: 'citation', choice: 0, kind: 'url', url: 'https://example.com' }
    assert.deepEqual(
      result.deltas.filter((d) => d.type === 'citation'),
      [citation],
    )
    assert.deepEqual(
      result.deltas.filter((d) => d.type !== 'citation'),
      HELLO_DELTAS,
    )
    assert.equal(result.text, HELLO)
    assert.equal(result.final.output_text, HELLO)

    // The 'chunk' event sees them too.
    const seen = []
    const stream = client.responses(RESPONSES_BODY)
    stream.on('chunk', (chunk) => seen.push(chunk.type))
    await stream.final()
    assert.ok(seen.includes('vendor.stats') && seen.includes('response.future_feature.delta'))
  })

  test('chunks() and chunk listeners get every event object, ending with the terminal event', async (t) => {
    for (const terminal of ['completed', 'incomplete']) {
      const events = helloEvents({ terminal })
      const server = await serve(t, (req, res) => writeWhole(res, sseEvents(events)))
      const client = clientFor(server)
      const chunks = await collect(client.responses(RESPONSES_BODY).chunks())
      assert.deepEqual(chunks, events, `chunks() of a stream ending with response.${terminal}`)
      const stream = client.responses(RESPONSES_BODY)
      const seen = []
      stream.on('chunk', (chunk) => seen.push(chunk.type))
      await stream.final()
      assert.deepEqual(
        seen,
        events.map((e) => e.type),
      )
      assert.equal(stream.stats.chunks, events.length)
    }
  })

  test('response.failed is a StreamError carrying partial', async (t) => {
    const events = helloEvents().slice(0, 6) // created .. 'lo'
    const failed = {
      type: 'response.failed',
      sequence_number: 6,
      response: responseObject('failed', { error: { code: 'server_error', message: 'The model crashed mid-answer' } }),
    }
    const { result } = await served(t, sseEvents([...events, failed]))
    assert.deepEqual(result.deltas, [
      { type: 'text', choice: 0, text: 'Hel' },
      { type: 'text', choice: 0, text: 'lo' },
    ])
    assert.equal(result.text, 'Hello')
    for (const error of [result.error, result.finalError, result.textError]) {
      assert.equal(error.name, 'StreamError')
      assert.equal(error.code, 'ERR_STREAM')
      assert.equal(error.message, 'The model crashed mid-answer')
      assert.equal(error.apiCode, 'server_error')
    }
    const partial = result.error.partial
    assert.ok(partial, 'partial is attached')
    assert.equal(partial.object, 'response')
    assert.equal(partial.id, RESP_ID)
    assert.equal(partial.model, 'gpt-test-2025')
    assert.equal(partial.output_text, 'Hello')
    assert.equal(partial.status, 'failed')
  })

  test('response.failed is an instance of StreamError through every consumer', async (t) => {
    const failed = {
      type: 'response.failed',
      sequence_number: 6,
      response: responseObject('failed', { error: { code: 'server_error', message: 'boom' } }),
    }
    const server = await serve(t, (req, res) => writeWhole(res, sseEvents([...helloEvents().slice(0, 6), failed])))
    const client = clientFor(server)
    const stream = client.responses(RESPONSES_BODY)
    assert.ok(stream instanceof ResponseStream)
    const viaEvent = await new Promise((resolve) => stream.on('error', resolve))
    assert.ok(viaEvent instanceof StreamError)
    assert.equal(viaEvent.partial.output_text, 'Hello')
    await assert.rejects(
      client.responses(RESPONSES_BODY).finalText(),
      (e) => e instanceof StreamError && e.partial?.output_text === 'Hello',
    )
  })

  test('an error event (OpenAI fields beside `type`) is a StreamError with partial', async (t) => {
    const events = helloEvents().slice(0, 5) // created .. 'Hel'
    const error = {
      type: 'error',
      sequence_number: 5,
      code: 'rate_limit_exceeded',
      message: 'Slow down',
      param: 'input',
    }
    const { result } = await served(t, sseEvents([...events, error, ...helloEvents().slice(5)]))
    assert.deepEqual(result.deltas, [{ type: 'text', choice: 0, text: 'Hel' }])
    for (const e of [result.error, result.finalError, result.textError]) {
      assert.equal(e.name, 'StreamError')
      assert.equal(e.code, 'ERR_STREAM')
      assert.equal(e.message, 'Slow down')
      assert.equal(e.apiCode, 'rate_limit_exceeded')
      assert.equal(e.param, 'input')
    }
    assert.equal(result.error.partial.object, 'response')
    assert.equal(result.error.partial.id, RESP_ID)
    assert.equal(result.error.partial.output_text, 'Hel')
  })

  test('an error event with the error nested under `error` is a StreamError', async (t) => {
    const error = {
      type: 'error',
      error: { type: 'invalid_request_error', code: 'context_length_exceeded', message: 'Too long', param: null },
    }
    for (const eventLine of [true, false]) {
      const { result } = await served(
        t,
        sseEvents([...withoutSequence(helloEvents().slice(0, 2)), error], { eventLine }),
      )
      assert.equal(result.error.code, 'ERR_STREAM')
      assert.equal(result.error.message, 'Too long')
      assert.equal(result.error.type, 'invalid_request_error')
      assert.equal(result.error.apiCode, 'context_length_exceeded')
      assert.equal(result.error.partial.id, RESP_ID)
    }
  })

  test('a stream that closes before a terminal event is an IncompleteStreamError with partial', async (t) => {
    const { result } = await served(t, sseEvents(helloEvents().slice(0, 7)))
    assert.equal(result.error.code, 'ERR_INCOMPLETE')
    assert.equal(result.error.name, 'IncompleteStreamError')
    assert.equal(result.error.partial.output_text, 'Hello wor')
    assert.equal(result.error.partial.status, 'in_progress')
    assert.equal(result.text, 'Hello wor')
  })

  test('invalid JSON in a data line is a ParseError quoting the line', async (t) => {
    const bad = '{"type":"response.output_text.delta","delta":"x"'
    const { result } = await served(
      t,
      sseEvents(helloEvents().slice(0, 5)) +
        `event: response.output_text.delta\ndata: ${bad}\n\n` +
        sseEvents(helloEvents().slice(5)),
    )
    assert.equal(result.error.code, 'ERR_PARSE')
    assert.equal(result.error.line, bad)
    assert.equal(result.error.partial.output_text, 'Hel')
    assert.deepEqual(result.deltas, [{ type: 'text', choice: 0, text: 'Hel' }])
  })

  test('reasoning summary, refusal and function-call deltas map to the Delta union', async (t) => {
    const events = [
      { type: 'response.created', response: responseObject('in_progress') },
      { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } },
      {
        type: 'response.reasoning_summary_text.delta',
        item_id: 'rs_1',
        output_index: 0,
        summary_index: 0,
        delta: 'Thinking',
      },
      {
        type: 'response.reasoning_summary_text.delta',
        item_id: 'rs_1',
        output_index: 0,
        summary_index: 0,
        delta: ' hard',
      },
      {
        type: 'response.output_item.added',
        output_index: 1,
        item: { id: 'msg_1', type: 'message', role: 'assistant', content: [] },
      },
      { type: 'response.refusal.delta', item_id: 'msg_1', output_index: 1, content_index: 0, delta: 'No can do' },
      {
        type: 'response.output_item.added',
        output_index: 2,
        item: { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '' },
      },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_1', output_index: 2, delta: '{"q":' },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_1', output_index: 2, delta: '"x"}' },
      { type: 'response.function_call_arguments.done', item_id: 'fc_1', output_index: 2, arguments: '{"q":"x"}' },
      {
        type: 'response.completed',
        response: responseObject('completed', {
          usage: USAGE,
          output: [{ id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }],
        }),
      },
    ].map((e, n) => ({ ...e, sequence_number: n }))
    const { result } = await served(t, sseEvents(events))
    assert.equal(result.error, null)
    assert.deepEqual(result.deltas, [
      { type: 'reasoning', choice: 0, text: 'Thinking' },
      { type: 'reasoning', choice: 0, text: ' hard' },
      { type: 'refusal', choice: 0, text: 'No can do' },
      {
        type: 'toolCallDelta',
        choice: 0,
        index: 0,
        id: 'call_1',
        name: 'lookup',
        arguments: '{"q":',
        kind: 'function',
      },
      { type: 'toolCallDelta', choice: 0, index: 0, arguments: '"x"}', kind: 'function' },
      // No `output_item.done` for the call: the terminal event completes it before its finish.
      { type: 'toolCall', choice: 0, index: 0, id: 'call_1', name: 'lookup', arguments: '{"q":"x"}', kind: 'function' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: USAGE },
    ])
    assert.equal(result.text, '')
    assert.equal(result.final.output[0].type, 'function_call')
  })

  test("a function call is whole at its output_item.done: the iterator and on('toolCall') get it once", async (t) => {
    const call = (id) => ({ id: `fc_${id}`, type: 'function_call', call_id: `call_${id}`, name: `fn_${id}` })
    const events = [
      { type: 'response.created', response: responseObject('in_progress') },
      { type: 'response.output_item.added', output_index: 0, item: { ...call('a'), arguments: '' } },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_a', output_index: 0, delta: '{"city":' },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_a', output_index: 0, delta: '"Paris"}' },
      {
        type: 'response.function_call_arguments.done',
        item_id: 'fc_a',
        output_index: 0,
        arguments: '{"city":"Paris"}',
      },
      { type: 'response.output_item.done', output_index: 0, item: { ...call('a'), arguments: '{"city":"Paris"}' } },
      { type: 'response.output_item.added', output_index: 1, item: { ...call('b'), arguments: '' } },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_b', output_index: 1, delta: '{}' },
      // Call b's output_item.done never comes: the terminal event completes it.
      { type: 'response.completed', response: responseObject('completed', { usage: USAGE }) },
    ].map((e, n) => ({ ...e, sequence_number: n }))
    const whole = (id, index, args) => ({
      type: 'toolCall',
      choice: 0,
      index,
      id: `call_${id}`,
      name: `fn_${id}`,
      arguments: args,
      kind: 'function',
    })
    const { result, server } = await served(t, sseEvents(events))
    assert.equal(result.error, null)
    assert.deepEqual(result.deltas, [
      {
        type: 'toolCallDelta',
        choice: 0,
        index: 0,
        id: 'call_a',
        name: 'fn_a',
        arguments: '{"city":',
        kind: 'function',
      },
      { type: 'toolCallDelta', choice: 0, index: 0, arguments: '"Paris"}', kind: 'function' },
      whole('a', 0, '{"city":"Paris"}'),
      { type: 'toolCallDelta', choice: 0, index: 1, id: 'call_b', name: 'fn_b', arguments: '{}', kind: 'function' },
      whole('b', 1, '{}'),
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: USAGE },
    ])

    // The events: one `toolCall` per call, the Delta itself; its arguments parse.
    const stream = clientFor(server).responses(RESPONSES_BODY)
    const fragments = []
    const calls = []
    stream.on('toolCallDelta', (delta) => fragments.push(delta))
    stream.on('toolCall', (call) => calls.push(call))
    await stream.final()
    assert.equal(fragments.length, 3)
    assert.deepEqual(plain(calls), [whole('a', 0, '{"city":"Paris"}'), whole('b', 1, '{}')])
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' })
  })
})

// ---- crafted completions -------------------------------------------------------------

function completionChunk(index, text, finish = null, extra = {}) {
  return {
    id: 'cmpl-test',
    object: 'text_completion',
    created: 1770000000,
    model: 'gpt-3.5-turbo-instruct',
    choices: [{ text, index, logprobs: null, finish_reason: finish }],
    ...extra,
  }
}

const sseData = (chunks, done = true) =>
  chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '')

describe('legacy completions', { timeout: 60_000 }, () => {
  const INTERLEAVED = [
    completionChunk(1, 'B1'),
    completionChunk(0, 'A1'),
    completionChunk(0, 'A2'),
    completionChunk(1, 'B2'),
    completionChunk(1, '', 'length'),
    completionChunk(0, 'A3', 'stop'),
    {
      id: 'cmpl-test',
      object: 'text_completion',
      created: 1770000000,
      model: 'gpt-3.5-turbo-instruct',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
    },
  ]
  const INTERLEAVED_DELTAS = [
    { type: 'text', choice: 1, text: 'B1' },
    { type: 'text', choice: 0, text: 'A1' },
    { type: 'text', choice: 0, text: 'A2' },
    { type: 'text', choice: 1, text: 'B2' },
    { type: 'finish', choice: 1, reason: 'length' },
    { type: 'text', choice: 0, text: 'A3' },
    { type: 'finish', choice: 0, reason: 'stop' },
    { type: 'usage', usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } },
  ]

  test('n = 2 with interleaved choices: per-choice deltas, text() of choice 0, final() with both choices', async (t) => {
    const body = sseData(INTERLEAVED)
    const server = await serve(t, (req, res) => writePieces(res, randomPieces(Buffer.from(body), 91, 30)))
    const client = clientFor(server)
    const stream = client.completions({ ...COMPLETIONS_BODY, n: 2 })
    assert.ok(stream instanceof CompletionStream)
    const result = await consume(() => client.completions({ ...COMPLETIONS_BODY, n: 2 }))
    assert.equal(result.error, null)
    assert.deepEqual(result.deltas, INTERLEAVED_DELTAS)
    assert.equal(result.text, 'A1A2A3')
    assert.deepEqual(
      result.final.choices.map((c) => [c.index, c.text, c.finish_reason]),
      [
        [0, 'A1A2A3', 'stop'],
        [1, 'B1B2', 'length'],
      ],
    )
    assert.equal(result.final.object, 'text_completion')
    assert.equal(result.final.id, 'cmpl-test')
    assert.deepEqual(result.final.usage, { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 })
    assert.equal(await stream.finalText(), 'A1A2A3')
    assert.equal(JSON.parse(server.requests[0].body).n, 2)
    assert.equal(server.requests[0].url, '/v1/completions')
  })

  test('text events carry the choice index and per-choice snapshots', async (t) => {
    const server = await serve(t, (req, res) => writeWhole(res, sseData(INTERLEAVED)))
    const stream = clientFor(server).completions({ ...COMPLETIONS_BODY, n: 2 })
    const seen = []
    stream.on('text', (text, snapshot, choice) => seen.push([choice, text, snapshot]))
    await stream.final()
    assert.deepEqual(seen, [
      [1, 'B1', 'B1'],
      [0, 'A1', 'A1'],
      [0, 'A2', 'A1A2'],
      [1, 'B2', 'B1B2'],
      [0, 'A3', 'A1A2A3'],
    ])
  })

  test('a stream with every choice finished but no [DONE] ends normally; one unfinished is incomplete', async (t) => {
    const finished = await serve(t, (req, res) => writeWhole(res, sseData(INTERLEAVED, false)))
    const whole = await consume(() => clientFor(finished).completions({ ...COMPLETIONS_BODY, n: 2 }))
    assert.equal(whole.error, null)
    assert.deepEqual(whole.deltas, INTERLEAVED_DELTAS)

    const cut = await serve(t, (req, res) => writeWhole(res, sseData(INTERLEAVED.slice(0, 5), false)))
    const broken = await consume(() => clientFor(cut).completions({ ...COMPLETIONS_BODY, n: 2 }))
    assert.equal(broken.error.code, 'ERR_INCOMPLETE')
    assert.equal(broken.error.partial.choices.find((c) => c.index === 0).text, 'A1A2')
  })

  test('an error object inside the stream is a StreamError with partial', async (t) => {
    const server = await serve(t, (req, res) =>
      writeWhole(
        res,
        sseData([completionChunk(0, 'Par'), { error: { message: 'overloaded', type: 'server_error', code: 503 } }]),
      ),
    )
    const result = await consume(() => clientFor(server).completions(COMPLETIONS_BODY))
    assert.equal(result.error.code, 'ERR_STREAM')
    assert.equal(result.error.message, 'overloaded')
    assert.equal(result.error.apiCode, '503')
    assert.equal(result.error.partial.choices[0].text, 'Par')
  })

  test('parseCompletionStream over a Node Readable equals the HTTP path', async (t) => {
    const body = Buffer.from(sseData(INTERLEAVED))
    const server = await serve(t, (req, res) => writeWhole(res, body))
    const overHttp = await consume(() => clientFor(server).completions({ ...COMPLETIONS_BODY, n: 2 }))
    for (const seed of [1, 2, 3]) {
      const parsed = await consume(() => parseCompletionStream(Readable.from(randomPieces(body, seed, 7))))
      assert.deepEqual(parsed, overHttp, `seed ${seed}`)
    }
    assert.ok(parseCompletionStream(Readable.from([body])) instanceof CompletionStream)
  })
})

// ---- parseResponseStream ----------------------------------------------------------------

describe('parseResponseStream over a Node Readable', { timeout: 60_000 }, () => {
  const cases = {
    'a complete answer': sseEvents(helloEvents()),
    'without event lines or sequence numbers, with a stray [DONE]':
      sseEvents(withoutSequence(helloEvents()), { eventLine: false }) + 'data: [DONE]\n\n',
    'response.incomplete': sseEvents(helloEvents({ terminal: 'incomplete' })),
    'an error event': sseEvents([
      ...helloEvents().slice(0, 6),
      { type: 'error', sequence_number: 6, code: 'boom', message: 'Boom' },
    ]),
    'a closed stream without terminal event': sseEvents(helloEvents().slice(0, 6)),
  }
  for (const [name, text] of Object.entries(cases)) {
    test(`${name}: the same result as the HTTP path`, async (t) => {
      const body = Buffer.from(text)
      const server = await serve(t, (req, res) => writeWhole(res, body))
      const overHttp = await consume(() => clientFor(server).responses(RESPONSES_BODY))
      for (const seed of [11, 12]) {
        const parsed = await consume(() => parseResponseStream(Readable.from(randomPieces(body, seed, 9))))
        assert.deepEqual(parsed, overHttp, `seed ${seed}`)
      }
      const stream = parseResponseStream(Readable.from([body]))
      assert.ok(stream instanceof ResponseStream)
      await stream.final().catch(() => {})
    })
  }
})

// ---- background resume --------------------------------------------------------------

/**
 * A server for background responses. POST /v1/responses sends the events up to sequence
 * `dropAfter` (plus half of the next event) and destroys the socket. GET
 * /v1/responses/{id}?stream=true&starting_after=K replays from K+1, preceded by `duplicates`
 * events at or below K; with `dropResumes` it also drops after one new event.
 */
async function backgroundServer(
  t,
  { events = helloEvents(), dropAfter = 5, duplicates = 2, dropResumes = false, cleanClose = false } = {},
) {
  const upTo = (n) => events.filter((e) => e.sequence_number <= n)
  const half = (event) => {
    const text = event ? sseEvent(event) : ''
    return text.slice(0, Math.floor(text.length / 2))
  }
  return serve(t, async (req, res) => {
    const url = new URL(req.url, 'http://localhost')
    if (req.method === 'POST' && url.pathname === '/v1/responses') {
      if (req.headers['x-no-drop']) return writeWhole(res, sseEvents(events))
      const text = sseEvents(upTo(dropAfter)) + half(events[dropAfter + 1])
      if (cleanClose) {
        startSse(res)
        res.end(text)
        return
      }
      return writeThenDrop(res, text)
    }
    if (req.method === 'GET' && url.pathname === `/v1/responses/${RESP_ID}`) {
      assert.equal(url.searchParams.get('stream'), 'true')
      const after = Number(url.searchParams.get('starting_after'))
      const replay = events.filter((e) => e.sequence_number > after - duplicates)
      if (dropResumes) {
        const next = replay.filter((e) => e.sequence_number <= after + 1)
        return writeThenDrop(res, sseEvents(next) + half(events[after + 2]))
      }
      return writeWhole(res, sseEvents(replay))
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
  })
}

const BACKGROUND_BODY = { ...RESPONSES_BODY, background: true }

describe('background responses resume after a dropped connection', { timeout: 60_000 }, () => {
  test('text() and final() equal the uninterrupted stream; the GET has the right starting_after', async (t) => {
    const events = helloEvents()
    const server = await backgroundServer(t, { events, dropAfter: 5, duplicates: 2 })
    const client = clientFor(server, { maxRetries: 2 })

    const stream = client.responses(BACKGROUND_BODY)
    const textParts = await collect(stream.text())
    assert.equal(textParts.join(''), HELLO)
    assert.deepEqual(await stream.final(), { ...completedOf(events), output_text: HELLO })

    assert.equal(server.requests.length, 2)
    const [post, get] = server.requests
    assert.equal(post.method, 'POST')
    assert.equal(post.url, '/v1/responses')
    assert.equal(JSON.parse(post.body).background, true)
    assert.equal(get.method, 'GET')
    const url = new URL(get.url, 'http://localhost')
    assert.equal(url.pathname, `/v1/responses/${RESP_ID}`)
    assert.equal(url.searchParams.get('stream'), 'true')
    assert.equal(url.searchParams.get('starting_after'), '5')
    assert.equal(get.body, '')
    assert.equal(get.headers.authorization, `Bearer ${API_KEY}`)
  })

  test('the Delta sequence has no duplicates and equals the uninterrupted one', async (t) => {
    const server = await backgroundServer(t, { dropAfter: 5, duplicates: 2 })
    const client = clientFor(server, { maxRetries: 2 })
    const uninterrupted = await consume(() => client.responses(BACKGROUND_BODY, { headers: { 'x-no-drop': '1' } }))
    assert.deepEqual(uninterrupted.deltas, HELLO_DELTAS)
    const resumed = await consume(() => client.responses(BACKGROUND_BODY))
    assert.deepEqual(resumed, uninterrupted)
    const gets = server.requests.filter((r) => r.method === 'GET')
    assert.equal(gets.length, 2, 'one resume per resumed stream')
  })

  test('chunks() after a resume skip the replayed events (no sequence_number seen twice)', async (t) => {
    const events = helloEvents()
    const server = await backgroundServer(t, { events, dropAfter: 6, duplicates: 3 })
    const chunks = await collect(clientFor(server, { maxRetries: 2 }).responses(BACKGROUND_BODY).chunks())
    assert.deepEqual(
      nonTerminal(chunks).map((c) => c.sequence_number),
      nonTerminal(events).map((e) => e.sequence_number),
    )
    assert.equal(new URL(server.requests[1].url, 'http://localhost').searchParams.get('starting_after'), '6')
  })

  test('a clean close without a terminal event resumes too', async (t) => {
    const events = helloEvents()
    const server = await backgroundServer(t, { events, dropAfter: 4, cleanClose: true })
    const result = await consume(() => clientFor(server, { maxRetries: 2 }).responses(BACKGROUND_BODY))
    assert.equal(result.error, null)
    assert.deepEqual(result.deltas, HELLO_DELTAS)
    assert.equal(result.text, HELLO)
    assert.deepEqual(result.final, { ...completedOf(events), output_text: HELLO })
    const get = server.requests.find((r) => r.method === 'GET')
    assert.equal(new URL(get.url, 'http://localhost').searchParams.get('starting_after'), '4')
  })

  test('resumes at most maxRetries times, then IncompleteStreamError with everything received', async (t) => {
    const server = await backgroundServer(t, { dropAfter: 4, duplicates: 1, dropResumes: true })
    const stream = clientFor(server, { maxRetries: 2 }).responses(BACKGROUND_BODY)
    const deltas = []
    const error = await (async () => {
      try {
        for await (const d of stream) deltas.push(d)
      } catch (e) {
        return e
      }
      assert.fail('the stream should have failed')
    })()
    assert.ok(error instanceof IncompleteStreamError, `${error?.name}: ${error?.message}`)
    assert.equal(error.code, 'ERR_INCOMPLETE')
    assert.equal(texts(plain(deltas)), 'Hello wor')
    assert.equal(error.partial.output_text, 'Hello wor')
    const gets = server.requests
      .filter((r) => r.method === 'GET')
      .map((r) => new URL(r.url, 'http://localhost').searchParams.get('starting_after'))
    assert.deepEqual(gets, ['4', '5'])
  })

  test('without background: true the same drop is an IncompleteStreamError with partial, and no resume', async (t) => {
    for (const body of [RESPONSES_BODY, { ...RESPONSES_BODY, background: false }]) {
      const server = await backgroundServer(t, { dropAfter: 5 })
      const result = await consume(() => clientFor(server, { maxRetries: 2 }).responses(body))
      for (const error of [result.error, result.finalError, result.textError]) {
        assert.equal(error?.code, 'ERR_INCOMPLETE', `${error?.name}: ${error?.message}`)
        assert.equal(error.name, 'IncompleteStreamError')
      }
      assert.deepEqual(result.deltas, [
        { type: 'text', choice: 0, text: 'Hel' },
        { type: 'text', choice: 0, text: 'lo' },
      ])
      assert.equal(result.text, 'Hello')
      assert.equal(result.error.partial.object, 'response')
      assert.equal(result.error.partial.id, RESP_ID)
      assert.equal(result.error.partial.output_text, 'Hello')
      assert.deepEqual(
        server.requests.map((r) => r.method),
        ['POST', 'POST'],
        'one POST per consumed stream, no GET',
      )
    }
  })

  test('client.resumeResponse(id, { startingAfter: 3 }) makes the GET and yields the events after 3', async (t) => {
    const events = helloEvents()
    const server = await backgroundServer(t, { events, duplicates: 0 })
    const client = clientFor(server)
    const stream = client.resumeResponse(RESP_ID, { startingAfter: 3 })
    assert.ok(stream instanceof ResponseStream)
    const deltas = plain(await collect(stream))
    assert.deepEqual(deltas, HELLO_DELTAS)
    assert.deepEqual(await stream.final(), { ...completedOf(events), output_text: HELLO })

    assert.equal(server.requests.length, 1)
    const request = server.requests[0]
    assert.equal(request.method, 'GET')
    const url = new URL(request.url, 'http://localhost')
    assert.equal(url.pathname, `/v1/responses/${RESP_ID}`)
    assert.deepEqual(Object.fromEntries(url.searchParams), { stream: 'true', starting_after: '3' })
    assert.equal(request.body, '')

    const chunks = await collect(client.resumeResponse(RESP_ID, { startingAfter: 3 }).chunks())
    assert.deepEqual(
      nonTerminal(chunks).map((c) => c.sequence_number),
      nonTerminal(events.filter((e) => e.sequence_number > 3)).map((e) => e.sequence_number),
    )
  })

  test('resumeResponse adds the per-request query beside stream and starting_after', async (t) => {
    const server = await backgroundServer(t, { duplicates: 0 })
    const stream = clientFor(server).resumeResponse(RESP_ID, { startingAfter: 5 }, { query: { include: 'usage' } })
    assert.deepEqual(plain(await collect(stream)), [
      { type: 'text', choice: 0, text: ' wor' },
      { type: 'text', choice: 0, text: 'ld' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: USAGE },
    ])
    const url = new URL(server.requests[0].url, 'http://localhost')
    assert.deepEqual(Object.fromEntries(url.searchParams), { include: 'usage', stream: 'true', starting_after: '5' })
  })

  test('resumeResponse validates its arguments synchronously', () => {
    const client = new Client({ baseURL: 'http://127.0.0.1:9/v1', apiKey: API_KEY })
    assert.throws(() => client.resumeResponse(''), TypeError)
    assert.throws(() => client.resumeResponse('a/b'), TypeError)
    assert.throws(() => client.resumeResponse(RESP_ID, { startingAfter: -1 }), TypeError)
    assert.throws(() => client.resumeResponse(RESP_ID, { startingAfter: 1.5 }), TypeError)
  })
})

// ---- Azure -------------------------------------------------------------------------------

const AZURE = { apiVersion: '2024-10-21', deployment: 'dep' }

function azureClient(server, options = {}) {
  return new Client({
    baseURL: server.url.replace(/\/v1$/, ''),
    apiKey: API_KEY,
    maxRetries: 0,
    azure: AZURE,
    ...options,
  })
}

function assertAzureAuth(request) {
  assert.equal(request.headers['api-key'], API_KEY)
  assert.equal(request.headers.authorization, undefined, 'no Authorization header on Azure')
}

/** Answers chat, completions and responses on any path with a small valid stream. */
function anyEndpoint(req, res) {
  if (req.url.includes('/chat/completions')) return writeChatStream(res, ['Hi', ' there'])
  if (req.url.includes('/completions'))
    return writeWhole(res, sseData([completionChunk(0, 'Hi'), completionChunk(0, ' there', 'stop')]))
  return writeWhole(res, sseEvents(helloEvents()))
}

describe('Azure OpenAI on the wire', { timeout: 60_000 }, () => {
  test('chat goes to /openai/deployments/{deployment}/chat/completions?api-version= with api-key', async (t) => {
    const server = await serve(t, anyEndpoint)
    const stream = azureClient(server).chat(CHAT_BODY)
    assert.ok(stream instanceof ChatStream)
    assert.equal(await stream.finalText(), 'Hi there')
    const [request] = server.requests
    assert.equal(request.method, 'POST')
    assert.equal(request.url, '/openai/deployments/dep/chat/completions?api-version=2024-10-21')
    assertAzureAuth(request)
    assert.equal(JSON.parse(request.body).stream, true)
  })

  test("without a deployment the body's model is the deployment", async (t) => {
    const server = await serve(t, anyEndpoint)
    const client = azureClient(server, { azure: { apiVersion: '2024-10-21' } })
    assert.equal(await client.chat({ ...CHAT_BODY, model: 'gpt-4o-mini' }).finalText(), 'Hi there')
    assert.equal(await client.completions({ ...COMPLETIONS_BODY, model: 'instruct-dep' }).finalText(), 'Hi there')
    assert.equal(server.requests[0].url, '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21')
    assert.equal(server.requests[1].url, '/openai/deployments/instruct-dep/completions?api-version=2024-10-21')
    for (const request of server.requests) assertAzureAuth(request)
  })

  test('with a deployment, the body may omit model', async (t) => {
    const server = await serve(t, anyEndpoint)
    const { model, ...noModel } = CHAT_BODY
    assert.equal(await azureClient(server).chat(noModel).finalText(), 'Hi there')
    assert.equal(server.requests[0].url, '/openai/deployments/dep/chat/completions?api-version=2024-10-21')
    assert.equal(JSON.parse(server.requests[0].body).model, undefined)
  })

  test('completions go to /openai/deployments/{deployment}/completions?api-version=', async (t) => {
    const server = await serve(t, anyEndpoint)
    const stream = azureClient(server).completions(COMPLETIONS_BODY)
    assert.ok(stream instanceof CompletionStream)
    assert.equal(await stream.finalText(), 'Hi there')
    const [request] = server.requests
    assert.equal(request.url, '/openai/deployments/dep/completions?api-version=2024-10-21')
    assertAzureAuth(request)
  })

  test('responses go to /openai/responses?api-version= (no deployment in the path)', async (t) => {
    const server = await serve(t, anyEndpoint)
    const stream = azureClient(server).responses(RESPONSES_BODY)
    assert.equal(await stream.finalText(), HELLO)
    const [request] = server.requests
    assert.equal(request.method, 'POST')
    assert.equal(request.url, '/openai/responses?api-version=2024-10-21')
    assertAzureAuth(request)
    assert.equal(JSON.parse(request.body).model, RESPONSES_BODY.model)
  })

  test('resumeResponse goes to /openai/responses/{id}?api-version=&stream=true&starting_after=', async (t) => {
    const server = await serve(t, (req, res) =>
      writeWhole(res, sseEvents(helloEvents().filter((e) => e.sequence_number > 3))),
    )
    const deltas = plain(await collect(azureClient(server).resumeResponse(RESP_ID, { startingAfter: 3 })))
    assert.deepEqual(deltas, HELLO_DELTAS)
    const url = new URL(server.requests[0].url, 'http://localhost')
    assert.equal(server.requests[0].method, 'GET')
    assert.equal(url.pathname, `/openai/responses/${RESP_ID}`)
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      'api-version': '2024-10-21',
      stream: 'true',
      starting_after: '3',
    })
    assertAzureAuth(server.requests[0])
  })

  test('client query params and per-request query params are added beside api-version', async (t) => {
    const server = await serve(t, anyEndpoint)
    const client = azureClient(server, { query: { 'x-trace': 'on', region: 'eu' } })
    await client.chat(CHAT_BODY).final()
    await client.responses(RESPONSES_BODY, { query: { region: 'us', extra: '1' } }).final()
    await client.completions(COMPLETIONS_BODY).final()
    const [chat, responses, completions] = server.requests.map((r) => new URL(r.url, 'http://localhost'))
    assert.equal(chat.pathname, '/openai/deployments/dep/chat/completions')
    assert.deepEqual(Object.fromEntries(chat.searchParams), {
      'api-version': '2024-10-21',
      'x-trace': 'on',
      region: 'eu',
    })
    assert.equal(responses.pathname, '/openai/responses')
    assert.deepEqual(Object.fromEntries(responses.searchParams), {
      'api-version': '2024-10-21',
      'x-trace': 'on',
      region: 'us',
      extra: '1',
    })
    assert.equal(completions.pathname, '/openai/deployments/dep/completions')
    assert.deepEqual(Object.fromEntries(completions.searchParams), {
      'api-version': '2024-10-21',
      'x-trace': 'on',
      region: 'eu',
    })
    for (const request of server.requests) assertAzureAuth(request)
  })

  test('a background Azure response resumes at /openai/responses/{id}', async (t) => {
    const events = helloEvents()
    const server = await serve(t, async (req, res) => {
      const url = new URL(req.url, 'http://localhost')
      if (req.method === 'POST') return writeThenDrop(res, sseEvents(events.filter((e) => e.sequence_number <= 5)))
      const after = Number(url.searchParams.get('starting_after'))
      return writeWhole(res, sseEvents(events.filter((e) => e.sequence_number > after - 1)))
    })
    const stream = azureClient(server, { maxRetries: 2 }).responses(BACKGROUND_BODY)
    assert.equal((await collect(stream.text())).join(''), HELLO)
    const get = server.requests.find((r) => r.method === 'GET')
    assert.ok(get, 'a GET was made')
    const url = new URL(get.url, 'http://localhost')
    assert.equal(url.pathname, `/openai/responses/${RESP_ID}`)
    assert.equal(url.searchParams.get('api-version'), '2024-10-21')
    assert.equal(url.searchParams.get('starting_after'), '5')
    assertAzureAuth(get)
  })

  test('Azure content-filter chunks parse cleanly and a content_filter finish is reported', async (t) => {
    const filters = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } }
    const lines = [
      // Prompt filter results: empty id/model/object, no choices.
      {
        choices: [],
        created: 0,
        id: '',
        model: '',
        object: '',
        prompt_filter_results: [
          { prompt_index: 0, content_filter_results: { ...filters, jailbreak: { filtered: false, detected: false } } },
        ],
      },
      {
        choices: [
          {
            content_filter_results: {},
            delta: { content: '', role: 'assistant', refusal: null },
            finish_reason: null,
            index: 0,
            logprobs: null,
          },
        ],
        created: 1762317021,
        id: 'chatcmpl-az1',
        model: 'gpt-4o-2024-11-20',
        object: 'chat.completion.chunk',
        system_fingerprint: 'fp_az',
        usage: null,
      },
      {
        choices: [
          {
            content_filter_results: filters,
            delta: { content: 'Once upon' },
            finish_reason: null,
            index: 0,
            logprobs: null,
          },
        ],
        created: 1762317021,
        id: 'chatcmpl-az1',
        model: 'gpt-4o-2024-11-20',
        object: 'chat.completion.chunk',
      },
      // A choice without `delta` (filter annotations only), from Azure's asynchronous filter.
      {
        choices: [
          {
            content_filter_results: filters,
            content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 9 },
            finish_reason: null,
            index: 0,
          },
        ],
        created: 0,
        id: '',
        model: '',
        object: '',
      },
      {
        choices: [
          {
            content_filter_results: filters,
            delta: { content: ' a time' },
            finish_reason: null,
            index: 0,
            logprobs: null,
          },
        ],
        created: 1762317021,
        id: 'chatcmpl-az1',
        model: 'gpt-4o-2024-11-20',
        object: 'chat.completion.chunk',
      },
      // The filter stops the answer: finish_reason content_filter, no delta.
      {
        choices: [
          {
            content_filter_results: { ...filters, violence: { filtered: true, severity: 'medium' } },
            finish_reason: 'content_filter',
            index: 0,
          },
        ],
        created: 1762317021,
        id: 'chatcmpl-az1',
        model: 'gpt-4o-2024-11-20',
        object: 'chat.completion.chunk',
      },
    ]
    const body = Buffer.from(sseData(lines))
    const server = await serve(t, (req, res) => writePieces(res, randomPieces(body, 5, 40)))
    const client = azureClient(server)
    const result = await consume(() => client.chat(CHAT_BODY))
    assert.equal(result.error, null, result.error?.message)
    assert.deepEqual(result.deltas, [
      { type: 'text', choice: 0, text: 'Once upon' },
      { type: 'text', choice: 0, text: ' a time' },
      { type: 'finish', choice: 0, reason: 'content_filter' },
    ])
    assert.equal(result.text, 'Once upon a time')
    assert.equal(result.final.id, 'chatcmpl-az1')
    assert.equal(result.final.model, 'gpt-4o-2024-11-20')
    assert.equal(result.final.choices.length, 1)
    assert.equal(result.final.choices[0].message.content, 'Once upon a time')
    assert.equal(result.final.choices[0].finish_reason, 'content_filter')

    const stream = client.chat(CHAT_BODY)
    const finishes = []
    stream.on('finish', (reason, choice) => finishes.push([reason, choice]))
    const chunks = []
    stream.on('chunk', (chunk) => chunks.push(chunk))
    await stream.final()
    assert.deepEqual(finishes, [['content_filter', 0]])
    assert.ok(
      chunks.some((c) => Array.isArray(c.prompt_filter_results)),
      'the prompt filter chunk reaches chunk listeners',
    )
    for (const request of server.requests) {
      assert.equal(request.url, '/openai/deployments/dep/chat/completions?api-version=2024-10-21')
      assertAzureAuth(request)
    }
  })

  describe('Azure chat fixtures through an Azure client', () => {
    const names = fs
      .readdirSync(FIXTURE_DIR)
      .filter((name) => /azure/.test(name))
      .filter((name) => fs.readFileSync(path.join(FIXTURE_DIR, name), 'utf8').includes('"chat.completion.chunk"'))
      .sort()

    test('the Azure chat fixtures were found', () => {
      assert.ok(names.includes('openai--chat--azure-model-router.1.chunks.txt'), names.join(', '))
    })

    for (const [i, name] of names.entries()) {
      test(name, async (t) => {
        const lines = fs
          .readFileSync(path.join(FIXTURE_DIR, name), 'utf8')
          .split(/\r?\n/)
          .filter((l) => l.trim() !== '')
        const chunks = lines.map((l) => JSON.parse(l))
        const body = Buffer.from(lines.map((l) => `data: ${l}\n\n`).join('') + 'data: [DONE]\n\n')
        const server = await serve(t, (req, res) =>
          req.headers['x-variant'] === 'whole'
            ? writeWhole(res, body)
            : writePieces(res, randomPieces(body, 600 + i, 120)),
        )
        const client = azureClient(server, { azure: { apiVersion: '2024-10-21' } })
        const whole = await consume(() =>
          client.chat({ ...CHAT_BODY, model: 'router' }, { headers: { 'x-variant': 'whole' } }),
        )
        const split = await consume(() => client.chat({ ...CHAT_BODY, model: 'router' }))
        assert.deepEqual(split, whole)

        const text = chunks
          .flatMap((c) => c.choices ?? [])
          .map((c) => c.delta?.content)
          .filter((x) => typeof x === 'string')
          .join('')
        const finish = chunks.flatMap((c) => c.choices ?? []).find((c) => c.finish_reason)?.finish_reason
        const usage = chunks.findLast((c) => c.usage)?.usage
        const firstId = chunks.map((c) => c.id).find((id) => typeof id === 'string' && id !== '')
        const firstModel = chunks.map((c) => c.model).find((m) => typeof m === 'string' && m !== '')
        assert.equal(whole.error, null, whole.error?.message)
        assert.equal(whole.text, text)
        assert.deepEqual(
          whole.deltas.filter((d) => d.type === 'finish'),
          [{ type: 'finish', choice: 0, reason: finish }],
        )
        if (usage) assert.deepEqual(whole.deltas.at(-1), { type: 'usage', usage })
        assert.equal(whole.final.id, firstId)
        assert.equal(whole.final.model, firstModel)
        assert.equal(whole.final.choices[0].message.content, text)
        assert.equal(whole.final.choices[0].finish_reason, finish)
        for (const request of server.requests) {
          assert.equal(request.url, '/openai/deployments/router/chat/completions?api-version=2024-10-21')
          assertAzureAuth(request)
        }
      })
    }
  })

  test('no request carries the key anywhere but the api-key header', async (t) => {
    const server = await serve(t, anyEndpoint)
    const client = azureClient(server)
    await client.chat(CHAT_BODY).final()
    await client.responses(RESPONSES_BODY).final()
    for (const request of server.requests) {
      assert.ok(!request.url.includes(API_KEY))
      assert.ok(!request.body.includes(API_KEY))
      const others = Object.entries(request.headers).filter(([name]) => name !== 'api-key')
      assert.ok(!others.some(([, value]) => String(value).includes(API_KEY)))
    }
  })
})

test('ParseError and IncompleteStreamError are the exported classes', async (t) => {
  const server = await serve(t, (req, res) => writeWhole(res, sseEvents(helloEvents().slice(0, 5)) + 'data: {oops\n\n'))
  const error = await clientFor(server)
    .responses(RESPONSES_BODY)
    .final()
    .catch((e) => e)
  assert.ok(error instanceof ParseError)
  const cut = await serve(t, (req, res) => writeWhole(res, sseEvents(helloEvents().slice(0, 5))))
  const incomplete = await clientFor(cut)
    .responses(RESPONSES_BODY)
    .final()
    .catch((e) => e)
  assert.ok(incomplete instanceof IncompleteStreamError)
})
