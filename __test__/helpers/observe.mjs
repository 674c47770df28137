// Helpers for error tests: get a stream's error through each consumption path (iterator,
// final(), the 'error' event), and common assertions on errors and their `partial`.
import assert from 'node:assert/strict'
import { setImmediate as turn } from 'node:timers/promises'
import { startServer, sseChunk, chatChunk, startSse } from './server.mjs'

/** Starts a test server closed by the test's after hook. */
export async function serve(t, handler) {
  const server = await startServer(handler)
  t.after(() => server.close())
  return server
}

/** A few event-loop turns: enough for unhandled rejections and stray emits to surface. */
export async function settle() {
  for (let i = 0; i < 5; i++) await turn()
  await new Promise((resolve) => setTimeout(resolve, 10))
}

/** `for await` must throw; returns what it threw. */
export async function errorViaIterator(stream) {
  let threw = false
  let error
  try {
    for await (const _ of stream) {
      // drain
    }
  } catch (e) {
    threw = true
    error = e
  }
  assert.ok(threw, 'for await over the stream should have thrown')
  return error
}

/** `final()` must reject; returns the reason. */
export async function errorViaFinal(stream) {
  let rejected = false
  let error
  try {
    await stream.final()
  } catch (e) {
    rejected = true
    error = e
  }
  assert.ok(rejected, 'final() should have rejected')
  return error
}

/** The 'error' event must fire exactly once (and 'end' never); returns its argument. */
export async function errorViaEvent(stream) {
  const seen = []
  let ended = false
  const first = new Promise((resolve) => {
    stream.on('error', (err) => {
      seen.push(err)
      resolve(err)
    })
  })
  stream.on('end', () => {
    ended = true
  })
  const error = await first
  await settle()
  assert.equal(seen.length, 1, `'error' should fire once, fired ${seen.length} times`)
  assert.equal(ended, false, `'end' must not fire after 'error'`)
  return error
}

export const paths = { iterator: errorViaIterator, final: errorViaFinal, event: errorViaEvent }

/**
 * Opens a fresh stream per consumption path with `open()` and runs `check(err, path)` on the
 * error each path observes.
 */
export async function checkAllPaths(open, check) {
  const errors = {}
  for (const [name, observe] of Object.entries(paths)) {
    const err = await observe(open())
    await check(err, name)
    errors[name] = err
  }
  return errors
}

/** `err.partial` is shaped like final() and choice 0's content is `text`. */
export function assertPartialText(err, text) {
  assert.ok(err.partial, `${err.name} should carry partial (data had arrived)`)
  assert.equal(err.partial.object, 'chat.completion')
  assert.ok(Array.isArray(err.partial.choices))
  assert.equal(err.partial.choices[0]?.message?.content, text)
}

/** No partial before the first body byte. */
export function assertNoPartial(err) {
  assert.equal(err.partial, undefined, `${err.name} raised before any body byte must not carry partial`)
}

/** Writes SSE headers and one content chunk per string (the first with the role). */
export function writeTextChunks(res, texts, { requestId } = {}) {
  if (requestId) res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': requestId })
  else startSse(res)
  texts.forEach((text, i) => {
    sseChunk(res, chatChunk(i === 0 ? { role: 'assistant', content: text } : { content: text }))
  })
}

/** An HTTP error answer with a JSON body. */
export function jsonError(res, status, error, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify({ error }))
}
