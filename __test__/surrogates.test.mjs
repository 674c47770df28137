// Issue 13: a JS proxy that slices UTF-16 strings may split a character between two chunks, so
// one chunk's value ends with a lone high surrogate (`"\ud83d"` once JSON.stringify wrote it)
// and the same field's next value starts with the low one. Over a real local server, the deltas
// and final() must hold what JS string concatenation gives: the whole character.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { collect } from './helpers/sse.mjs'
import { Client, parseResponseStream } from '../index.mjs'

const API_KEY = 'sk-test-surrogates-0123456789'
const BODY = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }

const ROCKET = '🚀'
const HIGH = ROCKET.slice(0, 1)
const LOW = ROCKET.slice(1)

/** `text` cut in two inside the UTF-16 pair of its first rocket, as a slicing proxy would. */
function splitInsidePair(text) {
  const at = text.indexOf(ROCKET) + 1
  return [text.slice(0, at), text.slice(at)]
}

async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

const joinedText = (deltas, type) =>
  deltas
    .filter((d) => d.type === type)
    .map((d) => d.text)
    .join('')

describe('a surrogate pair split across chunks', { timeout: 60_000 }, () => {
  test('client.chat: content and tool arguments hold the whole character', async (t) => {
    const content = ['go ' + HIGH, LOW + '!']
    const args = splitInsidePair(JSON.stringify({ text: `to the moon ${ROCKET}` }))
    const server = await serve(t, (req, res) => {
      startSse(res)
      sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
      for (const piece of content) sseChunk(res, chatChunk({ content: piece }))
      const call = { index: 0, id: 'call_1', type: 'function', function: { name: 'say', arguments: args[0] } }
      sseChunk(res, chatChunk({ tool_calls: [call] }))
      sseChunk(res, chatChunk({ tool_calls: [{ index: 0, function: { arguments: args[1] } }] }))
      sseChunk(res, chatChunk({}, { finish: 'tool_calls' }))
      res.end('data: [DONE]\n\n')
    })
    // What the server wrote really is lone surrogate escapes.
    assert.match(JSON.stringify(content[0]), /\\ud83d"$/)

    const client = new Client({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 })
    const stream = client.chat(BODY)
    const deltas = await collect(stream)
    const texts = deltas.filter((d) => d.type === 'text').map((d) => d.text)
    // Nothing for the lone high half; the whole character in the delta that completes it.
    assert.deepEqual(texts, ['go ', `${ROCKET}!`])
    assert.equal(texts.join(''), content[0] + content[1])
    const argDeltas = deltas.filter((d) => d.type === 'toolCall').map((d) => d.arguments)
    assert.equal(argDeltas.join(''), args[0] + args[1])
    assert.deepEqual(JSON.parse(argDeltas.join('')), { text: `to the moon ${ROCKET}` })

    const final = await stream.final()
    const message = final.choices[0].message
    assert.equal(message.content, content[0] + content[1])
    assert.equal(message.tool_calls[0].function.arguments, args[0] + args[1])
    assert.deepEqual(JSON.parse(message.tool_calls[0].function.arguments), { text: `to the moon ${ROCKET}` })

    // text() joins to the same text.
    const again = client.chat(BODY)
    assert.equal((await collect(again.text())).join(''), 'go 🚀!')
  })

  test('parseResponseStream over a response from a local server', async (t) => {
    const text = ['go ' + HIGH, LOW + '!', ' and ' + HIGH]
    const args = splitInsidePair(JSON.stringify({ text: ROCKET }))
    const response = (status) => ({
      id: 'resp_1',
      object: 'response',
      created_at: 1700000000,
      status,
      model: 'gpt-test',
      output: [],
      usage: null,
    })
    const events = [
      { type: 'response.created', response: response('in_progress') },
      ...text.map((delta) => ({
        type: 'response.output_text.delta',
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        delta,
      })),
      {
        type: 'response.output_item.added',
        output_index: 1,
        item: { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'say', arguments: '' },
      },
      ...args.map((delta) => ({
        type: 'response.function_call_arguments.delta',
        item_id: 'fc_1',
        output_index: 1,
        delta,
      })),
      // A server that sends `output: []` here gets the streamed text as `output_text`.
      { type: 'response.completed', response: response('completed') },
    ]
    const server = await serve(t, (req, res) => {
      startSse(res)
      for (const event of events) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
      res.end()
    })
    const reply = http.get(`${server.url}/responses`)
    const [body] = await once(reply, 'response')
    const stream = parseResponseStream(body)
    const deltas = await collect(stream)

    // The high half that is never completed (the stream ended) is U+FFFD, as in a JS string
    // turned into UTF-8.
    const expected = 'go 🚀! and \uFFFD'
    assert.deepEqual(
      deltas.filter((d) => d.type === 'text').map((d) => d.text),
      ['go ', `${ROCKET}!`, ' and ', '\uFFFD'],
    )
    assert.equal(joinedText(deltas, 'text'), expected)
    const argDeltas = deltas.filter((d) => d.type === 'toolCall').map((d) => d.arguments)
    assert.deepEqual(JSON.parse(argDeltas.join('')), { text: ROCKET })

    const final = await stream.final()
    assert.equal(final.status, 'completed')
    assert.equal(final.output_text, expected)
  })
})
