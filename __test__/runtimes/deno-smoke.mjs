// Smoke test for Deno (run by .ci/run; not a node:test file, so `__test__/*.test.mjs` skips it):
//
//   deno run --allow-env --allow-read --allow-ffi --allow-net __test__/runtimes/deno-smoke.mjs
//     streams a chat from the package's own mock server through `Client`, checks the text and
//     final(), relays one stream with pipeTo to a node:http server and reads it back.
//   deno run --allow-env --allow-read --allow-net __test__/runtimes/deno-smoke.mjs --expect-no-ffi
//     checks that loading the package without --allow-ffi fails with lib/native.js's message
//     naming the missing permission (not binding.js's "npm has a bug" text).
//
// Exits 0 when every check holds, 1 otherwise. Also runs under Node (`node deno-smoke.mjs`).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const expectNoFfi = process.argv.includes('--expect-no-ffi')
const runtime = typeof globalThis.Deno === 'object' ? `Deno ${globalThis.Deno.version.deno}` : `Node ${process.version}`

const TEXT = 'Hello from the mock, streamed through the Rust engine.'
const BODY = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }

async function noFfi() {
  assert.equal(typeof globalThis.Deno, 'object', '--expect-no-ffi is a Deno check')
  const { state } = await globalThis.Deno.permissions.query({ name: 'ffi' })
  assert.notEqual(state, 'granted', 'run this mode without --allow-ffi')
  let error
  try {
    require('streamdelta')
  } catch (e) {
    error = e
  }
  assert.ok(error, 'loading streamdelta without --allow-ffi should fail')
  console.log(`the message without --allow-ffi: ${error.message}`)
  assert.match(error.message, /^streamdelta: could not load its native addon for /)
  assert.match(error.message, /Deno needs permission to load a native addon: run with --allow-ffi /)
  assert.match(error.message, /Requires ffi access to/)
  assert.doesNotMatch(error.message, /npm has a bug/)
}

async function smoke() {
  const { Client } = require('streamdelta')
  const { startMockServer } = require('streamdelta/testing')
  const mock = await startMockServer({ scripts: { default: { text: TEXT } } })
  const client = new Client({ baseURL: mock.url, apiKey: 'sk-smoke' })
  let server
  try {
    // 1. Consumption: text() then final() on the same stream.
    const stream = client.chat(BODY)
    let text = ''
    for await (const piece of stream.text()) text += piece
    assert.equal(text, TEXT)
    const final = await stream.final()
    assert.equal(final.object, 'chat.completion')
    assert.equal(final.choices[0].message.content, TEXT)
    assert.equal(final.choices[0].finish_reason, 'stop')
    assert.equal(mock.requests[0].headers.authorization, '[redacted]')
    console.log(`chat: ${JSON.stringify(text)}, finish_reason ${final.choices[0].finish_reason}`)

    // 2. Relay: pipeTo a node:http response, read it back with fetch.
    const results = []
    server = http.createServer((req, res) => {
      client
        .chat(BODY)
        .pipeTo(res, { format: 'text' })
        .then((result) => results.push(result))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const response = await fetch(`http://127.0.0.1:${server.address().port}/chat`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type'), /^text\/plain/)
    assert.equal(await response.text(), TEXT)
    for (let i = 0; i < 100 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(results.length, 1, 'pipeTo should resolve')
    assert.equal(results[0].ok, true)
    assert.equal(results[0].final.choices[0].message.content, TEXT)
    console.log('relay: pipeTo(res, { format: "text" }) delivered the same text and resolved { ok: true }')
  } finally {
    server?.closeAllConnections()
    server?.close()
    await mock.close()
  }
}

const guard = setTimeout(() => {
  console.error(`deno-smoke (${runtime}): timed out`)
  process.exit(1)
}, 30_000)
try {
  await (expectNoFfi ? noFfi() : smoke())
  console.log(`deno-smoke (${runtime}): ok`)
  clearTimeout(guard)
  process.exit(0)
} catch (error) {
  console.error(`deno-smoke (${runtime}): FAILED`)
  console.error(error)
  process.exit(1)
}
