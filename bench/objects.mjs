// objects() over one large JSON value streamed as 8-character deltas: main-thread CPU for the
// whole stream (the snapshots built from the engine's patches), at 1 MB and 4 MB. The mock
// server runs in a child process so that its work is not counted.
//   node bench/objects.mjs              (Node >= 22 for process.threadCpuUsage; SIZES_MB=1,4)
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const SIZES = (process.env.SIZES_MB ?? '1,4').split(',').map(Number)
const PIECE = 8

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

if (process.argv[2] === 'server') {
  const { startMockServer } = await import('../testing.mjs')
  const scripts = {}
  for (const mb of SIZES) {
    const text = document(mb * 1024 * 1024)
    const pieces = []
    for (let i = 0; i < text.length; i += PIECE) pieces.push(text.slice(i, i + PIECE))
    scripts[`doc-${mb}`] = { text: pieces }
  }
  const mock = await startMockServer({ scripts })
  process.stdout.write(`${mock.url}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => mock.close().then(() => process.exit(0)))
} else {
  const { Client } = await import('../index.mjs')
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), 'server'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  })
  const [line] = await once(server.stdout, 'data')
  const url = String(line).trim()
  const client = new Client({ baseURL: url, apiKey: 'sk-bench' })
  const cpu = () => (process.threadCpuUsage ? process.threadCpuUsage() : process.cpuUsage())
  if (!process.threadCpuUsage) console.log('(no process.threadCpuUsage: Node < 22; the figure is process CPU)')
  const results = []
  for (const mb of SIZES) {
    let best = null
    for (let round = 0; round < 3; round++) {
      const body = {
        model: `doc-${mb}`,
        messages: [{ role: 'user', content: 'go' }],
        response_format: { type: 'json_object' },
      }
      const started = cpu()
      const wall = performance.now()
      let snapshots = 0
      let last
      for await (const value of client.chat(body).objects()) {
        snapshots++
        last = value
      }
      const used = cpu(started)
      const ms = (used.user + used.system) / 1000
      if (best === null || ms < best.ms)
        best = { ms, wallMs: performance.now() - wall, snapshots, items: last.items.length }
    }
    results.push({ mb, ...best })
    console.log(
      `${mb} MB: main-thread CPU ${best.ms.toFixed(0)} ms, wall ${best.wallMs.toFixed(0)} ms, ${best.snapshots} snapshots, ${best.items} items`,
    )
  }
  if (results.length >= 2) {
    const [a, b] = [results[0], results.at(-1)]
    console.log(`${b.mb / a.mb}x the size: ${(b.ms / a.ms).toFixed(2)}x the CPU`)
  }
  server.stdin.end()
}
