// Side-by-side benchmark: one large JSON value (0.25, 1 and 4 MB) streamed as 8-character
// content deltas by the mock server, read as partial values by streamdelta `objects()`, by the
// official SDK (`chat.completions.stream` with a json_schema response format: its `parsed`
// on `content.delta`) and by the AI SDK (`streamText` with `Output.object`: its
// `partialOutputStream`).
//   node bench/objects.mjs        (Node >= 22; ROUNDS=3, SIZES_MB=0.25,1,4, CUTOFF_S=60)
// The server and every client run in their own process (each client a fresh one per run,
// clients interleaved per round); a client measures its own main-thread CPU
// (process.threadCpuUsage) from the request to the whole value, and checks that value against
// the document after the clock stops. A client still running after CUTOFF_S seconds stops
// itself and reports the CPU spent so far ("did not finish"); one that fails (the official
// SDK stops at 65,536 structured fragments) reports the CPU spent up to the failure. Either
// figure is a lower bound of what the whole would have cost that client, so a bar computed
// against it is still met only if ours is under the bar.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { requireNodeForPeers, runNodeSettled } from './node.mjs'
import { machineLines, median, nodeCommand, writeResults } from './report.mjs'

const SIZES = (process.env.SIZES_MB ?? '0.25,1,4').split(',').map(Number)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CUTOFF_S = Number(process.env.CUTOFF_S ?? 60)
const PIECE = 8
// The official SDK refuses a value of more than 65,536 fragments, so at 1 and 4 MB it cannot
// read 8-character deltas at all; the `-coarse` pair reads the same value in 128-character
// deltas (16x fewer), which every size fits, streamdelta against the official SDK.
const COARSE_PIECE = 128
const CLIENTS = ['streamdelta', 'openai', 'streamdelta-coarse', 'openai-coarse', 'ai-sdk']

/** A JSON value of about `bytes`: records with strings, numbers, booleans and nested arrays. */
function document(bytes) {
  const items = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const item = {
      id: i,
      name: `item ${i} lorem ipsum dolor`,
      score: i / 7,
      ok: i % 3 === 0,
      tags: ['a', 'bb', 'ccc'],
      nested: { x: [i, i + 1] },
    }
    size += JSON.stringify(item).length + 1
    items.push(item)
  }
  return JSON.stringify({ title: 'bench', items })
}

/** The mock's model name for a size and a delta size. */
const model = (mb, piece = PIECE) => `doc-${mb}-${piece}`

/** The JSON Schema of `document()`, for the response format every client sends. */
const SCHEMA = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'number' },
          name: { type: 'string' },
          score: { type: 'number' },
          ok: { type: 'boolean' },
          tags: { type: 'array', items: { type: 'string' } },
          nested: {
            type: 'object',
            properties: { x: { type: 'array', items: { type: 'number' } } },
            required: ['x'],
            additionalProperties: false,
          },
        },
        required: ['id', 'name', 'score', 'ok', 'tags', 'nested'],
        additionalProperties: false,
      },
    },
  },
  required: ['title', 'items'],
  additionalProperties: false,
}
const RESPONSE_FORMAT = { type: 'json_schema', json_schema: { name: 'doc', schema: SCHEMA, strict: true } }
const messages = [{ role: 'user', content: 'Give me the document.' }]

