// The Rust framing alone: `cargo bench --bench sse_framing` over the same bytes as the other
// scenarios (the chat-100k stream, written to a temporary file), reported as a Markdown section.
//   node bench/framing.mjs
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { buildChatStream } from './chat-body.mjs'
import { machineLines, writeResults } from './report.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const BAR_GBPS = 3

const dir = mkdtempSync(path.join(tmpdir(), 'streamdelta-framing-'))
const file = path.join(dir, 'chat-100k.sse')
let output
try {
  writeFileSync(file, buildChatStream(100_000).body)
  const run = spawnSync('cargo', ['bench', '--quiet', '--bench', 'sse_framing'], {
    cwd: path.dirname(here),
    env: { ...process.env, SSE_BENCH_FILE: file },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (run.status !== 0) throw new Error(`cargo bench failed (exit ${run.status})`)
  output = run.stdout
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.stderr.write(output)

// Lines like "feed_with (borrowed events)    median 5.71 GB/s  (best 5.80, worst 5.02)".
const rows = [...output.matchAll(/^(.+?)\s+median ([\d.]+) GB\/s\s+\(best ([\d.]+), worst ([\d.]+)\)/gm)].map((m) => ({
  api: m[1].trim(),
  median: Number(m[2]),
  best: Number(m[3]),
  worst: Number(m[4]),
}))
const input = output.match(/^input: .*$/m)?.[0].replace(/^input: [^,]+,/, 'the chat-100k stream,') ?? ''
if (rows.length === 0) throw new Error(`no figures in the cargo bench output:\n${output}`)
const borrowed = rows[0]
const ok = borrowed.median >= BAR_GBPS
const markdown = [
  '### The Rust framing alone (no HTTP, no JSON)',
  '',
  ...machineLines(),
  '- command: `cargo bench --bench sse_framing` with `SSE_BENCH_FILE` set to the chat-100k stream (run by `node bench/framing.mjs`)',
  `- input: ${input}`,
  '',
  '| API | GB/s (median) | best | worst |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.api} | ${r.median.toFixed(2)} | ${r.best.toFixed(2)} | ${r.worst.toFixed(2)} |`),
  '',
  `- bar: the framing at least ${BAR_GBPS} GB/s on these bytes: ${borrowed.median.toFixed(2)} GB/s ${ok ? '✅' : '❌'} (the decoder uses the borrowed API)`,
  '',
].join('\n')
console.log(markdown)
writeResults(
  'framing',
  markdown,
  JSON.stringify(
    {
      rows,
      bars: [
        {
          what: `Rust SSE framing at least ${BAR_GBPS} GB/s`,
          ratio: borrowed.median / BAR_GBPS,
          measured: `${borrowed.median.toFixed(2)} GB/s`,
          limit: 1,
          higherIsBetter: true,
          ok,
        },
      ],
    },
    null,
    2,
  ),
)
