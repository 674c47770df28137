// Byte-level helpers for consume/lifecycle tests: SSE bodies, seeded random splits, the
// ai-sdk chat fixtures, and small async utilities. Additive to server.mjs.
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

// Recorded provider streams, kept inside the repository (tests/fixtures/README.md says where from).
export const FIXTURE_DIR = fileURLToPath(new URL('../../tests/fixtures/ai-sdk', import.meta.url))

/** A small seeded PRNG (mulberry32) so a failing random split can be reproduced from its seed. */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Splits `buf` into pieces of random length 1..max (seeded). */
export function randomPieces(buf, seed, max = 64) {
  const rand = prng(seed)
  const pieces = []
  let at = 0
  while (at < buf.length) {
    const len = 1 + Math.floor(rand() * max)
    pieces.push(buf.subarray(at, at + len))
    at += len
  }
  return pieces
}

/** Splits `buf` into one-byte pieces. */
export function bytePieces(buf) {
  const pieces = []
  for (let i = 0; i < buf.length; i++) pieces.push(buf.subarray(i, i + 1))
  return pieces
}

/** The SSE bytes for a list of chunk objects, ending with `data: [DONE]`. */
export function sseBody(chunks, { done = true } = {}) {
  let text = ''
  for (const chunk of chunks) text += `data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`
  if (done) text += 'data: [DONE]\n\n'
  return Buffer.from(text, 'utf8')
}

/** Writes `pieces` one `res.write()` at a time (awaiting 'drain' when asked), then ends. */
export async function writePieces(res, pieces, { headers = {} } = {}) {
  if (!res.headersSent)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_pieces', ...headers })
  for (const piece of pieces) {
    if (res.destroyed) return
    if (!res.write(piece)) await Promise.race([once(res, 'drain'), once(res, 'close')])
    // Yield to the event loop so pieces go out as separate TCP writes more often than not.
    await new Promise((r) => setImmediate(r))
  }
  res.end()
}

/**
 * The chat fixtures of the ai-sdk set: `{ name, chunks, body }` where `chunks` are the parsed
 * payloads and `body` the SSE bytes to serve (`data: <line>\n\n` per line plus `[DONE]`;
 * `.sse` files are served as they are).
 */
export function chatFixtures() {
  const out = []
  for (const name of fs.readdirSync(FIXTURE_DIR).sort()) {
    const file = path.join(FIXTURE_DIR, name)
    const text = fs.readFileSync(file, 'utf8')
    if (!text.includes('"chat.completion.chunk"')) continue
    if (name.endsWith('.sse')) {
      const payloads = text
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter((d) => d !== '[DONE]')
      out.push({ name, chunks: payloads.map((p) => JSON.parse(p)), body: Buffer.from(text, 'utf8') })
    } else {
      const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
      out.push({ name, chunks: lines.map((l) => JSON.parse(l)), body: sseBody(lines) })
    }
  }
  return out
}

/**
 * Choice `choice`'s content: string `delta.content` values, plus the `{ type: 'text' }` parts
 * when a provider (Mistral) sends content as an array of parts (its `thinking` parts are
 * reasoning, not content).
 */
export function expectedText(chunks, choice = 0) {
  let text = ''
  for (const chunk of chunks) {
    for (const c of chunk.choices ?? []) {
      if ((c.index ?? 0) !== choice) continue
      const content = c.delta?.content
      if (typeof content === 'string') text += content
      else if (Array.isArray(content))
        for (const part of content) if (part?.type === 'text' && typeof part.text === 'string') text += part.text
    }
  }
  return text
}

export async function collect(iterable) {
  const out = []
  for await (const item of iterable) out.push(item)
  return out
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Resolves true once `predicate()` holds, false after `ms`. */
export async function waitFor(predicate, ms = 2000, step = 5) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) return false
    await sleep(step)
  }
  return true
}

/** Resolves with a promise's rejection reason; rejects if it fulfils or stays pending for `ms`. */
export async function rejection(promise, ms = 5000) {
  const PENDING = Symbol('pending')
  let timer
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(PENDING), ms)
  })
  let outcome
  try {
    outcome = await Promise.race([promise, timeout])
  } catch (error) {
    return error
  } finally {
    clearTimeout(timer)
  }
  if (outcome === PENDING) throw new Error(`expected a rejection, still pending after ${ms} ms`)
  throw new Error('expected a rejection, but the promise fulfilled')
}
