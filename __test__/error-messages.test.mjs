// Errors a person can act on. Connection failures say what happened in our words, and keep the transport's own texts as
// the `cause` chain (Error -> Error -> ...), never in the message.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { Client, ConnectionError, IncompleteStreamError } from '../index.mjs'
import { freePort } from './helpers/server.mjs'

const BODY = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }

/** Every message down the cause chain. */
function causes(error) {
  const out = []
  for (let at = error.cause; at; at = at.cause) {
    assert.ok(at instanceof Error, 'each cause is an Error')
    out.push(at.message)
  }
  return out
}

test('a refused connection names the address, with the transport error as its cause chain', async () => {
  const port = await freePort()
  const client = new Client({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test', maxRetries: 0 })
  const error = await client
    .chat(BODY)
    .final()
    .catch((e) => e)
  assert.ok(error instanceof ConnectionError)
  assert.equal(error.message, `Connection error: could not connect to 127.0.0.1:${port}: connection refused`)
  const chain = causes(error)
  assert.ok(chain.length >= 2, `a chain of causes: ${JSON.stringify(chain)}`)
  assert.match(chain.join(' | '), /error sending request/, 'the transport text stays in the causes')
  assert.doesNotMatch(error.message, /error sending request|tcp connect|os error/)
})

test('a connection lost mid-stream says how far it got, keeps the partial result, and its causes', async () => {
  // A raw server: a chunked event stream with one event, then the socket is destroyed in the
  // middle of the chunked framing (what a crashing proxy does).
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n')
      const event = 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
      socket.write(`${event.length.toString(16)}\r\n${event}\r\n`)
      setTimeout(() => socket.destroy(), 30)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const client = new Client({ baseURL: `http://127.0.0.1:${server.address().port}/v1`, apiKey: 'sk-test' })
    const error = await client
      .chat(BODY)
      .final()
      .catch((e) => e)
    assert.ok(error instanceof IncompleteStreamError, `${error?.name}: ${error?.message}`)
    assert.equal(error.message, 'the connection was lost mid-stream after 1 event')
    assert.equal(error.partial.choices[0].message.content, 'Hel')
    assert.ok(causes(error).length >= 1, 'the transport error is the cause')
  } finally {
    server.close()
  }
})

test('a server whose message already starts with the status does not get it twice', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      const body = '429 Too Many Requests: slow down'
      socket.end(
        `HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      )
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const client = new Client({ baseURL: `http://127.0.0.1:${server.address().port}/v1`, maxRetries: 0 })
    const error = await client
      .chat(BODY)
      .final()
      .catch((e) => e)
    assert.equal(error.status, 429)
    assert.equal(error.message, '429 Too Many Requests: slow down')
  } finally {
    server.close()
  }
})