// Each client loads its modules and builds its client (not measured), then returns the timed
// function: it makes the request, reads every partial value, and returns the whole one.
const clients = {
  streamdelta: async (baseURL, mb, piece) => {
    const { Client } = await import('../index.mjs')
    const client = new Client({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (seen) => {
      const stream = client.chat({ model: model(mb, piece), messages, response_format: RESPONSE_FORMAT })
      for await (const value of stream.objects()) seen(value)
      const { message } = (await stream.final()).choices[0]
      seen.bytes(message.content.length)
      return message.parsed
    }
  },
  openai: async (baseURL, mb, piece) => {
    const { default: OpenAI } = await import('openai')
    const client = new OpenAI({ baseURL, apiKey: 'sk-bench', maxRetries: 0 })
    return async (seen) => {
      const stream = client.chat.completions.stream({
        model: model(mb, piece),
        messages,
        response_format: RESPONSE_FORMAT,
      })
      stream.on('content.delta', ({ delta, parsed }) => {
        seen.bytes(delta.length)
        if (parsed != null) seen(parsed)
      })
      return (await stream.finalChatCompletion()).choices[0].message.parsed
    }
  },
  'streamdelta-coarse': (baseURL, mb) => clients.streamdelta(baseURL, mb, COARSE_PIECE),
  'openai-coarse': (baseURL, mb) => clients.openai(baseURL, mb, COARSE_PIECE),
  'ai-sdk': async (baseURL, mb) => {
    const { streamText, Output, jsonSchema } = await import('ai')
    const { createOpenAI } = await import('@ai-sdk/openai')
    const openai = createOpenAI({ baseURL, apiKey: 'sk-bench' })
    return async (seen) => {
      const result = streamText({
        model: openai.chat(model(mb)),
        messages,
        output: Output.object({ schema: jsonSchema(SCHEMA) }),
        maxRetries: 0,
        onChunk: ({ chunk }) => {
          if (chunk.type === 'text-delta') seen.bytes(chunk.text.length)
        },
      })
      for await (const value of result.partialOutputStream) seen(value)
      return await result.output
    }
  },
}

async function runClient(name, origin, mb) {
  const run = await clients[name](`${origin}/v1`, mb)
  const cpu0 = process.threadCpuUsage()
  const t0 = performance.now()
  let partials = 0
  let bytesRead = 0
  const seen = () => {
    partials++
  }
  // The content characters the client read (for a client that stops early: how far it got).
  seen.bytes = (n) => {
    bytesRead += n
  }
  const figures = () => {
    const used = process.threadCpuUsage(cpu0)
    const mainCpuMs = (used.user + used.system) / 1000
    return { name, mb, mainCpuMs, wallMs: performance.now() - t0, partials, bytesRead }
  }
  // A peer can die mid-stream (the AI SDK runs out of heap re-parsing a large value): its last
  // progress line is what the parent keeps then, as its CPU until it died.
  setInterval(() => {
    console.log(JSON.stringify({ ...figures(), finished: false, why: 'crashed (out of memory)', progress: true }))
  }, 1000).unref()
  const cutoff = setTimeout(() => {
    console.log(JSON.stringify({ ...figures(), finished: false, why: `did not finish in ${CUTOFF_S} s` }))
    process.exit(0)
  }, CUTOFF_S * 1000)
  let value
  try {
    value = await run(seen)
  } catch (error) {
    const why = String(error?.message ?? error).slice(0, 160)
    console.log(JSON.stringify({ ...figures(), finished: false, why: `failed: ${why}` }))
    process.exit(0)
  }
  const measured = figures()
  clearTimeout(cutoff)
  // Checked after the clock stopped: the whole value must be the document.
  const ok = JSON.stringify(value) === document(mb * 1024 * 1024)
  console.log(JSON.stringify({ ...measured, finished: true, ok }))
  process.exit(ok ? 0 : 1)
}

if (process.argv[2] === 'server') {
  const { startMockServer } = await import('../testing.mjs')
  const scripts = {}
  for (const mb of SIZES) {
    const text = document(mb * 1024 * 1024)
    for (const piece of [PIECE, COARSE_PIECE]) {
      const pieces = []
      for (let i = 0; i < text.length; i += piece) pieces.push(text.slice(i, i + piece))
      scripts[model(mb, piece)] = { text: pieces }
    }
  }
  const mock = await startMockServer({ scripts })
  process.stdout.write(`${mock.url}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => mock.close().then(() => process.exit(0)))
} else if (process.argv[2] === 'client') {
  await runClient(process.argv[3], process.argv[4], Number(process.argv[5]))
} else {
  requireNodeForPeers()
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), 'server'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  })
  const url = await new Promise((resolve, reject) => {
    let out = ''
    server.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(out.split('\n')[0].trim())
    })
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const origin = url.replace(/\/v1\/?$/, '')
  const results = {}
  try {
    for (const mb of SIZES) {
      for (let round = 0; round < ROUNDS; round++) {
        const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length])
        for (const name of order) {
          const runs = (results[`${name}@${mb}`] ??= [])
          // A client that did not finish once gives a lower bound; it is not run again.
          if (runs.some((r) => !r.finished)) continue
          const result = clientResult(await runNodeSettled('objects.mjs', ['client', name, origin, String(mb)]))
          runs.push(result)
          console.error(
            `${mb} MB round ${round + 1}/${ROUNDS} ${name.padEnd(12)} main ${result.mainCpuMs.toFixed(0).padStart(6)} ms  wall ${result.wallMs.toFixed(0).padStart(6)} ms  ${result.partials} partials${result.finished ? '' : ` (${result.why})`}`,
          )
        }
      }
    }
  } finally {
    server.stdin.end()
  }
  report(results)
}

/** A client's figures: its last line (the result, or the last progress line if it died). */
function clientResult({ code, signal, out }) {
  const last = out.trim().split('\n').filter(Boolean).at(-1)
  if (!last) throw new Error(`an objects.mjs client exited with ${code ?? signal} and printed nothing`)
  const result = JSON.parse(last)
  if (result.finished && code !== 0) throw new Error(`an objects.mjs client read a wrong value (exit ${code})`)
  if (!result.finished && code !== 0) result.why = `${result.why}, exit ${code ?? signal}`
  return result
}

function report(results) {
  const row = (name, mb) => {
    const runs = results[`${name}@${mb}`]
    const unfinished = runs.find((r) => !r.finished)
    if (unfinished) return { name, mb, ...unfinished, lowerBound: true }
    return {
      name,
      mb,
      finished: true,
      mainCpuMs: median(runs.map((r) => r.mainCpuMs)),
      wallMs: median(runs.map((r) => r.wallMs)),
      partials: median(runs.map((r) => r.partials)),
      bytesRead: median(runs.map((r) => r.bytesRead)),
      lowerBound: false,
    }
  }
  const rows = SIZES.flatMap((mb) => CLIENTS.map((name) => row(name, mb)))
  const at = (name, mb) => rows.find((r) => r.name === name && r.mb === mb)
  const bars = []
  const versus = (peer, limit, label = peer, us = 'streamdelta') => {
    for (const mb of SIZES) {
      const ours = at(us, mb)
      const theirs = at(peer, mb)
      const ratio = ours.mainCpuMs / theirs.mainCpuMs
      // A peer that refused the value (the official SDK past 65,536 fragments) never does the
      // whole work, so its CPU until then bounds nothing: the per-character bar below and the
      // -coarse pair compare it instead. A peer cut off for time (still reading) is a lower bound.
      const refused = theirs.lowerBound && theirs.why.startsWith('failed')
      const bound = theirs.lowerBound ? ` (${peer} ${theirs.why}: its CPU until then, a lower bound)` : ''
      if (!refused)
        bars.push({ what: `${mb} MB, main-thread CPU <= ${limit}x ${label}${bound}`, ratio, limit, ok: ratio <= limit })
      if (theirs.lowerBound && theirs.bytesRead > 0) {
        // Per character read: the peer's cost so far per character it got through, against ours
        // for the whole value (a lower bound only if its cost per character does not fall).
        const perChar = ours.mainCpuMs / ours.bytesRead / (theirs.mainCpuMs / theirs.bytesRead)
        const through = `${(theirs.bytesRead / 1024).toFixed(0)} KB`
        bars.push({
          what: `${mb} MB, main-thread CPU per content character <= ${limit}x ${peer}'s (it stopped after ${through})`,
          ratio: perChar,
          limit,
          ok: perChar <= limit,
        })
      }
    }
  }
  versus('openai', 0.2)
  versus('openai-coarse', 0.2, `openai, both in ${COARSE_PIECE}-character deltas`, 'streamdelta-coarse')
  versus('ai-sdk', 0.05)
  const small = at('streamdelta', SIZES[SIZES.length - 2] ?? SIZES[0])
  const large = at('streamdelta', SIZES[SIZES.length - 1])
  const growth = large.mainCpuMs / small.mainCpuMs
  const times = Number((large.mb / small.mb).toFixed(2))
  const limit = Number((times * 1.25).toFixed(2))
  bars.push({
    what: `${times}x the size (${small.mb} -> ${large.mb} MB) costs <= ${limit}x the main-thread CPU`,
    ratio: growth,
    limit,
    ok: growth <= limit,
  })
  const f = (x, digits = 0) => x.toFixed(digits)
  const lines = [
    `### One JSON value streamed as ${PIECE}-character deltas, read as partial values`,
    '',
    `The official SDK refuses more than 65,536 fragments, so at 8 characters it stops after 512 KB: the -coarse rows are streamdelta and the official SDK on the same value in ${COARSE_PIECE}-character deltas.`,
    '',
    ...machineLines(),
    `- command: \`${nodeCommand(ROUNDS)}\``,
    `- median of ${ROUNDS} rounds, each client a fresh process per run, clients interleaved; main-thread CPU (process.threadCpuUsage) from the request to the whole value, which is checked against the document; a client that did not finish (cut off after ${CUTOFF_S} s, or failed) ran once and shows its CPU until then, a lower bound`,
    '',
    '| size | client | main-thread CPU ms | wall ms | partial values | content read KB | finished |',
    '| ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) =>
      `| ${r.mb} MB | ${r.name} | ${r.lowerBound ? '>= ' : ''}${f(r.mainCpuMs)} | ${f(r.wallMs)} | ${r.partials} | ${f(r.bytesRead / 1024)} | ${r.finished ? 'yes' : r.why} |`.trim(),
    ),
    '',
    ...bars.map((b) => `- bar: ${b.what}: ${f(b.ratio, 3)} ${b.ok ? '✅' : '❌'}`),
    '',
  ]
  const markdown = lines.join('\n')
  console.log(markdown)
  writeResults('objects', markdown, JSON.stringify({ rows, bars }, null, 2))
}
