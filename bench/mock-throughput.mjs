// How fast the mock server (streamdelta/testing) serves chunks: it must never be the
// bottleneck of a benchmark. The mock runs in this process; a byte-reading client (no SSE
// parsing, just counting bytes) runs in a child process so the two do not share a thread.
//   node bench/mock-throughput.mjs            (CHUNKS=1000000 by default)
// Prints, per endpoint, the best of ROUNDS runs: chunks/s and MB/s as the client saw them, and
// the mock's own CPU time (chunks per CPU-second is what it could serve with a core to itself).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { startMockServer } from '../testing.mjs'

const CHUNKS = Number(process.env.CHUNKS ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)

if (process.argv[2] === 'client') {
  // Child: POST, read every byte, report { bytes, ms } on stdout.
  const [url, path] = process.argv.slice(3)
  // node:http rather than fetch: the lightest byte reader Node has, so the figure is the mock's.
  const http = await import('node:http')
  const started = performance.now()
  const req = http.request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } })
  req.end(
    JSON.stringify({
      model: 'bench',
      stream: true,
      messages: [{ role: 'user', content: 'go' }],
      input: 'go',
      prompt: 'go',
    }),
  )
  const [res] = await once(req, 'response')
  let bytes = 0
  res.on('data', (piece) => (bytes += piece.length))
  await once(res, 'end')
  process.stdout.write(JSON.stringify({ bytes, ms: performance.now() - started }))
} else {
  // Ten distinct tokens repeated: every chunk is a full, realistic chat.completion.chunk.
  const tokens = [' the', ' stream', 'ing', ' token', ',', ' héllo', ' 日本', ' 🙂', ' "quoted"', '.\n']
  const mock = await startMockServer({ script: { text: tokens, repeat: Math.ceil(CHUNKS / tokens.length) } })
  const run = (path) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'client', mock.url, path], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('close', (code) =>
        code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited with ${code}`)),
      )
    })
  try {
    console.log(
      `mock throughput, ${CHUNKS.toLocaleString('en')} text chunks per request, Node ${process.version}, best of ${ROUNDS}`,
    )
    for (const path of ['/chat/completions', '/responses', '/completions']) {
      let best = null
      for (let i = 0; i < ROUNDS; i++) {
        const cpu = process.cpuUsage()
        const result = await run(path)
        const used = process.cpuUsage(cpu)
        result.serverCpuMs = (used.user + used.system) / 1000
        if (!best || result.ms < best.ms) best = result
      }
      const perSecond = Math.round(CHUNKS / (best.ms / 1000))
      const cpuPerSecond = Math.round(CHUNKS / (best.serverCpuMs / 1000))
      console.log(
        `${path.padEnd(18)} ${perSecond.toLocaleString('en').padStart(11)} chunks/s wall  ${(best.bytes / 1e6 / (best.ms / 1000)).toFixed(0).padStart(4)} MB/s` +
          `  server CPU ${best.serverCpuMs.toFixed(0)} ms = ${cpuPerSecond.toLocaleString('en')} chunks per CPU-second  (${(best.bytes / 1e6).toFixed(1)} MB)`,
      )
    }
  } finally {
    await mock.close()
  }
}
