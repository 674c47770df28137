// Native-memory benchmark: 100,000 streams against a local server, each stopped at a random
// point by a random means, as in the leak proof (scripts/leak-proof.mjs runs them; this reads
// its samples). Every 1,000 streams a full GC, then RSS less V8's heap (the heap pages V8 has
// touched, its total_physical_size): what the engine, the allocators, native buffers and code
// pages hold. Bar: at the end at most 16 MB above the level after the
// first 1,000 streams (growth past the warm-up is memory something keeps).
//   node bench/native-memory.mjs      (env STREAMS=100000 SAMPLE_EVERY=1000 SEED=n)
// Writes bench/results/native-memory.md and .json.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { machineLines, nodeCommand, writeResults } from './report.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const STREAMS = Number(process.env.STREAMS ?? 100_000)
const SAMPLE_EVERY = Number(process.env.SAMPLE_EVERY ?? 1000)
const SEED = Number(process.env.SEED ?? 14)
const BAR_MB = 16

const args = [
  path.join(here, '..', 'scripts', 'leak-proof.mjs'),
  ...['--warmup', SAMPLE_EVERY, '--streams', STREAMS - SAMPLE_EVERY, '--samples', SAMPLE_EVERY],
  ...['--seed', SEED, '--time-limit', 1200, '--json'],
].map(String)
console.error(`== ${STREAMS.toLocaleString('en-US')} streams through scripts/leak-proof.mjs (seed ${SEED})`)
const run = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
const lines = run.stdout.split('\n')
for (const line of lines.filter((l) => !l.startsWith('{'))) if (line) console.error(line)
const resultLine = lines.find((l) => l.startsWith('{'))
if (!resultLine) throw new Error(`leak-proof gave no result (exit ${run.status ?? run.signal})`)
const result = JSON.parse(resultLine)
const samples = result.samples
const first = samples[0]
const last = samples[samples.length - 1]
const peak = samples.reduce((a, b) => (b.nativeMB > a.nativeMB ? b : a))
const growthMB = last.nativeMB - first.nativeMB
const f = (x) => x.toFixed(1)
const bar = {
  what: `${STREAMS.toLocaleString('en-US')} aborted streams, RSS less V8 heap at the end over after ${first.streams.toLocaleString('en-US')}: at most +${BAR_MB} MB`,
  measured: `${growthMB >= 0 ? '+' : ''}${f(growthMB)} MB`,
  limit: BAR_MB,
  ok: growthMB <= BAR_MB,
}
// Every tenth sample in the table: the curve, not 100 rows.
const step = Math.max(1, Math.round(samples.length / 10))
const shown = samples.filter((_, i) => i === 0 || (i + 1) % step === 0 || i === samples.length - 1)
const markdown = [
  `### Native memory over ${STREAMS.toLocaleString('en-US')} aborted streams`,
  '',
  ...machineLines(),
  `- command: \`${nodeCommand(1)}\` (runs \`node scripts/leak-proof.mjs ${args.slice(1).join(' ')}\`)`,
  `- ${result.concurrency} streams at a time, each stopped before its headers, mid-stream or after its end by \`break\`, \`abort()\` or an \`AbortSignal\` (seeded); every ${SAMPLE_EVERY.toLocaleString('en-US')} streams a full GC, then RSS and V8's resident heap`,
  `- leak proof verdict on the same run: ${result.failures.length ? `FAIL (${result.failures.join('; ')})` : 'PASS'}`,
  `- file-backed RSS is code (node, the addon, libraries) paged in as new paths first run; anonymous RSS less V8 heap at the end over after the first sample: ${f(last.rssAnonMB - last.heapResidentMB - (first.rssAnonMB - first.heapResidentMB))} MB`,
  `- V8's heap is what of it is resident (\`v8.getHeapStatistics().total_physical_size\`), not \`heapTotal\` (committed): the young generation is committed whole at start but touched page by page as JS allocates, which RSS less heapTotal counted as native growth (${f(last.heapResidentMB - first.heapResidentMB)} MB over this run, against ${f(last.heapTotalMB - first.heapTotalMB)} MB of heapTotal)`,
  `- peak RSS less V8 heap ${f(peak.nativeMB)} MB after ${peak.streams.toLocaleString('en-US')} streams; ${result.seconds} s in all`,
  '',
  '| streams | RSS MB | V8 heap resident MB | V8 heapTotal MB | RSS less V8 heap MB | of RSS: anonymous MB | of RSS: file-backed (code) MB |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...shown.map(
    (s) =>
      `| ${s.streams.toLocaleString('en-US')} | ${f(s.rssMB)} | ${f(s.heapResidentMB)} | ${f(s.heapTotalMB)} | ${f(s.nativeMB)} | ${f(s.rssAnonMB)} | ${f(s.rssFileMB)} |`,
  ),
  '',
  `- ${bar.ok ? '✅' : '❌'} ${bar.what}: ${bar.measured}`,
  '',
].join('\n')
console.log(markdown)
writeResults(
  'native-memory',
  markdown,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, streams: STREAMS, seed: SEED, growthMB, samples, bars: [bar] }, null, 2)}\n`,
)
