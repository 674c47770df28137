// Credentials never leave the engine: the client's key, a request's `apiKey`, and keys passed
// by hand in `authorization` / `api-key` headers are scrubbed from error messages, error
// fields, `headers` objects and debug lines, whatever a server echoes back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Client, AuthenticationError } from '../index.mjs'
import { startServer } from './helpers/server.mjs'

/** Answers 401 quoting back whatever credential came in, as OpenAI's "Incorrect API key provided: ..." does. */
async function echoingServer(status = 401) {
  return startServer((req, res) => {
    const credential = req.headers.authorization ?? req.headers['api-key'] ?? ''
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-echo': credential,
    })
    res.end(
      JSON.stringify({
        error: {
          message: `Incorrect API key provided: ${credential}`,
          type: 'invalid_request_error',
          param: credential,
          code: 'invalid_api_key',
        },
      }),
    )
  })
}

/** Every text an error carries, to search for a leaked key. */
function textsOf(error) {
  return JSON.stringify({ message: error.message, fields: { ...error }, headers: error.headers, stack: error.stack })
}

const BODY = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }

test('a key passed per request in headers.authorization is scrubbed from the error', async () => {
  const server = await echoingServer()
  try {
    const client = new Client({ baseURL: server.url, apiKey: 'sk-client-key-0001', maxRetries: 0 })
    const secret = 'sk-proj-per-request-header-key'
    const error = await client
      .chat(BODY, { headers: { authorization: `Bearer ${secret}` } })
      .final()
      .catch((e) => e)
    assert.ok(error instanceof AuthenticationError)
    assert.equal(server.requests[0].headers.authorization, `Bearer ${secret}`, 'the header reached the server')
    assert.ok(!textsOf(error).includes(secret), textsOf(error))
    assert.match(error.message, /\[redacted\]/)
    assert.equal(error.headers['x-echo'], '[redacted]')
  } finally {
    await server.close()
  }
})

test('an api-key header (Azure style) is scrubbed the same way', async () => {
  const server = await echoingServer()
  try {
    const client = new Client({ baseURL: server.url, maxRetries: 0, apiKey: 'unused-client-key' })
    const secret = 'azure-per-request-key-9876'
    const error = await client
      .chat(BODY, { headers: { 'api-key': secret } })
      .final()
      .catch((e) => e)
    assert.equal(server.requests[0].headers['api-key'], secret)
    assert.ok(!textsOf(error).includes(secret), textsOf(error))
  } finally {
    await server.close()
  }
})

test('a client header carrying a credential is scrubbed too', async () => {
  const server = await echoingServer()
  try {
    const secret = 'sk-client-header-key-5555'
    const client = new Client({ baseURL: server.url, maxRetries: 0, headers: { Authorization: `Bearer ${secret}` } })
    const error = await client
      .chat(BODY)
      .final()
      .catch((e) => e)
    assert.equal(server.requests[0].headers.authorization, `Bearer ${secret}`)
    assert.ok(!textsOf(error).includes(secret), textsOf(error))
  } finally {
    await server.close()
  }
})

test('the per-request apiKey option replaces the client key and is scrubbed', async () => {
  const server = await echoingServer()
  try {
    const client = new Client({ baseURL: server.url, apiKey: 'sk-client-key-0002', maxRetries: 0 })
    const secret = 'sk-per-request-option-key-42'
    const error = await client
      .chat(BODY, { apiKey: secret })
      .final()
      .catch((e) => e)
    assert.equal(server.requests[0].headers.authorization, `Bearer ${secret}`, 'the request key is the one sent')
    assert.ok(!textsOf(error).includes(secret), textsOf(error))
    assert.ok(!textsOf(error).includes('sk-client-key-0002'))
  } finally {
    await server.close()
  }
})

test('the success path: response headers echoing a key are scrubbed in stream.response', async () => {
  const secret = 'sk-echoed-on-success-777'
  const server = await startServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-echo': req.headers.authorization })
    res.end(
      'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
    )
  })
  try {
    const client = new Client({ baseURL: server.url, apiKey: secret, maxRetries: 0 })
    const stream = client.chat(BODY)
    const response = await stream.response
    assert.equal(response.headers['x-echo'], 'Bearer [redacted]')
    assert.equal(await stream.finalText(), 'ok')
  } finally {
    await server.close()
  }
})

test('debug log lines never show a per-request key', async () => {
  // A 429 is retried, and the retry line quotes the failure the server echoed the key into.
  const server = await echoingServer(429)
  try {
    const secret = 'sk-debug-line-request-key-31'
    const script = `
      const { Client } = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))})
      const client = new Client({ baseURL: ${JSON.stringify(server.url)}, apiKey: 'sk-client-0003', maxRetries: 1, log: 'debug' })
      client.chat(${JSON.stringify(BODY)}, { headers: { authorization: 'Bearer ${secret}' } }).final().catch(() => {})
    `
    const child = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 })
    assert.match(child.stderr, /retrying in \d+ ms: .*\[redacted\]/, 'the retry line quotes the scrubbed failure')
    assert.ok(!child.stderr.includes(secret), child.stderr)
  } finally {
    await server.close()
  }
})
